"""Rules pinned with data where they matter: published constants, bias-driven updates, fan-out > 1."""
import numpy as np
import pytest

from neurograph.compile.ir import Input, Network, Population, Projection, Readout, validate
from neurograph.compile.samples import Sample
from neurograph.sim.counters import EventCounter
from neurograph.sim.energy import CMOS45, ENERGY_TABLES
from neurograph.sim.reference import prepare, run_reference


def test_every_energy_constant_is_its_published_value():
    # Davies et al. 2018, Table 2 (pre-silicon), and Horowitz 2014 at 45 nm, as in ../shared/notes
    loihi1 = {"synaptic_op": 23.6, "neuron_update_active": 81.0, "neuron_update_inactive": 52.0, "spike": 1.7,
              "spike_hop_east_west": 3.0, "spike_hop_north_south": 4.0}
    assert {k: c.value_pj for k, c in ENERGY_TABLES["loihi1"].items()} == loihi1
    assert all(c.value_pj is None for c in ENERGY_TABLES["loihi2"].values())      # none published
    cmos = {"fp32_mac": 4.6, "fp32_add": 0.9, "fp32_mult": 3.7, "int32_add": 0.1, "int32_mult": 3.1,
            "int8_add": 0.03, "int8_mult": 0.2}
    assert {k: c.value_pj for k, c in CMOS45.items()} == cmos


def _count(net, sample):
    windows = prepare(net, [sample])
    counter = EventCounter(net, sample.num_nodes)
    run_reference(net, windows, observers=[counter])
    return {p.name: p for p in counter.counts.populations}, {p.name: p for p in counter.counts.projections}


def test_bias_alone_makes_an_update_active_and_fan_out_multiplies_dense_ops():
    # input (2 features) -> dense W (2 x 3) -> IF (3 features, bias only on feature 0) -> dense -> readout
    w = np.array([[1, 0, 2], [3, 4, 5]])             # row 0 fans out to 2 synapses, row 1 to 3
    net = validate(Network("fixed", Input("input", 2, 3), [
        Population("p", "if", 3, threshold=100000, bias=np.array([7, 0, 0])),
        Population("readout", "integrator", 1)],
        [Projection("w", "dense", "input", "p", w), Projection("o", "dense", "p", "readout", np.ones((3, 1), int))],
        Readout("readout")))
    spikes = np.zeros((3, 4, 2), bool)
    spikes[0, 0, 0] = True                           # node 0 feature 0 once: 2 synaptic ops
    spikes[1, 1, 1] = True                           # node 1 feature 1 once: 3 synaptic ops
    pops, projs = _count(net, Sample("s", 4, np.zeros((2, 0), np.int64), spikes=spikes))
    assert projs["w"].events == 2 and projs["w"].synaptic_ops == 5
    steps = net.window_steps                          # 3 input steps + 2 synaptic delays = 5
    assert steps == 5
    # feature 0 of every node is active every step (its bias); the input adds node 0's feature 2 and
    # node 1's features 1 and 2 once each (features 0 already counted)
    assert pops["p"].active_updates == 4 * steps + 1 + 2
    assert pops["p"].inactive_updates == 4 * 3 * steps - pops["p"].active_updates


def test_weight_sharing_stores_each_column_of_w_once_per_core():
    from neurograph.compile.mapping import ChipLimits, map_network
    w = np.array([[1, 0, 2], [3, 4, 0]])             # 4 nonzero weights
    net = validate(Network("fixed", Input("input", 2, 2), [
        Population("p", "if", 3, threshold=10), Population("readout", "integrator", 1)],
        [Projection("w", "dense", "input", "p", w), Projection("o", "dense", "p", "readout", np.ones((3, 1), int))],
        Readout("readout")))
    binding = prepare(net, [Sample("s", 5, np.zeros((2, 0), np.int64), spikes=np.zeros((2, 5, 2), bool))])[0].binding
    chip = ChipLimits("test", 6, 1 << 20, None, 4, 8, "test")     # 6 compartments: two 3-feature nodes per core
    plain, shared = (map_network(net, binding, limits=chip, share_weights=s) for s in (False, True))
    p_plain, p_shared = plain.populations[0], shared.populations[0]
    assert p_plain.cores == p_shared.cores == 3                   # 5 nodes, 2 per core
    assert p_plain.stored_synapses == 5 * 4                       # W per node
    assert p_shared.stored_synapses == 3 * 4                      # W once per core


def test_the_24_bit_current_wrap_reaches_the_voltage():
    from neurograph.compile.kinds import get_kind
    # a = 2**17 + 5: a << 6 = 2**23 + 320 wraps to -8388288; v takes the wrapped value (no spike). Had the
    # wrap only been counted, v would be +8388928, saturate at 8388607 and spike above vth << 6 = 64000.
    pop = Population("p", "lif", 1, threshold=1000)
    kind, events = get_kind("lif"), {}
    state = kind.init_state(pop, 1, fixed=True)
    spikes = kind.step(pop, state, np.array([[2 ** 17 + 5]]), True, events)
    assert not spikes[0, 0] and state["v"][0, 0] == -8388288 and events["p.current_wrap"] == 1


def test_per_edge_host_work_counts_the_simple_graph_the_rules_see():
    from neurograph.compile.ir import HostStage, host_work
    net = validate(Network("fixed", Input("input", 2, 2), [Population("readout", "integrator", 1)],
                           [Projection("o", "dense", "input", "readout", np.ones((2, 1), int))], Readout("readout")))
    net.host = [HostStage("bind_graph", "per_graph", [], {"fp32_add": 1}, per="edge")]
    # 0->1 twice, 1->0, a self loop on 2, 2->3: three distinct non-loop edges, plus one loop per node (4)
    sample = Sample("d", 4, np.array([[0, 0, 1, 2, 2], [1, 1, 0, 2, 3]]), features=np.zeros((4, 2)))
    assert host_work(net, sample)["bind_graph"]["ops"] == {"fp32_add": 7}
