"""The fidelity report's numbers, checked against direct computations and a deliberately worse quantization."""
import copy

import numpy as np

from neurograph.compile.fold import fold_scales
from neurograph.compile.quantize import quantize_network
from neurograph.sim.fidelity import fidelity_report
from neurograph.sim.reference import prepare, run_reference
from neurograph.sim.scoring import accuracy

from conftest import make_float_network, random_sample

SAMPLE = random_sample(4, nodes=40)


def networks():
    float_net = fold_scales(make_float_network(seed=4, hidden=8, steps=8, sample=SAMPLE))
    return float_net, quantize_network(float_net)


def report_for(float_net, fixed_net):
    return fidelity_report(float_net, prepare(float_net, [SAMPLE]), fixed_net, prepare(fixed_net, [SAMPLE]))[0]


def test_fidelity_numbers_match_direct_runs():
    float_net, fixed_net = networks()
    report = report_for(float_net, fixed_net)
    f, q = run_reference(float_net, prepare(float_net, [SAMPLE])), run_reference(fixed_net, prepare(fixed_net, [SAMPLE]))
    swaps = report["accuracy_with_fixed_layers"]
    assert swaps[0]["fixed_layers"] == [] and swaps[0]["accuracy"] == accuracy(f, [SAMPLE])
    assert swaps[-1]["fixed_layers"] == "all" and swaps[-1]["accuracy"] == accuracy(q, [SAMPLE])
    # accuracy by hand: every node is in the test mask
    assert swaps[0]["accuracy"] == np.mean(f.readout.argmax(axis=1) == SAMPLE.labels)
    layer = report["layers"]["if1"]
    assert layer["spike_mismatch"]["rate"] == np.mean(f.raster("if1") != q.raster("if1"))
    assert layer["current_error"]["rms"] < 0.05 * layer["current_error"]["signal_rms"]
    assert report["prediction_agreement"] == np.mean(f.predictions() == q.predictions())


def test_a_coarser_layer_shows_up_as_larger_current_error():
    float_net, fixed_net = networks()
    worse = copy.deepcopy(fixed_net)
    dense = worse.projections[0]
    dense.weight = (dense.weight >> 4) << 4          # keep only the top 4 bits of the 8-bit mantissas
    good = report_for(float_net, fixed_net)["layers"]["if1"]["current_error"]["rms"]
    bad = report_for(float_net, worse)["layers"]["if1"]["current_error"]["rms"]
    assert bad > 3 * good
