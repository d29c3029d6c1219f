"""Graph projections: the rules that turn a sample's edges into synaptic weights, and binding.

A graph projection in the IR is a slot: it names a *rule* and, in the fixed domain,
the integer scale its coefficients are quantized with. Every rule's coefficients
are at most ``bound`` (normalized coefficients are at most 1), so quantizing them
against the bound -- not against one graph's largest coefficient -- gives every
graph the same mantissa scale and the compiled exponents stay valid on any graph.

:func:`bind` makes a sample's weights: coefficients by the rule (or given by a host
stage, for attention), mantissas m = round(c * scale) (the mean rule rounds so that each
node's coefficients keep their sum; zero mantissas are no synapse), then proves the ranges
(:func:`neurograph.compile.ir.check_ranges`) and says what the host writes to the chip for
this graph.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Dict, List, Tuple

import numpy as np
import scipy.sparse as sp

from neurograph.compile.ir import IRError, Network, Projection, check_ranges, head_slices

WEIGHT_BITS = 8


@dataclass(frozen=True)
class Rule:
    name: str
    what: str
    bound: float = 1.0                 # largest coefficient the rule can produce
    host_computed: bool = False        # coefficients come with the sample (a host stage makes them)

    def coefficients(self, edge_index: np.ndarray, num_nodes: int) -> sp.csr_matrix:
        raise NotImplementedError

    def mantissas(self, a: sp.csr_matrix, scale: float) -> sp.csr_matrix:
        """Integer coefficients m = round(c * scale), each to the nearest (halves to even)."""
        return _without_zeros(a, np.round(a.data * scale))


def simple_edges(edge_index: np.ndarray) -> np.ndarray:
    """The graph as a set of directed edges: duplicates merged (a rule's bound holds for simple graphs)."""
    return np.unique(edge_index, axis=1) if edge_index.size else edge_index


class GCNRule(Rule):
    def coefficients(self, edge_index, num_nodes):
        """D^-1/2 (A + I) D^-1/2 as PyG's gcn_norm on the simple graph: existing self loops replaced by
        one per node, degrees counted at the target, A[target, source]. Every coefficient is at most
        1/sqrt(2) off the diagonal and at most 1 on it (the declared bound)."""
        src, dst = simple_edges(edge_index)
        keep = src != dst
        loops = np.arange(num_nodes)
        src, dst = np.concatenate([src[keep], loops]), np.concatenate([dst[keep], loops])
        deg = np.bincount(dst, minlength=num_nodes).astype(np.float64)
        norm = deg ** -0.5
        return sp.csr_matrix((norm[src] * norm[dst], (dst, src)), shape=(num_nodes, num_nodes))


class MeanRule(Rule):
    def coefficients(self, edge_index, num_nodes):
        """1 / in-degree over each node's in-edges (SAGEConv's mean; no self loops added), simple graph."""
        src, dst = simple_edges(edge_index)
        deg = np.bincount(dst, minlength=num_nodes).astype(np.float64)
        return sp.csr_matrix((1.0 / deg[dst], (dst, src)), shape=(num_nodes, num_nodes))

    def mantissas(self, a, scale):
        """Each node's in-edges share round(scale) exactly, so the mean of a constant stays that constant:
        with d in-edges and round(scale) = q d + r, the r of lowest source index get q + 1 and the others q
        (an order that numbering the graph's nodes from any offset keeps, so a graph binds alike alone and
        inside a disjoint union of graphs). Rounding each 1/d to the nearest would scale
        a degree-6 node's mean by 6 x 42 / 255 = 0.988 at every layer, a bias the network carries to its
        output (on the spring networks, whose inner nodes have degree 6, it shifted the deployed
        predictions by -0.07 and cost 4% MSE). A node with more in-edges than round(scale) cannot be
        averaged with these mantissas and is refused."""
        total = int(round(scale))
        deg = np.diff(a.indptr)
        if deg.max(initial=0) > total:
            node = int(deg.argmax())
            raise IRError(f"mean rule: node {node} has {int(deg[node])} in-neighbours, more than the {total} its "
                          f"8-bit coefficients can average; sample at most {total} neighbours per node on the host")
        rows = np.repeat(np.arange(a.shape[0]), deg)
        q, r = np.divmod(total, np.maximum(deg, 1))
        rank = np.arange(a.nnz) - a.indptr[rows]             # position among the node's in-edges (by source)
        return _without_zeros(a, q[rows] + (rank < r[rows]))


class SelfRule(Rule):
    def coefficients(self, edge_index, num_nodes):
        """Each node to itself with coefficient 1: a SAGEConv's root weight, as a graph projection so it
        reaches the target in the same two synaptic hops as the neighbours' mean."""
        loops = np.arange(num_nodes)
        return sp.csr_matrix((np.ones(num_nodes), (loops, loops)), shape=(num_nodes, num_nodes))


class HostRule(Rule):
    def coefficients(self, edge_index, num_nodes):
        raise IRError(f"rule {self.name!r}: coefficients are computed per graph by a host stage and must come "
                      f"with the sample (Sample.coefficients)")


RULES: Dict[str, Rule] = {
    "gcn": GCNRule("gcn", "GCN-normalized adjacency with self loops, D^-1/2 (A+I) D^-1/2"),
    "mean": MeanRule("mean", "mean over in-neighbours (SAGEConv)"),
    "self": SelfRule("self", "each node's own features (SAGEConv's root weight)"),
    "attention": HostRule("attention", "attention coefficients computed per graph by a host stage "
                                       "(softmax over each node's in-edges, per head)", host_computed=True),
}


@dataclass
class Binding:
    """A sample's graph bound to a network's graph projections."""
    num_nodes: int
    matrices: Dict[str, List[sp.csr_matrix]]      # projection -> one CSR (target, source) per head
    features: Dict[str, int] = field(default_factory=dict)
    cost: Dict[str, object] = field(default_factory=dict)

    def heads(self, pr: Projection) -> List[Tuple[slice, sp.csr_matrix]]:
        """(feature slice, A) per head of graph projection `pr`."""
        mats = self.matrices[pr.name]
        return list(zip(head_slices(self.features[pr.name], len(mats)), mats))

    def same_graph(self, other: "Binding") -> bool:
        if self.num_nodes != other.num_nodes or self.matrices.keys() != other.matrices.keys():
            return False
        return all(len(a) == len(b) and all((x != y).nnz == 0 for x, y in zip(a, b))
                   for a, b in ((self.matrices[k], other.matrices[k]) for k in self.matrices))


def bind(net: Network, sample) -> Binding:
    """Weights of every graph projection of `net` for `sample`'s graph; ranges proven (fixed domain)."""
    start = time.perf_counter()
    n = sample.num_nodes
    matrices, features, per_projection = {}, {}, {}
    for pr in net.graph_projections:
        rule = RULES[pr.rule]
        if rule.host_computed:
            heads = _given_coefficients(pr, sample)
        else:
            heads = [rule.coefficients(sample.edge_index, n)] * pr.heads
        for a in heads:
            if a.nnz and (not np.all(np.isfinite(a.data)) or a.data.min() < 0 or a.data.max() > rule.bound * (1 + 1e-9)):
                raise IRError(f"projection {pr.name!r}: coefficients of sample {sample.name!r} leave the rule's "
                              f"range [0, {rule.bound}]")
        if net.domain == "fixed":
            heads = fixed_coefficients(pr, heads)
        matrices[pr.name], features[pr.name] = heads, net.features(pr.source)
        index_bits = max(1, math.ceil(math.log2(max(n, 2))))
        synapses = sum(a.nnz * (s.stop - s.start) for s, a in zip(head_slices(features[pr.name], pr.heads), heads))
        per_projection[pr.name] = {"synapses": int(synapses), "bits_per_synapse": WEIGHT_BITS + index_bits,
                                   "bytes": int(math.ceil(synapses * (WEIGHT_BITS + index_bits) / 8))}
    binding = Binding(n, matrices, features)
    if net.domain == "fixed":
        check_ranges(net, lambda pr: binding.matrices[pr.name])
    binding.cost = {"projections": per_projection,
                    "bytes": sum(p["bytes"] for p in per_projection.values()),
                    "synapses": sum(p["synapses"] for p in per_projection.values()),
                    "seconds": time.perf_counter() - start,
                    "what": "synaptic memory the host writes to the chip for this graph: every synapse of the "
                            "expanded network (edge x feature) as an 8-bit weight plus a ceil(log2 N)-bit "
                            "source index"}
    return binding


def _given_coefficients(pr: Projection, sample) -> List[sp.csr_matrix]:
    if pr.name not in sample.coefficients:
        raise IRError(f"projection {pr.name!r} ({pr.rule}): sample {sample.name!r} lacks its per-graph "
                      f"coefficients; compute them with the model's host stage (e.g. GASNN.attention_coefficients)")
    edges, values = sample.coefficient_edges[pr.name], np.asarray(sample.coefficients[pr.name], dtype=np.float64)
    if values.ndim != 2 or values.shape != (edges.shape[1], pr.heads):
        raise IRError(f"projection {pr.name!r}: coefficients have shape {values.shape}, expected "
                      f"({edges.shape[1]}, {pr.heads}) (edges, heads)")
    src, dst = edges
    return [sp.csr_matrix((values[:, k], (dst, src)), shape=(sample.num_nodes, sample.num_nodes))
            for k in range(pr.heads)]


def fixed_coefficients(pr: Projection, heads: List[sp.csr_matrix]) -> List[sp.csr_matrix]:
    """The integer coefficients the chip stores for graph projection `pr`, per head, by its rule's rounding."""
    return [RULES[pr.rule].mantissas(_simple(a), pr.coefficient_scale) for a in heads]


def _simple(a: sp.csr_matrix) -> sp.csr_matrix:
    """Float coefficients in canonical CSR: one entry per edge, sorted by target, then source."""
    a = sp.csr_matrix(a, dtype=np.float64)
    a.sum_duplicates()
    return a


def _without_zeros(a: sp.csr_matrix, mantissas: np.ndarray) -> sp.csr_matrix:
    """`a`'s pattern with integer `mantissas` (one per stored entry); a zero mantissa is no synapse."""
    m = sp.csr_matrix((mantissas.astype(np.int64), a.indices, a.indptr), shape=a.shape)
    m.eliminate_zeros()
    return m
