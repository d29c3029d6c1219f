"""Shared test helpers: small random networks in the float and fixed domains."""
from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import scipy.sparse as sp

from neurograph.compile.fold import fold_scales
from neurograph.compile.ir import Input, Network, Population, Projection, Readout, Task, validate
from neurograph.compile.quantize import quantize_network
from neurograph.sim.reference import input_raster, population_input, run_population_float


def random_graph(rng, nodes: int, avg_degree: float = 3.0) -> sp.csr_matrix:
    """Symmetric random graph with self loops, GCN-normalized: D^-1/2 (A + I) D^-1/2."""
    m = int(nodes * avg_degree / 2)
    src, dst = rng.integers(0, nodes, m), rng.integers(0, nodes, m)
    a = sp.coo_matrix((np.ones(m), (src, dst)), shape=(nodes, nodes)).tocsr()
    a = ((a + a.T) > 0).astype(np.float64) + sp.identity(nodes)
    a = (a > 0).astype(np.float64)
    d = np.asarray(a.sum(axis=1)).ravel() ** -0.5
    return sp.csr_matrix(sp.diags(d) @ a @ sp.diags(d))


def calibrate(net: Network) -> Network:
    """Record each population's float input/voltage ranges, as export does from the torch model."""
    outputs = {net.input.name: input_raster(net)}
    for pop in net.populations:
        a_in = population_input(net, pop.name, outputs, fixed=False)
        if pop.kind == "relay":
            outputs[pop.name] = a_in
            continue
        result = run_population_float(pop, a_in, peaks=pop.calibration)
        if pop.spiking:
            outputs[pop.name] = result.astype(float)
    return net


def make_float_network(seed: int = 0, nodes: int = 12, features: int = 10, hidden: int = 6, classes: int = 3,
                       steps: int = 5, neuron: str = "if", leak: float = 0.0, scales: bool = True,
                       layers: int = 2, heads: int = 1) -> Network:
    """A random calibrated float network; `heads` > 1 gives hidden layers one aggregation matrix per
    attention head (the graph's pattern with random positive weights), as a multi-head GA-SNN exports."""
    rng = np.random.default_rng(seed)
    adjacency = random_graph(rng, nodes)
    spikes = rng.random((steps, nodes, features)) < 0.35
    dims = [features] + [hidden] * (layers - 1) + [classes]
    pops, projs, source = [], [], "input"
    for layer in range(layers):
        f_in, f_out = dims[layer], dims[layer + 1]
        last = layer == layers - 1
        relay, target = f"relay{layer + 1}", ("readout" if last else f"{neuron}{layer + 1}")
        pops.append(Population(relay, "relay", (nodes, f_out)))
        projs.append(Projection(f"transform{layer + 1}", "dense", source, relay,
                                rng.normal(0, 1.0 / np.sqrt(f_in), (f_in, f_out))))
        aggregation = adjacency.copy()
        if heads > 1 and not last:
            aggregation = [sp.csr_matrix((rng.uniform(0.2, 1.0, adjacency.nnz), adjacency.indices, adjacency.indptr),
                                         shape=adjacency.shape) for _ in range(heads)]
        projs.append(Projection(f"aggregate{layer + 1}", "graph", relay, target, aggregation))
        bias = rng.normal(0, 0.2, (nodes, f_out))
        if last:
            pops.append(Population(target, "integrator", (nodes, f_out), bias=bias))
        else:
            pops.append(Population(target, neuron, (nodes, f_out), threshold=1.0, leak=leak, bias=bias,
                                   node_scale=rng.uniform(0.5, 2.0, nodes) if scales else None,
                                   feature_scale=rng.uniform(0.5, 2.0, f_out) * rng.choice([-1, 1], f_out)
                                   if scales else None))
        source = target
    labels = rng.integers(0, classes, nodes)
    task = Task(labels=labels, masks={"test": np.ones(nodes, bool)}, num_classes=classes)
    net = Network("float", Input("input", spikes, "bernoulli", seed), pops, projs, Readout("readout"), task)
    return calibrate(validate(net))


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
