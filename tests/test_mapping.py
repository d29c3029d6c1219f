"""Chip mapping: hand-checkable core counts, splitting across chips, unsplittable fan-ins and fan-outs,
the memory split, and spike messages and hops on a placement, recounted by hand."""
import dataclasses
import json

import numpy as np
import pytest

from neurograph.compile.graphs import bind
from neurograph.compile.ir import Input, IRError, Network, Population, Projection, Readout
from neurograph.compile.mapping import CHIP_LIMITS, map_network
from neurograph.compile.samples import Sample

from conftest import make_fixed_network, random_sample

LOIHI1 = CHIP_LIMITS["loihi1"]


def chain(nodes, f_in, f_out, adjacency=None):
    """input --dense (all-ones W)--> relay (f_out) --graph--> integrator, bound to a graph of `nodes`
    nodes whose aggregation is the 0/1 matrix `adjacency` (A[target, source]; default the identity)."""
    pops = [Population("relay", "relay", f_out, payload_bits=16), Population("out", "integrator", f_out)]
    projs = [Projection("w", "dense", "input", "relay", np.ones((f_in, f_out), np.int64)),
             Projection("a", "graph", "relay", "out", rule="attention")]     # coefficient scale 1: 1 -> mantissa 1
    net = Network("fixed", Input("input", f_in, 1), pops, projs, Readout("out"))
    if adjacency is None:
        dst = src = np.arange(nodes)
    else:
        dst, src = np.nonzero(adjacency)
    edges = np.stack([src, dst]).astype(np.int64)
    sample = Sample("g", nodes, edges, spikes=np.zeros((1, nodes, f_in), bool),
                    coefficient_edges={"a": edges}, coefficients={"a": np.ones((edges.shape[1], 1))})
    return net, bind(net, sample)


def test_compartment_limit_by_hand():
    # 3000 nodes x 1 feature, 1 synapse each: 1024 compartments per core -> 3 cores per population
    m = map_network(*chain(3000, 1, 1))
    assert [p.cores for p in m.populations] == [3, 3] and m.chips == 1
    assert m.populations[0].limited_by == "compartments"


def test_synapse_memory_limit_by_hand():
    # each node: 10 features x 1000 synapses = 10,000 synapses, each an 8-bit weight and a 10-bit index
    # (1,024 compartments: ceil(log2 1024) = 10, a width nengo-loihi's format has) = 180,000 bits -> 5 nodes
    # per core (1,048,576 bits), and 1000 input axons per node -> 4 nodes per core: axons bind first
    m = map_network(*chain(40, 1000, 10))
    assert m.populations[0].cores == 10 and m.populations[0].limited_by == "input axons"
    roomy = dataclasses.replace(LOIHI1, input_axons_per_core=None)
    m = map_network(*chain(40, 1000, 10), limits=roomy)
    assert m.populations[0].cores == 8 and m.populations[0].limited_by == "memory"     # 40 / 5
    assert m.populations[0].synapse_bits == 40 * 10_000 * 18 and m.populations[0].state_bits == 0


@pytest.mark.slow          # 400,000 nodes packed one by one: about 10 s
def test_network_larger_than_a_chip_is_split_across_chips():
    m = map_network(*chain(200_000, 1, 1))       # 196 cores per population, 392 cores
    assert m.cores == 2 * 196 and m.chips == 4


def test_fan_in_beyond_a_core_is_an_error_naming_population_and_limit():
    tiny = dataclasses.replace(LOIHI1, memory_bits_per_core=18 * 100, input_axons_per_core=None)
    with pytest.raises(IRError, match=r"population 'relay'.*fan-in needing 9,000 bits exceeds.*cannot be split"):
        map_network(*chain(2, 500, 1), limits=tiny)
    with pytest.raises(IRError, match=r"5,000 presynaptic inputs exceed a core's 4,096 input axons"):
        map_network(*chain(2, 5000, 1))


def test_graph_axons_count_distinct_neighbours():
    # node 0 receives from all 10 nodes (30 axons over 3 features); nodes 1..9 only from themselves,
    # inputs node 0 already brought in: distinct axons stay 30, while a plain sum would be 57
    a = np.vstack([np.ones((1, 10)), np.eye(10)[1:]])
    limits = dataclasses.replace(LOIHI1, input_axons_per_core=30)
    out = map_network(*chain(10, 1, 3, adjacency=a), limits=limits).populations[1]
    assert out.synapses == 19 * 3 and out.cores == 1
    tighter = dataclasses.replace(LOIHI1, input_axons_per_core=32)
    star_last = np.vstack([np.eye(10)[1:], np.ones((1, 10))])
    # node 9 (the hub) last: nodes 0..8 bring 27 distinct axons, the hub adds 3 more new ones -> still fits 32
    assert map_network(*chain(10, 1, 3, adjacency=star_last), limits=tighter).populations[1].cores == 1


def test_mapping_of_a_compiled_network_and_loihi2_has_more_room():
    net = make_fixed_network(seed=0, hidden=8)
    binding = bind(net, random_sample(0, nodes=300))           # if1: 300 x 8 = 2,400 compartments
    one, two = map_network(net, binding, "loihi1"), map_network(net, binding, "loihi2")
    if1_on = {m.chip.name: next(p for p in m.populations if p.population == "if1") for m in (one, two)}
    assert if1_on["loihi1"].cores == 3 and if1_on["loihi1"].limited_by == "compartments"   # ceil(2400 / 1024)
    assert if1_on["loihi2"].cores == 1
    assert one.cores > two.cores


def test_mapping_needs_the_fixed_point_network():
    from conftest import make_float_network
    net = make_float_network()
    with pytest.raises(IRError, match="fixed-point"):
        map_network(net, bind(net, random_sample(0)))


def test_index_bits_as_nengo_loihi_sizes_them():
    from neurograph.compile.mapping import index_bits
    # ceil(log2(compartments)), rounded up to a width of nengo-loihi's INDEX_BITS_MAP (6..12); beyond, as is
    assert [index_bits(c) for c in (8, 64, 65, 100, 1024, 4096, 8192)] == [6, 6, 7, 7, 10, 12, 13]


def test_loihi2_memory_is_shared_by_synapses_and_neuron_state():
    # one synapse per compartment at 8 + 13 bits (8,192-compartment cores) plus 48 bits of state: 69 bits each,
    # so 1,000 bits hold 14 compartments -> 40 nodes need 3 cores; with the state elsewhere, 47 fit one core
    tight = dataclasses.replace(CHIP_LIMITS["loihi2"], memory_bits_per_core=1000)
    relay = map_network(*chain(40, 1, 1), limits=tight).populations[0]
    assert relay.cores == 3 and relay.limited_by == "memory"
    assert (relay.synapse_bits, relay.state_bits) == (40 * 21, 40 * 48)
    separate = dataclasses.replace(tight, state_bits_per_compartment=0)
    assert map_network(*chain(40, 1, 1), limits=separate).populations[0].cores == 1


# A hand-placed network for messages and hops: 2 nodes x 4 features, 3 compartments per core, so every
# node is split one feature at a time. A[target, source] = [[1, 1], [0, 1]]: node 1's events reach both
# nodes (fan-out 2), node 0's only node 0. Both populations pack alike (out first, then relay):
#   core_of = [[0, 0, 0, 1], [1, 1, 2, 2]]; globally relay holds cores 0-2, out cores 3-5.
# Two cores per chip, one mesh column: core g sits at x = g // 2 (its chip), y = g % 2.
SPLIT = dataclasses.replace(LOIHI1, compartments_per_core=3, cores_per_chip=2, mesh_columns=1,
                            input_axons_per_core=None, output_axons_per_core=None)
STAR = np.array([[1, 1], [0, 1]])


def test_messages_and_hops_per_compartment_by_hand():
    from neurograph.compile.mapping import Placement
    net, binding = chain(2, 1, 4, adjacency=STAR)
    m = map_network(net, binding, limits=SPLIT)
    assert [p.core_of.tolist() for p in m.populations] == [[[0, 0, 0, 1], [1, 1, 2, 2]]] * 2
    assert m.cores == 6 and m.chips == 3
    routes = Placement(m).routes(net, binding)
    # relay (0, k) reaches out (0, k) only: core 3 for k < 3 (from core 0 at (0,0) to (1,1): 1 + 1 hops),
    # core 4 for k = 3 (from core 1 at (0,1) to (2,0): 2 east-west, 1 north-south).
    # relay (1, k) reaches out (0, k) and out (1, k): k = 0, 1: cores {3, 4} from core 1 -> (1 + 2, 0 + 1);
    # k = 2: cores {3, 5} from core 2 at (1,0) -> (0 + 1, 1 + 1); k = 3: cores {4, 5} from core 2 -> (1 + 1, 0 + 1)
    relay = routes["relay"]
    assert relay.messages.tolist() == [[1, 1, 1, 1], [2, 2, 2, 2]]
    assert relay.hops_east_west.tolist() == [[1, 1, 1, 2], [3, 3, 1, 2]]
    assert relay.hops_north_south.tolist() == [[1, 1, 1, 1], [1, 1, 2, 1]]
    # the input (from the host) reaches each node's relay compartments: node 0 on cores {0, 1}, node 1 on {1, 2}
    assert routes["input"].messages.tolist() == [[2], [2]] and not routes["input"].hops_east_west.any()
    assert not routes["out"].messages.any()                  # the readout population sends nothing


def test_a_run_counts_messages_per_event_and_prices_them_per_hop(tmp_path):
    from neurograph.compile.mapping import Placement
    from neurograph.sim.counters import MessageCounter, count_events
    from neurograph.sim.energy import energy_report, load_energy_table
    from neurograph.sim.reference import prepare, run_reference
    net, _ = chain(2, 1, 4, adjacency=STAR)
    edges = np.stack(np.nonzero(STAR)[::-1]).astype(np.int64)
    spikes = np.zeros((1, 2, 1), bool)
    spikes[0, 1, 0] = True                                   # node 1's input spikes once
    sample = Sample("g", 2, edges, spikes=spikes, coefficient_edges={"a": edges},
                    coefficients={"a": np.ones((edges.shape[1], 1))})
    windows = prepare(net, [sample])
    placement = Placement(map_network(net, windows[0].binding, limits=SPLIT))
    counter = MessageCounter(lambda b: placement.routes(net, b), "by hand")
    run_reference(net, windows, observers=[counter])
    traffic = counter.counts
    # the input event: 2 messages; it relays to node 1's 4 features, each event 2 messages (hops above)
    assert traffic.messages == {"input": 2, "relay": 8}
    assert traffic.hops_east_west == {"input": 0, "relay": 3 + 3 + 1 + 2}
    assert traffic.hops_north_south == {"input": 0, "relay": 1 + 1 + 2 + 1}
    counts = count_events(net, windows, run_reference(net, windows).spikes)
    graphs = [{"num_nodes": 2, "edges": 3, "input_nonzero": 1, "input_binary": True, "graph_nnz": {"a": [3]}}]
    energy = energy_report(net, counts, graphs, [{}], traffic=traffic)
    assert "routing congestion, and chip-to-chip links (priced as tile hops)" in energy["not_modelled"]
    assert "routing: spikes priced once per event within a tile (no mapping of this run's graph)" in \
        energy_report(net, counts, graphs, [{}])["not_modelled"]
    terms = energy["chip_energy"]["terms"]
    assert [terms[k]["count"] for k in ("spike_messages", "hops_east_west", "hops_north_south")] == [10, 9, 5]
    spike_pj = 10 * 1.7 + 9 * 3.0 + 5 * 4.0                  # within a tile per message, plus every hop
    assert sum(terms[k]["energy_pj"] for k in ("spike_messages", "hops_east_west", "hops_north_south")) == \
        pytest.approx(spike_pj)
    assert sum(energy["chip_energy"]["per_part_pj"].values()) == pytest.approx(energy["chip_energy"]["total_pj"])
    # a user's table without hop energies: hops are counted and listed as unpriced, the total leaves them out
    table = {k: {"value_pj": 1.0, "source": "test"} for k in ("synaptic_op", "neuron_update_active",
                                                               "neuron_update_inactive", "spike")}
    (tmp_path / "t.json").write_text(json.dumps(table))
    mine = energy_report(net, counts, graphs, [{}], "loihi2", load_energy_table(tmp_path / "t.json"), "t.json",
                         traffic=traffic)
    terms = mine["chip_energy"]["terms"]
    assert (terms["hops_east_west"]["count"], terms["hops_east_west"]["energy_pj"]) == (9, None)
    assert mine["chip_energy"]["total_pj"] == pytest.approx(      # every priced event at 1 pJ
        sum(t["count"] for k, t in terms.items() if not k.startswith("hops")))
    assert any("hops_east_west and hops_north_south counted, not priced" in c for c in mine["not_modelled"])


def test_loihi1_output_axons_add_cores_and_refuse_a_compartment_beyond_them():
    # relay's compartments need [[1, 1, 1, 1], [2, 2, 2, 2]] output axons (the messages above); 3 per core:
    # node 0's features 0-2 (3 axons) | node 0 f3 + node 1 f0 (1 + 2) | node 1 f1 (2) | f2 (2) | f3 (2)
    net, binding = chain(2, 1, 4, adjacency=STAR)
    limited = dataclasses.replace(SPLIT, output_axons_per_core=3)
    relay = map_network(net, binding, limits=limited).populations[0]
    assert relay.cores == 5 and relay.limited_by == "output axons" and relay.output_axons == 12
    with pytest.raises(IRError, match=r"population 'relay', node 1, feature 0: events to 2 distinct cores exceed "
                                      r"a core's 1 output axons"):
        map_network(net, binding, limits=dataclasses.replace(SPLIT, output_axons_per_core=1))


def test_shared_weights_pack_split_nodes_feature_by_feature():
    # 50 nodes x 10 features, each compartment 1,000 synapses (a column of the all-ones W) at 21 bits; a core
    # holds 6,000 synapses, so a node (10,000) is split. Without sharing: 6 compartments per core -> 84 cores.
    # Shared, packed feature by feature: a core stores 6 columns once for all 50 nodes -> 300 + 200
    # compartments on 2 cores, each column stored once
    chip = dataclasses.replace(CHIP_LIMITS["loihi2"], memory_bits_per_core=21 * 6000, state_bits_per_compartment=0)
    plain, shared = (map_network(*chain(50, 1000, 10), limits=chip, share_weights=s).populations[0]
                     for s in (False, True))
    assert (plain.cores, plain.stored_synapses) == (84, 500_000)
    assert (shared.cores, shared.stored_synapses) == (2, 10_000)
    assert shared.core_of[:, :6].max() == 0 and shared.core_of[:, 6:].min() == 1
