"""Neuron kinds (LIF with reset by subtraction above all) and the semantic holes the IR now closes.

Hand-computed sequences pin the integer dynamics; the range checks pin what the chip
cannot do: each of the five holes an independent differential check found has a test.
"""
import numpy as np
import pytest

from neurograph.compile.fixed_point import input_current
from neurograph.compile.ir import Input, IRError, Network, Population, Projection, Readout, check_ranges, validate
from neurograph.compile.kinds import get_kind, kind_names
from neurograph.compile.samples import Sample
from neurograph.sim.reference import prepare, run_reference


def _step_all(kind, pop, inputs, fixed=True):
    state = kind.init_state(pop, 1, fixed)
    spikes, events = [], {}
    for a in inputs:
        spikes.append(bool(kind.step(pop, state, np.array([[a]], dtype=np.int64 if fixed else float), fixed, events)[0, 0]))
    return spikes, state["v"][0, 0], events


def test_registry_lists_every_kind_once():
    assert set(kind_names()) == {"relay", "if", "lif", "lif_subtract", "integrator", "vsn"}
    assert get_kind("lif_subtract").spiking and get_kind("relay").graded and get_kind("integrator").readout
    with pytest.raises(IRError, match="unknown neuron kind 'resonator'"):
        get_kind("resonator")


def test_lif_subtract_fixed_point_by_hand():
    # vth 10 -> 640 in v units; a = 7 -> u = 448 per step, no leak:
    # v: 448, 896 > 640 -> spike, 896 - 640 = 256; 256 + 448 = 704 > 640 -> spike, 64
    pop = Population("p", "lif_subtract", 1, threshold=10, leak=0)
    spikes, v, _ = _step_all(get_kind("lif_subtract"), pop, [7, 7, 7])
    assert spikes == [False, True, True] and v == 64
    # reset to zero (stock LIF) on the same input: 448, 896 -> spike -> 0, 448
    spikes, v, _ = _step_all(get_kind("lif"), Population("p", "lif", 1, threshold=10, leak=0), [7, 7, 7])
    assert spikes == [False, True, False] and v == 448


def test_lif_subtract_leak_rounds_toward_zero():
    # dv = 1024: factor 3072/4096. v: 448; trunc(448 * 0.75) = 336 + 448 = 784 -> spike -> 144;
    # trunc(144 * 0.75) = 108 + 448 = 556
    pop = Population("p", "lif_subtract", 1, threshold=10, leak=1024)
    spikes, v, _ = _step_all(get_kind("lif_subtract"), pop, [7, 7, 7])
    assert spikes == [False, True, False] and v == 556
    # negative v: dv = 1000, factor 3096/4096; -64 * 3096 / 4096 = -48.375 -> -48 (toward zero, not -49)
    pop = Population("p", "lif_subtract", 1, threshold=10, leak=1000)
    _, v, _ = _step_all(get_kind("lif_subtract"), pop, [-1, 0])
    assert v == -48


def test_lif_subtract_bias_and_float_form():
    # bias 3 << 2 = 12 added to v unshifted each step: a = 10 -> 640 + 12 = 652 > 640 -> spike, 12 left
    pop = Population("p", "lif_subtract", 1, threshold=10, bias=np.array([3]), bias_exp=2)
    spikes, v, _ = _step_all(get_kind("lif_subtract"), pop, [10])
    assert spikes == [True] and v == 12
    # float: threshold 1, leak 0.25: 0.7; 0.525 + 0.7 = 1.225 -> spike -> 0.225; 0.16875 + 0.7 = 0.86875
    pop = Population("p", "lif_subtract", 1, threshold=1.0, leak=0.25)
    spikes, v, _ = _step_all(get_kind("lif_subtract"), pop, [0.7, 0.7, 0.7], fixed=False)
    assert spikes == [False, True, False] and v == pytest.approx(0.86875)


def _chain(kind: str) -> Network:
    """input (3) -> dense -> population of `kind` (4) -> dense -> integrator readout (2)."""
    rng = np.random.default_rng(3)
    return validate(Network("fixed", Input("input", 3, 6), [
        Population("p", kind, 4, threshold=60, leak=500 if kind != "if" else 0, bias=np.array([5, -5, 0, 9]), bias_exp=3),
        Population("readout", "integrator", 2)],
        [Projection("w", "dense", "input", "p", rng.integers(-128, 128, (3, 4))),
         Projection("fb", "dense", "p", "p", rng.integers(-128, 128, (4, 4)), exponent=-1),
         Projection("out", "dense", "p", "readout", rng.integers(-128, 128, (4, 2)))], Readout("readout")))


def _sample(n=5, seed=0, steps=6, features=3):
    rng = np.random.default_rng(seed)
    return Sample(f"s{seed}", n, np.zeros((2, 0), dtype=np.int64), spikes=rng.random((steps, n, features)) < 0.6)


@pytest.mark.lava
@pytest.mark.parametrize("lowering", ["fused", "stock"])
def test_lif_subtract_agrees_with_lava(lowering, no_leaked_processes):
    from neurograph.sim.lava_runner import run_on_lava
    net = _chain("lif_subtract")
    windows = prepare(net, [_sample(seed=1), _sample(seed=2)])
    reference = run_reference(net, windows)
    assert reference.raster("p").sum() > 0
    lava = run_on_lava(net, windows, lowering)
    assert np.array_equal(reference.spikes["p"], lava.spikes["p"])
    assert all(np.array_equal(a, b) for a, b in zip(reference.readouts, lava.readouts))


# ---- the five holes ------------------------------------------------------------------------
def test_hole1_relay_payload_must_fit_its_width():
    """The reference once clipped payloads Lava's GradedVec never clips: now a too-narrow width is refused."""
    w = np.full((3, 2), 100)             # worst case 300 into the relay
    net = Network("fixed", Input("input", 3, 2), [Population("r", "relay", 2, payload_bits=9),
                                                  Population("readout", "integrator", 2)],
                  [Projection("w", "dense", "input", "r", w), Projection("o", "dense", "r", "readout", np.eye(2, dtype=int))],
                  Readout("readout"))
    with pytest.raises(IRError, match="worst-case payload 300 does not fit its 9-bit payload"):
        validate(net)
    net.population("r").payload_bits = 10       # 300 <= 511
    validate(net)


@pytest.mark.lava
def test_hole1_graph_fed_relay_agrees_on_fused_lava(no_leaked_processes):
    """A relay fed by a graph projection is a GradedVec even in the fused lowering; large payloads agree."""
    from neurograph.sim.lava_runner import run_on_lava
    net = Network("fixed", Input("input", 2, 4), [
        Population("s", "if", 2, threshold=1),
        Population("agg", "relay", 2, payload_bits=10),
        Population("readout", "integrator", 2)],
        [Projection("w", "dense", "input", "s", np.array([[200, 3], [100, 255]])),
         Projection("a", "graph", "s", "agg", rule="mean", coefficient_scale=255),
         Projection("o", "dense", "agg", "readout", np.array([[-128, 127], [127, -128]]), exponent=3)],
        Readout("readout"))
    sample = Sample("star", 6, np.array([[1, 2, 3, 4, 5], [0, 0, 0, 0, 0]]), spikes=np.ones((4, 6, 2), bool))
    windows = prepare(validate(net), [sample])
    reference, lava = run_reference(net, windows), run_on_lava(net, windows, "fused")
    assert np.array_equal(reference.readout, lava.readout) and np.abs(reference.readout).max() > 0


def _graph_net(payload_bits, scale=255):
    return Network("fixed", Input("input", 4, 2), [
        Population("r", "relay", 3, payload_bits=payload_bits), Population("readout", "integrator", 3)],
        [Projection("w", "dense", "input", "r", np.full((4, 3), 255), exponent=7),
         Projection("a", "graph", "r", "readout", rule="mean", coefficient_scale=scale)], Readout("readout"))


def test_hole2_int32_accumulator_overflow_refused_at_bind():
    """Lava sums in int32 (wrapping) where the reference summed in int64: sums that could wrap are refused."""
    from neurograph.compile.graphs import bind
    net = validate(_graph_net(payload_bits=19))          # relay worst case 4 * 255 << 7 = 130560
    hub = Sample("hub", 201, np.stack([np.arange(1, 201), np.zeros(200, int)]), spikes=np.ones((2, 201, 4), bool))
    bind(net, hub)      # mean: the hub's coefficients are 1/200 -> mantissa 1, row sum 200: 26,112,000 fits
    net.projection("a").rule = "gcn"    # gcn: the hub row sums to sqrt(200)*... mantissas, still fits
    bind(net, hub)
    big = _graph_net(payload_bits=19)
    big.projection("a").exponent = 7    # 130560 * 255 = 33,292,800 accumulated, << 7 = 4.26e9 > int32
    leaf = Sample("pair", 2, np.array([[0], [1]]), spikes=np.ones((2, 2, 4), bool))
    with pytest.raises(IRError, match="after the exponent shift"):
        bind(validate(big), leaf)


def test_hole3_mixed_sign_doubling_and_exponent():
    """Lava stores mixed-sign mantissas as 2m with exponent e-1: the doubled sum must fit, e-1 must exist."""
    def net_with(weights, exponent=0):
        return Network("fixed", Input("input", 5, 2), [
            Population("r", "relay", 80, payload_bits=19), Population("readout", "integrator", 1)],
            [Projection("w", "dense", "input", "r", np.full((5, 80), 255), exponent=7),      # payload <= 163,200
             Projection("o", "dense", "r", "readout", weights, exponent=exponent)], Readout("readout"))
    one_sign = np.full((80, 1), 127)             # 80 * 127 * 163200 = 1,658,112,000 <= 2**31 - 1
    validate(net_with(one_sign))
    mixed = one_sign.copy()
    mixed[0] = -128                              # same magnitude, mixed signs: stored doubled -> 3.3e9
    with pytest.raises(IRError, match="overflows Lava's 32-bit synaptic accumulator"):
        validate(net_with(mixed))
    with pytest.raises(IRError, match="mixed-sign weights need exponent >= -7"):
        validate(net_with(np.array([[1], [-1]] * 40), exponent=-8))


@pytest.mark.lava
def test_hole4_two_integrators_keep_their_own_readout(no_leaked_processes):
    from neurograph.sim.lava_runner import run_on_lava
    rng = np.random.default_rng(5)
    net = validate(Network("fixed", Input("input", 3, 5), [
        Population("s", "if", 4, threshold=50),
        Population("side", "integrator", 2, bias=np.array([1000, -1000]), bias_exp=2),
        Population("readout", "integrator", 2)],
        [Projection("w", "dense", "input", "s", rng.integers(-128, 128, (3, 4))),
         Projection("x", "dense", "s", "side", rng.integers(-128, 128, (4, 2))),
         Projection("o", "dense", "s", "readout", rng.integers(-128, 128, (4, 2)))], Readout("readout")))
    windows = prepare(net, [_sample(n=4, steps=5)])
    reference, lava = run_reference(net, windows), run_on_lava(net, windows)
    assert np.array_equal(reference.readout, lava.readout)


def test_hole5_spiking_readout_and_feature_changing_graph_refused():
    base = _chain("if")
    base.readout = Readout("p")
    with pytest.raises(IRError, match="has no membrane readout"):
        validate(base)
    net = _graph_net(payload_bits=19)
    net.populations[1].features = 2
    with pytest.raises(IRError, match="keeps the features"):
        validate(net)


def test_hole5_current_wrap_counts_int32_overflow_of_a_shifted():
    events = {}
    # Lava corrects u once (u -= 2**24 if u > 2**23; u += 2**24 if u <= -2**23), it does not take a modulus.
    # 2**25 + 3: a << 6 = 2**31 + 192 wraps in int32 to -2147483456, + 2**24 once = -2130706240
    # 2**17 + 5: a << 6 = 2**23 + 320 > 2**23, - 2**24 = -8388288;  1000 << 6 = 64000 is untouched
    u = input_current(np.array([2 ** 25 + 3, 2 ** 17 + 5, 1000]), events, "p.current_wrap")
    assert list(u) == [-2130706240, -8388288, 64000]
    assert events["p.current_wrap"] == 2
