"""Contextual stochastic block model: a graph whose edges and features both carry the class."""
from __future__ import annotations

from typing import Optional

import numpy as np

from neurograph.data.graph import GraphData, from_edges


def make_csbm(num_nodes: int = 600, num_classes: int = 4, num_features: int = 32, avg_degree: float = 6.0,
              homophily: float = 0.8, seed: int = 0, prototype_seed: Optional[int] = None) -> GraphData:
    """Nodes get a uniform class; each node draws ~avg_degree/2 partners, a fraction `homophily`
    from its own class (edges are then symmetrized). Features are firing probabilities in [0, 1]:
    a class prototype (a quarter of the features likely on) plus noise. Memory is O(edges).

    Split: 20 labelled nodes per class for training, then up to 500 validation and 1000 test nodes.
    `prototype_seed` fixes the class prototypes apart from `seed`, so graphs drawn with different seeds
    share what their features say about the class (a family of graphs for inductive use).
    """
    if num_nodes < 4 * num_classes:
        raise ValueError(f"num_nodes={num_nodes} is too small for {num_classes} classes")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, num_nodes)
    by_class = [np.flatnonzero(y == c) for c in range(num_classes)]
    n_edges = int(num_nodes * avg_degree / 2)
    src = rng.integers(0, num_nodes, n_edges)
    same = rng.random(n_edges) < homophily
    dst = rng.integers(0, num_nodes, n_edges)
    for c in range(num_classes):
        pick = same & (y[src] == c)
        dst[pick] = by_class[c][rng.integers(0, len(by_class[c]), pick.sum())]
    keep = src != dst
    edges = np.stack([np.concatenate([src[keep], dst[keep]]), np.concatenate([dst[keep], src[keep]])])
    edges = np.unique(edges, axis=1)

    prototype_rng = rng if prototype_seed is None else np.random.default_rng(prototype_seed)
    prototypes = np.where(prototype_rng.random((num_classes, num_features)) < 0.25, 0.6, 0.05)
    x = np.clip(prototypes[y] + rng.normal(0.0, 0.15, (num_nodes, num_features)), 0.0, 1.0)
    x[x < 0.1] = 0.0      # sparse, like bag-of-words features

    order = rng.permutation(num_nodes)
    train = np.zeros(num_nodes, bool)
    for c in range(num_classes):
        train[order[y[order] == c][:20]] = True
    rest = order[~train[order]]
    n_val = min(500, len(rest) // 3)
    val = np.zeros(num_nodes, bool)
    val[rest[:n_val]] = True
    test = np.zeros(num_nodes, bool)
    test[rest[n_val:n_val + 1000]] = True
    return from_edges(f"synthetic-n{num_nodes}-s{seed}", x, y, edges, {"train": train, "val": val, "test": test}, num_classes)
