"""Counting, energy and mapping rules pinned by hand where they matter (issue 17): fan-outs above one,
nonzero biases, a graded source, published constants written out as numbers, and nodes whose features
split across cores. Expected values follow the documented definitions (sim/counters.py,
../shared/notes/energy-and-chip-constants.md, compile/mapping.py), counted here by hand."""
import dataclasses

import numpy as np
import pytest

from neurograph.compile.graphs import bind
from neurograph.compile.ir import Input, IRError, Network, Population, Projection, Readout, validate
from neurograph.compile.mapping import ChipLimits, index_bits, map_network
from neurograph.compile.samples import Sample
from neurograph.sim.counters import count_events, merge_counts
from neurograph.sim.energy import ann_macs, energy_report, load_energy_table
from neurograph.sim.reference import prepare, run_reference
from neurograph.sim.steps import graph_stats

W = np.array([[1, 0, 2], [3, 4, 5]])            # input feature 0 fans out to 2 relay features, feature 1 to 3
O = np.array([[1], [0], [2]])                    # if feature 0 and 2 reach the readout, feature 1 does not
EDGES = np.array([[0, 0, 1], [1, 2, 2]])         # 0 -> 1, 0 -> 2, 1 -> 2: out-degrees 2, 1, 0 (mean: no loops)


def network(threshold=10):
    """input (2) -W-> relay r (3, graded) -mean-> IF p (3, bias on features 0 and 2) -O-> readout (1)."""
    return validate(Network("fixed", Input("input", 2, 2), [
        Population("r", "relay", 3, payload_bits=12),
        Population("p", "if", 3, threshold=threshold, bias=np.array([7, 0, -2])),
        Population("readout", "integrator", 1)],
        [Projection("w", "dense", "input", "r", W),
         Projection("a", "graph", "r", "p", rule="mean", coefficient_scale=255),
         Projection("o", "dense", "p", "readout", O)], Readout("readout")))


def sample():
    spikes = np.zeros((2, 3, 2), bool)
    spikes[0, 0, 0] = spikes[0, 1, 1] = True     # step 1: node 0 feature 0, node 1 feature 1
    spikes[1, 0, 1] = True                       # step 2: node 0 feature 1
    return Sample("s", 3, EDGES, spikes=spikes)


def counted(net):
    windows = prepare(net, [sample()])
    run = run_reference(net, windows)
    counts = count_events(net, windows, run.spikes)
    return (windows, run, counts, {p.name: p for p in counts.projections},
            {p.name: p for p in counts.populations})


def test_counts_by_hand_with_fan_out_biases_and_a_graded_source():
    net = network()
    _, run, counts, proj, pops = counted(net)
    steps = 2 + 3                                 # T = 2, plus three synaptic delays to the readout
    assert counts.steps == steps and counts.input_spikes == 3
    # w: 2 spikes at step 1 (fan-outs 2 and 3), 1 spike at step 2 (fan-out 3)
    assert (proj["w"].events, proj["w"].synaptic_ops, proj["w"].graded) == (3, 8, False)
    assert proj["w"].synaptic_ops_per_step == [5, 3, 0, 0, 0] and proj["w"].synapses == 3 * 5
    # r forwards W's rows: step 2 node 0 [1, 0, 2] and node 1 [3, 4, 5], step 3 node 0 [3, 4, 5]
    assert pops["r"].events == 8 and pops["r"].events_per_step == [0, 5, 3, 0, 0]
    assert pops["r"].active_updates == 8 and pops["r"].inactive_updates == 3 * 3 * steps - 8
    # a: each payload goes to its node's out-edges: node 0 (2), node 1 (1); graded (a payload per op)
    assert (proj["a"].events, proj["a"].graded) == (8, True)
    assert proj["a"].synaptic_ops_per_step == [0, 2 * 2 + 3 * 1, 3 * 2, 0, 0] and proj["a"].synapses == 3 * 3
    # p: features 0 and 2 have a bias, so all 3 nodes update them actively every step; feature 1 receives
    # input at step 3 (node 2, from node 1's 4) and step 4 (nodes 1 and 2, from node 0's 4)
    assert pops["p"].active_updates == 3 * 2 * steps + 1 + 2
    assert pops["p"].inactive_updates == 3 * 3 * steps - pops["p"].active_updates
    # o and the readout follow p's spikes: every spike is an event, only features 0 and 2 have a synapse
    raster = run.raster("p")                                          # (steps, nodes, features)
    assert raster.sum() > 0 and raster[:, :, 1].sum() > 0             # the test network fires, feature 1 too
    assert proj["o"].events == raster.sum() == pops["p"].events
    assert proj["o"].synaptic_ops == raster[:, :, 0].sum() + raster[:, :, 2].sum()
    readout_active = int((raster[:-1, :, 0] | raster[:-1, :, 2]).sum())   # input arrives one step later
    assert pops["readout"].active_updates == readout_active
    assert pops["readout"].inactive_updates == 3 * steps - readout_active
    assert pops["p"].firing_rate == raster.sum() / (3 * 3 * steps)
    assert [p.neurons for p in counts.populations] == [3 * 3, 3 * 3, 3 * 1]


def test_counts_merge_by_summing_and_keep_each_runs_steps():
    net = network()
    *_, counts, _, _ = counted(net)
    total = merge_counts([counts, counts])
    assert total.steps == 2 * counts.steps and total.input_spikes == 2 * counts.input_spikes
    assert [p.name for p in total.projections] == ["w", "a", "o"]
    assert [p.name for p in total.populations] == ["r", "p", "readout"]
    for merged, one in zip(total.projections, counts.projections):
        assert (merged.events, merged.synaptic_ops, merged.synapses) == (2 * one.events, 2 * one.synaptic_ops,
                                                                         one.synapses)
        assert merged.synaptic_ops_per_step == one.synaptic_ops_per_step * 2
    for merged, one in zip(total.populations, counts.populations):
        assert (merged.events, merged.active_updates, merged.inactive_updates, merged.neurons) == \
            (2 * one.events, 2 * one.active_updates, 2 * one.inactive_updates, one.neurons)


def test_loihi1_energy_by_hand_with_the_published_constants():
    net = network()
    windows, run, counts, proj, pops = counted(net)
    report = energy_report(net, counts, [graph_stats(net, w) for w in windows], [{}], "loihi1")
    spikes = int(run.raster("p").sum())
    synops = 8 + 13 + proj["o"].synaptic_ops
    active = sum(p.active_updates for p in pops.values())
    inactive = sum(p.inactive_updates for p in pops.values())
    events = 3 + 8 + spikes                                            # input spikes, payloads, p's spikes
    terms = report["chip_energy"]["terms"]
    # Davies et al. 2018, Table 2: 23.6 pJ per synaptic op, 81 / 52 pJ per active / inactive update, 1.7 pJ per spike
    assert terms["synaptic_ops"]["count"] == synops and terms["synaptic_ops"]["energy_pj"] == pytest.approx(23.6 * synops)
    assert terms["neuron_updates_active"]["energy_pj"] == pytest.approx(81.0 * active)
    assert terms["neuron_updates_inactive"]["energy_pj"] == pytest.approx(52.0 * inactive)
    assert terms["spikes"]["count"] == events and terms["spikes"]["energy_pj"] == pytest.approx(1.7 * events)
    assert report["chip_energy"]["total_pj"] == pytest.approx(23.6 * synops + 81 * active + 52 * inactive
                                                              + 1.7 * events)
    per_part = report["chip_energy"]["per_part_pj"]
    assert per_part["w"] == pytest.approx(23.6 * 8) and per_part["a"] == pytest.approx(23.6 * 13)
    assert per_part["input"] == pytest.approx(1.7 * 3)
    assert per_part["r"] == pytest.approx(81 * 8 + 52 * (45 - 8) + 1.7 * 8)
    # 45 nm (Horowitz 2014): binary ops (w, o) as 0.9 pJ adds, graded ones (a) as 4.6 pJ MACs, and a 0.9 pJ add
    # per active update of the non-graded populations (p and the readout; the relay's are its payloads)
    snn = 0.9 * (8 + proj["o"].synaptic_ops) + 4.6 * 13 + 0.9 * (pops["p"].active_updates
                                                                 + pops["readout"].active_updates)
    assert report["snn_45nm"]["total_pj"] == pytest.approx(snn)
    # the ANN: W is 3 nodes x 2 x 3 MACs, the mean aggregation 3 edges x 3 features, O 3 x 3 x 1
    assert ann_macs(net, [graph_stats(net, w) for w in windows]) == {"w": 18, "a": 9, "o": 9}
    assert report["ann_45nm"]["total_pj"] == pytest.approx(4.6 * 36)
    assert report["ratios"]["ann_over_snn_45nm"] == pytest.approx(4.6 * 36 / snn)
    assert report["ratios"]["ann_45nm_over_chip"] == pytest.approx(4.6 * 36 / report["chip_energy"]["total_pj"])
    assert report["snn_45nm_all_accumulates"]["total_pj"] == pytest.approx(0.9 * synops)


def test_sparse_input_ann_counts_only_the_nonzero_input_features():
    net = network()
    windows, *_ = counted(net)
    graphs = [graph_stats(net, w) for w in windows]
    # the sample's raster: node 0 uses both input features, node 1 one -> 3 nonzero inputs x 3 relay features
    assert graphs[0]["input_nonzero"] == 3
    assert ann_macs(net, graphs, sparse_input=True) == {"w": 3 * 3, "a": 9, "o": 9}


@pytest.mark.parametrize("entry, message", [
    ({"value_pj": 0, "source": "x"}, "positive finite"),
    ({"value_pj": -1.0, "source": "x"}, "positive finite"),
    ({"value_pj": True, "source": "x"}, "positive finite"),
    ({"value_pj": float("inf"), "source": "x"}, "positive finite"),
    ({"value_pj": "1", "source": "x"}, "positive finite"),
    ({"value_pj": 1.0, "source": " "}, "must name where"),
    ({"value_pj": 1.0}, "must name where"),
    (2.0, "positive finite"),
])
def test_a_user_energy_table_needs_positive_values_with_sources(tmp_path, entry, message):
    import json
    table = {k: {"value_pj": 1.0, "source": "s"} for k in
             ("synaptic_op", "neuron_update_active", "neuron_update_inactive", "spike")}
    table["spike"] = entry
    path = tmp_path / "t.json"
    path.write_text(json.dumps(table))
    with pytest.raises(ValueError, match=f"spike.*{message}"):
        load_energy_table(path)
    table["spike"] = {"value_pj": 0.25, "source": "s", "note": "n"}
    path.write_text(json.dumps(table))
    loaded = load_energy_table(path)
    assert loaded["spike"].value_pj == 0.25 and loaded["spike"].note == "n"
    with pytest.raises(ValueError, match="is not readable JSON .FileNotFoundError."):
        load_energy_table(tmp_path / "missing.json")


# ---- mapping with nodes split across cores --------------------------------------------------------
def synapse_bits(compartments):
    """An 8-bit weight and the target index nengo-loihi sizes for a core of `compartments`."""
    return 8 + index_bits(compartments)


def limits(compartments, axons=None, synapses=1 << 20, cores_per_chip=128):
    """A test chip whose cores hold `synapses` whole synapses."""
    return ChipLimits(name="test", compartments_per_core=compartments,
                      memory_bits_per_core=synapses * synapse_bits(compartments), input_axons_per_core=axons,
                      cores_per_chip=cores_per_chip, weight_bits=8, source="test")


def mapped(chip, **kw):
    net = network()
    return {p.population: p for p in map_network(net, bind(net, sample()), limits=chip, **kw).populations}


def test_a_node_split_across_cores_counts_its_input_axons_once_per_core():
    # r: 3 nodes x 3 features, 2 compartments per core, so every node's features split. A core's input axons
    # are the distinct (node, input feature) pairs its compartments read: node 0's features 0 and 1 read
    # input features {0, 1} and {1}: 2 axons together, not 3
    r = mapped(limits(2, axons=2))["r"]
    # cores: [0.0, 0.1] (2 axons), [0.2] (node 1 would add 2 more), [1.0, 1.1], [1.2], [2.0, 2.1], [2.2]
    assert r.cores == 6 and r.limited_by == "compartments"
    assert r.synapses == r.stored_synapses == 3 * 5                 # each node stores W's 5 nonzero weights
    assert r.compartment_utilisation == pytest.approx(9 / 12)
    assert mapped(limits(2))["r"].cores == 5                         # without an axon limit: ceil(9 / 2)


def test_whole_nodes_share_a_core_until_the_input_axons_run_out():
    r = mapped(limits(6, axons=4))["r"]                              # 2 nodes (4 axons) per core
    assert r.cores == 2 and r.limited_by == "compartments"
    r = mapped(limits(6, axons=3))["r"]                              # 2 axons per node: one node per core
    assert r.cores == 3 and r.limited_by == "input axons"
    # a node's 3 features stay together when they fit an empty core: one node per 5-compartment core
    assert mapped(limits(5))["r"].cores == 3
    # node 1 would fill the synaptic memory exactly (5 + 5 of 10) but needs 2 more axons: axons close the core
    r = mapped(limits(9, axons=2, synapses=10))["r"]
    assert r.cores == 3 and r.limited_by == "input axons"


def test_synapse_memory_limits_a_core_and_utilisation_counts_it():
    # p (graph-fed, mean rule): node 0 has no in-edge, node 1 one, node 2 two, per feature: 9 synapses
    p = mapped(limits(9, synapses=4))["p"]
    # node 0 (0 synapses) and node 1 (3) fit 4; node 2 needs 6 > 4, so its features go one by one (2 each):
    # [node 0, node 1], [2.0, 2.1], [2.2]
    assert (p.synapses, p.stored_synapses) == (9, 9)
    assert p.cores == 3 and p.limited_by == "memory"
    assert p.memory_utilisation == pytest.approx(9 / (3 * 4))
    odd = dataclasses.replace(limits(9), memory_bits_per_core=4 * synapse_bits(9) + 7)   # still 4 whole synapses
    p = mapped(odd)["p"]
    assert p.cores == 3 and p.memory_utilisation == pytest.approx(9 * synapse_bits(9) / (3 * (4 * synapse_bits(9) + 7)))
    # one synapse per core: r's first compartment reads input features 0 and 1 (W's column 0 is [1, 3])
    with pytest.raises(IRError, match=rf"population '\w+', node 0, feature 0: a fan-in needing {2 * synapse_bits(9)} "
                                      rf"bits exceeds a core's {synapse_bits(9)} bits"):
        mapped(limits(9, synapses=1))
    # two synapses fit exactly, its two presynaptic inputs do not fit one axon
    with pytest.raises(IRError, match=r"population '\w+', node 0, feature 0: 2 presynaptic inputs exceed a core's 1 "
                                      "input axons"):
        mapped(limits(9, axons=1, synapses=2))


def test_cores_fill_chips_in_order():
    net = network()
    loihi1 = map_network(net, bind(net, sample()))
    assert [(p.cores, p.limited_by) for p in loihi1.populations] == [(1, "fits one core")] * 3 and loihi1.chips == 1
    m = map_network(net, bind(net, sample()), limits=limits(1, cores_per_chip=4))
    assert [p.cores for p in m.populations] == [9, 9, 3] and m.cores == 21 and m.chips == 6      # ceil(21 / 4)


# ---- host work, ratios and the verdict ---------------------------------------------------------------
def test_host_stages_are_priced_per_unit_and_only_per_sample_work_joins_the_totals():
    from neurograph.compile.ir import HostStage, host_work
    net = network()
    net.host = [HostStage("encode", "per_inference", ["input"], {"fp32_add": 2, "exp": 1}, per="node"),
                HostStage("bind", "per_graph", ["a"], {"fp32_mac": 1}, per="edge"),
                HostStage("compile", "once", [], {"int32_add": 5})]
    windows, run, counts, proj, pops = counted(validate(net))
    graphs, work = [graph_stats(net, w) for w in windows], [host_work(net, w.sample) for w in windows]
    # 3 nodes; 3 distinct edges + a self loop per node = 6 edge units
    assert work[0]["encode"]["ops"] == {"fp32_add": 6, "exp": 3} and work[0]["bind"]["ops"] == {"fp32_mac": 6}
    report = energy_report(net, counts, graphs, work, "loihi1")
    host = report["host"]
    # Horowitz 2014: fp32 add 0.9 pJ, fp32 MAC 4.6 pJ, int32 add 0.1 pJ; exp has no constant: unpriced
    assert host["per_inference_pj"] == pytest.approx(6 * 0.9) and host["stages"]["encode"]["unpriced_ops"] == {"exp": 3}
    assert host["per_graph_pj"] == pytest.approx(6 * 4.6) and host["once_pj"] == pytest.approx(5 * 0.1)
    assert report["constants"]["int32_add"]["value_pj"] == 0.1
    snn, chip = report["snn_45nm"]["total_pj"], report["chip_energy"]["total_pj"]
    per_sample = 6 * 0.9 + 6 * 4.6                                     # the compile-once work is not per sample
    assert report["with_host"]["host_pj"] == pytest.approx(per_sample)
    assert report["with_host"]["snn_45nm_pj"] == pytest.approx(snn + per_sample)
    assert report["with_host"]["chip_pj"] == pytest.approx(chip + per_sample)
    # the ANNs: dense 36 MACs; only the 3 nonzero inputs: 27; the fair ANN (inputs not binary features): 27 MACs
    dense, sparse = 36 * 4.6, 27 * 4.6
    ratios = report["ratios"]
    expected = {"ann_over_snn_45nm": dense / snn, "sparse_ann_over_snn_45nm": sparse / snn,
                "ann_45nm_over_chip": dense / chip, "sparse_ann_45nm_over_chip": sparse / chip,
                "fair_ann_over_snn_45nm": sparse / snn, "ann_over_snn_45nm_with_host": dense / (snn + per_sample),
                "fair_ann_over_snn_45nm_with_host": sparse / (snn + per_sample),
                "fair_ann_45nm_over_chip_with_host": sparse / (chip + per_sample),
                "ann_over_snn_45nm_all_accumulates": dense / report["snn_45nm_all_accumulates"]["total_pj"]}
    assert {k: ratios[k] for k in expected} == pytest.approx(expected)
    assert report["fair_ann_45nm"]["total_pj"] == pytest.approx(sparse)
    assert report["ann_45nm_sparse_input"]["total_pj"] == pytest.approx(sparse)


def test_graded_payloads_priced_with_loihi1_constants_are_named_as_a_caveat():
    net = network()
    windows, run, counts, proj, pops = counted(net)
    graphs = [graph_stats(net, w) for w in windows]
    caveat = "graded payloads are a Loihi 2 feature"
    loihi1, loihi2 = (energy_report(net, counts, graphs, [{}], chip) for chip in ("loihi1", "loihi2"))
    assert any(caveat in c for c in loihi1["not_modelled"]) and not any(caveat in c for c in loihi2["not_modelled"])
    # Davies 2018's minimum per-op energies make Loihi 1's total a lower bound; Loihi 2 has no energies at all
    assert "lower bound" in loihi1["chip_energy"]["where"] and loihi2["chip_energy"]["where"] == "on chip"


def test_the_verdict_compares_with_the_fair_ann_in_microjoules():
    from neurograph.sim.energy import verdict
    assert verdict(2e6, 8e6, None) == ("the SNN at 45 nm with host work (2.00 uJ) costs 4.00x less than the fair "
                                       "ANN; the SNN on chip (lower bound) with host work: no chip energies for "
                                       "this chip")
    assert verdict(1.2345675e10, 4 * 1.2345675e10, None).startswith(      # six digits survive the rounding
        "the SNN at 45 nm with host work (12,345.67 uJ) costs 4.00x less than the fair ANN")
    assert verdict(4 * 1.2345675e10, 1.2345675e10, None).startswith(
        "the fair ANN (12,345.67 uJ) costs 4.00x less than the SNN at 45 nm with host work (49,382.70 uJ)")
    assert verdict(5e6, 2e6, None).startswith("the fair ANN (2.00 uJ) costs 2.50x less than")
    assert verdict(8e6, 2e6, 2e6) == (
        "the fair ANN (2.00 uJ) costs 4.00x less than the SNN at 45 nm with host work (8.00 uJ): the ANN wins; "
        "the fair ANN (2.00 uJ) costs 1.00x less than the SNN on chip (lower bound) with host work (2.00 uJ): "
        "the ANN wins")


def test_the_host_computes_the_input_current_once_per_window():
    from conftest import make_fixed_network, random_sample
    from neurograph.compile.current import input_as_current
    from neurograph.sim.counters import EventCounter
    sample = random_sample(1, nodes=12)
    sample.features = (sample.features > 0).astype(float)            # binary: the same raster every step
    plain = make_fixed_network(seed=1, sample=sample, steps=1)       # one input step: the host's is that one
    net = input_as_current(plain)

    def counts_of(network, windows):
        counter = EventCounter(network, sample.num_nodes)
        run_reference(network, prepare(network, [sample] * windows), observers=[counter])
        return counter.counts
    one, two, chip = counts_of(net, 1), counts_of(net, 2), counts_of(plain, 1)
    ops = {p.name: p.synaptic_ops_per_step for p in chip.projections}
    # on chip the input transform works at every input step and the aggregation one step later; the host does
    # one step's worth of each per window
    assert one.host_ops == {"fp32_add": ops["transform1"][0], "fp32_mac": ops["aggregate1"][1]}
    assert one.host_ops["fp32_add"] > 0 and one.host_ops["fp32_mac"] > 0
    assert two.host_ops == {k: 2 * v for k, v in one.host_ops.items()}
    assert sum(p.events for p in one.projections if p.on_host) == 0 and one.input_spikes == 0
    # priced at 45 nm as the host's work for the sample: adds 0.9 pJ, MACs 4.6 pJ
    from neurograph.sim.energy import host_energy
    host = host_energy(net, [], one.host_ops)
    expected = 0.9 * one.host_ops["fp32_add"] + 4.6 * one.host_ops["fp32_mac"]
    assert host["stages"]["input_current"]["total_pj"] == pytest.approx(expected)
    assert host["per_inference_pj"] == pytest.approx(expected) and host["per_graph_pj"] == 0.0


def test_chip_limits_are_the_published_ones():
    from neurograph.compile.mapping import CHIP_LIMITS
    # nengo-loihi's validation limits for Loihi 1: 1,024 compartments, 4,096 input axons and 1,048,576 bits of
    # synaptic memory per core, 8-bit weights; 128 cores per chip (WikiChip). Loihi 2: 8,192 neurons per core
    # (1,048,576 over 128 cores, Intel's brief as quoted), input axons not published
    loihi1, loihi2 = CHIP_LIMITS["loihi1"], CHIP_LIMITS["loihi2"]
    assert (loihi1.compartments_per_core, loihi1.input_axons_per_core, loihi1.output_axons_per_core,
            loihi1.memory_bits_per_core, loihi1.weight_bits, loihi1.cores_per_chip) == (1024, 4096, 4096, 1_048_576, 8, 128)
    assert (loihi2.compartments_per_core, loihi2.input_axons_per_core, loihi2.cores_per_chip) == (8192, None, 128)
    assert loihi2.memory_bits_per_core == 192 * 1024 * 8           # the commonly quoted 192 KB, stated as used
    assert loihi2.weight_bits == 8 and loihi2.state_bits_per_compartment == 48
    # nengo-loihi's index widths: a 1,024-compartment core needs 10 bits, Loihi 2's 8,192 13
    assert (index_bits(1024), index_bits(8192)) == (10, 13)
    assert "nengo-loihi" in loihi1.source and "unverified" in loihi2.source


def test_a_gat_baseline_adds_two_macs_per_node_and_feature_for_attention_scores():
    net = network()
    windows, *_ = counted(net)
    net.metadata["aggregation"] = "attention"
    assert ann_macs(net, [graph_stats(net, w) for w in windows]) == {"w": 18, "a": 9, "a.attention_scores": 2 * 3 * 3,
                                                                      "o": 9}


def test_the_fair_ann_adds_binary_inputs_in_its_first_transform_only():
    from neurograph.sim.energy import fair_ann_terms
    net = network()
    features = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])     # binary: 3 nonzero inputs
    graphs = [graph_stats(net, w) for w in prepare(net, [Sample("f", 3, EDGES, features=features)])]
    terms = fair_ann_terms(net, graphs)
    # W (input -> r, 3 features): 3 nonzero x 3 adds; the aggregation 9 MACs and O (3 nodes x 3 x 1) 9 MACs
    assert terms["input_transform_as_adds"]["count"] == 3 * 3 and terms["macs"]["count"] == 9 + 9


def test_index_bits_follow_nengo_loihis_widths_and_placement_is_8_columns():
    # nengo-loihi's index widths (6..12 bits, the smallest that holds ceil(log2(compartments))), plain beyond
    assert [index_bits(c) for c in (1, 2, 64, 65, 1024, 1025, 2048, 2049, 4096, 8192)] == \
        [6, 6, 6, 7, 10, 11, 11, 12, 12, 13]
    from neurograph.compile.mapping import CHIP_LIMITS
    assert CHIP_LIMITS["loihi1"].mesh_columns == CHIP_LIMITS["loihi2"].mesh_columns == 8


def test_loihi2_memory_holds_synapses_and_neuron_state_together():
    from neurograph.compile.mapping import CHIP_LIMITS
    loihi2 = CHIP_LIMITS["loihi2"]
    for p in mapped(loihi2).values():
        assert p.state_bits == p.compartments * 48
        assert p.synapse_bits == p.stored_synapses * (8 + index_bits(8192))
        assert p.memory_utilisation == pytest.approx((p.synapse_bits + p.state_bits) / (p.cores * 192 * 1024 * 8))


def test_the_relay_of_a_host_computed_input_current_takes_no_core():
    from neurograph.compile.current import input_as_current
    from neurograph.compile.mapping import on_chip_populations
    assert [p.name for p in on_chip_populations(network())] == ["r", "p", "readout"]
    assert [p.name for p in on_chip_populations(input_as_current(network()))] == ["p", "readout"]


def test_with_weight_sharing_a_node_that_exactly_fills_a_core_stays_whole():
    # r has 3 features: on 3-compartment cores a whole node fits exactly, so nodes are packed whole (node-major),
    # not feature by feature across nodes (the order for nodes too big for a core)
    r = mapped(limits(3), share_weights=True)["r"]
    assert r.cores == 3 and all(len(set(row)) == 1 for row in r.core_of.tolist())
