"""Constant input as current: the input's first graph convolution computed once by the host.

Same spikes and readouts as the all-chip network (reference and Lava, both lowerings), the
chain's synaptic ops moved off the chip into counted host work, non-constant inputs refused.
"""
import numpy as np
import pytest

from conftest import make_fixed_network, random_sample
from neurograph.compile.artifact import load_network, save_network
from neurograph.compile.current import input_as_current
from neurograph.compile.ir import IRError
from neurograph.sim.counters import EventCounter
from neurograph.sim.reference import prepare, run_reference


def _binary_sample(seed=1, nodes=12):
    sample = random_sample(seed, nodes=nodes)
    sample.features = (sample.features > 0).astype(float)        # binary: the raster is the same every step
    return sample


def _counted(net, sample):
    windows = prepare(net, [sample])
    counter = EventCounter(net, sample.num_nodes)
    return run_reference(net, windows, observers=[counter]), counter.counts, windows


def test_same_spikes_and_the_chain_moves_to_the_host(tmp_path):
    sample = _binary_sample()
    plain = make_fixed_network(seed=1, sample=sample)
    current = load_network(save_network(input_as_current(plain), tmp_path / "n.npz"))   # survives the artifact
    a, plain_counts, _ = _counted(plain, sample)
    b, counts, _ = _counted(current, sample)
    assert a.raster("if1").sum() > 0
    assert all(np.array_equal(a.spikes[k], b.spikes[k]) for k in a.spikes) and np.array_equal(a.readout, b.readout)
    ops = {p.name: p.synaptic_ops for p in plain_counts.projections}
    moved = {p.name: p.synaptic_ops for p in counts.projections}
    assert moved["transform1"] == moved["aggregate1"] == 0 and moved["transform2"] == ops["transform2"]
    assert counts.input_spikes == 0 and plain_counts.input_spikes > 0        # the input never enters the chip
    # the host does the chain once: T = 5 steps of identical work on chip become one step's worth
    steps = plain.input.num_steps
    assert counts.host_ops["fp32_add"] * steps == ops["transform1"]
    assert counts.host_ops["fp32_mac"] * steps == ops["aggregate1"]
    assert [p.name for p in counts.populations if p.on_host] == ["relay1"]


@pytest.mark.lava
@pytest.mark.parametrize("lowering", ["fused", "stock"])
def test_input_as_current_agrees_with_lava(lowering, no_leaked_processes):
    from neurograph.sim.lava_runner import run_on_lava
    samples = [_binary_sample(1), _binary_sample(2)]
    net = input_as_current(make_fixed_network(seed=1, sample=samples[0]))
    for window in prepare(net, samples):       # each graph its own run (the stock lowering holds one graph)
        reference, lava = run_reference(net, [window]), run_on_lava(net, [window], lowering)
        assert all(np.array_equal(reference.spikes[k], lava.spikes[k]) for k in reference.spikes)
        assert np.array_equal(reference.readout, lava.readout)


def test_a_changing_input_is_refused():
    sample = random_sample(1, nodes=12)          # probabilities below 1: Bernoulli spikes change every step
    net = input_as_current(make_fixed_network(seed=1, sample=sample))
    with pytest.raises(IRError, match="changes from step to step"):
        prepare(net, [sample])


def test_only_the_first_graph_convolution_can_be_on_host():
    net = make_fixed_network(seed=1)
    net.projection("transform2").on_host = True
    with pytest.raises(IRError, match="only the input's first graph convolution"):
        from neurograph.compile.ir import validate
        validate(net)
