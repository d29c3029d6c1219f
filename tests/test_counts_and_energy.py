"""Event counts by hand on a tiny network, and energy totals recomputed from counts x constants."""
import numpy as np
import pytest
import scipy.sparse as sp

from neurograph.compile.ir import Input, Network, Population, Projection, Readout
from neurograph.sim.counters import count_events
from neurograph.sim.energy import CMOS45, ENERGY_TABLES, ann_macs, energy_report
from neurograph.sim.reference import run_reference

from conftest import make_fixed_network


def tiny_network():
    # 2 nodes, 2 input features -> relay (2 features) -> IF; graph 0<->1 plus self loops
    spikes = np.zeros((2, 2, 2), bool)
    spikes[0, 0, 0] = True                   # node 0, feature 0 spikes at step 1
    w = np.array([[10, 0], [0, 0]])          # feature 0 fans out to 1 relay feature (one nonzero)
    a = sp.csr_matrix(np.array([[1, 1], [0, 1]]))   # node 0 -> {0}; node 1 -> {0, 1}
    pops = [Population("relay", "relay", (2, 2), payload_bits=8),
            Population("if", "if", (2, 2), threshold=5, bias=np.zeros((2, 2), np.int64)),
            Population("relay_out", "relay", (2, 2), payload_bits=8),
            Population("out", "integrator", (2, 2))]
    projs = [Projection("w", "dense", "input", "relay", w), Projection("a", "graph", "relay", "if", a),
             Projection("w2", "dense", "if", "relay_out", np.eye(2, dtype=np.int64)),
             Projection("a2", "graph", "relay_out", "out", sp.csr_matrix(np.eye(2, dtype=np.int64)))]
    return Network("fixed", Input("input", spikes, "bernoulli", 0), pops, projs, Readout("out"))


def test_counts_by_hand():
    net = tiny_network()
    result = run_reference(net)
    counts = {p.name: p for p in count_events(net, result.spikes).projections}
    assert counts["w"].events == 1 and counts["w"].synaptic_ops == 1       # one spike x 1 nonzero weight
    assert counts["a"].events == 1 and counts["a"].graded                  # relay payload 10 at node 0
    assert counts["a"].synaptic_ops == 1                                   # node 0's column has one entry
    assert counts["a"].synaptic_ops_per_step == [0, 1, 0, 0, 0, 0]         # relay fires at step 2
    pops = {p.name: p for p in count_events(net, result.spikes).populations}
    assert pops["if"].events == 1 and pops["if"].events_per_step[3 - 1] == 1   # a_in 10 > 5 at step 3
    assert pops["if"].active_updates == 1 and pops["if"].inactive_updates == 2 * 2 * 6 - 1


def test_counts_by_hand_with_one_aggregation_matrix_per_attention_head():
    net = tiny_network()
    net.projections[0].weight = np.array([[10, 10], [0, 0]])     # node 0's relay fires both features
    head0, head1 = net.projections[1].weight, sp.csr_matrix(np.ones((2, 2), np.int64))
    net.projections[1].weight = [head0, head1]                   # feature 0 uses head0, feature 1 head1
    counts = {p.name: p for p in count_events(net, run_reference(net).spikes).projections}
    assert counts["a"].events == 2
    assert counts["a"].synaptic_ops == 1 + 2       # node 0's out-degree: 1 in head0, 2 in head1
    assert counts["a"].synapses == 3 + 4           # one feature per head x each head's edges
    assert ann_macs(net)["a"] == 3 + 4


def test_energy_totals_recompute_from_counts_and_constants():
    net = make_fixed_network(seed=5, nodes=30)
    counts = count_events(net, run_reference(net).spikes)
    report = energy_report(net, counts, "loihi1")
    table = ENERGY_TABLES["loihi1"]
    syn = sum(p.synaptic_ops for p in counts.projections)
    act = sum(p.active_updates for p in counts.populations)
    ina = sum(p.inactive_updates for p in counts.populations)
    spk = sum(p.events for p in counts.populations) + counts.projections[0].events
    expected = (syn * table["synaptic_op"].value_pj + act * table["neuron_update_active"].value_pj
                + ina * table["neuron_update_inactive"].value_pj + spk * table["spike"].value_pj)
    assert report["chip_energy"]["total_pj"] == pytest.approx(expected)
    assert sum(report["chip_energy"]["per_part_pj"].values()) == pytest.approx(expected)
    for term in report["chip_energy"]["terms"].values():
        assert term["energy_pj"] == pytest.approx(term["count"] * term["pj_per_event"]) and term["source"]
    macs = ann_macs(net)
    n, f_in = net.input.shape
    assert macs["transform1"] == n * f_in * net.population("relay1").shape[1]
    assert macs["aggregate1"] == net.projections[1].weight.nnz * net.population("relay1").shape[1]
    assert report["ann_45nm"]["total_pj"] == pytest.approx(sum(macs.values()) * CMOS45["fp32_mac"].value_pj)
    assert report["ratios"]["ann_over_snn_45nm"] == pytest.approx(
        report["ann_45nm"]["total_pj"] / report["snn_45nm"]["total_pj"])


def test_loihi2_has_counts_but_no_invented_energy():
    net = make_fixed_network(seed=5)
    counts = count_events(net, run_reference(net).spikes)
    loihi1, loihi2 = energy_report(net, counts, "loihi1"), energy_report(net, counts, "loihi2")
    assert loihi2["chip_energy"]["total_pj"] is None and loihi2["ratios"]["ann_45nm_over_chip"] is None
    for name, term in loihi2["chip_energy"]["terms"].items():
        assert term["energy_pj"] is None and term["count"] == loihi1["chip_energy"]["terms"][name]["count"]
    assert loihi2["chip_energy"]["terms"]["synaptic_ops"]["count"] > 0


def test_user_energy_table_replaces_the_chip_constants(tmp_path):
    import json
    from neurograph.sim.energy import load_energy_table
    table = {k: {"value_pj": v, "source": "my measurement"} for k, v in
             (("synaptic_op", 2.0), ("neuron_update_active", 3.0), ("neuron_update_inactive", 1.0), ("spike", 0.5))}
    path = tmp_path / "t.json"
    path.write_text(json.dumps(table))
    net = make_fixed_network(seed=5)
    counts = count_events(net, run_reference(net).spikes)
    report = energy_report(net, counts, "loihi2", load_energy_table(path), table_name="t.json")
    terms = report["chip_energy"]["terms"]
    assert report["chip"] == "t.json" and terms["synaptic_ops"]["source"] == "my measurement"
    assert report["chip_energy"]["total_pj"] == pytest.approx(
        2.0 * terms["synaptic_ops"]["count"] + 3.0 * terms["neuron_updates_active"]["count"]
        + 1.0 * terms["neuron_updates_inactive"]["count"] + 0.5 * terms["spikes"]["count"])
    del table["spike"]
    path.write_text(json.dumps(table))
    with pytest.raises(ValueError, match="lacks \\['spike'\\]"):
        load_energy_table(path)
