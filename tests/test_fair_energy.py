"""The cheapest fair ANN and host-inclusive totals, counted by hand on a small graph."""
import numpy as np
import pytest

from neurograph.compile.ir import Input, Network, Population, Projection, Readout, validate
from neurograph.compile.samples import Sample
from neurograph.sim.counters import EventCounter
from neurograph.sim.energy import CMOS45, energy_report, fair_ann_terms
from neurograph.sim.reference import prepare, run_reference
from neurograph.sim.steps import graph_stats


def _net():
    # input (3 features) -> dense (3 x 2) -> relay -> graph (gcn) -> if (2) -> dense (2 x 2) -> relay -> graph -> readout
    return validate(Network("fixed", Input("input", 3, 2), [
        Population("relay1", "relay", 2, payload_bits=12), Population("if1", "if", 2, threshold=1),
        Population("relay2", "relay", 2, payload_bits=12), Population("readout", "integrator", 2)],
        [Projection("t1", "dense", "input", "relay1", np.array([[1, 2], [3, 4], [5, 6]])),
         Projection("a1", "graph", "relay1", "if1", rule="gcn", coefficient_scale=255, exponent=-8),
         Projection("t2", "dense", "if1", "relay2", np.array([[1, -1], [2, 3]])),
         Projection("a2", "graph", "relay2", "readout", rule="gcn", coefficient_scale=255, exponent=-8)],
        Readout("readout")))


# a path 0 - 1 - 2 (both directions): 4 edges + 3 self loops = 7 coefficients per graph projection
EDGES = np.array([[0, 1, 1, 2], [1, 0, 2, 1]])


@pytest.mark.parametrize("features, binary", [
    (np.array([[1.0, 0, 1], [0, 0, 1], [1, 1, 0]]), True),       # 5 nonzero, all 1
    (np.array([[0.5, 0, 1], [0, 0, 1], [1, 1, 0]]), False)])     # 5 nonzero, one 0.5
def test_fair_ann_by_hand(features, binary):
    net = _net()
    window = prepare(net, [Sample("path", 3, EDGES, features=features)])[0]
    stats = graph_stats(net, window)
    assert stats["input_nonzero"] == 5 and stats["input_binary"] is binary
    terms = fair_ann_terms(net, [stats])
    # first transform: 5 nonzero inputs x 2 outputs = 10 (adds if binary, else MACs);
    # aggregation 7 coefficients x 2 features, twice = 28 MACs; second transform dense 3 nodes x 2 x 2 = 12 MACs
    assert terms["input_transform_as_adds"]["count"] == (10 if binary else 0)
    assert terms["macs"]["count"] == 28 + 12 + (0 if binary else 10)
    expected = 10 * CMOS45["fp32_add"].value_pj + 40 * CMOS45["fp32_mac"].value_pj if binary \
        else 50 * CMOS45["fp32_mac"].value_pj
    assert sum(t["energy_pj"] for t in terms.values()) == pytest.approx(expected)


def test_fair_ann_skips_hidden_zeros_at_their_measured_density():
    # a ReLU ANN whose hidden layer is 25% nonzero pays the second transform's MACs for those only:
    # 3 nodes x 2 x 2 = 12 dense -> 3; the input transform and the aggregations are unchanged
    net = _net()
    stats = graph_stats(net, prepare(net, [Sample("path", 3, EDGES, features=np.full((3, 3), 0.5))])[0])
    dense, sparse = fair_ann_terms(net, [stats]), fair_ann_terms(net, [stats], {"if1": 0.25})
    assert dense["macs"]["count"] - sparse["macs"]["count"] == 12 - 3


def test_snn_45nm_counts_neuron_updates_and_host_work():
    net = _net()
    windows = prepare(net, [Sample("path", 3, EDGES, features=np.ones((3, 3)))])
    counter = EventCounter(net, 3)
    run_reference(net, windows, observers=[counter])
    counts = counter.counts
    work = [{"encode_input": {"when": "per_inference", "ops": {"fp32_add": 100}, "what": ""}}]
    net.host = []
    from neurograph.compile.ir import HostStage
    net.host = [HostStage("encode_input", "per_inference", ["input"], {"fp32_add": 1}, per="nonzero_input_step")]
    report = energy_report(net, counts, [graph_stats(net, windows[0])], work)
    if1, readout = (next(p for p in counts.populations if p.name == n) for n in ("if1", "readout"))
    adds = if1.active_updates + readout.active_updates
    assert report["snn_45nm"]["terms"]["neuron_updates_as_adds"]["count"] == adds > 0
    assert report["snn_45nm"]["unpriced"]["spike_decisions_as_compares"] == if1.active_updates + if1.inactive_updates
    assert report["with_host"]["host_pj"] == pytest.approx(100 * CMOS45["fp32_add"].value_pj)
    assert report["with_host"]["snn_45nm_pj"] == pytest.approx(report["snn_45nm"]["total_pj"] + 90.0)
    assert "the ANN wins" in report["verdict"] or "less than the fair ANN" in report["verdict"]
    assert "lower bound" in report["chip_energy"]["where"]
