"""Map a fixed-point network onto neuromorphic cores and chips.

Each population is packed onto cores node by node (all features of a node
together when they fit), opening a new core when the next node would exceed any
per-core limit:

* compartments per core;
* synaptic memory per core: the synapses *into* the core's compartments in the
  expanded network (dense: nnz of W's column per compartment; graph: the node's
  in-degree in its feature's attention-head matrix), at ``bits_per_synapse`` each --
  weights only, index and compression overhead are not modelled;
* input axons per core: distinct presynaptic compartments feeding the core
  (dense: the source node's features with a nonzero weight; graph: the
  neighbours' compartments of the same feature).

A unit that cannot fit an empty core even alone (one compartment whose fan-in
needs more memory or axons than a core has) cannot be split, so it is an
:class:`IRError` naming the population and the limit. Populations never share a
core, and cores fill chips in order. Core placement on the mesh, and with it
hop-dependent spike energy, is not modelled.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List, Optional

import numpy as np

from neurograph.compile.graphs import Binding
from neurograph.compile.ir import IRError, Network


@dataclass(frozen=True)
class ChipLimits:
    name: str
    compartments_per_core: int
    synapse_bits_per_core: int
    input_axons_per_core: Optional[int]     # None: not published, not enforced
    cores_per_chip: int
    bits_per_synapse: int
    source: str


CHIP_LIMITS: Dict[str, ChipLimits] = {
    "loihi1": ChipLimits("loihi1", 1024, 1_048_576, 4096, 128, 8,
                         "nengo-loihi's validation limits: 1,024 compartments, 4,096 input axons and "
                         "1,048,576 bits (128 KiB) of synaptic memory per core; 128 cores per chip (WikiChip)"),
    "loihi2": ChipLimits("loihi2", 8192, 192 * 1024 * 8, None, 128, 8,
                         "1,048,576 neurons over 128 cores (Intel Loihi 2 brief, as quoted); 192 KB synaptic "
                         "memory per core is commonly quoted but unverified; input-axon limit not published"),
}


@dataclass
class PopulationMapping:
    population: str
    compartments: int
    synapses: int
    cores: int
    limited_by: str                        # the resource that closed most cores
    compartment_utilisation: float         # used / (cores x capacity)
    synapse_memory_utilisation: float
    stored_synapses: int = 0               # synapses held in memory: the expanded count, or fewer with sharing


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

    def to_dict(self) -> dict:
        return {"chip": asdict(self.chip), "cores": self.cores, "chips": self.chips, "share_weights": self.share_weights,
                "synapse_memory_bits": sum(p.stored_synapses for p in self.populations) * self.chip.bits_per_synapse,
                "populations": [asdict(p) for p in self.populations]}


class _CoreState:
    """What one core holds so far: compartments, synapses and its distinct input axons."""

    def __init__(self, dense, graphs, share_weights: bool = False):
        # graphs: per graph projection, the aggregation matrix of each target feature (its head's)
        self.dense, self.graphs, self.share = dense, graphs, share_weights
        self.compartments = self.synapses = self.axons = 0
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

    def add(self, v: int, features: np.ndarray, synapses: int, axons: int) -> None:
        self.compartments += len(features)
        self.synapses += synapses
        self.axons += axons
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


def map_population(net: Network, binding: Binding, name: str, chip: ChipLimits,
                   share_weights: bool = False) -> PopulationMapping:
    pop = net.population(name)
    n, f = binding.num_nodes, pop.features
    dense = [np.asarray(pr.weight) != 0 for pr in net.incoming(name) if pr.kind == "dense"]
    graphs = [_matrix_per_feature(pr, binding) for pr in net.incoming(name) if pr.kind == "graph"]
    syn_cap = chip.synapse_bits_per_core // chip.bits_per_synapse
    axon_cap = chip.input_axons_per_core or float("inf")
    all_features = np.arange(f)
    empty = _CoreState(dense, graphs, share_weights)

    def fits(core, size, synapses, axons):
        return (core.compartments + size <= chip.compartments_per_core and core.synapses + synapses <= syn_cap
                and core.axons + axons <= axon_cap)

    cores, closed_by, core, stored = 0, {"compartments": 0, "synapse memory": 0, "input axons": 0}, None, 0
    for v in range(n):
        # a whole node if it fits an empty core, else its compartments one by one
        pieces = [all_features]
        if f > chip.compartments_per_core or not fits(empty, f, *empty.cost(v, all_features)):
            pieces = [np.array([k]) for k in range(f)]
        for features in pieces:
            synapses, axons = empty.cost(v, features)
            if synapses > syn_cap or axons > axon_cap:
                what = (f"a fan-in of {synapses:,} synapses ({synapses * chip.bits_per_synapse:,} bits) exceeds "
                        f"a core's {chip.synapse_bits_per_core:,} bits of synaptic memory" if synapses > syn_cap
                        else f"{axons:,} presynaptic inputs exceed a core's {chip.input_axons_per_core:,} input axons")
                raise IRError(f"population {name!r}, node {v}, feature {int(features[0])}: {what} on {chip.name}; "
                              f"a single compartment's fan-in cannot be split across cores")
            if core is not None:
                synapses, axons = core.cost(v, features)
            if core is None or not fits(core, len(features), synapses, axons):
                if core is not None:
                    closed_by["compartments" if core.compartments + len(features) > chip.compartments_per_core
                              else "synapse memory" if core.synapses + synapses > syn_cap else "input axons"] += 1
                stored += core.synapses if core is not None else 0
                core, cores = _CoreState(dense, graphs, share_weights), cores + 1
                synapses, axons = core.cost(v, features)
            core.add(v, features, synapses, axons)
    stored += core.synapses if core is not None else 0      # what the cores' synaptic memory holds
    total_syn = int(sum(w.sum() for w in dense) * n + sum(a.nnz for by_feature in graphs for a in by_feature))
    limited_by = max(closed_by, key=closed_by.get) if any(closed_by.values()) else "fits one core"
    size = n * f
    return PopulationMapping(name, size, total_syn, cores, limited_by,
                             size / (cores * chip.compartments_per_core), stored / (cores * syn_cap), stored)


def map_network(net: Network, binding: Binding, chip: str = "loihi1",
                limits: Optional[ChipLimits] = None, share_weights: bool = False) -> NetworkMapping:
    """Cores and chips for every population of a fixed-point network with `binding`'s graph.

    `share_weights` (Loihi 2, an assumption: a dense transform shared by all nodes on a core is
    stored once per core, as convolutional connectivity is) counts each column of W once per core
    instead of once per node; graph synapses are per edge either way."""
    if net.domain != "fixed":
        raise IRError("map_network needs the fixed-point network (synapses as the chip stores them)")
    if limits is None:
        if chip not in CHIP_LIMITS:
            raise ValueError(f"unknown chip {chip!r}; choose one of {sorted(CHIP_LIMITS)}")
        limits = CHIP_LIMITS[chip]
    return NetworkMapping(limits, [map_population(net, binding, p.name, limits, share_weights)
                                   for p in net.populations], share_weights)
