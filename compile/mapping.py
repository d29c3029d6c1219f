"""Map a fixed-point network onto neuromorphic cores and chips, and place the cores on a mesh.

Each on-chip population is packed onto cores node by node (all features of a node together
when they fit), opening a new core when the next node would exceed any per-core limit:

* compartments per core;
* memory per core: the synapses *into* the core's compartments in the expanded network
  (dense: nnz of W's column per compartment; graph: the node's in-degree in its feature's
  attention-head matrix), each a weight plus a target index of the bits nengo-loihi picks for
  a core of this size (:func:`index_bits`), and -- on a chip whose neuron state shares that
  memory (Loihi 2) -- each compartment's state bits;
* input axons per core: distinct presynaptic compartments feeding the core
  (dense: the source node's features with a nonzero weight; graph: the neighbours'
  compartments of the same feature);
* output axons per core (Loihi 1): each compartment needs one axon per distinct core its
  events go to, so the targets are mapped first (populations in reverse order) and a
  source core closes when its compartments' destinations would exceed the limit.

nengo-loihi additionally rounds each axon's synapses, in groups of up to 64 with a 10-bit
header, up to 64-bit words (``SynapseFmt.bits_per_axon``); that per-axon overhead is not
counted, so memory use is a lower bound where axons carry few synapses (graph edges).

A unit that cannot fit an empty core even alone (one compartment whose fan-in or fan-out
needs more than a core has) cannot be split, so it is an :class:`IRError` naming the
population and the limit. Populations never share a core; the host's share of a network
(input as current) takes no core. Cores are numbered in network order and fill chips in
order; :class:`Placement` puts them on the mesh for per-message spike energy.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

import numpy as np
import scipy.sparse as sp

from neurograph.compile.graphs import Binding
from neurograph.compile.ir import IRError, Network, host_chain


@dataclass(frozen=True)
class ChipLimits:
    name: str
    compartments_per_core: int
    memory_bits_per_core: int               # synaptic memory (and, with state_bits, the neuron state beside it)
    input_axons_per_core: Optional[int]     # None: not published, not enforced
    cores_per_chip: int
    weight_bits: int
    source: str
    output_axons_per_core: Optional[int] = None
    # neuron state held in the same per-core memory as the synapses; 0 where it has its own memory
    state_bits_per_compartment: int = 0
    mesh_columns: int = 8                   # cores per row of a chip's mesh (placement)


# nengo-loihi's SynapseFmt.INDEX_BITS_MAP (its nonzero entries): the widths a target index can take
NENGO_LOIHI_INDEX_BITS = (6, 7, 8, 9, 10, 11, 12)


def index_bits(compartments: int) -> int:
    """Bits of a synapse's target-compartment index on a core of `compartments`, as nengo-loihi
    picks them (``CxSynapses.idx_bits``: ceil(log2(max index + 1)), rounded up to a width the
    format has); beyond its 12 bits (Loihi 2's larger cores) the plain ceil(log2) is used."""
    need = max(1, math.ceil(math.log2(compartments)))
    return next((b for b in NENGO_LOIHI_INDEX_BITS if b >= need), need)


CHIP_LIMITS: Dict[str, ChipLimits] = {
    "loihi1": ChipLimits("loihi1", 1024, 1_048_576, 4096, 128, 8,
                         "nengo-loihi's validation limits: 1,024 compartments, 4,096 input and 4,096 output axons "
                         "and 1,048,576 bits (128 KiB) of synaptic memory per core (neuron state in its own "
                         "memory); 128 cores per chip (WikiChip)", output_axons_per_core=4096),
    # Loihi 2's 192 KB per core is shared by synapses and neuron state; the state width is unpublished, so
    # each compartment is charged Loihi 1's two 24-bit state variables (u and v)
    "loihi2": ChipLimits("loihi2", 8192, 192 * 1024 * 8, None, 128, 8,
                         "1,048,576 neurons over 128 cores in an 8 x 16 mesh (Intel Loihi 2 brief, as quoted); "
                         "192 KB of memory per core, commonly quoted but unverified, shared by synapses and neuron "
                         "state (48 bits per compartment assumed: Loihi 1's 24-bit u and v); axon limits not "
                         "published", state_bits_per_compartment=48),
}


@dataclass
class PopulationMapping:
    population: str
    compartments: int
    synapses: int
    cores: int
    limited_by: str                        # the resource that closed most cores
    compartment_utilisation: float         # used / (cores x capacity)
    memory_utilisation: float              # synapses and neuron state / (cores x memory)
    stored_synapses: int = 0               # synapses held in memory: the expanded count, or fewer with sharing
    synapse_bits: int = 0                  # the memory split: synapses (weight + index bits) ...
    state_bits: int = 0                    # ... and neuron state, where it shares the memory
    # axon entries, one per compartment and distinct destination core (None: the chip has no such limit)
    output_axons: Optional[int] = None
    core_of: Optional[np.ndarray] = field(default=None, repr=False)   # (N, F): each compartment's core, 0-based


@dataclass
class NetworkMapping:
    chip: ChipLimits
    populations: List[PopulationMapping]
    share_weights: bool = False

    @property
    def cores(self) -> int:
        return sum(p.cores for p in self.populations)

    @property
    def chips(self) -> int:
        return -(-self.cores // self.chip.cores_per_chip)

    def first_core(self, population: str) -> int:
        """The global number of a population's first core (cores are numbered in network order)."""
        first = 0
        for p in self.populations:
            if p.population == population:
                return first
            first += p.cores
        raise KeyError(population)

    def to_dict(self) -> dict:
        return {"chip": {**asdict(self.chip), "index_bits": index_bits(self.chip.compartments_per_core)},
                "cores": self.cores, "chips": self.chips, "share_weights": self.share_weights,
                "synapse_memory_bits": sum(p.synapse_bits for p in self.populations),
                "state_memory_bits": sum(p.state_bits for p in self.populations),
                "populations": [{k: v for k, v in asdict(p).items() if k != "core_of"} for p in self.populations]}


class _CoreState:
    """What one core holds so far: compartments, synapses, its distinct input axons and its output axons."""

    def __init__(self, dense, graphs, share_weights: bool = False):
        # graphs: per graph projection, the aggregation matrix of each target feature (its head's)
        self.dense, self.graphs, self.share = dense, graphs, share_weights
        self.compartments = self.synapses = self.axons = self.out_axons = 0
        self.rows = [{} for _ in dense]          # per dense projection: node -> source features used
        self.neighbours = [{} for _ in graphs]   # per graph projection: feature -> source nodes used
        self.stored = [np.zeros(w.shape[1], bool) for w in dense]   # weight sharing: W's columns held

    def cost(self, v: int, features: np.ndarray):
        """(synapses, new input axons) that adding compartments (v, features) would bring."""
        synapses, axons = 0, 0
        for w, rows, stored in zip(self.dense, self.rows, self.stored):
            need = w[:, features].any(axis=1)
            # with weight sharing a core stores each column of W once, whatever its nodes
            columns = features[~stored[features]] if self.share else features
            synapses += int(w[:, columns].sum())
            axons += int(need.sum()) if v not in rows else int((need & ~rows[v]).sum())
        for by_feature, seen in zip(self.graphs, self.neighbours):
            for k in features:
                nbrs = _in_neighbours(by_feature[k], v)
                synapses += len(nbrs)
                axons += len(nbrs) if k not in seen else len(set(nbrs.tolist()) - seen[k])
        return synapses, axons

    def add(self, v: int, features: np.ndarray, synapses: int, axons: int, out_axons: int) -> None:
        self.compartments += len(features)
        self.synapses += synapses
        self.axons += axons
        self.out_axons += out_axons
        for w, rows, stored in zip(self.dense, self.rows, self.stored):
            need = w[:, features].any(axis=1)
            rows[v] = need if v not in rows else rows[v] | need
            stored[features] = True
        for by_feature, seen in zip(self.graphs, self.neighbours):
            for k in features:
                seen.setdefault(k, set()).update(_in_neighbours(by_feature[k], v).tolist())


def _in_neighbours(csr, v: int) -> np.ndarray:
    return csr.indices[csr.indptr[v]:csr.indptr[v + 1]]


def _matrix_per_feature(pr, binding: Binding) -> list:
    """A graph projection's aggregation matrix for each target feature (its attention head's)."""
    per_feature = []
    for features, a in binding.heads(pr):
        per_feature += [a] * (features.stop - features.start)
    return per_feature


def map_population(net: Network, binding: Binding, name: str, chip: ChipLimits, share_weights: bool = False,
                   output_axons: Optional[np.ndarray] = None) -> PopulationMapping:
    """Pack one population onto cores; `output_axons` (N, F): each compartment's distinct destination
    cores (needed where the chip limits output axons)."""
    pop = net.population(name)
    n, f = binding.num_nodes, pop.features
    incoming = [pr for pr in net.incoming(name) if not pr.on_host]
    dense = [np.asarray(pr.weight) != 0 for pr in incoming if pr.kind == "dense"]
    graphs = [_matrix_per_feature(pr, binding) for pr in incoming if pr.kind == "graph"]
    bits_per_synapse = chip.weight_bits + index_bits(chip.compartments_per_core)
    state_bits = chip.state_bits_per_compartment
    axon_cap = chip.input_axons_per_core or float("inf")
    out_cap = chip.output_axons_per_core or float("inf")
    out_of = output_axons if output_axons is not None else np.zeros((n, f), np.int64)
    all_features = np.arange(f)
    empty = _CoreState(dense, graphs, share_weights)

    def fits(core, size, synapses, axons, out):
        return (core.compartments + size <= chip.compartments_per_core
                and (core.synapses + synapses) * bits_per_synapse + (core.compartments + size) * state_bits
                <= chip.memory_bits_per_core
                and core.axons + axons <= axon_cap and core.out_axons + out <= out_cap)

    def whole_node_fits(v):
        return f <= chip.compartments_per_core and fits(empty, f, *empty.cost(v, all_features), int(out_of[v].sum()))

    def units():
        """(node, features) in packing order: a whole node where it fits an empty core, else its
        compartments one by one -- feature by feature across all nodes where W is shared, so that a
        core holding one column of W for many nodes stores it once."""
        if share_weights and dense and not whole_node_fits(0):
            yield from ((v, np.array([k])) for k in range(f) for v in range(n))
            return
        for v in range(n):
            yield from [(v, all_features)] if whole_node_fits(v) else ((v, np.array([k])) for k in range(f))

    core_of = np.zeros((n, f), np.int64)
    cores, core, stored = 0, None, 0
    closed_by = {"compartments": 0, "memory": 0, "input axons": 0, "output axons": 0}
    for v, features in units():
        synapses, axons = empty.cost(v, features)
        out = int(out_of[v, features].sum())
        if not fits(empty, len(features), synapses, axons, out):
            too_big = _alone_too_big(chip, synapses * bits_per_synapse + len(features) * state_bits, axons, out)
            raise IRError(f"population {name!r}, node {v}, feature {int(features[0])}: {too_big} on {chip.name}; "
                          f"a single compartment cannot be split across cores")
        if core is not None:
            synapses, axons = core.cost(v, features)
        if core is None or not fits(core, len(features), synapses, axons, out):
            if core is not None:
                closed_by[_closing_limit(chip, core, len(features), synapses * bits_per_synapse
                                         + len(features) * state_bits, axons, out)] += 1
                stored += core.synapses
            core, cores = _CoreState(dense, graphs, share_weights), cores + 1
            synapses, axons = core.cost(v, features)
        core.add(v, features, synapses, axons, out)
        core_of[v, features] = cores - 1
    stored += core.synapses if core is not None else 0      # what the cores' synaptic memory holds
    total_syn = int(sum(w.sum() for w in dense) * n + sum(a.nnz for by_feature in graphs for a in by_feature))
    limited_by = max(closed_by, key=closed_by.get) if any(closed_by.values()) else "fits one core"
    size = n * f
    return PopulationMapping(name, size, total_syn, cores, limited_by, size / (cores * chip.compartments_per_core),
                             (stored * bits_per_synapse + size * state_bits) / (cores * chip.memory_bits_per_core),
                             stored, stored * bits_per_synapse, size * state_bits,
                             int(output_axons.sum()) if output_axons is not None else None, core_of)


def _alone_too_big(chip: ChipLimits, bits: int, axons: int, out: int) -> str:
    """Which limit one compartment exceeds on an empty core."""
    if bits > chip.memory_bits_per_core:
        return f"a fan-in needing {bits:,} bits exceeds a core's {chip.memory_bits_per_core:,} bits of memory"
    if chip.input_axons_per_core is not None and axons > chip.input_axons_per_core:
        return f"{axons:,} presynaptic inputs exceed a core's {chip.input_axons_per_core:,} input axons"
    return f"events to {out:,} distinct cores exceed a core's {chip.output_axons_per_core:,} output axons"


def _closing_limit(chip: ChipLimits, core, size: int, bits: int, axons: int, out: int) -> str:
    """The limit that closed a core: the first one adding the next unit would break."""
    if core.compartments + size > chip.compartments_per_core:
        return "compartments"
    used = core.synapses * (chip.weight_bits + index_bits(chip.compartments_per_core)) \
        + core.compartments * chip.state_bits_per_compartment
    if used + bits > chip.memory_bits_per_core:
        return "memory"
    if chip.input_axons_per_core is not None and core.axons + axons > chip.input_axons_per_core:
        return "input axons"
    return "output axons"


def on_chip_populations(net: Network) -> list:
    """The populations that take cores: all but the relay of a host-computed input current."""
    chain = host_chain(net)
    return [p for p in net.populations if chain is None or p.name != chain[1].name]


def map_network(net: Network, binding: Binding, chip: str = "loihi1",
                limits: Optional[ChipLimits] = None, share_weights: bool = False) -> NetworkMapping:
    """Cores and chips for every on-chip population of a fixed-point network with `binding`'s graph.

    `share_weights` (Loihi 2, an assumption: a dense transform shared by all nodes on a core is
    stored once per core, as convolutional connectivity is) counts each column of W once per core
    instead of once per node; graph synapses are per edge either way.

    Populations are packed targets first (reverse network order), so that each source knows how
    many distinct cores its compartments' events reach (its output axons); a feedback projection,
    whose target is packed later, is checked once all are packed."""
    if net.domain != "fixed":
        raise IRError("map_network needs the fixed-point network (synapses as the chip stores them)")
    if limits is None:
        if chip not in CHIP_LIMITS:
            raise ValueError(f"unknown chip {chip!r}; choose one of {sorted(CHIP_LIMITS)}")
        limits = CHIP_LIMITS[chip]
    pops = on_chip_populations(net)
    mapped: Dict[str, PopulationMapping] = {}
    for pop in reversed(pops):
        out = None
        if limits.output_axons_per_core is not None:
            out = np.diff(destinations(net, binding, pop.name, mapped).indptr).reshape(binding.num_nodes, -1)
        mapped[pop.name] = map_population(net, binding, pop.name, limits, share_weights, out)
    mapping = NetworkMapping(limits, [mapped[p.name] for p in pops], share_weights)
    if limits.output_axons_per_core is not None:
        _check_output_axons(net, binding, mapping)
    return mapping


def _check_output_axons(net: Network, binding: Binding, mapping: NetworkMapping) -> None:
    by_name = {p.population: p for p in mapping.populations}
    for p in mapping.populations:
        per_compartment = np.diff(destinations(net, binding, p.population, by_name).indptr)
        per_core = np.bincount(p.core_of.ravel(), weights=per_compartment, minlength=p.cores)
        if per_core.max(initial=0) > mapping.chip.output_axons_per_core:
            raise IRError(f"population {p.population!r}: a core's events reach {int(per_core.max()):,} distinct cores, "
                          f"over {mapping.chip.name}'s {mapping.chip.output_axons_per_core:,} output axons, through a "
                          f"feedback projection packed after it; map without the feedback projection or split it")


def destinations(net: Network, binding: Binding, source: str, mapped: Dict[str, PopulationMapping],
                 first_core: Optional[Dict[str, int]] = None) -> sp.csr_matrix:
    """For each compartment of `source` (a population or the input; row v * F + k), the cores its
    events go to: a 0/1 matrix over cores, one entry per distinct destination core (one message and
    one output axon each), over the on-chip projections from `source` into populations in `mapped`.

    Cores are numbered from `first_core` of each target population, or where only their count
    matters (output axons, before all populations are packed) in ranges of their own."""
    n, f = binding.num_nodes, net.features(source)
    if first_core is None:
        stride = max((m.cores for m in mapped.values()), default=0)
        first_core = {name: i * stride for i, name in enumerate(mapped)}
    width = max((first_core[name] + m.cores for name, m in mapped.items()), default=0)
    rows, cols = [], []
    for pr in net.projections:
        if pr.source != source or pr.on_host or pr.target not in mapped:
            continue
        core_of = mapped[pr.target].core_of + first_core[pr.target]
        if pr.kind == "dense":
            r, c = _dense_destinations(np.asarray(pr.weight) != 0, core_of)
        else:
            r, c = _graph_destinations(_matrix_per_feature(pr, binding), core_of, f)
        rows.append(r)
        cols.append(c)
    if not rows:
        return sp.csr_matrix((n * f, width), dtype=np.int8)
    r, c = np.concatenate(rows), np.concatenate(cols)
    m = sp.csr_matrix((np.ones(len(r), np.int8), (r, c)), shape=(n * f, width))
    m.sum_duplicates()
    m.data[:] = 1                     # a core reached through several synapses still takes one message
    return m


def _dense_destinations(w: np.ndarray, core_of: np.ndarray):
    """(source compartment, core) pairs of a dense projection: node v's feature i reaches the cores of
    node v's target features j with W[i, j] != 0."""
    n, f_src = core_of.shape[0], w.shape[0]
    rows, cols = [], []
    single = np.all(core_of == core_of[:, :1], axis=1)        # nodes whose target features share one core
    used = np.flatnonzero(w.any(axis=1))                       # source features with any synapse
    v = np.flatnonzero(single)
    rows.append((v[:, None] * f_src + used[None, :]).ravel())
    cols.append(np.repeat(core_of[v, 0], len(used)))
    for v in np.flatnonzero(~single):                          # split nodes: per core, the features it holds
        for c in np.unique(core_of[v]):
            reach = np.flatnonzero(w[:, core_of[v] == c].any(axis=1))
            rows.append(v * f_src + reach)
            cols.append(np.full(len(reach), c))
    return np.concatenate(rows), np.concatenate(cols)


def _graph_destinations(by_feature: list, core_of: np.ndarray, f: int):
    """(source compartment, core) pairs of a graph projection: node u's feature k reaches the cores of
    feature k of every node v with A_k[v, u] != 0."""
    rows, cols = [], []
    for k, a in enumerate(by_feature):
        a = a.tocoo()                                          # A[v, u]: v the target, u the source
        rows.append(a.col.astype(np.int64) * f + k)
        cols.append(core_of[a.row, k])
    return np.concatenate(rows), np.concatenate(cols)


@dataclass
class Routes:
    """Per compartment of one event source: its messages (distinct destination cores) and the
    east-west and north-south hops they travel on the placement, summed over its messages."""
    messages: np.ndarray          # (N, F)
    hops_east_west: np.ndarray
    hops_north_south: np.ndarray


class Placement:
    """Cores on the mesh: a chip's cores row by row, ``mesh_columns`` to a row, and chips side by
    side in a row (so crossing to the next chip is more east-west hops). A message travels the
    Manhattan distance between its source and destination cores (dimension-order routing).
    Events of the input come from the host: their messages are counted, their hops are not (where
    the host's interface sits is not modelled)."""

    DESCRIPTION = ("cores in network order; each chip's {cores} cores on a mesh {columns} columns wide, filled row "
                   "by row; chips side by side in a row; a message travels the Manhattan distance between cores")

    def __init__(self, mapping: NetworkMapping):
        self.mapping = mapping
        self.first_core = {p.population: mapping.first_core(p.population) for p in mapping.populations}

    def position(self, core):
        """(x, y) of global core numbers on the whole mesh of chips in a row."""
        chip = self.mapping.chip
        chip_index, local = np.divmod(np.asarray(core), chip.cores_per_chip)
        rows, column = np.divmod(local, chip.mesh_columns)
        return chip_index * chip.mesh_columns + column, rows

    def routes(self, net: Network, binding: Binding) -> Dict[str, Routes]:
        """Routes of every source whose events reach a core: the on-chip populations and the input."""
        mapped = {p.population: p for p in self.mapping.populations}
        out = {}
        for source in [net.input.name] + list(mapped):
            d = destinations(net, binding, source, mapped, self.first_core).tocoo()
            n, f = binding.num_nodes, net.features(source)
            messages = np.bincount(d.row, minlength=n * f).reshape(n, f)
            if source in mapped:
                src_x, src_y = self.position(mapped[source].core_of.ravel()[d.row] + self.first_core[source])
                dst_x, dst_y = self.position(d.col)
                ew = np.bincount(d.row, weights=np.abs(src_x - dst_x), minlength=n * f)
                ns = np.bincount(d.row, weights=np.abs(src_y - dst_y), minlength=n * f)
            else:
                ew = ns = np.zeros(n * f)
            out[source] = Routes(messages, ew.astype(np.int64).reshape(n, f), ns.astype(np.int64).reshape(n, f))
        return out
