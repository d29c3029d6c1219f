"""Lower a fixed-point IR network to a Lava process graph.

Two lowerings of the same network, which must give identical spikes:

``fused``  each feature-transform -> relay -> aggregation chain becomes one
           :class:`GraphConv` process (fast; never builds A (x) W).
``stock``  only Lava's own processes: Dense for the feature transform
           (block-diagonal I_N (x) W^T), GradedVec for the relay, Sparse for the
           aggregation (A (x) I_F). Its memory grows as N * F_in * F_out, so it
           is for small graphs: it is the proof that ``fused`` is faithful.

IF/LIF populations become Lava ``LIF`` processes (du=4095: no current memory;
dv=leak), the readout a :class:`MembraneReadout`, and every spiking population
gets a :class:`SpikeRecorder`. Recorders and the readout write .npy files into
`workdir` at the last step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np
import scipy.sparse as sp

from neurograph.compile.ir import IRError, Network, Projection, graph_heads, head_matrices, validate

LOWERINGS = ("fused", "stock")
STOCK_MAX_SYNAPSES = 5_000_000   # I_N (x) W^T beyond this is a mistake, not a test


@dataclass
class LavaNetwork:
    """The built process graph and where its results will appear."""
    processes: Dict[str, object]
    spike_files: Dict[str, str]          # spiking population -> .npy raster path
    readout_file: str
    workdir: str                         # also where a failing model writes error-<name>.txt
    num_steps: int
    lowering: str
    fused: List[str] = field(default_factory=list)   # relays folded into GraphConv processes

    @property
    def any_process(self):
        return next(iter(self.processes.values()))


def lava_weights(mantissa: np.ndarray, exponent: int):
    """Encode 8-bit mantissas for Lava's Dense/Sparse so they arrive unchanged.

    Lava drops the lowest bit of mixed-sign 8-bit weights (weightutils.truncate_weights),
    so a mixed-sign mantissa m in [-128, 127] is passed as 2m with exponent e-1: the
    sum of 2m*s is even, and shifting it by e-1 equals shifting sum(m*s) by e.
    Single-sign mantissas in [0, 255] or [-255, 0] pass unchanged.
    """
    values = mantissa.data if sp.issparse(mantissa) else mantissa
    if values.size and (values.min() >= 0 or values.max() <= 0):
        return mantissa, exponent
    return mantissa * 2, exponent - 1


def _fusable(net: Network, relay_name: str):
    """A relay fed by one dense projection and read by one graph projection."""
    ins, outs = net.incoming(relay_name), [pr for pr in net.projections if pr.source == relay_name]
    if len(ins) == 1 and len(outs) == 1 and ins[0].kind == "dense" and outs[0].kind == "graph":
        return ins[0], outs[0]
    return None


def lower_to_lava(net: Network, workdir: str, lowering: str = "fused") -> LavaNetwork:
    """Build the Lava processes for `net` (fixed domain) and connect them."""
    # Imported here: loading Lava is slow, and only runs need it.
    from lava.proc.dense.process import Dense
    from lava.proc.graded.process import GradedVec
    from lava.proc.lif.process import LIF
    from lava.proc.sparse.process import Sparse

    from neurograph.compile.lava.processes import GraphConv, MembraneReadout, SpikeRecorder, SpikeSource

    if lowering not in LOWERINGS:
        raise ValueError(f"lowering must be one of {LOWERINGS}, got {lowering!r}")
    if net.domain != "fixed":
        raise IRError("only a fixed-point network can be lowered to Lava; run quantize_network first")
    validate(net)
    for pr in net.projections:
        if pr.delay != 1:
            raise IRError(f"projection {pr.name!r} has delay {pr.delay}; Lava's Dense/Sparse deliver after exactly "
                          f"one step and delayed synapses are not lowered yet")
    steps = net.num_steps
    procs: Dict[str, object] = {}
    out_port = {}          # name -> OutPort carrying that population's output
    in_port = {}           # name -> InPort of that population
    spike_files, fused = {}, []
    fused_projections = set()

    def error_path(name: str) -> str:
        return os.path.join(workdir, f"error-{name}.txt")

    procs[net.input.name] = SpikeSource(net.input.spikes, error_path=error_path(net.input.name), name=net.input.name)
    out_port[net.input.name] = procs[net.input.name].s_out

    for pop in net.populations:
        shape = tuple(pop.shape)
        if pop.kind == "relay":
            pair = _fusable(net, pop.name) if lowering == "fused" else None
            if pair is not None:
                dense, graph = pair
                conv = GraphConv(weight=dense.weight, weight_exp=dense.exponent,
                                 adjacency=head_matrices(graph.weight),
                                 adjacency_exp=graph.exponent, payload_bits=pop.payload_bits,
                                 error_path=error_path(pop.name), name=pop.name)
                procs[pop.name] = conv
                fused.append(pop.name)
                fused_projections.update({dense.name, graph.name})
                continue
            relay = GradedVec(shape=(pop.size,), vth=0)   # vth=0: any nonzero input is sent on
            procs[pop.name] = relay
            in_port[pop.name], out_port[pop.name] = relay.a_in, relay.s_out
        elif pop.spiking:
            bias = np.zeros(shape, dtype=np.int64) if pop.bias is None else pop.bias
            lif = LIF(shape=shape, du=4095, dv=int(pop.leak), vth=int(pop.threshold),
                      bias_mant=bias, bias_exp=np.full(shape, pop.bias_exp), name=pop.name)
            procs[pop.name] = lif
            in_port[pop.name], out_port[pop.name] = lif.a_in, lif.s_out
            path = os.path.join(workdir, f"spikes_{len(spike_files)}.npy")
            rec = SpikeRecorder(shape=shape, steps=steps, path=path, error_path=error_path(f"{pop.name}.recorder"),
                                name=f"{pop.name}.recorder")
            procs[rec.name] = rec
            lif.s_out.connect(rec.a_in)
            spike_files[pop.name] = path
        else:  # integrator
            bias = np.zeros(shape, dtype=np.int64) if pop.bias is None else pop.bias
            readout = MembraneReadout(shape=shape, bias=bias, bias_exp=pop.bias_exp, leak=int(pop.leak),
                                      steps=steps, path=os.path.join(workdir, "readout.npy"),
                                      error_path=error_path(pop.name), name=pop.name)
            procs[pop.name] = readout
            in_port[pop.name] = readout.a_in

    for pr in net.projections:
        if pr.name in fused_projections:
            if pr.kind == "dense":      # source -> GraphConv input
                _connect(out_port[pr.source], procs[pr.target].s_in)
            else:                        # GraphConv output -> target
                _connect(procs[pr.source].a_out, in_port[pr.target])
            continue
        _connect_stock(net, pr, out_port[pr.source], in_port[pr.target], procs, Dense, Sparse)

    return LavaNetwork(processes=procs, spike_files=spike_files, readout_file=os.path.join(workdir, "readout.npy"),
                       workdir=workdir, num_steps=steps, lowering=lowering, fused=fused)


def _feature_selector(features: slice, num_features: int) -> sp.csr_matrix:
    """The diagonal matrix that keeps `features` and zeroes the others."""
    keep = np.zeros(num_features, dtype=np.int64)
    keep[features] = 1
    return sp.diags(keep, format="csr")


def _connect_stock(net: Network, pr: Projection, src, dst, procs, Dense, Sparse) -> None:
    """One projection as a stock Lava Dense (feature transform) or Sparse (aggregation)."""
    n, f_src = net.source_shape(pr.source)
    f_tgt = net.population(pr.target).shape[1]
    source_is_graded = pr.source != net.input.name and net.population(pr.source).kind == "relay"
    if pr.kind == "dense":
        if n * f_src * f_tgt > STOCK_MAX_SYNAPSES:
            raise IRError(f"projection {pr.name!r}: the stock lowering would build {n * f_src * f_tgt:,} synapses "
                          f"(I_N (x) W); use lowering='fused' for graphs this large")
        matrix = sp.kron(sp.identity(n, dtype=np.int64, format="csr"), sp.csr_matrix(np.asarray(pr.weight).T))
    else:
        # feature k of node u feeds feature k of node v with weight A_h(k)[v, u]: A_h (x) (I_F restricted
        # to head h's features), summed over heads
        matrix = sum(sp.kron(a, _feature_selector(features, f_src)) for features, a in graph_heads(pr, f_src))
    weights, exponent = lava_weights(sp.csr_matrix(matrix, dtype=np.int64), pr.exponent)
    message_bits = 24 if source_is_graded else 0
    if pr.kind == "dense" and message_bits == 0:
        syn = Dense(weights=weights.toarray(), weight_exp=exponent, num_message_bits=message_bits, name=pr.name)
    else:
        syn = Sparse(weights=weights.tocsr(), weight_exp=exponent, num_message_bits=message_bits, name=pr.name)
    procs[pr.name] = syn
    _connect(src, syn.s_in)
    _connect(syn.a_out, dst)


def _connect(out_port, in_port) -> None:
    """Connect ports, reshaping the sender (row-major) when the shapes differ."""
    if tuple(out_port.shape) != tuple(in_port.shape):
        out_port = out_port.reshape(tuple(in_port.shape))
    out_port.connect(in_port)
