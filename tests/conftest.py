"""Shared test helpers: random graphs as samples, small random networks in the float and fixed domains."""
from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from neurograph.compile.fold import fold_scales
from neurograph.compile.ir import Input, Network, Population, Projection, Readout, validate
from neurograph.compile.quantize import quantize_network
from neurograph.compile.samples import Sample
from neurograph.sim.reference import prepare, steps


def random_edges(rng, nodes: int, avg_degree: float = 3.0) -> np.ndarray:
    """A symmetric random edge list (2, E) without self loops (rules add them)."""
    m = int(nodes * avg_degree / 2)
    src, dst = rng.integers(0, nodes, m), rng.integers(0, nodes, m)
    keep = src != dst
    edges = np.concatenate([np.stack([src[keep], dst[keep]]), np.stack([dst[keep], src[keep]])], axis=1)
    return np.unique(edges, axis=1).astype(np.int64)


def random_sample(seed: int = 0, nodes: int = 12, features: int = 10, classes: int = 3, avg_degree: float = 3.0,
                  name: str = "") -> Sample:
    """A random graph with sparse features in [0, 1], labels and a test mask of every node."""
    rng = np.random.default_rng(seed + 1000)
    x = np.where(rng.random((nodes, features)) < 0.4, rng.uniform(0.2, 1.0, (nodes, features)), 0.0)
    return Sample(name or f"random{seed}", nodes, random_edges(rng, nodes, avg_degree), features=x,
                  labels=rng.integers(0, classes, nodes), masks={"test": np.ones(nodes, bool)})


def calibrate(net: Network, sample: Sample) -> Network:
    """Record each population's float input/voltage ranges on `sample`, as export does from the torch model."""
    peaks = {p.name: {"max_abs_input": 0.0, "max_abs_v": 0.0} for p in net.populations if not p.neuron.graded}
    for step in steps(net, prepare(net, [sample])):
        for name, peak in peaks.items():
            pop = net.population(name)
            peak["max_abs_input"] = max(peak["max_abs_input"], float(np.abs(step.inputs[name]).max()))
            v = float(np.abs(step.state[name]["v"]).max())
            peak["max_abs_v"] = max(peak["max_abs_v"], v, float(pop.threshold or 0.0))
    for name, peak in peaks.items():
        net.population(name).calibration = peak
    return net


def make_float_network(seed: int = 0, features: int = 10, hidden: int = 6, classes: int = 3, steps: int = 5,
                       neuron: str = "if", leak: float = 0.0, scales: bool = True, layers: int = 2,
                       heads: int = 1, rule: str = "gcn", sample: Sample = None) -> Network:
    """A random float network of `layers` graph convolutions, calibrated on `sample` (default: random_sample(seed)).
    `scales` gives hidden layers a per-feature input scale (as frozen STFN exports); `heads` > 1
    splits hidden layers' aggregation into heads (with rule 'attention', samples must bring coefficients)."""
    rng = np.random.default_rng(seed)
    dims = [features] + [hidden] * (layers - 1) + [classes]
    pops, projs, source = [], [], "input"
    for layer in range(layers):
        f_in, f_out = dims[layer], dims[layer + 1]
        last = layer == layers - 1
        relay, target = f"relay{layer + 1}", ("readout" if last else f"{neuron}{layer + 1}")
        pops.append(Population(relay, "relay", f_out))
        projs.append(Projection(f"transform{layer + 1}", "dense", source, relay,
                                rng.normal(0, 1.5 / np.sqrt(f_in), (f_in, f_out))))
        projs.append(Projection(f"aggregate{layer + 1}", "graph", relay, target, rule=rule,
                                heads=heads if not last else 1))
        bias = rng.normal(0, 0.2, f_out)
        if last:
            pops.append(Population(target, "integrator", f_out, bias=bias))
        else:
            pops.append(Population(target, neuron, f_out, threshold=1.0, leak=leak, bias=bias,
                                   input_scale=rng.uniform(0.5, 2.0, f_out) * rng.choice([-1, 1], f_out)
                                   if scales else None))
        source = target
    net = Network("float", Input("input", features, steps, "bernoulli", seed), pops, projs, Readout("readout"))
    return calibrate(validate(net), sample or random_sample(seed, features=features, classes=classes))


def make_fixed_network(**kwargs) -> Network:
    return quantize_network(fold_scales(make_float_network(**kwargs)))


def train_small_model(cfg, graph):
    """A model of `cfg` trained on `graph` (seed 0), for tests that need a real trained network."""
    import torch
    from neurograph.models import build_model
    from neurograph.train import train_model
    torch.manual_seed(0)
    model = build_model(cfg.model, graph)
    train_model(model, graph, cfg, progress=False)
    return model


@pytest.fixture
def no_leaked_processes():
    """Fails a Lava test that leaves runtime child processes behind."""
    yield
    alive = [p for p in multiprocessing.active_children() if p.is_alive()]
    assert not alive, f"Lava left processes running: {alive}"
