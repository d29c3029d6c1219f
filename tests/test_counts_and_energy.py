"""Event counts by hand on a tiny network, and energy totals recomputed from counts x constants."""
import numpy as np
import pytest

from neurograph.compile.ir import Input, Network, Population, Projection, Readout, host_work, validate
from neurograph.compile.samples import Sample
from neurograph.sim.counters import count_events
from neurograph.sim.energy import CMOS45, ENERGY_TABLES, ann_macs, energy_report
from neurograph.sim.reference import prepare, run_reference
from neurograph.sim.steps import graph_stats

from conftest import make_fixed_network, random_sample


def given(pairs, heads_values):
    """Edges (source, target) and their coefficients per head, for a host-computed ('attention') slot."""
    return np.array(pairs, dtype=np.int64).T, np.array(heads_values, dtype=np.float64).T


def tiny_network(a_heads=1):
    # 2 nodes, 2 input features -> relay (2 features) -> IF; coefficient scale 1: a coefficient 1 is mantissa 1
    w = np.array([[10, 0], [0, 0]])          # feature 0 fans out to 1 relay feature (one nonzero)
    pops = [Population("relay", "relay", 2, payload_bits=8),
            Population("if", "if", 2, threshold=5, bias=np.zeros(2, np.int64)),
            Population("relay_out", "relay", 2, payload_bits=8),
            Population("out", "integrator", 2)]
    projs = [Projection("w", "dense", "input", "relay", w),
             Projection("a", "graph", "relay", "if", rule="attention", heads=a_heads),
             Projection("w2", "dense", "if", "relay_out", np.eye(2, dtype=np.int64)),
             Projection("a2", "graph", "relay_out", "out", rule="attention")]
    return validate(Network("fixed", Input("input", 2, 2), pops, projs, Readout("out")))


def tiny_sample(a_edges, a_values):
    spikes = np.zeros((2, 2, 2), bool)
    spikes[0, 0, 0] = True                   # node 0, feature 0 spikes at step 1
    sample = Sample("tiny", 2, np.array([[0, 1], [1, 0]]), spikes=spikes)
    sample.coefficient_edges["a"], sample.coefficients["a"] = a_edges, a_values
    sample.coefficient_edges["a2"], sample.coefficients["a2"] = given([(0, 0), (1, 1)], [[1, 1]])   # identity
    return sample


def run_and_count(net, sample):
    windows = prepare(net, [sample])
    return windows, count_events(net, windows, run_reference(net, windows).spikes)


def test_counts_by_hand():
    net = tiny_network()
    # A[target, source] = [[1, 1], [0, 1]]: node 0 sends to {0}, node 1 to {0, 1}
    _, counts = run_and_count(net, tiny_sample(*given([(0, 0), (1, 0), (1, 1)], [[1, 1, 1]])))
    proj = {p.name: p for p in counts.projections}
    assert proj["w"].events == 1 and proj["w"].synaptic_ops == 1       # one spike x 1 nonzero weight
    assert proj["a"].events == 1 and proj["a"].graded                  # relay payload 10 at node 0
    assert proj["a"].synaptic_ops == 1                                   # node 0's column has one entry
    assert proj["a"].synaptic_ops_per_step == [0, 1, 0, 0, 0, 0]         # relay fires at step 2
    assert counts.steps == 6 and counts.input_spikes == 1               # T = 2 + a flush of 4
    pops = {p.name: p for p in counts.populations}
    assert pops["if"].events == 1 and pops["if"].events_per_step[3 - 1] == 1   # a_in 10 > 5 at step 3
    assert pops["if"].active_updates == 1 and pops["if"].inactive_updates == 2 * 2 * 6 - 1


def test_counts_by_hand_with_one_aggregation_matrix_per_attention_head():
    net = tiny_network(a_heads=2)
    net.projections[0].weight = np.array([[10, 10], [0, 0]])     # node 0's relay fires both features
    # feature 0 uses head 0 = [[1, 1], [0, 1]] (its zero coefficient is no synapse), feature 1 head 1 = all ones
    sample = tiny_sample(*given([(0, 0), (1, 0), (1, 1), (0, 1)], [[1, 1, 1, 0], [1, 1, 1, 1]]))
    windows, counts = run_and_count(net, sample)
    proj = {p.name: p for p in counts.projections}
    assert proj["a"].events == 2
    assert proj["a"].synaptic_ops == 1 + 2       # node 0's out-degree: 1 in head0, 2 in head1
    assert proj["a"].synapses == 3 + 4           # one feature per head x each head's edges
    assert ann_macs(net, [graph_stats(net, windows[0])])["a"] == 3 + 4


def counted(net, sample):
    windows, counts = run_and_count(net, sample)
    return counts, [graph_stats(net, w) for w in windows], [host_work(net, w.sample) for w in windows]


def test_energy_totals_recompute_from_counts_and_constants():
    sample = random_sample(5, nodes=30)
    net = make_fixed_network(seed=5, sample=sample)
    counts, graphs, work = counted(net, sample)
    report = energy_report(net, counts, graphs, work, "loihi1")
    table = ENERGY_TABLES["loihi1"]
    syn = sum(p.synaptic_ops for p in counts.projections)
    act = sum(p.active_updates for p in counts.populations)
    ina = sum(p.inactive_updates for p in counts.populations)
    assert counts.input_spikes == counts.projections[0].events
    spk = sum(p.events for p in counts.populations) + counts.input_spikes
    expected = (syn * table["synaptic_op"].value_pj + act * table["neuron_update_active"].value_pj
                + ina * table["neuron_update_inactive"].value_pj + spk * table["spike"].value_pj)
    assert report["chip_energy"]["total_pj"] == pytest.approx(expected)
    assert sum(report["chip_energy"]["per_part_pj"].values()) == pytest.approx(expected)
    for term in report["chip_energy"]["terms"].values():
        assert term["energy_pj"] == pytest.approx(term["count"] * term["pj_per_event"]) and term["source"]
    macs = ann_macs(net, graphs)
    n, f_in, f_hidden = 30, net.input.features, net.population("relay1").features
    assert macs["transform1"] == n * f_in * f_hidden
    # GCN aggregation: every edge (none is a self loop) plus one self loop per node, per feature
    assert macs["aggregate1"] == (sample.num_edges + n) * f_hidden
    assert report["ann_45nm"]["total_pj"] == pytest.approx(sum(macs.values()) * CMOS45["fp32_mac"].value_pj)
    # the 45 nm SNN by hand: binary synaptic ops as adds (0.9 pJ), graded ones as MACs (4.6 pJ), and an add
    # per active update of the non-relay populations (the relays' updates are their payloads)
    binary = sum(p.synaptic_ops for p in counts.projections if p.source in ("input", "if1"))
    graded = sum(p.synaptic_ops for p in counts.projections if p.source.startswith("relay"))
    updates = sum(p.active_updates for p in counts.populations if not p.name.startswith("relay"))
    snn = 0.9 * (binary + updates) + 4.6 * graded
    assert binary + graded == syn and report["snn_45nm"]["total_pj"] == pytest.approx(snn)
    assert report["ratios"]["ann_over_snn_45nm"] == pytest.approx(4.6 * sum(macs.values()) / snn)


def test_loihi2_has_counts_but_no_invented_energy():
    sample = random_sample(5)
    net = make_fixed_network(seed=5)
    counts, graphs, work = counted(net, sample)
    loihi1, loihi2 = (energy_report(net, counts, graphs, work, chip) for chip in ("loihi1", "loihi2"))
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
    counts, graphs, work = counted(net, random_sample(5))
    report = energy_report(net, counts, graphs, work, "loihi2", load_energy_table(path), table_name="t.json")
    terms = report["chip_energy"]["terms"]
    assert report["chip"] == "t.json" and terms["synaptic_ops"]["source"] == "my measurement"
    assert report["chip_energy"]["total_pj"] == pytest.approx(
        2.0 * terms["synaptic_ops"]["count"] + 3.0 * terms["neuron_updates_active"]["count"]
        + 1.0 * terms["neuron_updates_inactive"]["count"] + 0.5 * terms["spikes"]["count"])
    del table["spike"]
    path.write_text(json.dumps(table))
    with pytest.raises(ValueError, match="lacks \\['spike'\\]"):
        load_energy_table(path)
