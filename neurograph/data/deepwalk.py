"""Per-snapshot DeepWalk features, as SpikeNet's generate_feature.py makes them, cached on disk.

For each cumulative snapshot: uniform random walks from every node that has a neighbour
(numpy, seeded by (seed, step)), then skip-gram word2vec (gensim, one worker, seeded) to
128-dimensional embeddings, one independent fit per snapshot as SpikeNet's script does. PyG's
Node2Vec would need torch-cluster or pyg-lib, which do not install with this project's pinned
torch; gensim does. (SpikeNet's script calls ``DeepWalk(80, 10, 128, window_size=10,
negative=1)``, whose positional arguments are dimensions, walk length and walks per node: 80
dimensions from 128 walks of length 10. We keep the issue's 128 dimensions and DeepWalk's own
10 walks of length 80 with window 10, on which a logistic regression comes within a point of
the Dy-SIGN paper's DeepWalk baseline; see DEFAULTS.)

The raw embeddings of step t are cached as ``step{t:02d}.npy`` under the user cache
(:func:`neurograph.data.cache.cache_root`) in a folder keyed by the edge file's sha256 and
the walk settings, written atomically under a lock; a step is computed the first time it
is asked for. What the model sees: each step's embedding standardised per dimension over
the nodes that have a neighbour, then mapped to firing probabilities 0.5 + z / 6 clipped to
[0, 1]; a node with no neighbour yet has no embedding and gets 0 (no input spikes).

Per dimension, not SpikeNet's one standardisation over all of a step's values: SpikeNet feeds
the real values to a linear layer, which is blind to a dimension's offset and scale, but a
Bernoulli code adds noise of std sqrt(p (1 - p)) ~ 0.5 per step whatever a feature's spread.
With one scale for all values, most of the variance is the dimensions' different means, and a
dimension varied across DBLP's nodes by a std of 0.06 in probability, an eighth of the coding
noise; per dimension it varies by 1/6 of the range, what a node's identity is made of.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Optional

import numpy as np

from neurograph.data.cache import cache_root, raw_digest

# DeepWalk's usual settings, which the paper's DeepWalk baseline uses: 10 walks of length 80 per node, window
# 10. On DBLP's last snapshot a logistic regression on these embeddings reaches test Macro-F1 66.2 at 40 %
# training (the paper's DeepWalk: 67.1), 4 walks of length 20 and window 5 only 53.0, at 235 s against 13 s
# for the snapshot (one core; docs/results-dysign-dblp.md)
DEFAULTS = {"dimensions": 128, "walks_per_node": 10, "walk_length": 80, "window": 10, "epochs": 1, "negative": 5}


def random_walks(edges: np.ndarray, num_nodes: int, walks_per_node: int, walk_length: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Uniform random walks (walks, walk_length) from every node with a neighbour, `walks_per_node` each."""
    src, dst = edges
    order = np.argsort(src, kind="stable")
    neighbours = dst[order]
    rowptr = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=num_nodes))])
    degree = np.diff(rowptr)
    starts = np.repeat(np.flatnonzero(degree > 0), walks_per_node)
    walks = np.empty((len(starts), walk_length), dtype=np.int64)
    walks[:, 0] = cur = starts
    for k in range(1, walk_length):
        cur = neighbours[rowptr[cur] + (rng.random(len(cur)) * degree[cur]).astype(np.int64)]
        walks[:, k] = cur
    return walks


class DeepWalkFeatures:
    """features(t) -> (N, F) float32 firing probabilities of snapshot t; embeddings cached on disk."""

    def __init__(self, graph, edge_file: Path, cache: Optional[str] = None, seed: int = 0, **settings):
        unknown = set(settings) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"unknown DeepWalk settings {sorted(unknown)}; known: {sorted(DEFAULTS)}")
        self.graph, self.seed = graph, seed
        self.settings = {**DEFAULTS, **settings}
        self.dimensions = self.settings["dimensions"]
        key = json.dumps({"seed": seed, **self.settings}, sort_keys=True)
        digest = raw_digest(Path(edge_file).parent, [Path(edge_file).name])
        tag = hashlib.sha256(key.encode()).hexdigest()[:8]
        self.folder = cache_root(cache) / f"{graph.name}-deepwalk-{digest}-{tag}"
        self.seconds: dict = {}          # step -> seconds spent computing it (cache misses only)
        # step -> the model's features: every training batch reads every step, and loading and
        # standardising a step costs more than the batch's share of it (27 steps of DBLP: 390 MB)
        self._features: dict = {}

    def embedding(self, t: int) -> np.ndarray:
        """The raw DeepWalk embedding of snapshot t (N, dimensions), zeros for nodes without a neighbour."""
        self.graph._check_step(t)
        path = self.folder / f"step{t:02d}.npy"
        if path.is_file():
            return np.load(path)
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f".step{t:02d}.lock", "w") as lock:     # one lock per step: steps fit in parallel
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.is_file():                  # another process may have made it meanwhile
                start = time.perf_counter()
                emb = self._fit(t)
                tmp = self.folder / f".step{t:02d}.{os.getpid()}.npy"
                np.save(tmp, emb)
                os.replace(tmp, path)
                self.seconds[t] = time.perf_counter() - start
                (self.folder / "settings.json").write_text(json.dumps({"seed": self.seed, **self.settings}))
        return np.load(path)

    def _fit(self, t: int) -> np.ndarray:
        from gensim.models import Word2Vec
        s, n = self.settings, self.graph.num_nodes
        walks = random_walks(self.graph.edges(t), n, s["walks_per_node"], s["walk_length"],
                             np.random.default_rng([self.seed, t]))
        model = Word2Vec([[str(v) for v in w] for w in walks.tolist()], vector_size=s["dimensions"],
                         window=s["window"], min_count=0, sg=1, negative=s["negative"], epochs=s["epochs"],
                         workers=1, seed=self.seed + t)        # one worker: gensim is deterministic only so
        emb = np.zeros((n, s["dimensions"]), dtype=np.float32)
        nodes = np.array([int(k) for k in model.wv.index_to_key], dtype=np.int64)
        emb[nodes] = model.wv.vectors
        return emb

    def __call__(self, t: int) -> np.ndarray:
        if t not in self._features:
            self._features[t] = self._probabilities(self.embedding(t))
        return self._features[t]

    @staticmethod
    def _probabilities(emb: np.ndarray) -> np.ndarray:
        present = np.abs(emb).sum(axis=1) > 0
        x = np.zeros_like(emb)
        if present.any():
            z = emb[present]
            z = (z - z.mean(axis=0)) / np.maximum(z.std(axis=0), 1e-12)
            x[present] = np.clip(0.5 + z / 6.0, 0.0, 1.0)
        return x
