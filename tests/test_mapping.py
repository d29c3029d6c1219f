"""Chip mapping: hand-checkable core counts, splitting across chips, and unsplittable fan-ins."""
import dataclasses

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
    # each node: 10 features x 1000 synapses = 10,000 synapses = 80,000 bits -> 13 nodes per core
    # (131,072 synapses per core), and 1000 input axons per node -> 4 nodes per core: axons bind first
    m = map_network(*chain(40, 1000, 10))
    assert m.populations[0].cores == 10 and m.populations[0].limited_by == "input axons"
    roomy = dataclasses.replace(LOIHI1, input_axons_per_core=None)
    m = map_network(*chain(40, 1000, 10), limits=roomy)
    assert m.populations[0].cores == 4 and m.populations[0].limited_by == "synapse memory"   # ceil(40/13)


@pytest.mark.slow          # 400,000 nodes packed one by one: about 10 s
def test_network_larger_than_a_chip_is_split_across_chips():
    m = map_network(*chain(200_000, 1, 1))       # 196 cores per population, 392 cores
    assert m.cores == 2 * 196 and m.chips == 4


def test_fan_in_beyond_a_core_is_an_error_naming_population_and_limit():
    tiny = dataclasses.replace(LOIHI1, synapse_bits_per_core=8 * 100, input_axons_per_core=None)
    with pytest.raises(IRError, match=r"population 'relay'.*fan-in of 500 synapses.*cannot be split"):
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
