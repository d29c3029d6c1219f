"""Dynamic graphs: one node set, a time-ordered sequence of cumulative snapshots.

A :class:`DynamicGraph` stores every undirected edge once with the step it first appears
at; snapshot t is the symmetric graph of all edges with step <= t (SpikeNet's DBLP
snapshots are cumulative, and so are the synthetic ones here). Features are per step,
(N, F) firing probabilities in [0, 1], produced on demand (``features(t)``) so that 27
snapshots of a large graph never sit in memory at once. Labels are per node.

Sources:

* DBLP as SpikeNet builds it (../shared/datasets/DBLP/FORMAT.md): ``dblp.txt`` lines
  grouped by their exact time string, 27 steps, labels from ``node2label.txt``; per-step
  DeepWalk features (:mod:`neurograph.data.deepwalk`), cached on disk.
* An evolving stochastic block model (:func:`make_evolving_sbm`), for tests and scale.

Splits are SpikeNet's: a stratified `train_ratio` of the nodes for training, 5 % for
validation, the rest for testing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np
import torch

from neurograph.data.planetoid import DatasetNotFoundError, default_data_root

VAL_RATIO = 0.05


@dataclass
class DynamicGraph:
    name: str
    num_nodes: int
    pairs: np.ndarray                         # (2, E) int64, each undirected edge once (src < dst)
    first_step: np.ndarray                    # (E,) the step each pair appears at, non-decreasing
    num_snapshots: int
    features: Callable[[int], np.ndarray]     # step -> (N, F) float32 in [0, 1]
    num_features: int
    y: np.ndarray                             # (N,) int64
    num_classes: int
    masks: Dict[str, np.ndarray] = field(default_factory=dict)   # train / val / test, bool (N,)

    def edges(self, t: int) -> np.ndarray:
        """Snapshot t as directed edges (2, E_t), both directions, no self loops (rules add them)."""
        self._check_step(t)
        end = int(np.searchsorted(self.first_step, t, side="right"))
        src, dst = self.pairs[:, :end]
        return np.concatenate([np.stack([src, dst]), np.stack([dst, src])], axis=1)

    def degrees(self, t: int) -> np.ndarray:
        """Neighbours of every node in snapshot t, (N,)."""
        return np.bincount(self.edges(t)[1], minlength=self.num_nodes)

    def _check_step(self, t: int) -> None:
        if not 0 <= t < self.num_snapshots:
            raise IndexError(f"{self.name}: snapshot {t} outside 0..{self.num_snapshots - 1}")

    def with_split(self, train_ratio: float, seed: int) -> "DynamicGraph":
        """The same graph with SpikeNet's split: stratified train_ratio / 5 % validation / the rest test."""
        from dataclasses import replace
        return replace(self, masks=split_nodes(self.y, train_ratio, seed))


def split_nodes(y: np.ndarray, train_ratio: float, seed: int) -> Dict[str, np.ndarray]:
    """Stratified masks: per class, `train_ratio` of its nodes train, 5 % validation, the rest test."""
    if not 0.0 < train_ratio < 1.0 - VAL_RATIO:
        raise ValueError(f"train_ratio must be in (0, {1 - VAL_RATIO:g}) (5 % of the nodes validate), got {train_ratio}")
    rng = np.random.default_rng(seed)
    masks = {name: np.zeros(len(y), bool) for name in ("train", "val", "test")}
    for c in np.unique(y):
        nodes = rng.permutation(np.flatnonzero(y == c))
        n_train, n_val = int(round(train_ratio * len(nodes))), int(round(VAL_RATIO * len(nodes)))
        masks["train"][nodes[:n_train]] = True
        masks["val"][nodes[n_train:n_train + n_val]] = True
        masks["test"][nodes[n_train + n_val:]] = True
    return masks


def f1_scores(pred: np.ndarray, y: np.ndarray) -> Dict[str, float]:
    """Macro-F1 (unweighted mean over the classes present in y or pred) and Micro-F1 (= accuracy
    for single-label classification), as sklearn's f1_score computes them, in percent."""
    pred, y = np.asarray(pred), np.asarray(y)
    classes = np.union1d(np.unique(y), np.unique(pred))
    tp = np.array([np.sum((pred == c) & (y == c)) for c in classes], dtype=np.float64)
    fp = np.array([np.sum((pred == c) & (y != c)) for c in classes], dtype=np.float64)
    fn = np.array([np.sum((pred != c) & (y == c)) for c in classes], dtype=np.float64)
    denom = 2 * tp + fp + fn
    per_class = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"macro_f1": 100.0 * float(per_class.mean()) if len(classes) else 0.0,
            "micro_f1": 100.0 * float(np.mean(pred == y)) if len(y) else 0.0}


# ---- DBLP --------------------------------------------------------------------------------------
def load_dblp_dynamic(root: Optional[str] = None, cache: Optional[str] = None, seed: int = 0) -> DynamicGraph:
    """DBLP's 27 cumulative snapshots (SpikeNet's grouping) with per-step DeepWalk features,
    computed once per snapshot on first use and cached (see deepwalk.py)."""
    from neurograph.data.deepwalk import DeepWalkFeatures
    folder = Path(root or default_data_root()) / "DBLP"
    files = [folder / "dblp.txt", folder / "node2label.txt"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DatasetNotFoundError(f"DBLP files not found: {', '.join(missing)}; point DataConfig.root / "
                                   f"$NEUROGRAPH_DATA at a folder holding DBLP/dblp.txt and DBLP/node2label.txt")
    src, dst, times = [], [], []
    with open(files[0]) as f:
        for line in f:
            a, b, t = line.split()
            src.append(int(a)), dst.append(int(b)), times.append(t)
    labels = np.loadtxt(files[1], dtype=np.int64)
    if not np.array_equal(labels[:, 0], np.arange(len(labels))):
        raise DatasetNotFoundError(f"{files[1]}: the node column must be 0..N-1 in order (SpikeNet's check)")
    y = labels[:, 1]
    steps = sorted(set(times))                           # equal-width strings: string order is time order
    step_of = {t: k for k, t in enumerate(steps)}
    first = np.array([step_of[t] for t in times], dtype=np.int64)
    pairs, first = _first_appearance(np.array(src), np.array(dst), first)
    n = max(len(y), int(pairs.max()) + 1)
    graph = DynamicGraph("dblp", n, pairs, first, len(steps), None, 0, y, int(y.max()) + 1)
    deepwalk = DeepWalkFeatures(graph, files[0], cache=cache, seed=seed)
    graph.features, graph.num_features = deepwalk, deepwalk.dimensions
    return graph


def _first_appearance(src: np.ndarray, dst: np.ndarray, step: np.ndarray):
    """Each undirected pair once (src < dst, self loops dropped) with the first step it occurs at,
    sorted by that step (a cumulative snapshot is then a prefix)."""
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    keep = lo != hi
    lo, hi, step = lo[keep], hi[keep], step[keep]
    order = np.lexsort((step, hi, lo))
    lo, hi, step = lo[order], hi[order], step[order]
    new = np.ones(len(lo), bool)
    new[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    lo, hi, step = lo[new], hi[new], step[new]
    by_time = np.argsort(step, kind="stable")
    return np.stack([lo[by_time], hi[by_time]]).astype(np.int64), step[by_time]


# ---- evolving stochastic block model -----------------------------------------------------------
def make_evolving_sbm(num_nodes: int = 300, num_classes: int = 4, num_snapshots: int = 6, num_features: int = 16,
                      avg_degree: float = 8.0, homophily: float = 0.8, feature_signal: float = 0.3,
                      seed: int = 0) -> DynamicGraph:
    """An evolving stochastic block model on one node set.

    Each node has a uniform class. Edges arrive over the snapshots: snapshot t holds the first
    (t + 1) / T of num_nodes * avg_degree / 2 edge draws, each from a uniform node to a partner of
    its own class with probability `homophily`, else to a uniform node (so the class signal in
    the structure grows over time). Features of step t: a class prototype scaled by
    `feature_signal` plus fresh uniform noise, in [0, 1], drawn from (seed, t) -- the same call
    gives the same features, and step t's never depend on later steps. Memory is O(edges); the
    features of a step are made when asked for."""
    if num_nodes < 4 * num_classes or num_snapshots < 1:
        raise ValueError(f"need num_nodes >= 4 x classes and >= 1 snapshot, got {num_nodes}, {num_classes}, "
                         f"{num_snapshots}")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, num_nodes)
    by_class = [np.flatnonzero(y == c) for c in range(num_classes)]
    draws = int(num_nodes * avg_degree / 2)
    src = rng.integers(0, num_nodes, draws)
    dst = rng.integers(0, num_nodes, draws)
    same = rng.random(draws) < homophily
    for c in range(num_classes):
        pick = same & (y[src] == c)
        dst[pick] = by_class[c][rng.integers(0, len(by_class[c]), pick.sum())]
    step = (np.arange(draws) * num_snapshots) // max(draws, 1)
    pairs, first = _first_appearance(src, dst, step)
    prototypes = (rng.random((num_classes, num_features)) < 0.3).astype(np.float32)

    def features(t: int) -> np.ndarray:
        noise = np.random.default_rng([seed, t]).random((num_nodes, num_features), dtype=np.float32)
        return np.clip((1 - feature_signal) * noise + feature_signal * prototypes[y], 0.0, 1.0)

    return DynamicGraph(f"sbm-n{num_nodes}-t{num_snapshots}-s{seed}", num_nodes, pairs, first, num_snapshots,
                        features, num_features, y.astype(np.int64), num_classes)


def load_dynamic(cfg) -> DynamicGraph:
    """The dynamic graph a DataConfig names ('dblp' or 'synthetic'), with its split."""
    name = cfg.name.lower()
    if name == "dblp":
        graph = load_dblp_dynamic(cfg.root, cfg.cache, cfg.seed if cfg.feature_seed is None else cfg.feature_seed)
    elif name == "synthetic":
        graph = make_evolving_sbm(cfg.num_nodes, cfg.num_classes, cfg.num_snapshots, cfg.num_features,
                                  cfg.avg_degree, cfg.homophily, seed=cfg.seed)
    else:
        raise ValueError(f"no dynamic dataset {cfg.name!r}; Dy-SIGN runs on dblp or synthetic")
    return graph.with_split(cfg.train_ratio, cfg.seed)


def snapshot_tensors(graph: DynamicGraph, t: int, device="cpu"):
    """Snapshot t's features (N, F), GCN-normalized edges with self loops (2, E'), and weights (E',)."""
    from torch_geometric.nn.conv.gcn_conv import gcn_norm
    edge_index = torch.as_tensor(graph.edges(t), device=device)
    ei, ew = gcn_norm(edge_index, None, num_nodes=graph.num_nodes, add_self_loops=True)
    return torch.as_tensor(graph.features(t), device=device), ei, ew.float()
