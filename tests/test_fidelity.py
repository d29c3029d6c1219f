"""The fidelity report's numbers, checked against direct computations and a deliberately worse quantization."""
import copy

import numpy as np

from neurograph.compile.fold import fold_scales
from neurograph.compile.quantize import quantize_network
from neurograph.sim.fidelity import fidelity_report
from neurograph.sim.reference import run_reference
from neurograph.sim.report import accuracy

from conftest import make_float_network


def test_fidelity_numbers_match_direct_runs():
    float_net = fold_scales(make_float_network(seed=4, nodes=40, hidden=8, steps=8))
    fixed_net = quantize_network(float_net)
    report = fidelity_report(float_net, fixed_net)
    f, q = run_reference(float_net), run_reference(fixed_net)
    swaps = report["accuracy_with_fixed_layers"]
    assert swaps[0]["fixed_layers"] == [] and swaps[0]["accuracy"] == accuracy(f.readout, float_net)
    assert swaps[-1]["fixed_layers"] == "all" and swaps[-1]["accuracy"] == accuracy(q.readout, fixed_net)
    layer = report["layers"]["if1"]
    assert layer["spike_mismatch"]["rate"] == np.mean(f.spikes["if1"] != q.spikes["if1"])
    assert layer["current_error"]["rms"] < 0.05 * layer["current_error"]["signal_rms"]
    assert report["prediction_agreement"] == np.mean(f.predictions() == q.predictions())


def test_a_coarser_layer_shows_up_as_larger_current_error():
    float_net = fold_scales(make_float_network(seed=4, nodes=40, hidden=8, steps=8))
    fixed_net = quantize_network(float_net)
    worse = copy.deepcopy(fixed_net)
    dense = worse.projections[0]
    dense.weight = (dense.weight >> 4) << 4          # keep only the top 4 bits of the 8-bit mantissas
    good = fidelity_report(float_net, fixed_net)["layers"]["if1"]["current_error"]["rms"]
    bad = fidelity_report(float_net, worse)["layers"]["if1"]["current_error"]["rms"]
    assert bad > 3 * good
