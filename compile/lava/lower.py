"""Lower a fixed-point IR network and its samples' windows to a Lava process graph.

Two lowerings of the same network, which must give identical spikes:

``fused``  each feature-transform -> relay -> aggregation chain becomes one
           :class:`GraphConv` process (never builds A (x) W); other dense and graph
           projections become our :class:`NodeDense` / :class:`GraphAggregate`.
``stock``  only Lava's own processes for synapses: Dense for a dense projection
           (block-diagonal I_N (x) W^T), Sparse for an aggregation (A (x) I_F). Its
           memory grows as N * F_in * F_out, so it is for small graphs: it is the
           proof that ``fused`` is faithful. It holds one graph for the whole run.

Populations become their kind's process (:meth:`NeuronKind.lava_process`: Lava's
LIF, GradedVec, or our KindStep); every spiking population gets a :class:`Recorder` (as
does a graded kind with its own process, recording its payloads),
the readout keeps its membrane per window. Results are written as .npy files into
`workdir` at the last step. A sequence of windows is one run: inputs and graph
weights follow a per-window schedule inside the processes, state carries over.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np
import scipy.sparse as sp

from neurograph.compile.fixed_point import lava_weights
from neurograph.compile.ir import IRError, Network, Projection, host_chain, validate

LOWERINGS = ("fused", "stock")
STOCK_MAX_SYNAPSES = 5_000_000   # I_N (x) W^T beyond this is a mistake, not a test


@dataclass
class LavaNetwork:
    """The built process graph and where its results will appear."""
    processes: Dict[str, object]
    spike_files: Dict[str, str]          # spiking population -> .npy raster path (bit-packed)
    payload_files: Dict[str, str]        # graded population with its own process -> .npy int32 payloads
    readout_file: str
    workdir: str                         # also where a failing model writes error-<name>.txt
    num_steps: int
    lowering: str
    fused: List[str] = field(default_factory=list)   # relays folded into GraphConv processes

    @property
    def any_process(self):
        return next(iter(self.processes.values()))


@dataclass
class _Context:
    """What a kind's lava_process needs to know about the run."""
    workdir: str
    window: int
    windows: int

    def error_path(self, name: str) -> str:
        return os.path.join(self.workdir, f"error-{name}.txt")

    def readout_path(self, name: str) -> str:
        return os.path.join(self.workdir, f"readout-{name}.npy")


def _fusable(net: Network, relay_name: str):
    """A relay (a kind that forwards its input) fed by one dense projection and read by one graph projection."""
    ins, outs = net.incoming(relay_name), [pr for pr in net.projections if pr.source == relay_name]
    if len(ins) == 1 and len(outs) == 1 and ins[0].kind == "dense" and outs[0].kind == "graph" \
            and not net.is_feedback(ins[0]) and not net.is_feedback(outs[0]):
        return ins[0], outs[0]
    return None


def lower_to_lava(net: Network, windows: list, workdir: str, lowering: str = "fused") -> LavaNetwork:
    """Build the Lava processes for `net` (fixed domain) running `windows` back to back."""
    # Imported here: loading Lava is slow, and only runs need it.
    from neurograph.compile.current import host_current
    from neurograph.compile.lava.processes import (CurrentSource, GradedSource, GraphAggregate, GraphConv, NodeDense,
                                                   Recorder, SpikeSource)

    if lowering not in LOWERINGS:
        raise IRError(f"lowering must be one of {LOWERINGS}, got {lowering!r}")
    if net.domain != "fixed":
        raise IRError("only a fixed-point network can be lowered to Lava; run quantize_network first")
    validate(net)
    n = windows[0].binding.num_nodes
    if any(w.binding.num_nodes != n for w in windows):
        raise IRError("one Lava run holds one node set; run samples of other sizes separately")
    if lowering == "stock" and any(not w.binding.same_graph(windows[0].binding) for w in windows[1:]):
        raise IRError("the stock lowering holds one graph for the whole run (Lava's Sparse weights are fixed); "
                      "use lowering='fused' for a stream of different graphs, or run samples with state reset")
    window = net.window_steps
    context = _Context(workdir, window, len(windows))
    steps = window * len(windows)
    procs: Dict[str, object] = {}
    out_port, in_port = {}, {}
    spike_files, payload_files, fused, fused_projections = {}, {}, [], set()

    chain = host_chain(net)
    if any(pr.source == net.input.name and not pr.on_host for pr in net.projections):
        source = GradedSource if net.sends_graded(net.input.name) else SpikeSource
        procs[net.input.name] = source([w.input for w in windows], window, (n, net.input.features),
                                       error_path=context.error_path(net.input.name), name=net.input.name)
        out_port[net.input.name] = procs[net.input.name].s_out
    host_relay = chain[1].name if chain else None

    def schedule(pr: Projection) -> list:
        return [w.binding.heads(pr) for w in windows]

    for pop in net.populations:
        if pop.name == host_relay:         # computed by the host: a current source stands in for the chain
            dense, _, graph = chain
            arrival = dense.delay + graph.delay               # the first input step reaches the target here
            procs[pop.name] = CurrentSource([host_current(net, w) for w in windows], arrival + 1,
                                            arrival + net.input.num_steps, window,
                                            error_path=context.error_path(pop.name), name=pop.name)
            continue
        pair = _fusable(net, pop.name) if lowering == "fused" and pop.neuron.forwards_input else None
        if pair is not None:
            dense, graph = pair
            procs[pop.name] = GraphConv(weight=dense.weight, weight_exp=dense.exponent, schedule=schedule(graph),
                                        adjacency_exp=graph.exponent, window=window, num_nodes=n,
                                        error_path=context.error_path(pop.name), name=pop.name)
            fused.append(pop.name)
            fused_projections.update({dense.name, graph.name})
            continue
        proc, in_port[pop.name], out = pop.neuron.lava_process(pop, n, context)
        procs[pop.name] = proc
        if out is not None:
            out_port[pop.name] = out
        if pop.neuron.spiking or (pop.neuron.graded and not pop.neuron.forwards_input):
            path = os.path.join(workdir, f"out_{len(spike_files) + len(payload_files)}.npy")
            rec = Recorder(shape=(n, pop.features), steps=steps, path=path, graded=pop.neuron.graded,
                           error_path=context.error_path(f"{pop.name}.recorder"), name=f"{pop.name}.recorder")
            procs[rec.name] = rec
            out.connect(rec.a_in)
            (payload_files if pop.neuron.graded else spike_files)[pop.name] = path

    for pr in net.projections:
        if pr.on_host:
            if pr.kind == "graph":         # the current source feeds the chain's target
                _connect(procs[pr.source].a_out, in_port[pr.target])
            continue
        if pr.name in fused_projections:
            if pr.kind == "dense":      # source -> GraphConv input
                _connect(out_port[pr.source], procs[pr.target].s_in)
            else:                        # GraphConv output -> target
                _connect(procs[pr.source].a_out, in_port[pr.target])
            continue
        if lowering == "stock":
            syn = _stock_synapse(net, pr, n, windows[0].binding)
        elif pr.kind == "dense":
            syn = NodeDense(weight=pr.weight, weight_exp=pr.exponent, num_nodes=n,
                            error_path=context.error_path(pr.name), name=pr.name)
        else:
            syn = GraphAggregate(schedule=schedule(pr), adjacency_exp=pr.exponent, window=window, num_nodes=n,
                                 num_features=net.features(pr.source), error_path=context.error_path(pr.name),
                                 name=pr.name)
        procs[pr.name] = syn
        _connect(out_port[pr.source], syn.s_in)
        _connect(syn.a_out, in_port[pr.target])

    return LavaNetwork(processes=procs, spike_files=spike_files, payload_files=payload_files,
                       readout_file=context.readout_path(net.readout.population), workdir=workdir,
                       num_steps=steps, lowering=lowering, fused=fused)


def _feature_selector(features: slice, num_features: int) -> sp.csr_matrix:
    """The diagonal matrix that keeps `features` and zeroes the others."""
    keep = np.zeros(num_features, dtype=np.int64)
    keep[features] = 1
    return sp.diags(keep, format="csr")


def _stock_synapse(net: Network, pr: Projection, n: int, binding):
    """One projection as a stock Lava Dense (feature transform) or Sparse (aggregation)."""
    from lava.proc.dense.process import Dense
    from lava.proc.sparse.process import Sparse

    f_src, f_tgt = net.features(pr.source), net.population(pr.target).features
    graded = net.sends_graded(pr.source)
    if pr.kind == "dense":
        if n * f_src * f_tgt > STOCK_MAX_SYNAPSES:
            raise IRError(f"projection {pr.name!r}: the stock lowering would build {n * f_src * f_tgt:,} synapses "
                          f"(I_N (x) W); use lowering='fused' for graphs this large")
        matrix = sp.kron(sp.identity(n, dtype=np.int64, format="csr"), sp.csr_matrix(np.asarray(pr.weight).T))
    else:
        # feature k of node u feeds feature k of node v with weight A_h(k)[v, u]: A_h (x) (I_F restricted
        # to head h's features), summed over heads
        matrix = sum(sp.kron(a, _feature_selector(features, f_src)) for features, a in binding.heads(pr))
    weights, exponent = lava_weights(sp.csr_matrix(matrix, dtype=np.int64), pr.exponent)
    message_bits = 24 if graded else 0
    if pr.kind == "dense" and message_bits == 0:
        return Dense(weights=weights.toarray(), weight_exp=exponent, num_message_bits=0, name=pr.name)
    return Sparse(weights=weights.tocsr(), weight_exp=exponent, num_message_bits=message_bits, name=pr.name)


def _connect(out_port, in_port) -> None:
    """Connect ports, reshaping the sender (row-major) when the shapes differ."""
    if tuple(out_port.shape) != tuple(in_port.shape):
        out_port = out_port.reshape(tuple(in_port.shape))
    out_port.connect(in_port)
