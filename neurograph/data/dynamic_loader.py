"""Batches of a dynamic graph for training and evaluation, in time order.

A :class:`DynamicBatch` is a node set (global ids, the target nodes first) and, for every
snapshot in time order, that snapshot's edges among the batch's nodes with their GCN
weights (self loops included) and the nodes' features of that step. A model runs the
snapshots one after another on the same node set, so neuron state carries across them.

:class:`DynamicNeighborSampler` makes mini-batches whose size is bounded by the batch, not
the graph (SpikeNet samples [5, 2]): per snapshot t, up to 5 in-edges of each target node and
up to 2 of each of those neighbours, drawn from snapshot t's edges only, with weights from
snapshot t's degrees -- nothing about a later snapshot reaches an earlier one. The node set is
the union over the snapshots, numbered in the order nodes are first sampled, so a node first
reached at step t has no edge before t. A kept edge's GCN weight is scaled by
(in-degree / kept), as the static sampler does (neurograph.sampling).

Each batch gives every edge a random key, a hash of the edge's endpoints and a per-batch salt,
and every snapshot keeps, per node, its present in-edges with the smallest keys (bottom-k
sampling): a node keeps its sampled neighbours from one snapshot to the next unless a new edge
outranks one, so the union over 27 snapshots stays close to one snapshot's sample instead of
growing with every redraw. A key depends on the edge alone, not on how many edges the graph
will have, so the choice at step t depends only on the edges present at t.

Snapshots must be cumulative (DynamicGraph's are): in each node's in-edge list, sorted by the
step an edge appears at, snapshot t's edges are a prefix, so a step's degrees are all it needs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Sequence, Tuple

import numpy as np
import torch

from neurograph.data.dynamic import DynamicGraph
from neurograph.sampling import pick_in_edges


@dataclass
class DynamicBatch:
    nodes: torch.Tensor                                     # (n,) global node ids, targets first
    num_targets: int
    snapshots: List[Tuple[torch.Tensor, torch.Tensor]]      # per step: (2, E_t) local edges, (E_t,) weights
    features: Callable[[int], torch.Tensor]                 # step -> (n, F) features of the batch's nodes
    y: torch.Tensor                                         # (n,) labels

    @property
    def num_nodes(self) -> int:
        return int(self.nodes.numel())

    @property
    def num_snapshots(self) -> int:
        return len(self.snapshots)


def _batch_features(graph: DynamicGraph, nodes: torch.Tensor) -> Callable[[int], torch.Tensor]:
    index = nodes.cpu().numpy()
    return lambda t: torch.as_tensor(np.ascontiguousarray(graph.features(t)[index]), device=nodes.device)


def full_batch(graph: DynamicGraph, device="cpu") -> DynamicBatch:
    """Every node and every edge of every snapshot (exact GCN weights): the deployed computation."""
    from neurograph.data.dynamic import snapshot_tensors
    snapshots = []
    for t in range(graph.num_snapshots):
        _, ei, ew = snapshot_tensors(graph, t, device)
        snapshots.append((ei, ew))
    nodes = torch.arange(graph.num_nodes, device=device)
    return DynamicBatch(nodes, graph.num_nodes, snapshots, _batch_features(graph, nodes),
                        torch.as_tensor(graph.y, device=device))


def _int64(x: int) -> int:
    """An unsigned 64-bit constant as the signed int64 torch multiplies with (wrapping)."""
    return x - (1 << 64) if x >= 1 << 63 else x


def edge_keys(edge_id: torch.Tensor, salt: int) -> torch.Tensor:
    """Uniform keys in [0, 1) from edge ids and a salt (splitmix64's mixer, in wrapping int64)."""
    def shr(z, k):                                     # logical shift right of a signed int64
        return (z >> k) & ((1 << (64 - k)) - 1)
    z = edge_id + _int64((salt * 0x9E3779B97F4A7C15) % (1 << 64))
    z = (z ^ shr(z, 30)) * _int64(0xBF58476D1CE4E5B9)
    z = (z ^ shr(z, 27)) * _int64(0x94D049BB133111EB)
    z = z ^ shr(z, 31)
    return shr(z, 11).to(torch.float64) / float(1 << 53)


class DynamicNeighborSampler:
    def __init__(self, graph: DynamicGraph, hops: Sequence[int] = (5, 2), device="cpu"):
        """`hops`: in-edges kept per node, outward from the targets (SpikeNet's [5, 2])."""
        if not hops or min(hops) < 1:
            raise ValueError(f"hops must be positive fanouts, outward from the targets, got {list(hops)}")
        self.graph, self.hops = graph, list(hops)
        n = graph.num_nodes
        src = np.concatenate([graph.pairs[0], graph.pairs[1]])
        dst = np.concatenate([graph.pairs[1], graph.pairs[0]])
        step = np.concatenate([graph.first_step, graph.first_step])
        order = np.lexsort((step, dst))                   # by target, then by the step an edge appears at
        self.src = torch.as_tensor(src[order], device=device)
        self.edge_id = torch.as_tensor(src[order] * n + dst[order], device=device)
        dst_sorted, step_sorted = dst[order], step[order]
        self.rowptr = torch.as_tensor(np.concatenate([[0], np.cumsum(np.bincount(dst_sorted, minlength=n))]),
                                      device=device)
        # degree[t, v]: v's in-edges in snapshot t (a prefix of its list)
        degree = np.zeros((graph.num_snapshots, n), dtype=np.int64)
        np.add.at(degree, (step_sorted, dst_sorted), 1)
        self.degree = torch.as_tensor(np.cumsum(degree, axis=0), device=device)
        self._local = torch.full((n,), -1, dtype=torch.long, device=device)
        self._expanded = torch.zeros(n, dtype=torch.bool, device=device)
        self.device = device

    def sample(self, targets: torch.Tensor, generator: torch.Generator) -> DynamicBatch:
        """The batch of `targets`: per snapshot, hops sampled outward in that snapshot's graph."""
        local, device = self._local, self.device
        targets = targets.to(device)
        found = [targets]
        local[targets] = torch.arange(len(targets), device=device)
        count = len(targets)
        snapshots = []
        salt = int(torch.randint(0, 1 << 62, (1,), generator=generator, device=device))
        keys = edge_keys(self.edge_id, salt)
        for t in range(self.graph.num_snapshots):
            deg = self.degree[t]
            frontier, src_l, dst_l, w_l = targets, [], [], []
            expanded = [targets]
            self._expanded[targets] = True
            for fanout in self.hops:
                edge, owner, scale = pick_in_edges(self.rowptr[frontier], deg[frontier], fanout, generator,
                                                   torch.float32, keys)
                src, dst = self.src[edge], frontier[owner]
                new = torch.unique(src[local[src] < 0])
                local[new] = torch.arange(count, count + len(new), device=device)
                count += len(new)
                found.append(new)
                norm = ((deg[src] + 1) * (deg[dst] + 1)).to(torch.float32).rsqrt()
                src_l.append(local[src]), dst_l.append(local[dst]), w_l.append(norm * scale)
                # each node's in-edges are drawn once per snapshot (a target reached again adds no edges)
                frontier = torch.unique(src[~self._expanded[src]])
                self._expanded[frontier] = True
                expanded.append(frontier)
            self._expanded[torch.cat(expanded)] = False
            nodes_so_far = torch.cat(found)
            loops = torch.arange(count, device=device)
            edge_index = torch.stack([torch.cat(src_l + [loops]), torch.cat(dst_l + [loops])])
            weight = torch.cat(w_l + [1.0 / (deg[nodes_so_far] + 1).to(torch.float32)])
            snapshots.append((edge_index, weight))
        nodes = torch.cat(found)
        local[nodes] = -1
        # snapshots made before later nodes were found lack those nodes' self loops: they are isolated
        # there and never reach an earlier target, but the model still steps them; give them their loop
        for t, (edge_index, weight) in enumerate(snapshots):
            have = int(edge_index.max()) + 1 if edge_index.numel() else 0
            if have < len(nodes):
                extra = torch.arange(have, len(nodes), device=device)
                snapshots[t] = (torch.cat([edge_index, torch.stack([extra, extra])], dim=1),
                                torch.cat([weight, 1.0 / (self.degree[t][nodes[extra]] + 1).to(torch.float32)]))
        return DynamicBatch(nodes, len(targets), snapshots, _batch_features(self.graph, nodes),
                            torch.as_tensor(self.graph.y, device=device)[nodes])
