"""Quantization: every stored integer within its bit width, and the fixed network close to the float one."""
import numpy as np
import pytest

from neurograph.compile.fold import fold_scales
from neurograph.compile.ir import IRError, weight_mantissa_range, weight_values
from neurograph.compile.quantize import quantize_bias, quantize_network
from neurograph.sim.reference import run_reference

from conftest import make_float_network


@pytest.mark.parametrize("seed", range(4))
def test_quantized_values_fit_their_bit_widths(seed):
    fixed = quantize_network(fold_scales(make_float_network(seed=seed, nodes=30)))
    for pr in fixed.projections:
        lo, hi = weight_mantissa_range(pr)
        w = weight_values(pr)
        assert lo <= w.min() and w.max() <= hi and -8 <= pr.exponent <= 7
        assert np.issubdtype(np.asarray(w).dtype, np.integer)
    for pop in fixed.populations:
        if pop.spiking:
            assert 0 < pop.threshold < 2 ** 17
            # the threshold lands near the requested resolution, not far below it
            assert pop.threshold >= 4096 / 4
        if pop.bias is not None:
            assert np.abs(pop.bias).max() <= 4095 and 0 <= pop.bias_exp <= 7


def test_full_mantissa_range_is_used():
    fixed = quantize_network(fold_scales(make_float_network(seed=1, nodes=30)))
    dense = fixed.projections[0]
    assert np.abs(dense.weight).max() == 127        # mixed signs: [-128, 127], largest |w| -> 127
    graph = fixed.projections[1]
    assert graph.weight.data.max() == 255           # non-negative adjacency: [0, 255]


@pytest.mark.parametrize("seed", range(3))
def test_fixed_point_follows_the_float_network(seed):
    float_net = fold_scales(make_float_network(seed=seed, nodes=40, hidden=8, steps=8))
    fixed = quantize_network(float_net)
    f, q = run_reference(float_net), run_reference(fixed)
    scale = fixed.metadata["quantization"]["readout"]["activation_scale"] * 64   # v = a_in << 6
    assert np.mean(f.predictions() == q.predictions()) >= 0.9
    name = next(iter(f.spikes))
    assert np.mean(f.spikes[name] == q.spikes[name]) >= 0.97
    assert np.corrcoef(f.readout.ravel(), q.readout.ravel() / scale)[0, 1] > 0.99


def test_threshold_too_large_for_any_scale_is_an_error():
    net = fold_scales(make_float_network())
    net.populations[1].bias[:] = 0.0
    net.populations[1].calibration = {"max_abs_input": 1e9, "max_abs_v": 1e9}   # forces a tiny scale
    with pytest.raises(IRError, match="exponent"):
        quantize_network(net)


def test_quantize_requires_folded_scales():
    with pytest.raises(IRError, match="fold_scales"):
        quantize_network(make_float_network(scales=True))


def test_bias_exponent_is_the_smallest_that_fits():
    mant, exp = quantize_bias(np.array([100.0, -20000.0]), "p")
    assert exp == 3 and mant.tolist() == [12, -2500]
    with pytest.raises(IRError, match="13-bit"):
        quantize_bias(np.array([1e9]), "p")
