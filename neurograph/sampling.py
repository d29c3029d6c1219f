"""Neighbour-sampled mini-batches: seed nodes and an L-hop sampled subgraph around them.

PyG's NeighborLoader needs pyg-lib or torch-sparse for its sampling kernels; neither is
installed with this project's pinned torch, so this is a small seeded sampler in torch
(runs on the graph's device). Per hop, each frontier node keeps up to `fanout` of its
in-edges (self loops excluded), drawn without replacement; every node keeps its self loop.
A kept edge's GCN weight is scaled by (in-degree / kept), so a node's aggregated input is
an unbiased estimate of the full-graph one (exact where fanout >= in-degree).

The batch is a :class:`GraphData` whose first ``len(seeds)`` nodes are the seeds, so every
model trains on it unchanged (``train_logits(batch, ...)``).
"""
from __future__ import annotations

from typing import Sequence

import torch

from neurograph.data.graph import GraphData


class NeighborSampler:
    def __init__(self, graph: GraphData, fanouts: Sequence[int]):
        if not fanouts or min(fanouts) < 1:
            raise ValueError(f"fanouts must be positive, one per graph layer, got {list(fanouts)}")
        self.graph, self.fanouts = graph, list(fanouts)
        n = graph.num_nodes
        src, dst = graph.edge_index
        loop = src == dst
        self.self_weight = torch.zeros(n, dtype=graph.edge_weight.dtype, device=src.device)
        self.self_weight[dst[loop]] = graph.edge_weight[loop]
        src, dst, w = src[~loop], dst[~loop], graph.edge_weight[~loop]
        order = torch.argsort(dst)
        self.src, self.weight = src[order], w[order]
        self.rowptr = torch._convert_indices_from_coo_to_csr(dst[order], n)     # in-edges of each node
        self.degree = self.rowptr[1:] - self.rowptr[:-1]
        self._local = torch.full((n,), -1, dtype=torch.long, device=src.device)

    def _sample_in_edges(self, nodes: torch.Tensor, fanout: int, generator) -> tuple:
        """Up to `fanout` in-edges of each node: (edge ids into self.src, their target's position, scale)."""
        return pick_in_edges(self.rowptr[nodes], self.degree[nodes], fanout, generator, self.weight.dtype)

    def sample(self, seeds: torch.Tensor, generator: torch.Generator) -> GraphData:
        """The subgraph for `seeds`: hops sampled outward, hop 1 with fanouts[-1] (the last layer's)."""
        g, local = self.graph, self._local
        nodes = [seeds]
        local[seeds] = torch.arange(len(seeds), device=seeds.device)
        count = len(seeds)
        frontier = seeds
        src_l, dst_l, w_l = [], [], []
        for fanout in reversed(self.fanouts):
            edge, target, scale = self._sample_in_edges(frontier, fanout, generator)
            src = self.src[edge]
            new = torch.unique(src[local[src] < 0])
            local[new] = torch.arange(count, count + len(new), device=seeds.device)
            count += len(new)
            nodes.append(new)
            src_l.append(local[src])
            dst_l.append(local[frontier][target])
            w_l.append(self.weight[edge] * scale)
            frontier = new
        nodes = torch.cat(nodes)
        loops = torch.arange(count, device=seeds.device)
        edge_index = torch.stack([torch.cat(src_l + [loops]), torch.cat(dst_l + [loops])])
        edge_weight = torch.cat(w_l + [self.self_weight[nodes]])
        local[nodes] = -1
        train = torch.zeros(count, dtype=torch.bool, device=seeds.device)
        train[:len(seeds)] = True
        batch = GraphData(name=f"{g.name}-batch", x=g.x[nodes], y=g.y[nodes], edge_index=edge_index,
                          edge_weight=edge_weight, masks={"train": train}, num_classes=g.num_classes)
        batch.nodes = nodes          # the batch's nodes in the full graph, seeds first
        return batch


def pick_in_edges(starts: torch.Tensor, counts: torch.Tensor, fanout: int, generator, dtype,
                  keys: torch.Tensor = None) -> tuple:
    """Node i owns edge ids starts[i] .. starts[i] + counts[i] - 1; keep up to `fanout` of each node's,
    drawn without replacement: the ones with the smallest random key, fresh keys unless `keys` (one per
    edge id) are given. Returns (kept edge ids, the owner's position, in-degree / kept)."""
    total = int(counts.sum())
    device = counts.device
    if total == 0:
        empty = torch.empty(0, dtype=torch.long, device=device)
        return empty, empty, torch.empty(0, dtype=dtype, device=device)
    group = torch.repeat_interleave(torch.arange(len(counts), device=device), counts)
    offsets = torch.cumsum(counts, 0) - counts
    edge = starts[group] + torch.arange(total, device=device) - offsets[group]
    key = torch.rand(total, generator=generator, device=device) if keys is None else keys[edge]
    order = torch.sort(key, stable=True).indices
    order = order[torch.sort(group[order], stable=True).indices]            # by node, random within
    rank = torch.arange(total, device=device) - offsets[group[order]]
    keep = order[rank < fanout]
    kept = torch.clamp(counts, max=fanout)
    scale = (counts.to(dtype) / kept.clamp(min=1).to(dtype))[group[keep]]
    return edge[keep], group[keep], scale


def parse_fanout(text, layers: int) -> list:
    """'10,5' or [10, 5] -> one fanout per graph layer; a single number is used for every layer."""
    values = [int(v) for v in str(text).replace(" ", "").split(",") if v] if isinstance(text, str) else list(text)
    if len(values) == 1:
        values = values * layers
    if len(values) != layers:
        raise ValueError(f"--fanout needs one value per graph layer ({layers}), or one for all, got {text!r}")
    return values
