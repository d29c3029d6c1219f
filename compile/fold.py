"""Fold per-feature input scales (frozen STFN) into the feature transforms that feed the neuron.

For a population fed by chains  dense W_c -> relay_c -> graph A_c  the scaled input
scale[k] * sum_c (A_c (S_c W_c))[v, k] equals sum_c (A_c (S_c W_c'))[v, k] with
W_c' = W_c diag(scale): the aggregation acts per feature, so the scale moves into every
chain's W columns.
"""
from __future__ import annotations

import copy

import numpy as np

from neurograph.compile.ir import IRError, Network, validate


def conv_chain(net: Network, target: str):
    """(dense, relay, graph) feeding `target`, or IRError if it is not fed by exactly one such chain."""
    chains = conv_chains(net, target)
    if len(chains) != 1:
        raise IRError(f"population {target!r} must be fed by exactly one graph convolution "
                      f"(dense -> relay -> graph); it has {len(chains)}")
    return chains[0]


def conv_chains(net: Network, target: str):
    """The (dense, relay, graph) chains feeding `target` (a GCN layer has one; a SAGE layer two: the
    neighbours' mean and the root weight), or IRError if anything else feeds it."""
    incoming = net.incoming(target)
    if not incoming or any(pr.kind != "graph" for pr in incoming):
        raise IRError(f"population {target!r} must be fed by graph projections from relays "
                      f"(dense -> relay -> graph); it has {[(p.name, p.kind) for p in incoming]}")
    return [_chain_through(net, graph) for graph in incoming]


def _chain_through(net: Network, graph):
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
        for dense, _, _ in conv_chains(net, pop.name):
            dense.weight = np.asarray(dense.weight) * np.asarray(pop.input_scale)[None, :]
        pop.input_scale = None
    return validate(net)


__all__ = ["conv_chain", "conv_chains", "fold_scales"]
