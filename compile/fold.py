"""Fold per-feature input scales (frozen STFN) into the feature transform that feeds the neuron.

For a population fed by  dense W -> relay -> graph A  the scaled input
scale[k] * (A (S W))[v, k] equals (A (S W'))[v, k] with W' = W diag(scale): the
aggregation acts per feature, so the scale moves into W's columns.
"""
from __future__ import annotations

import copy

import numpy as np

from neurograph.compile.ir import IRError, Network, validate


def conv_chain(net: Network, target: str):
    """(dense, relay, graph) feeding `target`, or IRError if it is not fed by exactly such a chain."""
    incoming = net.incoming(target)
    if len(incoming) != 1 or incoming[0].kind != "graph":
        raise IRError(f"population {target!r} must be fed by exactly one graph projection from a relay "
                      f"(dense -> relay -> graph); it has {[(p.name, p.kind) for p in incoming]}")
    graph = incoming[0]
    relay = net.population(graph.source) if graph.source != net.input.name else None
    if relay is None or not relay.neuron.forwards_input:
        raise IRError(f"projection {graph.name!r} must come from a relay population, not {graph.source!r}")
    into_relay = net.incoming(relay.name)
    readers = [p for p in net.projections if p.source == relay.name]
    if len(into_relay) != 1 or into_relay[0].kind != "dense" or len(readers) != 1:
        raise IRError(f"relay {relay.name!r} must have one incoming dense projection and one reader")
    return into_relay[0], relay, graph


def fold_scales(net: Network) -> Network:
    """Return a copy of `net` with every per-feature input scale folded into its feature transform."""
    if net.domain != "float":
        raise IRError("fold_scales works on the float IR (before quantization)")
    net = copy.deepcopy(net)
    for pop in net.populations:
        if pop.input_scale is None:
            continue
        dense, _, _ = conv_chain(net, pop.name)
        dense.weight = np.asarray(dense.weight) * np.asarray(pop.input_scale)[None, :]
        pop.input_scale = None
    return validate(net)


__all__ = ["conv_chain", "fold_scales"]
