"""Lava (fixed_pt) against the bit-exact reference, spike for spike, and the fused graph-conv
process against the same network built only from Lava's stock processes."""
import numpy as np
import pytest

from neurograph.compile.fixed_point import lava_weights
from neurograph.compile.ir import IRError
from neurograph.compile.lava.lower import lower_to_lava
from neurograph.sim.lava_runner import LavaRunError, run_on_lava
from neurograph.sim.reference import prepare, run_reference, spike_agreement

from conftest import make_fixed_network, make_float_network, random_sample

pytestmark = [pytest.mark.lava, pytest.mark.usefixtures("no_leaked_processes")]

CASES = [
    dict(seed=0),
    dict(seed=1, nodes=20, features=7, hidden=9, classes=4, steps=6),
    dict(seed=2, neuron="lif", leak=0.125),
    dict(seed=3, layers=3, nodes=15),
    dict(seed=4, scales=False, steps=9),
    dict(seed=5, layers=3, nodes=15, hidden=9, heads=3),      # multi-head attention: one A per feature slice
]


def case_network(case):
    """The fixed network of `case` and its windows: a random graph of `nodes` nodes; with heads, the graph
    projections take host-computed coefficients, different per head, that come with the sample."""
    case = dict(case)
    nodes, heads = case.pop("nodes", 12), case.get("heads", 1)
    sample = random_sample(case["seed"], nodes=nodes, features=case.get("features", 10),
                           classes=case.get("classes", 3))
    if heads > 1:
        rng = np.random.default_rng(case["seed"])
        edges = np.concatenate([sample.edge_index, np.stack([np.arange(nodes)] * 2)], axis=1)
        for layer in range(case.get("layers", 2)):
            last = layer == case.get("layers", 2) - 1
            sample.coefficient_edges[f"aggregate{layer + 1}"] = edges
            sample.coefficients[f"aggregate{layer + 1}"] = rng.uniform(0.2, 1.0, (edges.shape[1], 1 if last else heads))
        case["rule"] = "attention"
    net = make_fixed_network(sample=sample, **case)
    return net, prepare(net, [sample])


def case_id(case):
    return "-".join(f"{k}{v}" for k, v in case.items())


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_fused_lava_matches_reference_spike_for_spike(case):
    net, windows = case_network(case)
    ref, lava = run_reference(net, windows), run_on_lava(net, windows, "fused")
    assert sum(ref.raster(name).sum() for name in ref.spikes) > 0, "a test network that never spikes proves nothing"
    assert spike_agreement(ref, lava)["all"] == 1.0
    assert np.array_equal(ref.readout, lava.readout)


@pytest.mark.parametrize("case", CASES[:3] + CASES[-1:], ids=case_id)
def test_stock_lava_processes_equal_the_fused_graph_conv(case):
    net, windows = case_network(case)
    fused, stock = run_on_lava(net, windows, "fused"), run_on_lava(net, windows, "stock")
    for name in fused.spikes:
        assert np.array_equal(fused.spikes[name], stock.spikes[name])
    assert np.array_equal(fused.readout, stock.readout)


def test_fused_lowering_uses_one_process_per_graph_convolution(tmp_path):
    net, windows = case_network(dict(seed=0))
    built = lower_to_lava(net, windows, str(tmp_path), "fused")
    assert built.fused == ["relay1", "relay2"]
    assert not any(type(p).__name__ in ("Dense", "Sparse") for p in built.processes.values())
    stock = lower_to_lava(net, windows, str(tmp_path), "stock")
    kinds = sorted(type(p).__name__ for p in stock.processes.values())
    assert kinds.count("Dense") == 2 and kinds.count("Sparse") == 2 and kinds.count("GradedVec") == 2


def test_mixed_sign_weights_survive_lavas_truncation():
    w = np.array([[3, -3, 127, -128, 1]])
    enc, exp = lava_weights(w, 0)
    assert enc.tolist() == [[6, -6, 254, -256, 2]] and exp == -1
    enc, exp = lava_weights(np.array([[0, 255, 7]]), 2)
    assert enc.tolist() == [[0, 255, 7]] and exp == 2


def test_float_network_cannot_be_lowered(tmp_path):
    net = make_float_network()
    with pytest.raises(IRError, match="quantize_network"):
        lower_to_lava(net, prepare(net, [random_sample(0)]), str(tmp_path))


def test_stock_lowering_refuses_huge_kronecker_products(tmp_path):
    net, windows = case_network(dict(seed=0, nodes=400, features=200, hidden=80))
    with pytest.raises(IRError, match="use lowering='fused'"):
        lower_to_lava(net, windows, str(tmp_path), "stock")


def test_a_failing_model_is_stopped_and_reported(monkeypatch):
    from neurograph.compile.lava.processes import graph_conv

    def broken(x, heads, exponent, fixed):
        raise RuntimeError("boom in the aggregation")
    monkeypatch.setattr(graph_conv, "graph_step", broken)  # the forked model processes inherit the patch
    net, windows = case_network(dict(seed=0))
    with pytest.raises(LavaRunError, match="(?s)failed at step 1.*boom in the aggregation"):
        run_on_lava(net, windows, "fused")
