"""Lava (fixed_pt) against the bit-exact reference, spike for spike, and the fused graph-conv
process against the same network built only from Lava's stock processes."""
import numpy as np
import pytest

from neurograph.compile.ir import IRError
from neurograph.compile.lava.lower import lava_weights, lower_to_lava
from neurograph.sim.lava_runner import LavaRunError, run_on_lava
from neurograph.sim.reference import run_reference, spike_agreement

from conftest import make_fixed_network, make_float_network

pytestmark = [pytest.mark.lava, pytest.mark.usefixtures("no_leaked_processes")]

CASES = [
    dict(seed=0),
    dict(seed=1, nodes=20, features=7, hidden=9, classes=4, steps=6),
    dict(seed=2, neuron="lif", leak=0.125),
    dict(seed=3, layers=3, nodes=15),
    dict(seed=4, scales=False, steps=9),
    dict(seed=5, layers=3, nodes=15, hidden=9, heads=3),      # multi-head attention: one A per feature slice
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
def test_fused_lava_matches_reference_spike_for_spike(case):
    net = make_fixed_network(**case)
    ref, lava = run_reference(net), run_on_lava(net, "fused")
    assert sum(s.sum() for s in ref.spikes.values()) > 0, "a test network that never spikes proves nothing"
    assert spike_agreement(ref, lava)["all"] == 1.0
    assert np.array_equal(ref.readout, lava.readout)


@pytest.mark.parametrize("case", CASES[:3] + CASES[-1:], ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
def test_stock_lava_processes_equal_the_fused_graph_conv(case):
    net = make_fixed_network(**case)
    fused, stock = run_on_lava(net, "fused"), run_on_lava(net, "stock")
    for name in fused.spikes:
        assert np.array_equal(fused.spikes[name], stock.spikes[name])
    assert np.array_equal(fused.readout, stock.readout)


def test_fused_lowering_uses_one_process_per_graph_convolution(tmp_path):
    net = make_fixed_network(seed=0)
    built = lower_to_lava(net, str(tmp_path), "fused")
    assert built.fused == ["relay1", "relay2"]
    assert not any(type(p).__name__ in ("Dense", "Sparse") for p in built.processes.values())
    stock = lower_to_lava(net, str(tmp_path), "stock")
    kinds = sorted(type(p).__name__ for p in stock.processes.values())
    assert kinds.count("Dense") == 2 and kinds.count("Sparse") == 2 and kinds.count("GradedVec") == 2


def test_mixed_sign_weights_survive_lavas_truncation():
    w = np.array([[3, -3, 127, -128, 1]])
    enc, exp = lava_weights(w, 0)
    assert enc.tolist() == [[6, -6, 254, -256, 2]] and exp == -1
    enc, exp = lava_weights(np.array([[0, 255, 7]]), 2)
    assert enc.tolist() == [[0, 255, 7]] and exp == 2


def test_float_network_cannot_be_lowered(tmp_path):
    with pytest.raises(IRError, match="quantize_network"):
        lower_to_lava(make_float_network(), str(tmp_path))


def test_stock_lowering_refuses_huge_kronecker_products(tmp_path):
    net = make_fixed_network(nodes=400, features=200, hidden=80)
    with pytest.raises(IRError, match="use lowering='fused'"):
        lower_to_lava(net, str(tmp_path), "stock")


def test_a_failing_model_is_stopped_and_reported(monkeypatch):
    from neurograph.compile.lava.processes import graph_conv

    def broken(x, exponent):
        raise RuntimeError("boom in the aggregation")
    monkeypatch.setattr(graph_conv, "_shift", broken)     # the forked model processes inherit the patch
    with pytest.raises(LavaRunError, match="(?s)failed at step 1.*boom in the aggregation"):
        run_on_lava(make_fixed_network(seed=0), "fused")
