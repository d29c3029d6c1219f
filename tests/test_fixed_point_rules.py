"""Fixed-point rules pinned with data where they matter (issue 17): negative values for rounding toward
zero, values on both sides of every wrap, saturation and bit-width boundary, adversarial weights for the
payload width, and a quantization worked through by hand. Expected values come from the documented rule
(../shared/notes/lava-fixed-point.md), computed here with plain Python integers, never from the code."""
import math
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

from neurograph.compile.fixed_point import (effective_bias, input_current, lava_weights, saturate_voltage, shift,
                                            stored_weight_factor, trunc_decay)
from neurograph.compile.graphs import bind
from neurograph.compile.ir import Input, IRError, Network, Population, Projection, Readout, validate
from neurograph.compile.kinds import get_kind
from neurograph.compile.quantize import quantize_network
from neurograph.compile.samples import Sample, disjoint_union

TWO23 = 1 << 23


def toward_zero(x: int, factor: int) -> int:
    """x * factor / 4096 rounded toward zero, in exact rationals."""
    return math.trunc(Fraction(x * factor, 4096))


# ---- fixed_point.py ------------------------------------------------------------------------------
def test_decay_rounds_toward_zero_for_negative_and_positive_values():
    x = [-1001, 1001, -4097, 4097, -1, 1, 0, -TWO23 + 1]
    for factor in (3072, 4095, 1, 4096):
        assert trunc_decay(np.array(x), factor).tolist() == [toward_zero(v, factor) for v in x]
    assert trunc_decay(np.array([-1001]), 3072)[0] == -750          # floor would give -751


def test_input_current_wraps_into_the_24_bit_range_and_counts_each_wrap():
    # u = a << 6 lands in (-2**23, 2**23]: 2**23 itself stays, -2**23 becomes +2**23 (Lava's two corrections)
    a = np.array([[2 ** 17, -(2 ** 17), 2 ** 17 + 5, -(2 ** 17) - 5, 2 ** 17 - 1, -(2 ** 17) + 1, 100, -100]])
    events = {"p.current_wrap": 4}                                    # earlier steps' count is kept
    u = input_current(a, events, "p.current_wrap")
    assert u.tolist() == [[TWO23, TWO23, TWO23 + 320 - 2 * TWO23, -TWO23 - 320 + 2 * TWO23, TWO23 - 64,
                           -TWO23 + 64, 6400, -6400]]
    assert events["p.current_wrap"] == 4 + 3


def test_voltage_saturates_at_plus_minus_two_to_the_23_minus_one():
    events = {}
    v = saturate_voltage(np.array([TWO23 - 1, TWO23, -TWO23 + 1, -TWO23, 5 * TWO23, -5 * TWO23, 0]), events, "k")
    assert v.tolist() == [TWO23 - 1, TWO23 - 1, -TWO23 + 1, -TWO23 + 1, TWO23 - 1, -TWO23 + 1, 0]
    assert events == {"k": 4}


def test_weight_exponent_shifts_the_sum_left_or_floors_it_right():
    x = np.array([5, -5, 7, -1])
    assert shift(x, 2).tolist() == [20, -20, 28, -4]
    assert shift(x, -1).tolist() == [2, -3, 3, -1]                   # arithmetic shift: floor, -1 stays -1
    assert shift(x, 0).tolist() == [5, -5, 7, -1]


def test_bias_is_the_mantissa_shifted_by_its_exponent():
    assert effective_bias(np.array([3, -3, 0]), 2, 3).tolist() == [12, -12, 0]
    assert effective_bias(np.array([4095]), 7, 1).tolist() == [4095 * 128]
    assert effective_bias(None, 5, 2).tolist() == [0, 0]


@pytest.mark.parametrize("weights, factor", [
    (np.array([[3, -2], [0, 1]]), 2),                # mixed signs: Lava stores 2m with exponent e - 1
    (np.array([[3, 0], [255, 1]]), 1),               # excitatory
    (np.array([[-3, 0], [-255, -1]]), 1),            # inhibitory
    (np.zeros((2, 2), int), 1),
    (np.zeros((0, 2), int), 1),
    (sp.csr_matrix(np.array([[0, -1], [4, 0]])), 2),
])
def test_lava_weight_encoding_doubles_only_mixed_sign_mantissas(weights, factor):
    assert stored_weight_factor(weights) == factor
    stored, exponent = lava_weights(weights, 3)
    dense = lambda m: m.toarray() if sp.issparse(m) else np.asarray(m)
    assert np.array_equal(dense(stored), dense(weights) * factor) and exponent == 3 - (factor - 1)


# ---- the kinds' dynamics -------------------------------------------------------------------------
def step_kind(pop, inputs, state_key=None, start=None):
    """Step `pop`'s kind through `inputs` (one (1, F) array per step): outputs, final state, events."""
    kind, events = pop.neuron, {}
    state = kind.init_state(pop, 1, fixed=True)
    if start is not None:
        state[state_key] = np.array([start], dtype=np.int64)
    outputs = [kind.step(pop, state, np.array([a], dtype=np.int64), True, events) for a in inputs]
    return outputs, state, events


def test_lif_leak_rounds_a_negative_voltage_toward_zero_and_adds_the_bias_unshifted():
    # dv = 1024: v <- trunc0(v * 3072 / 4096) + (a << 6) + (bias << bias_exp)
    pop = Population("p", "lif", 2, threshold=1000, leak=1024, bias=np.array([-3, 5]), bias_exp=2)
    _, state, _ = step_kind(pop, [[0, 0], [1, -1]], "v", [-1001, -1001])
    v0 = [toward_zero(-1001, 3072) - 12, toward_zero(-1001, 3072) + 20]
    assert state["v"][0].tolist() == [toward_zero(v0[0], 3072) + 64 - 12, toward_zero(v0[1], 3072) - 64 + 20]


def test_lif_spikes_strictly_above_vth_shifted_and_resets_to_zero():
    pop = Population("p", "lif", 3, threshold=10, leak=0)
    # v = 640 (= 10 << 6: no spike), 641 (spike), 639
    (spikes,), state, _ = step_kind(pop, [[0, 0, 0]], "v", [640, 641, 639])
    assert spikes[0].tolist() == [False, True, False] and state["v"][0].tolist() == [640, 0, 639]


def test_lif_subtract_keeps_the_excess_above_vth_shifted():
    pop = Population("p", "lif_subtract", 2, threshold=10, leak=0)
    (spikes,), state, _ = step_kind(pop, [[1, 0]], "v", [700, 640])        # 764 > 640 spikes, 640 does not
    assert spikes[0].tolist() == [True, False] and state["v"][0].tolist() == [764 - 640, 640]


def test_a_saturated_voltage_still_spikes_and_is_counted_per_population():
    pop = Population("q", "if", 1, threshold=(1 << 17) - 1)             # vth << 6 = 8388544 < 2**23 - 1
    outputs, state, events = step_kind(pop, [[2 ** 17 - 1]] * 3)
    # v = 8388544 (no spike: not above vth << 6), then 16777088 saturates at 8388607 > 8388544: spike
    assert [o[0, 0] for o in outputs] == [False, True, False]
    assert events == {"q.current_wrap": 0, "q.voltage_saturation": 1}


def test_integrator_integrates_with_the_lif_voltage_rule_and_sends_nothing():
    pop = Population("r", "integrator", 1, leak=2048, bias=np.array([-7]), bias_exp=1)
    outputs, state, _ = step_kind(pop, [[3], [-2]], "v", [-99])
    v = toward_zero(-99, 2048) + 3 * 64 - 14
    assert outputs == [None, None] and state["v"][0, 0] == toward_zero(v, 2048) - 2 * 64 - 14
    assert get_kind("integrator").membrane(state) is state["v"]


def test_vsn_fires_at_equality_and_sends_relu_of_its_current_input():
    # z = a + (bias << exp); m = trunc0(m (4096 - dv)/4096) + z; fires when m >= Th; payload relu(z)
    pop = Population("v", "vsn", 4, threshold=100, leak=0, bias=np.array([0, 0, -10, 3]), bias_exp=1,
                     payload_bits=16)
    (payload,), state, _ = step_kind(pop, [[100, 99, 5, 7]], "m", [0, 0, 200, -20])
    # m = 100 (fires, = Th), 99 (not), 200 + 5 - 20 = 185 (fires, z = -15: sends 0), -20 + 7 + 6 = -7
    assert payload[0].tolist() == [100, 0, 0, 0]
    assert state["m"][0].tolist() == [0, 99, 0, -7] and state["fired"][0].tolist() == [True, False, True, False]


def test_vsn_memory_decays_toward_zero_and_saturates():
    pop = Population("v", "vsn", 2, threshold=TWO23 - 1, leak=1, payload_bits=24)
    _, state, events = step_kind(pop, [[0, TWO23 - 2]], "m", [-4097, TWO23 - 2])
    # m = trunc0(-4097 * 4095 / 4096) = -4095 (floor: -4096); (2**23 - 2) * 4095 / 4096 + 2**23 - 2 saturates at
    # 2**23 - 1 = Th: it fires and resets
    assert state["m"][0].tolist() == [-4095, 0] and events == {"v.memory_saturation": 1}
    assert state["fired"][0].tolist() == [False, True]


@pytest.mark.parametrize("kind, bias, bias_exp, payload_bits, expected", [
    ("vsn", [5, -9], 2, 16, 1000 + 20),      # payload <= input bound + largest positive bias (in a_in units)
    ("vsn", [-5, -9], 2, 16, 1000),          # negative biases never raise the payload
    ("vsn", None, 0, 16, 1000),
    ("vsn", [5, -9], 2, 8, 127),             # ... and never above its width's top value, where it saturates
    ("relay", None, 0, 0, 1000),             # a relay forwards its summed input
    ("if", None, 0, 0, 1),                   # a binary spike
    ("integrator", None, 0, 0, 0),           # sends nothing
])
def test_output_bound_of_each_kind(kind, bias, bias_exp, payload_bits, expected):
    pop = Population("p", kind, 2, threshold=None if kind in ("relay", "integrator") else 5,
                     bias=None if bias is None else np.array(bias), bias_exp=bias_exp, payload_bits=payload_bits)
    assert get_kind(kind).output_bound(pop, 1000) == expected


# ---- bit widths at their boundaries (validate) ---------------------------------------------------
def one_population(kind="if", features=2, **params):
    """input -> dense -> p (kind) -> dense -> readout, fixed domain (an integrator p is the readout)."""
    pop = Population("p", kind, features, **params)
    projs = [Projection("w", "dense", "input", "p", np.eye(2, features, dtype=int))]
    if kind == "integrator":
        return Network("fixed", Input("input", 2, 2), [pop], projs, Readout("p"))
    return Network("fixed", Input("input", 2, 2), [pop, Population("readout", "integrator", 1)],
                   projs + [Projection("o", "dense", "p", "readout", np.ones((features, 1), int))],
                   Readout("readout"))


@pytest.mark.parametrize("kind, params, refused", [
    ("if", dict(threshold=0), None),
    ("if", dict(threshold=(1 << 17) - 1), None),
    ("if", dict(threshold=1 << 17), "threshold 131072 does not fit Lava's unsigned 17-bit vth"),
    ("if", dict(threshold=-1), "threshold -1 does not fit"),
    ("if", dict(threshold=10.5), "threshold 10.5 does not fit"),
    ("if", dict(threshold=None), "needs a finite threshold"),
    ("lif", dict(threshold=10, leak=4095), None),
    ("lif", dict(threshold=10, leak=1), None),
    ("lif", dict(threshold=10, leak=4096), "leak .dv. must be an integer in 0..4095, got 4096"),
    ("lif", dict(threshold=10, leak=-1), "got -1"),
    ("if", dict(threshold=10, leak=1), "an IF population has no leak"),
    ("if", dict(threshold=10, bias=np.array([-4096, 4095])), None),
    ("if", dict(threshold=10, bias=np.array([-4097, 0])), "bias mantissa range .-4097, 0. does not fit 13-bit"),
    ("if", dict(threshold=10, bias=np.array([0, 4096])), "bias mantissa range .0, 4096. does not fit 13-bit"),
    ("if", dict(threshold=10, bias=np.array([1.0, 2.0])), "bias mantissas must be integers"),
    ("if", dict(threshold=10, bias=np.array([1, 2, 3])), "bias has shape"),
    ("if", dict(threshold=10, bias_exp=7), None),
    ("if", dict(threshold=10, bias_exp=8), "bias_exp 8 outside"),
    ("if", dict(threshold=10, bias_exp=-1), "bias_exp -1 outside"),
    ("integrator", dict(leak=4095, bias=np.array([1, -1])), None),
    ("integrator", dict(leak=4096), "got 4096"),
    ("vsn", dict(threshold=0, payload_bits=2), None),
    ("vsn", dict(threshold=TWO23 - 1, payload_bits=24), None),
    ("vsn", dict(threshold=TWO23, payload_bits=24), "threshold 8388608 must be an integer in 0..8388607"),
    ("vsn", dict(threshold=2.5, payload_bits=24), "threshold 2.5 must be an integer"),
    ("vsn", dict(threshold=-1, payload_bits=24), "a VSN needs a finite threshold >= 0"),
    ("vsn", dict(threshold=None, payload_bits=24), "a VSN needs a finite threshold"),
    ("vsn", dict(threshold=5, payload_bits=1), "payload_bits=1 outside 2..24"),
    ("vsn", dict(threshold=5, payload_bits=25), "payload_bits=25 outside 2..24"),
    ("relay", dict(payload_bits=2), None),
    ("relay", dict(payload_bits=24), None),
    ("relay", dict(payload_bits=1), "payload_bits=1 outside 2..24"),
    ("relay", dict(payload_bits=25), "payload_bits=25 outside 2..24"),
    ("relay", dict(payload_bits=8, threshold=3), "a relay has no threshold or bias"),
    ("relay", dict(payload_bits=8, bias=np.array([0, 0])), "a relay has no threshold or bias"),
])
def test_fixed_parameters_are_accepted_up_to_their_bit_widths_and_refused_beyond(kind, params, refused):
    net = one_population(kind, **params)
    if refused is None:
        validate(net)
    else:
        with pytest.raises(IRError, match=f"population 'p' \\({kind}\\): .*{refused}"):
            validate(net)


@pytest.mark.parametrize("kind, params, ok", [
    ("lif", dict(threshold=1.0, leak=1.0), True),
    ("lif", dict(threshold=1.0, leak=0.0), True),
    ("lif", dict(threshold=1.0, leak=1.01), False),
    ("lif", dict(threshold=1.0, leak=-0.01), False),
    ("lif", dict(threshold=1.0, bias=np.array([0.5, np.inf])), False),
    ("lif", dict(threshold=np.inf), False),
    ("vsn", dict(threshold=0.0), True),
    ("vsn", dict(threshold=-0.5), False),
])
def test_float_parameters_are_checked(kind, params, ok):
    net = one_population(kind, **params)
    net.domain = "float"
    for pr in net.projections:
        pr.weight = pr.weight.astype(float)
    if ok:
        validate(net)
    else:
        with pytest.raises(IRError, match="population 'p'"):
            validate(net)


@pytest.mark.parametrize("weights, exponent, refused", [
    (np.array([[-128, 127], [0, 1]]), 0, None),         # mixed signs: [-128, 127]
    (np.array([[-1, 127], [0, 1]]), 0, None),
    (np.array([[1, -128], [0, 0]]), 0, None),
    (np.array([[-129, 127], [0, 1]]), 0, "mantissas span .-129, 127.,.* \\[-128, 127\\]"),
    (np.array([[-128, 128], [0, 1]]), 0, "mantissas span .-128, 128."),
    (np.array([[0, 255], [1, 2]]), 0, None),            # one sign: 8 bits of magnitude
    (np.array([[0, 256], [1, 2]]), 0, "mantissas span .0, 256.,.* \\[0, 255\\]"),
    (np.array([[0, -255], [-1, -2]]), 0, None),
    (np.array([[0, -256], [-1, -2]]), 0, "mantissas span .-256, 0.,.* \\[-255, 0\\]"),
    (np.array([[1, 2], [3, 4]]), -8, None),             # exponents -8 .. 7
    (np.array([[1, 2], [3, 4]]), 7, None),
    (np.array([[1, 2], [3, 4]]), 8, "weight exponent 8 outside"),
    (np.array([[1, 2], [3, 4]]), -9, "weight exponent -9 outside"),
    (np.array([[1, -2], [3, 4]]), -7, None),            # mixed signs are stored as 2m with e - 1 >= -8
    (np.array([[1, -2], [3, 4]]), -8, "mixed-sign weights need exponent >= -7 .* and -9 is outside"),
    (np.array([[1.0, 2.0], [3.0, 4.0]]), 0, "must be integer mantissas"),
])
def test_dense_mantissas_and_exponents_at_their_limits(weights, exponent, refused):
    net = one_population("if", threshold=1000)
    net.projections[0].weight, net.projections[0].exponent = weights, exponent
    if refused is None:
        validate(net)
    else:
        with pytest.raises(IRError, match=f"projection 'w' .*{refused}"):
            validate(net)


@pytest.mark.parametrize("kind, v, a, bias, spikes, after", [
    ("lif", 2.0, 1.0, 0.5, True, 0.0),             # 0.75 * 2 + 1 + 0.5 = 3.0 > 2.5: reset to zero
    ("lif", 1.0, 0.5, None, False, 1.25),          # 0.75 + 0.5
    ("lif_subtract", 2.0, 1.0, 0.5, True, 0.5),    # 3.0 - 2.5
    ("integrator", 2.0, 1.0, -0.5, None, 2.0),     # 1.5 + 1 - 0.5, sends nothing
])
def test_float_dynamics_leak_integrate_and_reset(kind, v, a, bias, spikes, after):
    pop = Population("p", kind, 1, threshold=None if kind == "integrator" else 2.5, leak=0.25,
                     bias=None if bias is None else np.array([bias]))
    state = {"v": np.array([[v]])}
    out = get_kind(kind).step(pop, state, np.array([[a]]), False, {})
    assert (out is None if spikes is None else out[0, 0] == spikes) and state["v"][0, 0] == after


def test_float_vsn_fires_at_its_threshold_and_sends_relu_of_its_input():
    pop = Population("v", "vsn", 3, threshold=1.0, leak=0.5, bias=np.array([0.0, 0.0, -1.0]))
    state = get_kind("vsn").init_state(pop, 1, fixed=False)
    state["m"][:] = [[1.0, 0.0, 4.0]]
    out = get_kind("vsn").step(pop, state, np.array([[0.5, 0.5, 0.5]]), False, {})
    # m = 0.5 m + z, z = a + bias: [1.0 (fires, = Th), 0.5, 2.0 - 0.5 = 1.5 (fires, z = -0.5: sends 0)]
    assert out[0].tolist() == [0.5, 0.0, 0.0] and state["m"][0].tolist() == [0.0, 0.5, 0.0]
    pop.bias = None                                                   # z = a
    out = get_kind("vsn").step(pop, state, np.array([[0.75, 1.0, -0.5]]), False, {})
    assert out[0].tolist() == [0.0, 1.0, 0.0] and state["m"][0].tolist() == [0.75, 0.0, -0.5]


# ---- worst-case payloads and accumulators (check_ranges) ----------------------------------------
def relay_net(weights, exponent, payload_bits):
    f_in, f = weights.shape
    return Network("fixed", Input("input", f_in, 2), [
        Population("r", "relay", f, payload_bits=payload_bits), Population("readout", "integrator", f)],
        [Projection("w", "dense", "input", "r", weights, exponent=exponent),
         Projection("o", "dense", "r", "readout", np.eye(f, dtype=int))], Readout("readout"))


@pytest.mark.parametrize("weights, exponent, worst", [
    # adversarial mixed signs: the worst case is a column's sum of |w| (the inputs with one sign's weights
    # spiking): columns 128 + 100 + 5 = 233 and 127 + 128 = 255
    (np.array([[-128, 127], [-100, -128], [5, 0]]), 0, 255),
    (np.array([[-128, 127], [-100, -128], [5, 0]]), 2, 255 * 4),
    # a floor shift of a negative sum rounds away from zero: -255 >> 1 = -128, so the bound is ceil(255 / 2)
    (np.array([[-128, 127], [-100, -128], [5, 0]]), -1, 128),
    (np.array([[255, 255], [255, 0]]), 0, 510),
])
def test_a_relay_payload_width_holds_the_worst_case_exactly(weights, exponent, worst):
    bits = worst.bit_length() + 1                        # signed: the worst |payload| needs one more bit
    validate(relay_net(weights, exponent, bits))
    with pytest.raises(IRError, match=f"worst-case payload {worst:,} does not fit its {bits - 1}-bit"):
        validate(relay_net(weights, exponent, bits - 1))


def test_accumulator_limit_is_two_to_the_31_minus_one_with_mixed_signs_doubled():
    def net(column, exponent=0):
        f = len(column)
        return Network("fixed", Input("input", 1, 2), [
            Population("r", "relay", f, payload_bits=24), Population("readout", "integrator", 1)],
            [Projection("w", "dense", "input", "r", np.full((1, f), 255), exponent=7),   # payload 255 << 7
             Projection("o", "dense", "r", "readout", np.array(column).reshape(f, 1), exponent=exponent)],
            Readout("readout"))
    payload, limit = 255 << 7, 2 ** 31 - 1
    assert 258 * 255 * payload <= limit < 259 * 255 * payload
    validate(net([255] * 258))
    with pytest.raises(IRError, match="accumulated input 2,155,708,800 overflows Lava's 32-bit synaptic"):
        validate(net([255] * 259))
    # mixed signs are stored doubled: |w| sums of 128 + 127 * 258 = 32894 fit (x 2 x payload <= limit),
    # 128 + 127 * 259 = 33021 do not, though the same sum with one sign fits easily
    validate(net([-128] + [127] * 258))
    with pytest.raises(IRError, match="synaptic accumulator"):
        validate(net([-128] + [127] * 259))
    validate(net([128] + [127] * 259))
    validate(net([255] * 2, exponent=7))                 # 510 * 32640 << 7 = 2,130,739,200 fits
    with pytest.raises(IRError, match="input after the exponent shift .3,196,108,800. overflows"):
        validate(net([255] * 3, exponent=7))


# ---- quantization worked by hand ------------------------------------------------------------------
def hand_network(threshold=1.0):
    """input (2) -> W1 -> relay1 -> gcn -> IF (2, bias) -> W2 -> relay2 -> gcn -> readout (integrator, 1)."""
    pops = [Population("relay1", "relay", 2),
            Population("if1", "if", 2, threshold=threshold, bias=np.array([0.1, -0.05]),
                       calibration={"max_abs_input": 2.0, "max_abs_v": 1.0}),
            Population("relay2", "relay", 1),
            Population("readout", "integrator", 1, calibration={"max_abs_input": 0.5, "max_abs_v": 3.0})]
    projs = [Projection("w1", "dense", "input", "relay1", np.array([[0.5, -0.25], [1.0, 0.0]])),
             Projection("a1", "graph", "relay1", "if1", rule="gcn"),
             Projection("w2", "dense", "if1", "relay2", np.array([[0.3], [0.6]])),
             Projection("a2", "graph", "relay2", "readout", rule="gcn")]
    return validate(Network("float", Input("input", 2, 1), pops, projs, Readout("readout")))


def test_quantization_by_hand():
    fixed = quantize_network(hand_network())
    q = fixed.metadata["quantization"]
    # if1: s_W = 127 / 1.0 (mixed signs), s_A = 255 / 1 (gcn bound). Limits on K: vth 131071 / 1, bias
    # (4095 << 7) / (0.1 * 64) = 81900, target 4096 / 1, 2**17 / (2 * 2.0) = 32768, (2**17 - 1) / (2 * 1.0):
    # K <= 4096, so E = floor(log2(4096 / (127 * 255))) = -3, all on the graph (e_A = -3, e_W = 0),
    # K = 127 * 255 / 8 = 4048.125
    assert q["if1"]["activation_scale"] == 127 * 255 / 8
    assert (q["if1"]["weight_exp"], q["if1"]["adjacency_exp"]) == (0, -3)
    w1, a1 = fixed.projection("w1"), fixed.projection("a1")
    assert w1.weight.tolist() == [[64, -32], [127, 0]] and w1.exponent == 0     # round(127 w), 63.5 -> 64
    assert a1.coefficient_scale == 255.0 and a1.exponent == -3
    if1 = fixed.population("if1")
    assert if1.threshold == 4048                                               # round(1.0 K)
    # bias in v units: round(0.1 K 64) = 25908, round(-0.05 K 64) = -12954; 13-bit mantissa: exponent 3
    assert if1.bias.tolist() == [3238, -1619] and if1.bias_exp == 3          # 3238.5 -> 3238 (half to even)
    # relay1's worst payload: column sums of |m_W| = 191 and 32 -> 191 needs 8 bits + sign
    assert fixed.population("relay1").payload_bits == 9
    # readout: s_W = 255 / 0.6 = 425 (one sign); K <= (2**17 - 1) / (2 * 3.0) = 21845.17 (the tightest),
    # E = floor(log2(21845.17 / (425 * 255))) = -3
    assert q["readout"]["activation_scale"] == pytest.approx(425 * 255 / 8)
    assert fixed.projection("w2").weight.tolist() == [[128], [255]]             # round(127.5) = 128
    assert fixed.population("relay2").payload_bits == 10                        # 383 < 512
    assert fixed.population("readout").leak == 0


def test_quantization_puts_exponents_beyond_the_graph_range_on_the_feature_transform():
    net = hand_network(threshold=1e-6)
    net.population("if1").calibration = {"max_abs_input": 1e-3}     # no voltage range: no limit from it
    net.population("if1").bias = np.zeros(2)             # a zero bias puts no limit on K
    # K <= 2**17 / (2 * 1e-3) = 6.55e7 (below vth's 1.3e11 and the target's 4.1e9): E = floor(log2(6.55e7 /
    # 32385)) = 10 -> e_A = 7 (the most a projection takes), e_W = 3
    fixed = quantize_network(net)
    q = fixed.metadata["quantization"]["if1"]
    assert (q["weight_exp"], q["adjacency_exp"]) == (3, 7) and q["activation_scale"] == 32385 * 2 ** 10
    assert fixed.population("if1").threshold == round(1e-6 * 32385 * 2 ** 10)       # 33
    assert fixed.population("relay1").payload_bits == 12                          # 191 << 3 = 1528: 11 bits


def test_quantization_with_a_negative_feature_exponent_widens_the_payload_by_the_floor():
    net = hand_network()
    net.population("if1").calibration = {"max_abs_input": 1e3, "max_abs_v": 1e3}
    net.population("if1").bias = None
    # K <= 2**17 / (2 * 1e3) = 65.536: E = floor(log2(65.536 / 32385)) = -9 -> e_A = -8, e_W = -1
    fixed = quantize_network(net)
    q = fixed.metadata["quantization"]["if1"]
    assert (q["weight_exp"], q["adjacency_exp"]) == (-1, -8)
    # worst payload: 191 >> 1 floors to 95, but -191 >> 1 = -96: the bound is 96 -> 7 bits + sign
    assert fixed.population("relay1").payload_bits == 8
    bind(fixed, Sample("s", 2, np.array([[0], [1]]), spikes=np.ones((1, 2, 2), bool)))


def test_a_population_whose_voltage_never_moved_limits_the_scale_by_its_input_only():
    net = hand_network()
    net.population("if1").calibration = {"max_abs_input": 2.0, "max_abs_v": 0.0}
    assert quantize_network(net).metadata["quantization"]["if1"]["activation_scale"] == 127 * 255 / 8


# ---- the reference's records and agreement ---------------------------------------------------------
def sim_result(rasters):
    from neurograph.sim.reference import SimResult
    return SimResult("test", 2, {k: np.packbits(r, axis=-1) for k, r in rasters.items()},
                     {k: r.shape[-1] for k, r in rasters.items()}, [np.zeros((2, 1))])


def test_spike_agreement_counts_matching_entries_per_population_and_pooled():
    from neurograph.sim.reference import spike_agreement, spike_matches
    rng = np.random.default_rng(0)
    p, q = rng.random((2, 2, 3)) < 0.5, rng.random((1, 2, 2)) < 0.5
    p_other = p.copy()
    p_other[0, 0, :] = ~p_other[0, 0, :]                             # 3 of 12 entries differ
    a = sim_result({"p": p, "q": q, "e": np.zeros((0, 2, 9), bool)})
    b = sim_result({"p": p_other, "q": q, "e": np.zeros((0, 2, 9), bool)})
    assert spike_matches(a, b) == {"p": (9, 12), "q": (4, 4), "e": (0, 0)}
    assert spike_agreement(a, b) == {"p": 0.75, "q": 1.0, "e": 1.0, "all": 13 / 16}
    with pytest.raises(ValueError, match="population 'q': rasters have shapes"):
        spike_matches(a, sim_result({"p": p, "q": q[:, :1], "e": np.zeros((0, 2, 9), bool)}))


@pytest.mark.parametrize("features, width", [(8, 1), (9, 2)])
def test_a_run_without_records_keeps_empty_rasters_of_the_packed_width(features, width):
    from neurograph.sim.reference import run_reference
    net = one_population("if", features=features, threshold=0)
    net.projections[0].weight = np.ones((2, features), int)
    net.projections[1].weight = np.ones((features, 1), int)
    windows = prepare_windows(validate(net), nodes=3)
    recorded, unrecorded = run_reference(net, windows), run_reference(net, windows, record=False)
    assert recorded.spikes["p"].shape == (net.window_steps, 3, width) and recorded.raster("p").any()
    assert unrecorded.spikes["p"].shape == (0, 3, width)             # ceil(features / 8) bytes
    assert np.array_equal(recorded.readout, unrecorded.readout)


def prepare_windows(net, nodes):
    from neurograph.sim.reference import prepare
    spikes = np.ones((net.input.num_steps, nodes, net.input.features), bool)
    return prepare(net, [Sample("s", nodes, np.zeros((2, 0), np.int64), spikes=spikes)])


def test_the_listing_order_numbers_the_input_0_and_the_populations_from_1():
    net = one_population("if", threshold=10)
    assert [net.order(name) for name in ("input", "p", "readout")] == [0, 1, 2]
    assert not net.is_feedback(net.projection("o")) and net.window_steps == 2 + 2


def test_a_version_4_network_file_is_refused(tmp_path):
    import json
    from neurograph.compile.artifact import ArtifactError, load_network, save_network
    path = save_network(validate(one_population("if", threshold=10)), tmp_path / "net.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays["header"].tobytes())
    assert header["version"] == 5
    header["version"] = 4                        # before clock channels (a v4 reader would drop the flags)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ArtifactError, match="version 4"):
        load_network(path)


@pytest.mark.parametrize("kind, bias, scale, mantissa, exponent", [
    ("vsn", 4095.0, 1.0, 4095, 0),            # VSN bias in a_in units: 4095 fits 13 bits signed
    ("vsn", 4096.0, 1.0, 2048, 1),            # 4096 does not: the next exponent
    ("vsn", -4096.0, 1.0, -2048, 1),
    ("integrator", 4095.0, 1 / 64, 4095, 0),  # LIF family in v units (x 64): the same limits
    ("integrator", 4096.0, 1 / 64, 2048, 1),
    ("integrator", -4096.0, 1 / 64, -2048, 1),
])
def test_bias_mantissas_use_13_signed_bits_before_the_exponent_grows(kind, bias, scale, mantissa, exponent):
    pop = Population("p", kind, 1, threshold=1.0 if kind == "vsn" else None, bias=np.array([bias]))
    pop.neuron.quantize(pop, scale)
    assert pop.bias.tolist() == [mantissa] and pop.bias_exp == exponent


def test_the_feature_exponent_may_reach_the_lowest_a_mixed_sign_projection_takes():
    net = hand_network()
    net.population("if1").bias = None
    # K <= 2**17 / (2 x) = 1.5: E = floor(log2(1.5 / 32385)) = -15 -> e_A = -8, e_W = -7, the lowest mixed-sign
    # weights can take (Lava stores them as 2m with e - 1 = -8)
    net.population("if1").calibration = {"max_abs_input": 2 ** 17 / 3, "max_abs_v": 1.0}
    q = quantize_network(net).metadata["quantization"]["if1"]
    assert (q["weight_exp"], q["adjacency_exp"]) == (-7, -8)
    full = np.abs(quantize_network(net).projection("w1").weight).max()
    # E = -16 and -17: the exponents stay at their lowest and the mantissas give up one and two bits instead
    for calibration, lost in ((2 ** 17 / 1.5, 1), (2 ** 17 / 0.75, 2)):
        net.population("if1").calibration = {"max_abs_input": calibration, "max_abs_v": 1.0}
        fixed = quantize_network(net)
        q = fixed.metadata["quantization"]["if1"]
        assert (q["weight_exp"], q["adjacency_exp"]) == (-7, -8)
        assert np.abs(fixed.projection("w1").weight).max() == pytest.approx(full / 2 ** lost, abs=1)
    # E = -18: a third bit is more than MAX_MANTISSA_BITS_LOST allows
    net.population("if1").calibration = {"max_abs_input": 2 ** 17 / 0.375, "max_abs_v": 1.0}
    with pytest.raises(IRError, match=r"population 'if1': needs a total weight exponent of -18, beyond two "
                                      r"projections' range \[-15, 14\]"):
        quantize_network(net)


def test_mantissa_scale_uses_8_bits_of_magnitude_for_one_sign_and_7_for_mixed_signs():
    from neurograph.compile.quantize import mantissa_scale
    assert mantissa_scale(np.array([0.0, 0.7])) == 255 / 0.7          # zero and positive: one sign
    assert mantissa_scale(np.array([-0.7, 0.0])) == 255 / 0.7
    assert mantissa_scale(np.array([-0.3, 0.25])) == 127 / 0.3
    assert mantissa_scale(np.zeros(3)) == 1.0


def test_threshold_and_bias_widths_limit_the_activation_scale():
    from neurograph.compile.kinds.lif import threshold_scale_limits
    # vth = round(threshold K) < 2**17: K <= (2**17 - 1) / threshold; the largest bias in v units (bias K 64)
    # must fit a 13-bit mantissa shifted by at most 7: K <= (4095 << 7) / (64 max|bias|)
    pop = Population("p", "if", 2, threshold=2.0, bias=np.array([0.5, -1.0]))
    assert threshold_scale_limits(pop) == [131071 / 2.0, 524160 / 64.0]
    pop.bias = np.zeros(2)
    assert threshold_scale_limits(pop) == [131071 / 2.0]


def test_the_stock_lif_gets_the_bias_mantissa_and_exponent_apart_and_no_current_memory():
    pop = Population("p", "lif", 2, threshold=77, leak=100, bias=np.array([3, -5]), bias_exp=2)
    proc, a_in, s_out = get_kind("lif").lava_process(pop, 3, None)
    assert (proc.du.init, proc.dv.init, proc.vth.init) == (4095, 100, 77)          # IF/LIF: du = 4095
    assert np.array_equal(proc.bias_mant.init, np.tile([3, -5], (3, 1)))
    assert np.array_equal(proc.bias_exp.init, np.full((3, 2), 2))
    assert a_in is proc.a_in and s_out is proc.s_out and proc.a_in.shape == (3, 2)


def test_graded_payloads_of_a_vsn_are_recorded_and_a_relays_are_not():
    from neurograph.sim.reference import run_reference
    net = validate(Network("fixed", Input("input", 1, 2), [
        Population("r", "relay", 1, payload_bits=4),
        Population("v", "vsn", 2, threshold=0, payload_bits=4), Population("readout", "integrator", 2)],
        [Projection("w", "dense", "input", "r", np.array([[1]])),
         Projection("x", "dense", "r", "v", np.array([[3, -2]])),
         Projection("o", "dense", "v", "readout", np.eye(2, dtype=int))], Readout("readout")))
    run = run_reference(net, prepare_windows(net, nodes=1))
    # Th = 0: the VSN fires every step and sends relu(z): z = [3, -2] two steps after each input step
    assert set(run.payloads) == {"v"}
    assert run.payloads["v"][:, 0, :].tolist() == [[0, 0], [0, 0], [3, 0], [3, 0], [0, 0]]


def test_predictions_are_read_from_the_last_window_unless_asked():
    from neurograph.sim.reference import run_reference
    net = validate(Network("fixed", Input("input", 2, 3), [Population("readout", "integrator", 2)],
                           [Projection("w", "dense", "input", "readout", np.eye(2, dtype=int))], Readout("readout")))
    first, second = np.zeros((3, 1, 2), bool), np.zeros((3, 1, 2), bool)
    first[0, 0, 0] = True                             # window 1: feature 0 once
    second[:, 0, 1] = True                            # window 2 (state carried): feature 1 three times
    from neurograph.sim.reference import prepare
    windows = prepare(net, [Sample("a", 1, np.zeros((2, 0), np.int64), spikes=first),
                            Sample("b", 1, np.zeros((2, 0), np.int64), spikes=second)])
    run = run_reference(net, windows)
    assert [r.tolist() for r in run.readouts] == [[[64, 0]], [[64, 192]]]
    assert run.predictions().tolist() == [1] and run.predictions(0).tolist() == [0]
    assert np.array_equal(run.readout, run.readouts[1])


def test_leak_becomes_dv_in_4096ths_and_the_threshold_scales_with_k():
    pop = Population("p", "lif", 1, threshold=1.5, leak=0.125)
    pop.neuron.quantize(pop, 10.0)
    assert (pop.leak, pop.threshold) == (512, 15)
    vsn = Population("v", "vsn", 1, threshold=1.5, leak=0.25)
    vsn.neuron.quantize(vsn, 10.0)
    assert (vsn.leak, vsn.threshold) == (1024, 15)


def test_a_worst_payload_at_a_power_of_two_gets_its_extra_bit():
    net = hand_network()
    net.projection("w1").weight = np.array([[0.5, 1.0], [0.5, 0.0]])      # one sign: m = 255 w
    fixed = quantize_network(net)
    # mantissas [[128, 255], [128, 0]] (127.5 -> 128): column sums 256 and 255; 256 needs 9 bits + sign
    assert fixed.projection("w1").weight.tolist() == [[128, 255], [128, 0]] and fixed.projection("w1").exponent == 0
    assert fixed.population("relay1").payload_bits == 10


def test_state_is_carried_across_samples_only_on_one_node_set():
    from neurograph.sim.reference import prepare, sequences
    net = validate(one_population("if", threshold=10))
    same = prepare(net, [Sample(name, 2, np.zeros((2, 0), np.int64), spikes=np.ones((2, 2, 2), bool))
                         for name in "ab"])
    assert [len(s) for s in sequences(same, carry=True)] == [2] and [len(s) for s in sequences(same, False)] == [1, 1]
    other = prepare(net, [Sample("c", 3, np.zeros((2, 0), np.int64), spikes=np.ones((2, 3, 2), bool))])
    with pytest.raises(IRError, match=r"carrying state across samples needs one node set; .* \[2, 3\] nodes"):
        sequences(same + other, carry=True)


def test_only_the_input_first_graph_convolution_alone_may_run_on_the_host():
    def net(reader_of_relay=False):
        pops = [Population("r", "relay", 2, payload_bits=8), Population("p", "if", 2, threshold=5),
                Population("readout", "integrator", 2)]
        projs = [Projection("w", "dense", "input", "r", np.eye(2, dtype=int), on_host=True),
                 Projection("a", "graph", "r", "p", rule="mean", coefficient_scale=255, on_host=True),
                 Projection("o", "dense", "p", "readout", np.eye(2, dtype=int))]
        if reader_of_relay:          # the relay's payloads also go elsewhere: the chip still needs them
            projs.append(Projection("x", "dense", "r", "readout", np.eye(2, dtype=int)))
        return Network("fixed", Input("input", 2, 2), pops, projs, Readout("readout"))
    from neurograph.compile.ir import host_chain
    assert [part.name for part in host_chain(validate(net()))] == ["w", "r", "a"]
    with pytest.raises(IRError, match=r"projections \['w', 'a'\] are marked on_host, but only the input's first"):
        validate(net(reader_of_relay=True))


def test_integer_products_are_exact_beyond_the_float64_mantissa():
    from neurograph.compile.projections import exact_int_matmul
    x = np.full((1, 4), 2 ** 30 + 1, dtype=np.int64)     # each product about 2**52: their odd sum needs 55 bits
    w = np.array([[2 ** 22 + 1], [2 ** 22 + 2], [2 ** 22 + 3], [2 ** 22 + 1]], dtype=np.int64)
    assert exact_int_matmul(x, w).tolist() == [[(2 ** 30 + 1) * (4 * 2 ** 22 + 7)]]     # float64 gives +1
    small = np.array([[3, -2], [0, 5]])
    assert exact_int_matmul(small, np.array([[7], [-1]])).tolist() == [[23], [-5]]


def test_host_work_counts_each_stage_per_its_unit():
    from neurograph.compile.ir import HostStage, host_work
    net = one_population("if", threshold=10)
    net.input.num_steps = 3
    net.host = [HostStage("encode", "per_inference", ["input"], {"rng": 1}, per="nonzero_input_step"),
                HostStage("norm", "per_graph", [], {"fp32_mac": 2}, per="edge"),
                HostStage("decide", "per_inference", ["readout"], {"fp32_add": 4}, per="node"),
                HostStage("load", "once", [], {"int32_add": 9})]
    features = np.array([[0.5, 0.0], [1.0, 0.25], [0.0, 0.0]])     # 3 nonzero features
    edges = np.array([[0, 0, 1, 2], [1, 1, 0, 2]])                  # 0->1 twice, 1->0 and a self loop on 2
    work = host_work(validate(net), Sample("s", 3, edges, features=features))
    # 3 nonzero x 3 steps; 2 distinct edges + 3 self loops; 3 nodes; once
    assert {k: v["ops"] for k, v in work.items()} == {"encode": {"rng": 9}, "norm": {"fp32_mac": 10},
                                                      "decide": {"fp32_add": 12}, "load": {"int32_add": 9}}
    spikes = Sample("r", 3, edges, spikes=np.ones((3, 3, 2), bool))  # a raster: no features to encode
    assert host_work(net, spikes)["encode"]["ops"] == {"rng": 0}


def test_the_accumulator_and_the_input_port_hold_two_to_the_31_minus_one_exactly():
    def net(columns):
        # relay payload bound 128 << 7 = 2**14; each column of 128s adds 2**14 * 128 * rows to the readout
        f = 1024
        projs = [Projection("w", "dense", "input", "r", np.full((1, f), 128), exponent=7)]
        for k, rows in enumerate(columns):
            column = np.zeros((f, 1), int)
            column[:rows] = 128
            projs.append(Projection(f"o{k}", "dense", "r", "readout", column))
        return Network("fixed", Input("input", 1, 2), [Population("r", "relay", f, payload_bits=16),
                                                         Population("readout", "integrator", 1)],
                       projs, Readout("readout"))
    validate(net([1023]))                                           # 2**31 - 2**21
    with pytest.raises(IRError, match="worst-case accumulated input 2,147,483,648 overflows"):
        validate(net([1024]))                                       # 2**14 * 128 * 1024 = 2**31
    validate(net([512, 511]))
    with pytest.raises(IRError, match="population 'readout': worst-case summed input 2,147,483,648 of its "
                                      "projections overflows the 32-bit input port"):
        validate(net([512, 512]))                                   # 2**30 each: fits one by one, not summed


def test_a_24_bit_payload_is_the_widest_quantization_accepts():
    net = hand_network()
    net.input.features = 200
    net.projection("w1").weight = np.ones((200, 2))                 # one sign: mantissas 255, column sums 51000
    if1 = net.population("if1")
    if1.threshold, if1.bias = 4096 / 1.5e9, None
    if1.calibration = {"max_abs_input": 1e-6, "max_abs_v": 1e-6}
    # K <= 4096 / threshold = 1.5e9: E = floor(log2(1.5e9 / (255 * 255))) = 14 -> e_A = 7, e_W = 7; the worst
    # payload 51000 << 7 = 6,528,000 < 2**23 takes 24 bits with the sign
    fixed = quantize_network(net)
    assert fixed.projection("w1").exponent == 7 and fixed.population("relay1").payload_bits == 24
    net.input.features, net.projection("w1").weight = 400, np.ones((400, 2))      # twice the inputs: 25 bits
    with pytest.raises(IRError, match="relay 'relay1': worst-case payload 13056000 needs 25 bits"):
        quantize_network(net)


def test_the_target_threshold_limit_is_not_rounded_down():
    net = hand_network(threshold=4096 / 4064.5)                 # K <= 4096 / threshold = 4064.5
    net.projection("w1").weight = np.array([[1.0, 0.5], [0.25, 0.0]])      # one sign: s_W = 255
    if1 = net.population("if1")
    if1.bias, if1.calibration = None, {"max_abs_input": 1e-3, "max_abs_v": 1e-3}
    # 4064.5 / (255 * 255) is just above 2**-4 (65025 / 16 = 4064.0625), so E = -4; 4064 would give -5
    q = quantize_network(net).metadata["quantization"]["if1"]
    assert (q["weight_exp"], q["adjacency_exp"]) == (0, -4) and q["activation_scale"] == 65025 / 16


# ---- graded sources, dense-fed populations and the readout's head (HVS-GNN, Dy-SIGN) ------------------
def graded_chain(payload_bits=4):
    """input -> W0 -> relay0 -> self -> v (VSN, payload_bits) -> W1 -> relay1 -> self -> readout (with a head)."""
    pops = [Population("relay0", "relay", 2),
            Population("v", "vsn", 2, threshold=0.5, payload_bits=payload_bits,
                       calibration={"max_abs_input": 1.0, "max_abs_v": 1.0, "max_payload": 1.0}),
            Population("relay1", "relay", 1),
            Population("readout", "integrator", 1, calibration={"max_abs_input": 1.0, "max_abs_v": 4.0})]
    projs = [Projection("w0", "dense", "input", "relay0", np.array([[0.5, -0.25], [1.0, 0.5]])),
             Projection("a0", "graph", "relay0", "v", rule="self"),
             Projection("w1", "dense", "v", "relay1", np.array([[0.75], [-0.5]])),
             Projection("a1", "graph", "relay1", "readout", rule="self")]
    return validate(Network("float", Input("input", 2, 1), pops, projs,
                            Readout("readout", pool="mean", head_weight=np.array([[2.0]]), head_bias=np.array([0.5]))))


def test_a_graded_source_sends_at_most_its_payload_top_into_the_relay_width():
    fixed = quantize_network(graded_chain(payload_bits=4))       # the VSN sends at most 2**3 - 1 = 7
    w1, relay1 = fixed.projection("w1"), fixed.population("relay1")
    worst = int(shift(np.abs(w1.weight).sum(axis=0).max() * 7, w1.exponent)) + (1 if w1.exponent < 0 else 0)
    assert relay1.payload_bits == max(2, worst.bit_length() + 1)
    wider = quantize_network(graded_chain(payload_bits=8))       # 127: a wider source needs a wider relay
    assert wider.population("relay1").payload_bits > relay1.payload_bits
    q = fixed.metadata["quantization"]
    assert q["v"]["vth"] is None and q["readout"]["vth"] is None          # vth is reported for spiking kinds only
    # the head reads the integer membrane: its weight divided by K and by the integrator's << 6
    assert fixed.readout.head_weight[0, 0] == pytest.approx(2.0 / (q["readout"]["activation_scale"] * 64))
    assert fixed.readout.head_bias.tolist() == [0.5]


def test_vsn_payload_limit_needs_a_calibrated_payload():
    pop = Population("v", "vsn", 1, threshold=2, payload_bits=8, calibration={"max_payload": 0.0})
    assert get_kind("vsn").scale_limits(pop) == [((1 << 23) - 1) / 2]           # only the 24-bit memory's
    pop.calibration = {"max_payload": 0.5}
    assert get_kind("vsn").scale_limits(pop) == [((1 << 23) - 1) / 2, 127 / 0.5]


@pytest.mark.parametrize("weight, head_bias, message", [
    (np.ones((2, 1)), np.zeros(1), r"head weight must be \(1, outputs\)"),      # rows != readout features
    (np.ones((1, 2)), np.zeros(1), r"head weight must be \(1, outputs\)"),      # bias != columns
    (np.ones(1), np.zeros(1), r"head weight must be \(1, outputs\)"),           # not a matrix
    (np.ones((1, 1)), None, "needs both its weight and its bias")])
def test_readout_head_shapes_are_validated(weight, head_bias, message):
    net = graded_chain()
    net.readout = Readout("readout", pool="mean", head_weight=weight, head_bias=head_bias)
    with pytest.raises(IRError, match=message):
        validate(net)


def test_dense_fed_population_gets_one_scale_and_an_exponent_per_projection():
    # p (LIF) fed by the input (mixed signs: top 127) and by itself (one sign: top 255), no graph projection
    pop = Population("p", "lif", 2, threshold=1.0, calibration={"max_abs_input": 1.0, "max_abs_v": 1.0})
    projs = [Projection("in", "dense", "input", "p", np.array([[0.5, -0.25], [1.0, 0.0]])),
             Projection("back", "dense", "p", "p", np.array([[0.2, 0.0], [0.0, 0.1]])),
             Projection("out", "dense", "p", "readout", np.eye(2))]
    net = validate(Network("float", Input("input", 2, 1), [pop, Population(
        "readout", "integrator", 2, calibration={"max_abs_input": 100.0, "max_abs_v": 100.0})], projs, Readout("readout")))
    fixed = quantize_network(net)
    k = fixed.metadata["quantization"]["p"]["activation_scale"]
    assert k == 4096                                   # the target threshold (4096 / 1.0) is the tightest limit
    for name, w, top in (("in", [[0.5, -0.25], [1.0, 0.0]], 127), ("back", [[0.2, 0.0], [0.0, 0.1]], 255)):
        pr = fixed.projection(name)
        e = math.ceil(math.log2(k * np.abs(w).max() / top))
        assert pr.exponent == e and np.array_equal(pr.weight, np.round(np.array(w) * k / 2.0 ** e).astype(int))
    # a graded source into a dense-fed population is refused: its payload has no single scale here
    net.populations[0] = Population("p", "vsn", 2, threshold=1.0, payload_bits=8,
                                    calibration={"max_abs_input": 1.0, "max_abs_v": 1.0, "max_payload": 1.0})
    net.projections[1] = Projection("back", "dense", "input", "p", np.array([[0.2, 0.0], [0.0, 0.1]]))
    net.projections[2] = Projection("out", "dense", "p", "readout", np.eye(2))
    with pytest.raises(IRError, match="projection 'out': quantization assumes binary spikes into a dense projection"):
        quantize_network(validate(net))


def test_dense_fed_weights_of_one_sign_use_255_and_an_all_zero_projection_needs_no_exponent():
    # "in": weights <= 0 with a zero among them are one sign (top 255, not 127); "zero": all zero -> exponent 0
    pop = Population("p", "lif", 2, threshold=1.0, calibration={"max_abs_input": 1.0, "max_abs_v": 1.0})
    projs = [Projection("in", "dense", "input", "p", np.array([[-0.5, 0.0], [-1.0, -0.25]])),
             Projection("zero", "dense", "input", "p", np.zeros((2, 2))),
             Projection("out", "dense", "p", "readout", np.eye(2))]
    net = validate(Network("float", Input("input", 2, 1), [pop, Population(
        "readout", "integrator", 2, calibration={"max_abs_input": 100.0, "max_abs_v": 100.0})], projs, Readout("readout")))
    fixed = quantize_network(net)
    e = math.ceil(math.log2(4096 * 1.0 / 255))                 # K = 4096: one sign uses 255
    assert fixed.projection("in").exponent == e
    assert fixed.projection("in").weight.min() == round(-1.0 * 4096 / 2 ** e)
    assert fixed.projection("zero").exponent == 0 and not fixed.projection("zero").weight.any()


@pytest.mark.parametrize("max_abs_input, exponents, payload_bits", [
    (1.0, (0, 0), 9),            # K = 255 * 255: e_W = 0, the relay sends up to 255 exactly: 9 signed bits
    (2 ** 17 / 3, (-8, -8), 2),  # K just below 1: e_W = -8 floors 255 to 0, +1 for the floor: 1, the 2-bit minimum
])
def test_relay_width_is_the_shifted_worst_case_plus_the_floor_margin(max_abs_input, exponents, payload_bits):
    net = validate(Network("float", Input("input", 1, 1), [
        Population("relay", "relay", 1),
        Population("readout", "integrator", 1, calibration={"max_abs_input": max_abs_input, "max_abs_v": 1.0})],
        [Projection("w", "dense", "input", "relay", np.array([[1.0]])),
         Projection("a", "graph", "relay", "readout", rule="self")], Readout("readout")))
    fixed = quantize_network(net)
    assert (fixed.projection("w").exponent, fixed.projection("a").exponent) == exponents
    assert fixed.projection("w").weight.tolist() == [[255]]
    assert fixed.population("relay").payload_bits == payload_bits


@pytest.mark.parametrize("features", [7, 8, 14, 17])
def test_recorder_packs_spikes_into_ceil_f_over_8_bytes(tmp_path, features):
    # the spike recorder's model, stepped by hand: one byte per 8 features, bit for bit the spikes it received
    from neurograph.compile.lava.processes.io import PyRecorderModel
    path = str(tmp_path / "r.npy")
    model = PyRecorderModel({"shape": (2, features), "steps": 1, "graded": False, "path": path,
                             "error_path": path + ".err"})
    model.time_step = 1
    s = np.zeros((2, features), np.int32)
    s[0, -1] = s[1, 0] = 1
    model._record(s)
    raster = np.load(path)
    assert raster.shape == (1, 2, math.ceil(features / 8))
    assert np.array_equal(np.unpackbits(raster[0], axis=-1, count=features), s.astype(np.uint8))


# ---- graphs.py: the mean rule's integer coefficients ------------------------------------------------
def test_mean_coefficients_keep_each_nodes_sum():
    # 255 = q d + r: the r in-edges of lowest source index get q + 1, the others q.
    # Node 0, in-degree 6: 255 = 6 x 42 + 3 -> three 43s. Node 1, in-degree 7: 7 x 36 + 3 -> three 37s.
    # Node 2, in-degree 4: 4 x 63 + 3 -> three 64s. Node 3, one in-edge: 255. Node 4: none. Nearest rounding
    # would store 42 x 6 = 252 and 36 x 7 = 252. The same graph inside a disjoint union binds alike.
    edges = [(s, 0) for s in range(1, 7)] + [(s, 1) for s in (0, 2, 3, 4, 5, 6, 7)] + \
        [(s, 2) for s in (4, 5, 6, 7)] + [(0, 3)]
    net = Network(domain="fixed", input=Input("x", 1, 1, "graded"),
                  populations=[Population("r", "relay", 1, payload_bits=9), Population("out", "integrator", 1)],
                  projections=[Projection("w", "dense", "x", "r", np.array([[1]]), exponent=0),
                               Projection("a", "graph", "r", "out", rule="mean", coefficient_scale=255)],
                  readout=Readout("out"))
    a = bind(validate(net), Sample("g", 8, np.array(edges, dtype=np.int64).T)).matrices["a"][0].toarray()
    assert a[0, 1:7].tolist() == [43, 43, 43, 42, 42, 42]
    assert a[1, [0, 2, 3, 4, 5, 6, 7]].tolist() == [37, 37, 37, 36, 36, 36, 36]
    assert a[2, 4:8].tolist() == [64, 64, 64, 63]
    assert a[3, 0] == 255 and not a[4].any()
    assert a.sum(axis=1).tolist() == [255, 255, 255, 255, 0, 0, 0, 0]
    pair = disjoint_union([Sample("h", 3, np.array([[1, 2], [0, 0]]), features=np.zeros((3, 1))),
                           Sample("g", 8, np.array(edges).T, features=np.zeros((8, 1)))])
    assert (bind(net, pair).matrices["a"][0].toarray()[3:, 3:] == a).all()
    # 256 in-neighbours cannot share 255: refused, not silently averaged over a subset
    hub = np.array([np.arange(1, 257), np.zeros(256, dtype=np.int64)])
    with pytest.raises(IRError, match="node 0 has 256 in-neighbours, more than the 255"):
        bind(net, Sample("hub", 257, hub))
