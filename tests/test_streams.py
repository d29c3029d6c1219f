"""Snapshot streams: one compiled network, a sequence of graphs, neuron state carried across them.

The network is Dy-SIGN's shape: a graph convolution into LIF-with-subtraction neurons,
a second layer, and a feedback projection from the last spiking layer back to the
first (the "information compensation"), then an integrator readout.
"""
import numpy as np
import pytest

from conftest import random_edges
from neurograph.compile.ir import Input, IRError, Network, Population, Projection, Readout, validate
from neurograph.compile.samples import Sample
from neurograph.sim.reference import prepare, run_reference, run_samples


def feedback_network(features=4, hidden=6, classes=3) -> Network:
    rng = np.random.default_rng(11)
    return validate(Network("fixed", Input("input", features, 3), [
        Population("relay1", "relay", hidden, payload_bits=12),
        Population("lif1", "lif_subtract", hidden, threshold=40, leak=400, bias=rng.integers(-20, 40, hidden)),
        Population("relay2", "relay", hidden, payload_bits=12),
        Population("lif2", "lif_subtract", hidden, threshold=40, leak=400),
        Population("relay3", "relay", classes, payload_bits=12),
        Population("readout", "integrator", classes)],
        [Projection("transform1", "dense", "input", "relay1", rng.integers(-128, 128, (features, hidden))),
         Projection("aggregate1", "graph", "relay1", "lif1", rule="gcn", coefficient_scale=255, exponent=-6),
         Projection("transform2", "dense", "lif1", "relay2", rng.integers(-128, 128, (hidden, hidden))),
         Projection("aggregate2", "graph", "relay2", "lif2", rule="gcn", coefficient_scale=255, exponent=-6),
         Projection("compensation", "dense", "lif2", "lif1", rng.integers(-128, 128, (hidden, hidden)), exponent=-1),
         Projection("transform3", "dense", "lif2", "relay3", rng.integers(-128, 128, (hidden, classes))),
         Projection("aggregate3", "graph", "relay3", "readout", rule="gcn", coefficient_scale=255, exponent=-6)],
        Readout("readout")))


def snapshots(n=10, count=5, features=4, same_graph=False):
    """An evolving graph on one node set: each snapshot keeps most edges and adds a few."""
    rng = np.random.default_rng(3)
    edges = random_edges(rng, n, 2.0)
    out = []
    for k in range(count):
        if not same_graph and k:
            edges = np.concatenate([edges[:, rng.random(edges.shape[1]) < 0.8], random_edges(rng, n, 1.0)], axis=1)
        x = np.where(rng.random((n, features)) < 0.5, rng.uniform(0.3, 1.0, (n, features)), 0.0)
        out.append(Sample(f"t{k}", n, edges.copy(), features=x, labels=rng.integers(0, 3, n)))
    return out


def test_feedback_projection_is_recurrent_and_readout_waits_for_the_forward_path():
    net = feedback_network()
    assert [pr.name for pr in net.projections if net.is_feedback(pr)] == ["compensation"]
    assert net.window_steps == 3 + 6          # T + three two-hop layers; the feedback adds no latency


def test_carried_state_changes_the_answer():
    """Carrying state is observable: the windows after the first differ from runs with state reset."""
    net, stream = feedback_network(), snapshots()
    carried = run_samples(net, stream, carry=True)[0]
    reset = run_samples(net, stream, carry=False)
    assert np.array_equal(carried.readouts[0], reset[0].readouts[0])
    assert any(not np.array_equal(carried.readouts[k], reset[k].readouts[0]) for k in range(1, 5))


def test_carry_needs_one_node_set():
    stream = snapshots()
    stream[2] = Sample("other", 7, np.zeros((2, 0), dtype=np.int64), features=np.zeros((7, 4)))
    with pytest.raises(IRError, match="one node set"):
        run_samples(feedback_network(), stream, carry=True)


@pytest.mark.lava
def test_five_snapshots_with_carried_state_agree_on_fused_lava(no_leaked_processes):
    from neurograph.sim.lava_runner import run_on_lava
    net = feedback_network()
    windows = prepare(net, snapshots())
    reference = run_reference(net, windows)
    assert all(reference.raster(k).sum() > 0 for k in ("lif1", "lif2"))
    lava = run_on_lava(net, windows, "fused")
    for name in reference.spikes:
        assert np.array_equal(reference.spikes[name], lava.spikes[name]), name
    assert all(np.array_equal(a, b) for a, b in zip(reference.readouts, lava.readouts))


@pytest.mark.lava
def test_five_inputs_on_one_graph_with_carried_state_agree_on_stock_lava(no_leaked_processes):
    """Lava's own Dense/Sparse/GradedVec/LIF can carry state when the graph stays; LIF-subtract is ours."""
    from neurograph.sim.lava_runner import run_on_lava
    net = feedback_network()
    for pop in net.populations:
        if pop.kind == "lif_subtract":
            pop.kind = "lif"                  # stock Lava LIF: every process of this network is Lava's own
    windows = prepare(net, snapshots(same_graph=True))
    reference = run_reference(net, windows)
    lava = run_on_lava(net, windows, "stock")
    for name in reference.spikes:
        assert np.array_equal(reference.spikes[name], lava.spikes[name]), name
    assert all(np.array_equal(a, b) for a, b in zip(reference.readouts, lava.readouts))


def test_stock_lowering_refuses_a_changing_graph():
    from neurograph.compile.lava.lower import lower_to_lava
    net = feedback_network()
    with pytest.raises(IRError, match="stock lowering holds one graph"):
        lower_to_lava(net, prepare(net, snapshots()), "/tmp", "stock")


def test_disjoint_union_of_small_graphs_equals_running_them_one_by_one():
    from neurograph.compile.samples import disjoint_union
    net = feedback_network()
    graphs = [Sample(f"g{k}", n, random_edges(np.random.default_rng(k), n, 2.0),
                     spikes=np.random.default_rng(10 + k).random((3, n, 4)) < 0.5)
              for k, n in enumerate((5, 9, 7))]
    one_by_one = [r.readout for r in run_samples(net, graphs)]
    batch = run_samples(net, [disjoint_union(graphs)])[0].readout
    assert np.array_equal(batch, np.concatenate(one_by_one))
