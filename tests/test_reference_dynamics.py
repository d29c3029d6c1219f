"""The reference executor's neuron and synapse arithmetic, checked against hand-computed values
and the integer equations of Lava 0.10's bit-accurate LIF (lava-fixed-point.md, section 1).

torch is imported by the three tests of the training-side neurons only, so the fixed-point tests
run without it (each mutant of `make mutation` starts a fresh pytest)."""
import numpy as np
import pytest

from neurograph.compile.fixed_point import shift
from neurograph.compile.ir import Input, Network, Population, Projection, Readout, validate
from neurograph.compile.projections import dense_step
from neurograph.compile.samples import Sample
from neurograph.sim.reference import prepare, steps


def if_pop(**kw):
    base = dict(name="p", kind="if", features=1, threshold=100, leak=0, bias=None, bias_exp=0)
    base.update(kw)
    return Population(**base)


def run_kind(pop, a_in, events=None, fixed=True):
    """Step `pop`'s kind through the summed inputs a_in (steps, N, F): spikes (steps, N, F), or for a
    kind that sends nothing, its final membrane."""
    events = {} if events is None else events
    kind = pop.neuron
    state = kind.init_state(pop, a_in.shape[1], fixed)
    out = [kind.step(pop, state, a, fixed, events) for a in a_in]
    return np.stack(out) if kind.output != "none" else kind.membrane(state)


def test_fixed_if_integrates_and_resets_to_zero():
    # a_in = 30 per step -> v = 30*64, 60*64, ...; spikes when v > 100 << 6, i.e. at 120 (step 4)
    a_in = np.full((8, 1, 1), 30, dtype=np.int64)
    spikes = run_kind(if_pop(), a_in)
    assert spikes[:, 0, 0].tolist() == [False, False, False, True, False, False, False, True]


def test_fixed_lif_subtract_keeps_the_excess_after_a_spike():
    # v = 1920, 3840, 5760, 7680 > 6400: spike, v -> 1280; 3200, 5120, 7040 > 6400: spike, v -> 640
    a_in = np.full((8, 1, 1), 30, dtype=np.int64)
    spikes = run_kind(if_pop(kind="lif_subtract"), a_in)
    assert spikes[:, 0, 0].tolist() == [False, False, False, True, False, False, True, False]


def test_fixed_threshold_is_strictly_greater():
    a_in = np.full((2, 1, 1), 50, dtype=np.int64)         # v reaches exactly 100 << 6 at step 2
    assert not run_kind(if_pop(), a_in).any()


def test_fixed_bias_is_added_to_v_unshifted():
    # bias_mant << bias_exp = 4 << 4 = 64 = one a_in unit per step; threshold 2 -> spike at step 3
    pop = if_pop(threshold=2, bias=np.array([4]), bias_exp=4)
    spikes = run_kind(pop, np.zeros((4, 1, 1), dtype=np.int64))
    assert spikes[:, 0, 0].tolist() == [False, False, True, False]


def test_fixed_leak_truncates_toward_zero():
    # dv = 2048 halves v each step: v = 64*10 -> 320 + 0 ... integrator returns final v
    pop = Population("r", "integrator", 1, leak=2048)
    a_in = np.array([10, 0, 0, -10, 0], dtype=np.int64).reshape(5, 1, 1)
    v = run_kind(pop, a_in)
    # 640 -> 320 -> 160 -> 80 - 640 = -560 -> -280
    assert v[0, 0] == -280


def test_fixed_voltage_saturates_and_current_wraps_like_lava():
    sat = {}
    pop = Population("r", "integrator", 1)
    a_in = np.full((300, 1, 1), 100_000, dtype=np.int64)    # 100000 << 6 = 6.4e6 < 2**23: no wrap
    v = run_kind(pop, a_in, sat)
    assert v[0, 0] == 2 ** 23 - 1 and sat["r.voltage_saturation"] > 0 and sat["r.current_wrap"] == 0
    sat = {}
    run_kind(pop, np.full((1, 1, 1), 200_000, dtype=np.int64), sat)   # 1.28e7 > 2**23: wraps
    assert sat["r.current_wrap"] == 1


def test_shift_floors_like_an_arithmetic_shift():
    x = np.array([-5, -4, 5, 7])
    assert shift(x, -1).tolist() == [-3, -2, 2, 3]
    assert shift(x, 2).tolist() == [-20, -16, 20, 28]


def test_projection_delay_and_fixed_exponent():
    w = np.array([[3, -2]])
    assert dense_step(np.array([[1]]), w, -1, True).tolist() == [[1, -1]]     # floor(3/2), floor(-2/2)
    # input --w (exp -1)--> relay --identity--> integrator; input spikes at steps 1 and 3
    net = validate(Network("fixed", Input("input", 1, 3),
                           [Population("relay", "relay", 2, payload_bits=4), Population("out", "integrator", 2)],
                           [Projection("w", "dense", "input", "relay", w, exponent=-1),
                            Projection("i", "dense", "relay", "out", np.eye(2, dtype=np.int64))],
                           Readout("out")))
    raster = np.array([True, False, True]).reshape(3, 1, 1)
    sample = Sample("s", 1, np.zeros((2, 0), np.int64), spikes=raster)
    relay = [step.inputs["relay"][0].tolist() for step in steps(net, prepare(net, [sample]))]
    assert relay == [[0, 0], [1, -1], [0, 0], [1, -1], [0, 0]]       # each delayed one step


def test_float_neurons_match_torch_neurons():
    import torch
    from neurograph.neurons import run_neurons
    rng = np.random.default_rng(0)
    current = rng.normal(0.3, 1.0, (10, 4, 3))
    pop = Population("p", "lif", 3, threshold=1.0, leak=0.1)
    ref = run_kind(pop, current, fixed=False)
    spikes, _ = run_neurons(torch.tensor(current), 1.0, 0.1)
    assert np.array_equal(ref, spikes.numpy().astype(bool))


def test_rectangular_surrogate_gradient():
    import torch
    from neurograph.neurons import RectangularSpike
    x = torch.tensor([-1.0, -0.2, 0.0, 0.3, 0.6], requires_grad=True)
    RectangularSpike.apply(x, 1.0).sum().backward()
    assert x.grad.tolist() == pytest.approx([0.0, 1.0, 1.0, 1.0, 0.0])


def test_if_integrates_without_loss_and_lif_leaks_below_threshold():
    import torch
    from neurograph.neurons import run_neurons
    current = torch.full((6, 1), 0.4)
    if_spikes, _ = run_neurons(current, 1.0, leak=0.0)
    lif_spikes, _ = run_neurons(current, 1.0, leak=0.5)
    assert if_spikes.ravel().tolist() == [0, 0, 1, 0, 0, 1]   # 0.4, 0.8, 1.2 > 1 -> reset, ...
    assert lif_spikes.sum() == 0                             # v -> 0.8 at most: the leak wins
