"""Randomized differential test: the reference, the fused lowering and Lava's stock processes agree.

Random fixed-point networks over the whole IR (tests/netgen.py: mixed-sign 8-bit
weights, every exponent, leaks, biases, tight payload widths, heads, feedback, three
neuron kinds, isolated nodes, self loops, duplicate edges) run on random graphs. Every
network the IR accepts must give identical spikes and readouts on all three executors;
the rest must be refused by validate()/bind() with an IRError. The number of networks
is bounded so CI stays fast; the seed makes every run the same.
"""
import numpy as np
import pytest

from netgen import accepted_network
from neurograph.sim.lava_runner import run_on_lava
from neurograph.sim.reference import prepare, run_reference

NETWORKS = 24


def _assert_same(reference, other, what):
    for name in reference.spikes:
        assert np.array_equal(reference.spikes[name], other.spikes[name]), f"{what}: spikes of {name} differ"
    for name in reference.payloads:                 # graded kinds with their own process (VSN)
        assert np.array_equal(reference.payloads[name], other.payloads[name]), f"{what}: payloads of {name} differ"
    for k, (a, b) in enumerate(zip(reference.readouts, other.readouts)):
        assert np.array_equal(a, b), f"{what}: readout of window {k} differs"


@pytest.mark.slow
@pytest.mark.lava
def test_random_networks_agree_on_reference_fused_and_stock(no_leaked_processes):
    rng = np.random.default_rng(2026)
    kinds, feedback, spikes_seen, refused = set(), 0, 0, 0
    for i in range(NETWORKS):
        net, samples, refusals = accepted_network(rng, nodes=int(rng.integers(4, 9)))
        refused += len(refusals)
        windows = prepare(net, samples)
        reference = run_reference(net, windows)
        for lowering in ("fused", "stock"):
            _assert_same(reference, run_on_lava(net, windows, lowering), f"network {i} ({lowering})")
        kinds |= {p.kind for p in net.populations}
        feedback += any(net.is_feedback(pr) for pr in net.projections)
        spikes_seen += sum(int(reference.raster(k).sum()) for k in reference.spikes)
    assert {"relay", "integrator", "vsn"} <= kinds and len(kinds & {"if", "lif", "lif_subtract"}) >= 2
    assert feedback >= 2 and spikes_seen > 0


@pytest.mark.slow
@pytest.mark.lava
def test_random_streams_with_carried_state_agree(no_leaked_processes):
    """Three windows, each with its own graph, state carried: the fused lowering's per-window schedule."""
    rng = np.random.default_rng(7)
    for i in range(3):
        net, samples, _ = accepted_network(rng, nodes=6, windows=3)
        windows = prepare(net, samples)
        _assert_same(run_reference(net, windows), run_on_lava(net, windows, "fused"), f"stream {i}")
