"""Random fixed-point networks over the whole IR, for differential tests.

Each network mixes what the IR allows: relays and VSNs (graded payloads at their worst-case
width), IF / LIF / LIF-with-subtraction populations, dense and graph projections
(rules gcn, mean and host-given attention with heads), mixed-sign 8-bit weights,
exponents over their whole range, leaks, biases, feedback projections, and an
integrator readout. Samples bring random graphs with isolated nodes, self loops and
duplicate edges. Networks that the chip cannot run are expected to be refused by
validate()/bind(); the tests count both outcomes.
"""
from __future__ import annotations

import numpy as np

from neurograph.compile.graphs import bind
from neurograph.compile.ir import Input, IRError, Network, Population, Projection, Readout, check_ranges, validate
from neurograph.compile.samples import Sample

SPIKING = ("if", "lif", "lif_subtract")
HIDDEN = SPIKING + ("vsn",)       # hidden kinds drawn; a VSN (graded) is never a feedback source


def _weights(rng, shape):
    kind = rng.integers(3)
    if kind == 0:
        return rng.integers(-128, 128, shape)            # mixed signs
    if kind == 1:
        return rng.integers(0, 256, shape)               # excitatory, full 8 bits
    return -rng.integers(0, 256, shape)                  # inhibitory


def _spiking(rng, name, features):
    kind = HIDDEN[rng.integers(len(HIDDEN))]
    leak = 0 if kind == "if" else int(rng.integers(0, 4096))
    bias = rng.integers(-4096, 4096, features) if rng.random() < 0.6 else None
    top = (1 << 10) if rng.random() < 0.8 else (1 << 17) - 1      # mostly low enough to spike
    vth = int(np.exp(rng.uniform(0, np.log(top))))
    return Population(name, kind, features, threshold=vth, leak=leak, bias=bias, bias_exp=int(rng.integers(0, 8)),
                      payload_bits=24 if kind == "vsn" else 0)


def random_network(rng, num_steps: int = 4) -> Network:
    """A random fixed-point network (not yet checked against a graph's ranges)."""
    f_in = int(rng.integers(2, 6))
    pops, projs = [], []
    source, f_src, spiking_names = "input", f_in, []
    layers = int(rng.integers(2, 5))
    for layer in range(layers):
        last = layer == layers - 1
        f_out = int(rng.integers(2, 6))
        heads = int(rng.choice([h for h in (1, 2, 3) if f_out % h == 0]))
        target = f"out{layer}"
        structure = rng.integers(3)
        rule = ["gcn", "mean", "attention"][rng.integers(3)]
        if structure == 0:      # dense -> relay -> graph -> target (a graph convolution)
            relay = f"relay{layer}"
            pops.append(Population(relay, "relay", f_out, payload_bits=24))
            projs.append(Projection(f"w{layer}", "dense", source, relay, _weights(rng, (f_src, f_out)),
                                    exponent=int(rng.integers(-7, 8))))
            projs.append(Projection(f"a{layer}", "graph", relay, target, rule=rule, heads=heads,
                                    coefficient_scale=float(rng.integers(1, 256)), exponent=int(rng.integers(-8, 8))))
        elif structure == 1 and source != "input":   # graph straight from spikes, then a dense transform
            mid = f"agg{layer}"
            h = int(rng.choice([k for k in (1, 2) if f_src % k == 0]))
            pops.append(Population(mid, "relay", f_src, payload_bits=24))
            projs.append(Projection(f"a{layer}", "graph", source, mid, rule=rule, heads=h,
                                    coefficient_scale=float(rng.integers(1, 256)), exponent=int(rng.integers(-8, 8))))
            projs.append(Projection(f"w{layer}", "dense", mid, target, _weights(rng, (f_src, f_out)),
                                    exponent=int(rng.integers(-7, 8))))
        else:                   # dense straight into the target
            projs.append(Projection(f"w{layer}", "dense", source, target, _weights(rng, (f_src, f_out)),
                                    exponent=int(rng.integers(-7, 8))))
        if last:
            bias = rng.integers(-4096, 4096, f_out) if rng.random() < 0.5 else None
            pops.append(Population(target, "integrator", f_out, leak=int(rng.integers(0, 4096)) * int(rng.random() < 0.5),
                                   bias=bias, bias_exp=int(rng.integers(0, 8))))
        else:
            pops.append(_spiking(rng, target, f_out))
            if pops[-1].neuron.spiking:
                spiking_names.append((target, f_out))
        source, f_src = target, f_out
    if spiking_names and rng.random() < 0.6:          # feedback: a later spiking population back to an earlier one
        (late, f_late), (early, f_early) = spiking_names[-1], spiking_names[0]
        projs.append(Projection("feedback", "dense", late, early, _weights(rng, (f_late, f_early)),
                                exponent=int(rng.integers(-7, 8))))
    net = Network("fixed", Input("input", f_in, num_steps), pops, projs, Readout(pops[-1].name))
    return net


def random_sample(rng, net: Network, nodes: int, name: str = "g", given_spikes: bool = None) -> Sample:
    """A random graph for `net`: isolated nodes, self loops, duplicate edges; features or a raster."""
    m = int(rng.integers(0, 3 * nodes))
    edges = rng.integers(0, max(1, nodes - 2), (2, m)).astype(np.int64)   # the last two nodes stay isolated
    f = net.input.features
    if given_spikes if given_spikes is not None else rng.random() < 0.5:
        sample = Sample(name, nodes, edges, spikes=rng.random((net.input.num_steps, nodes, f)) < 0.5)
    else:
        sample = Sample(name, nodes, edges, features=rng.random((nodes, f)) * (rng.random((nodes, f)) < 0.7))
    for pr in net.graph_projections:
        if pr.rule == "attention":
            loops = np.arange(nodes)
            e = np.concatenate([edges, np.stack([loops, loops])], axis=1)
            sample.coefficient_edges[pr.name] = e
            raw = rng.random((e.shape[1], pr.heads))         # normalized over each node's in-edges, as softmax is
            total = np.zeros((nodes, pr.heads))
            np.add.at(total, e[1], raw)
            sample.coefficients[pr.name] = raw / total[e[1]]
    return sample


def tighten_payloads(net: Network, sample: Sample) -> None:
    """Set every relay's payload width to exactly its worst case on `sample` (payloads at their limit)."""
    bound = check_ranges(net, lambda pr: bind_heads(net, sample, pr))
    for pop in net.populations:
        if pop.neuron.graded:
            pop.payload_bits = max(2, int(bound[pop.name]).bit_length() + 1)


def bind_heads(net, sample, pr):
    from neurograph.compile.graphs import RULES, _given_coefficients, fixed_coefficients
    rule = RULES[pr.rule]
    heads = _given_coefficients(pr, sample) if rule.host_computed else [rule.coefficients(sample.edge_index, sample.num_nodes)] * pr.heads
    return fixed_coefficients(pr, heads)


def accepted_network(rng, nodes: int, windows: int = 1, attempts: int = 200):
    """Draw random networks until one passes validate() and binds every window's graph; returns
    (network, samples, refused) with refused the IRErrors met on the way."""
    refused = []
    for _ in range(attempts):
        net = random_network(rng)
        samples = [random_sample(rng, net, nodes, name=f"g{k}") for k in range(windows)]
        try:
            validate(net)
            tighten_payloads(net, samples[0])
            for s in samples:
                bind(net, s)
            return net, samples, refused
        except IRError as exc:
            refused.append(str(exc))
    raise AssertionError(f"no random network was accepted in {attempts} draws; refusals: {refused[:5]}")
