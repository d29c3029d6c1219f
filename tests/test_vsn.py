"""Variable spiking neurons (HVS-GNN): dynamics by hand, payload bounds, and Lava vs reference.

The VSN kind (compile/kinds/vsn.py): M = beta M + z, fires when M >= Th, resets M to 0,
and sends ReLU(z) of the *current* input as a graded payload (0 when silent).
"""

import numpy as np
import pytest

from neurograph.compile.ir import Input, IRError, Network, Population, Projection, Readout, check_ranges, validate
from neurograph.compile.kinds import get_kind
from neurograph.compile.kinds.vsn import TH_LIMIT
from neurograph.compile.samples import Sample
from neurograph.sim.reference import prepare, run_reference, steps

VSN = get_kind("vsn")


def _run(pop, inputs, fixed=True):
    """Step one VSN compartment through `inputs`: (payloads, fired, final memory, events)."""
    state = VSN.init_state(pop, 1, fixed)
    payloads, fired, events = [], [], {}
    for a in inputs:
        out = VSN.step(pop, state, np.array([[a]], dtype=np.int64 if fixed else float), fixed, events)
        payloads.append(out[0, 0].item())
        fired.append(bool(state["fired"][0, 0]))
    return payloads, fired, state["m"][0, 0], events


def test_vsn_is_a_registered_graded_kind():
    assert VSN.graded and not VSN.spiking and not VSN.readout and not VSN.forwards_input
    assert get_kind("relay").forwards_input


def test_fixed_point_by_hand_fires_resets_and_sends_the_current_input():
    # Th 10, no leak. M: 4, 8, 12 >= 10 -> fire, payload relu(4) = 4 (the current input, not M), M = 0;
    # -3; -3 + 13 = 10 >= 10 -> fire (>= fires at equality), payload 13, M = 0; 2
    pop = Population("v", "vsn", 1, threshold=10, leak=0, payload_bits=8)
    payloads, fired, m, _ = _run(pop, [4, 4, 4, -3, 13, 2])
    assert payloads == [0, 0, 4, 0, 13, 0]
    assert fired == [False, False, True, False, True, False] and m == 2


def test_fixed_point_leak_rounds_toward_zero():
    # dv = 1024: beta = 3072/4096. Th 100, a = 40: M 40; 30 + 40 = 70; trunc(52.5) = 52 + 40 = 92;
    # trunc(69) = 69 + 40 = 109 -> fire, payload 40
    pop = Population("v", "vsn", 1, threshold=100, leak=1024, payload_bits=8)
    payloads, fired, m, _ = _run(pop, [40, 40, 40, 40])
    assert payloads == [0, 0, 0, 40] and m == 0
    # negative memory: dv = 1000, beta = 3096/4096; -64 * 3096 / 4096 = -48.375 -> -48 (toward zero, not -49)
    pop = Population("v", "vsn", 1, threshold=100, leak=1000, payload_bits=8)
    payloads, _, m, _ = _run(pop, [-64, 0])
    assert payloads == [0, 0] and m == -48


def test_fixed_point_bias_and_memory_saturation():
    # bias 3 << 2 = 12 (a_in units, unshifted): z = 5 + 12 = 17; M 17; 34 >= 20 -> fire, payload 17
    pop = Population("v", "vsn", 1, threshold=20, bias=np.array([3]), bias_exp=2, payload_bits=8)
    payloads, _, _, _ = _run(pop, [5, 5])
    assert payloads == [0, 17]
    # the memory saturates at 24 bits (counted); the payload saturates at the 24-bit payload's top
    pop = Population("v", "vsn", 1, threshold=TH_LIMIT, payload_bits=24)
    payloads, fired, m, events = _run(pop, [1 << 24])
    assert payloads == [(1 << 23) - 1] and fired == [True] and m == 0 and events["v.memory_saturation"] == 1


def test_payload_saturates_at_its_width_in_fixed_point_only():
    # 4-bit payload: top 7. z = 13 fires and sends 7; z = 6 fires and sends 6; the float form is not clipped
    pop = Population("v", "vsn", 1, threshold=5, payload_bits=4)
    payloads, fired, _, _ = _run(pop, [13, 6, -2])
    assert payloads == [7, 6, 0] and fired == [True, True, False]
    payloads, _, _, _ = _run(Population("v", "vsn", 1, threshold=5.0, payload_bits=4), [13.0], fixed=False)
    assert payloads == [13.0]


def test_float_form_by_hand():
    # Th 1, leak 0.25: M 0.6; 0.45 + 0.6 = 1.05 -> fire, payload 0.6, M 0; -0.2; -0.15 + 0.9 = 0.75;
    # 0.5625 + 0.5 = 1.0625 -> fire, payload 0.5
    pop = Population("v", "vsn", 1, threshold=1.0, leak=0.25)
    payloads, fired, m, _ = _run(pop, [0.6, 0.6, -0.2, 0.9, 0.5], fixed=False)
    assert payloads == pytest.approx([0.0, 0.6, 0.0, 0.0, 0.5])
    assert fired == [False, True, False, False, True] and m == 0.0


def test_quantize_scales_threshold_leak_and_bias_in_input_units():
    pop = Population("v", "vsn", 2, threshold=1.5, leak=0.25, bias=np.array([0.5, -2.0]))
    VSN.quantize(pop, 100.0)
    assert pop.threshold == 150 and pop.leak == 1024 and list(pop.bias) == [50, -200] and pop.bias_exp == 0


def _dense_net(payload_bits, bias=None, bias_exp=0, threshold=10):
    return Network("fixed", Input("input", 3, 2), [
        Population("v", "vsn", 2, threshold=threshold, payload_bits=payload_bits, bias=bias, bias_exp=bias_exp),
        Population("readout", "integrator", 2)],
        [Projection("w", "dense", "input", "v", np.full((3, 2), 100)),
         Projection("o", "dense", "v", "readout", np.eye(2, dtype=int))], Readout("readout"))


def test_payload_bound_is_the_worst_input_or_the_width_whichever_is_smaller():
    # worst case: 3 binary inputs x 100 = 300; a 10-bit payload (top 511) sends it whole, a 9-bit one at most 255
    assert check_ranges(validate(_dense_net(10)), lambda pr: [])["v"] == 300
    assert check_ranges(validate(_dense_net(9)), lambda pr: [])["v"] == 255
    # the bias adds to the worst case (output_bound): 300 + (52 << 2) = 508; with 53: 512, saturated at 511
    assert check_ranges(validate(_dense_net(10, bias=np.array([52, -900]), bias_exp=2)), lambda pr: [])["v"] == 508
    assert check_ranges(validate(_dense_net(10, bias=np.array([53, 0]), bias_exp=2)), lambda pr: [])["v"] == 511


def test_the_reader_of_a_wide_payload_is_refused_when_its_sum_could_overflow():
    # 40 VSNs with a bias of 4095 << 7 send up to 765 + 524160 each (24-bit payload); a reader summing all 40
    # with weight 255 could reach 40 * 255 * 524925 > 2**31, so the network is refused before any executor wraps
    net = Network("fixed", Input("input", 3, 2), [
        Population("v", "vsn", 40, threshold=10, payload_bits=24, bias=np.full(40, 4095), bias_exp=7),
        Population("readout", "integrator", 1)],
        [Projection("w", "dense", "input", "v", np.full((3, 40), 255)),
         Projection("o", "dense", "v", "readout", np.full((40, 1), 255))], Readout("readout"))
    with pytest.raises(IRError, match="overflows Lava's 32-bit synaptic accumulator"):
        validate(net)
    net.projections[1].weight = np.full((40, 1), 100)      # 40 * 100 * 524925 < 2**31: accepted
    assert check_ranges(validate(net), lambda pr: [])["v"] == 765 + (4095 << 7)


@pytest.mark.parametrize("change, message", [
    ({"threshold": -1}, "finite threshold >= 0"), ({"threshold": 2.5}, "must be an integer"),
    ({"threshold": TH_LIMIT + 1}, "must be an integer"), ({"payload_bits": 25}, "payload_bits=25 outside"),
    ({"payload_bits": 0}, "payload_bits=0 outside")])
def test_parameters_outside_their_widths_are_refused(change, message):
    net = _dense_net(16)
    for k, v in change.items():
        setattr(net.population("v"), k, v)
    with pytest.raises(IRError, match=message):
        validate(net)


def test_vsn_cannot_be_a_feedback_source():
    net = _dense_net(16)
    net.populations.insert(0, Population("s", "if", 2, threshold=5))
    net.projections += [Projection("in_s", "dense", "input", "s", np.ones((3, 2), int)),
                        Projection("back", "dense", "v", "s", np.ones((2, 2), int))]
    with pytest.raises(IRError, match="feedback must come from a spiking population"):
        validate(net)


# ---- on Lava ---------------------------------------------------------------------------------
def _chain_net() -> Network:
    """input (3) -> dense -> vsn (4) -> dense -> integrator (2)."""
    rng = np.random.default_rng(11)
    return validate(Network("fixed", Input("input", 3, 6), [
        Population("v", "vsn", 4, threshold=150, leak=500, bias=np.array([5, -5, 0, 9]), bias_exp=3, payload_bits=10),
        Population("readout", "integrator", 2)],
        [Projection("w", "dense", "input", "v", rng.integers(-128, 128, (3, 4))),
         Projection("out", "dense", "v", "readout", rng.integers(-128, 128, (4, 2)), exponent=-2)],
        Readout("readout")))


def _graph_net() -> Network:
    """input (3) -> dense -> vsn h (4) -> graph (mean) -> vsn g (4) -> dense -> integrator (2):
    a VSN where a relay would be fused (dense in, graph out) and a VSN fed by a graph projection."""
    rng = np.random.default_rng(12)
    return validate(Network("fixed", Input("input", 3, 6), [
        Population("h", "vsn", 4, threshold=40, leak=300, payload_bits=10),
        Population("g", "vsn", 4, threshold=1000, leak=0, bias=np.array([100, 0, -100, 50]), bias_exp=2,
                   payload_bits=24),
        Population("readout", "integrator", 2)],
        [Projection("w", "dense", "input", "h", rng.integers(-128, 128, (3, 4))),
         Projection("a", "graph", "h", "g", rule="mean", coefficient_scale=255, exponent=-3),
         Projection("out", "dense", "g", "readout", rng.integers(-128, 128, (4, 2)), exponent=-4)],
        Readout("readout")))


def _samples(nodes, edges, seeds, steps=6, features=3):
    out = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        out.append(Sample(f"s{seed}", nodes, edges, spikes=rng.random((steps, nodes, features)) < 0.6))
    return out


def _reference_payloads(net, windows, names):
    rec = {name: [] for name in names}
    for step in steps(net, windows):
        for name in names:
            rec[name].append(step.outputs[name].astype(np.int32))
    return {name: np.stack(r) for name, r in rec.items()}


def _check_on_lava(net, samples, lowering):
    """Lava records every VSN's payloads (SimResult.payloads); they must equal the reference's, step by step."""
    from neurograph.sim.lava_runner import run_on_lava
    windows = prepare(net, samples)
    vsns = [p.name for p in net.populations if p.kind == "vsn"]
    reference = run_reference(net, windows)
    expected = _reference_payloads(net, windows, vsns)       # independently, from the step outputs
    lava = run_on_lava(net, windows, lowering)
    for name in vsns:
        assert np.array_equal(reference.payloads[name], expected[name])
        assert lava.payloads[name].shape == expected[name].shape
        assert np.array_equal(lava.payloads[name], expected[name]), f"{lowering}: payloads of {name} differ"
        assert np.count_nonzero(expected[name]) > 0 and (expected[name] >= 0).all()
    assert all(np.array_equal(a, b) for a, b in zip(reference.readouts, lava.readouts))
    assert np.abs(reference.readout).max() > 0
    return expected


@pytest.mark.lava
@pytest.mark.parametrize("lowering", ["fused", "stock"])
def test_dense_vsn_chain_agrees_with_lava(lowering, no_leaked_processes):
    empty = np.zeros((2, 0), dtype=np.int64)
    expected = _check_on_lava(_chain_net(), _samples(5, empty, [1, 2]), lowering)
    assert 0 < np.count_nonzero(expected["v"]) < expected["v"].size      # sparse: some silent steps


@pytest.mark.lava
@pytest.mark.parametrize("lowering", ["fused", "stock"])
def test_graph_projection_between_vsns_agrees_with_lava(lowering, no_leaked_processes):
    edges = np.array([[1, 2, 3, 4, 5, 0, 2], [0, 0, 1, 1, 2, 5, 3]])
    _check_on_lava(_graph_net(), _samples(7, edges, [3]), lowering)
