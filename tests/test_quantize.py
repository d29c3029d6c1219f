"""Quantization: every stored integer within its bit width, and the fixed network close to the float one."""
import numpy as np
import pytest

from neurograph.compile.fold import fold_scales
from neurograph.compile.graphs import bind
from neurograph.compile.ir import IRError, Population, weight_mantissa_range
from neurograph.compile.quantize import quantize_network
from neurograph.compile.samples import Sample
from neurograph.sim.reference import run_samples

from conftest import make_float_network, random_sample


@pytest.mark.parametrize("seed", range(4))
def test_quantized_values_fit_their_bit_widths(seed):
    sample = random_sample(seed, nodes=30)
    fixed = quantize_network(fold_scales(make_float_network(seed=seed, sample=sample)))
    binding = bind(fixed, sample)
    for pr in fixed.projections:
        if pr.kind == "dense":
            values = np.asarray(pr.weight)
            assert np.issubdtype(values.dtype, np.integer)
        else:
            assert pr.weight is None and pr.coefficient_scale == 255.0      # the gcn rule's bound 1 -> 255
            values = np.concatenate([a.data for a in binding.matrices[pr.name]])
            assert np.issubdtype(values.dtype, np.integer) and values.min() > 0   # zero mantissas: no synapse
        lo, hi = weight_mantissa_range(values)
        assert lo <= values.min() and values.max() <= hi and -8 <= pr.exponent <= 7
    for pop in fixed.populations:
        if pop.neuron.spiking:
            assert 0 < pop.threshold < 2 ** 17
            # the threshold lands near the requested resolution, not far below it
            assert pop.threshold >= 4096 / 4
        if pop.bias is not None:
            assert np.abs(pop.bias).max() <= 4095 and 0 <= pop.bias_exp <= 7


def test_full_mantissa_range_is_used():
    fixed = quantize_network(fold_scales(make_float_network(seed=1, sample=random_sample(1, nodes=30))))
    dense = fixed.projections[0]
    assert np.abs(dense.weight).max() == 127        # mixed signs: [-128, 127], largest |w| -> 127
    # coefficients are quantized against the rule's bound (1), not one graph's largest value: on a graph
    # where nodes 0 and 1 are joined and node 2 is alone, GCN gives 1/2 and 1 (the self loop of node 2)
    sample = Sample("g", 3, np.array([[0, 1], [1, 0]]), features=np.zeros((3, 10)))
    a = bind(fixed, sample).matrices["aggregate1"][0].toarray()
    assert a.tolist() == [[128, 128, 0], [128, 128, 0], [0, 0, 255]]     # round(0.5 * 255), 1 * 255


@pytest.mark.parametrize("seed", range(3))
def test_fixed_point_follows_the_float_network(seed):
    sample = random_sample(seed, nodes=40)
    float_net = fold_scales(make_float_network(seed=seed, hidden=8, steps=8, sample=sample))
    fixed = quantize_network(float_net)
    (f,), (q,) = run_samples(float_net, [sample]), run_samples(fixed, [sample])
    scale = fixed.metadata["quantization"]["readout"]["activation_scale"] * 64   # v = a_in << 6
    assert np.mean(f.predictions() == q.predictions()) >= 0.9
    name = next(iter(f.spikes))
    assert np.mean(f.raster(name) == q.raster(name)) >= 0.97
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
    # activation scale 1/64: the bias in v units is the float bias itself
    pop = Population("p", "integrator", 2, bias=np.array([100.0, -20000.0]))
    pop.neuron.quantize(pop, 1 / 64)
    assert pop.bias_exp == 3 and pop.bias.tolist() == [12, -2500]      # 100 / 8 = 12.5 -> 12 (half to even)
    huge = Population("p", "integrator", 1, bias=np.array([1e9]))
    with pytest.raises(IRError, match="13-bit"):
        huge.neuron.quantize(huge, 1 / 64)
