"""Constant input as current: the input's first graph convolution computed once by the host.

With binary features (or a deterministic coding of a constant input) the input raster is the
same at every step, so the first feature transform and aggregation deliver the same current
c = (A ((X W) >> e_W)) >> e_A to the first hidden layer at every step of the input window:
T x nnz(X) x fan-out synaptic ops spent recomputing one value. This pass marks that chain
``on_host``: the host computes c once per sample (its adds and MACs counted as host work) and
a current source sends it into the hidden compartments during exactly the steps the chip's
synapses would have delivered it, so every spike stays bit-identical. Samples whose input is
not constant over the window are refused when prepared.
"""
from __future__ import annotations

import copy

import numpy as np

from neurograph.compile.fold import conv_chain
from neurograph.compile.ir import IRError, Network, host_chain, validate


def input_as_current(net: Network) -> Network:
    """A copy of `net` whose first graph convolution (input -> dense -> relay -> graph) runs on the host."""
    net = copy.deepcopy(net)
    readers = [pr for pr in net.projections if pr.source == net.input.name]
    if len(readers) != 1 or readers[0].kind != "dense":
        raise IRError("input as current needs the input read by one feature transform (dense projection)")
    relay = net.population(readers[0].target)
    graphs = [pr for pr in net.projections if pr.source == relay.name and pr.kind == "graph"]
    if len(graphs) != 1:
        raise IRError(f"input as current needs relay {relay.name!r} to feed one graph projection")
    dense, _, graph = conv_chain(net, graphs[0].target)
    dense.on_host = graph.on_host = True
    net.metadata = {**net.metadata, "input_as_current": True}
    return validate(net)


def constant_input(net: Network, sample, spec) -> None:
    """Refuse a sample whose input raster is not the same at every step (needed by a host chain)."""
    if host_chain(net) is None:
        return
    if spec.packed is not None:
        constant = bool(np.all(spec.packed == spec.packed[:1]))
    else:          # features: every nonzero one is 1, which spikes at every step in both codings
        constant = bool(np.all(spec.rates == 1.0))
    if not constant:
        raise IRError(f"sample {sample.name!r}: the network computes its input as a constant current, but this "
                      f"input changes from step to step; compile without --input-as-current for it")


def host_current(net: Network, window) -> np.ndarray:
    """The current the host computes for one window: the chain applied to its (constant) input raster."""
    from neurograph.compile.projections import dense_step, graph_step
    dense, _, graph = host_chain(net)
    first = next(window.input.stream()).astype(np.int64)
    payload = dense_step(first, np.asarray(dense.weight), dense.exponent, fixed=True)
    return graph_step(payload, window.binding.heads(graph), graph.exponent, fixed=True)
