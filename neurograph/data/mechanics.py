"""A graph-level mechanics regression: effective stiffness of random 2-D spring networks.

The HVS-GNN paper's data (polycrystals, Terfenol-D, porous graphene) is not public, so
this generator solves real linear statics instead. Each graph is a network of linear
axial springs (pin-jointed, 2 DOFs per node) and its target is the effective stiffness
under one load case:

* **Load case (uniaxial tension with clamped grips).** Nodes on the left boundary are
  fixed (u_x = u_y = 0); nodes on the right boundary are displaced by u_x = delta,
  u_y = 0; every other DOF is free. The linearised static equilibrium K u = f (f = 0 on
  the free DOFs) is solved on the free DOFs with ``scipy.sparse.linalg.spsolve``.
  Effective stiffness = total x reaction on the right boundary / delta.
* **Springs.** A spring of stiffness k between nodes i, j with unit direction e adds
  k [e e^T, -e e^T; -e e^T, e e^T] to K (small displacements, no pre-stress). Free DOFs
  that no spring touches in their direction (zero diagonal, e.g. the transverse DOFs of
  a collinear chain) carry no force and are left at 0.
* **Networks.** A jittered rows x cols grid (rows 5..20, 50..500 nodes) whose left and right
  columns sit exactly on x = 0 and x = width; every cell is split by a random diagonal
  (a triangulated strip, so the network is rigid and K on the free DOFs is non-singular).
  Spring stiffness: lognormal around 1, times a factor 0.1..10 inside 0..4 random circular
  inclusions (a two-phase composite), so the target depends on geometry and material.

Graphs are reproducible from the seed (graph i draws from ``SeedSequence(seed).spawn``, so
it does not depend on how many graphs are asked for) and cached on disk under
:func:`neurograph.data.cache.cache_root` (``mechanics-v1-<parameters>.npz``). Each graph is a
:class:`MechanicsGraph`; :meth:`MechanicsGraph.to_pyg` gives a PyG ``Data`` with node features
[x, y, left, right], both directions of every spring as edges with attributes [stiffness,
length], and ``y`` = [effective stiffness].
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from neurograph.data.cache import cache_root

VERSION = 1


class MechanicsError(ValueError):
    """A spring network whose equilibrium cannot be solved (a mechanism, a bad boundary)."""


@dataclass
class MechanicsGraph:
    pos: np.ndarray            # (N, 2) node positions
    springs: np.ndarray        # (2, S) node pairs, each spring once
    stiffness: np.ndarray      # (S,) spring stiffness
    left: np.ndarray           # (N,) bool: fixed boundary
    right: np.ndarray          # (N,) bool: pulled boundary
    target: float              # effective stiffness

    @property
    def num_nodes(self) -> int:
        return self.pos.shape[0]

    @property
    def length(self) -> np.ndarray:
        """Rest length of every spring."""
        d = self.pos[self.springs[1]] - self.pos[self.springs[0]]
        return np.hypot(d[:, 0], d[:, 1])

    @property
    def modulus(self) -> float:
        """Effective stiffness x width / height: the network's stiffness as a material property, apart from
        its aspect ratio (which alone explains 92% of log K_eff's variance over this generator)."""
        width = float(self.pos[self.right, 0].mean() - self.pos[self.left, 0].mean())
        height = float(np.ptp(self.pos[:, 1]))
        return self.target * width / height

    def node_features(self) -> np.ndarray:
        """(N, 9) features in [0, 1], each node's own view: position in the network (x / width, y),
        the two boundary flags, and of its incident springs the mean, min and max log stiffness (mapped
        from [-4, 4]) and the mean axial stiffness along the load, k cos^2(angle) (mapped likewise), and
        degree / 8."""
        n = self.num_nodes
        i, j = self.springs
        log_k = np.log(self.stiffness)
        d = self.pos[j] - self.pos[i]
        axial = np.log(self.stiffness * (d[:, 0] ** 2) / np.maximum((d ** 2).sum(axis=1), 1e-12) + 1e-3)
        ends = np.concatenate([i, j])
        deg = np.bincount(ends, minlength=n).astype(np.float64)
        mean_log_k = np.bincount(ends, np.concatenate([log_k, log_k]), minlength=n) / np.maximum(deg, 1)
        mean_axial = np.bincount(ends, np.concatenate([axial, axial]), minlength=n) / np.maximum(deg, 1)
        lo, hi = np.full(n, np.inf), np.full(n, -np.inf)
        np.minimum.at(lo, ends, np.concatenate([log_k, log_k]))
        np.maximum.at(hi, ends, np.concatenate([log_k, log_k]))
        lo, hi = np.where(deg > 0, lo, 0.0), np.where(deg > 0, hi, 0.0)
        x = self.pos[:, 0] - self.pos[:, 0].min()
        unit = lambda v: np.clip((v + 4.0) / 8.0, 0.0, 1.0)          # noqa: E731  log values -> [0, 1]
        return np.column_stack([x / max(np.ptp(self.pos[:, 0]), 1e-12), (self.pos[:, 1] - self.pos[:, 1].min())
                                / max(np.ptp(self.pos[:, 1]), 1e-12), self.left, self.right, unit(mean_log_k),
                                unit(lo), unit(hi), unit(mean_axial), np.minimum(deg / 8.0, 1.0)]).astype(np.float64)

    def to_pyg(self):
        """PyG Data: x = [x, y, left, right] (N, 4), edges both ways, edge_attr = [k, L], y = [K_eff]."""
        import torch
        from torch_geometric.data import Data
        x = np.column_stack([self.pos, self.left, self.right]).astype(np.float32)
        edge_index = np.concatenate([self.springs, self.springs[::-1]], axis=1)
        attr = np.column_stack([self.stiffness, self.length]).astype(np.float32)
        return Data(x=torch.from_numpy(x), edge_index=torch.from_numpy(edge_index.astype(np.int64)),
                    edge_attr=torch.from_numpy(np.concatenate([attr, attr])),
                    y=torch.tensor([self.target], dtype=torch.float32))


# ---- physics ------------------------------------------------------------------------------
def stiffness_matrix(pos: np.ndarray, springs: np.ndarray, stiffness: np.ndarray) -> sp.csr_matrix:
    """The global (2N, 2N) stiffness matrix of linear axial springs; DOF 2i is u_x of node i, 2i+1 u_y."""
    pos = np.asarray(pos, dtype=np.float64)
    i, j = np.asarray(springs[0]), np.asarray(springs[1])
    d = pos[j] - pos[i]
    length = np.hypot(d[:, 0], d[:, 1])
    if np.any(length <= 0):
        raise MechanicsError("a spring joins two nodes at the same position (zero length)")
    e = d / length[:, None]
    local = np.asarray(stiffness, dtype=np.float64)[:, None, None] * (e[:, :, None] * e[:, None, :])   # (S, 2, 2)
    dof_i = np.stack([2 * i, 2 * i + 1], axis=1)
    dof_j = np.stack([2 * j, 2 * j + 1], axis=1)
    rows, cols, vals = [], [], []
    for a, b, sign in ((dof_i, dof_i, 1.0), (dof_j, dof_j, 1.0), (dof_i, dof_j, -1.0), (dof_j, dof_i, -1.0)):
        rows.append(np.repeat(a, 2, axis=1).ravel())
        cols.append(np.tile(b, (1, 2)).ravel())
        vals.append(sign * local.reshape(-1, 4).ravel())
    n = 2 * pos.shape[0]
    return sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)).tocsr()


def effective_stiffness(pos, springs, stiffness, left, right, delta: float = 1.0) -> float:
    """Total x reaction on the `right` nodes / delta, with `left` fixed and `right` moved by (delta, 0)."""
    left, right = np.asarray(left, bool), np.asarray(right, bool)
    if not left.any() or not right.any() or (left & right).any():
        raise MechanicsError("needs at least one left and one right boundary node, and no node on both")
    k = stiffness_matrix(pos, springs, stiffness)
    n = k.shape[0]
    u = np.zeros(n)
    prescribed = np.zeros(n, bool)
    for mask in (left, right):
        nodes = np.flatnonzero(mask)
        prescribed[2 * nodes] = prescribed[2 * nodes + 1] = True
    u[2 * np.flatnonzero(right)] = delta
    free = np.flatnonzero(~prescribed & (k.diagonal() > 0))   # untouched directions carry nothing: u = 0
    if free.size:
        k_ff = k[free][:, free].tocsc()
        rhs = -(k[free][:, prescribed] @ u[prescribed])
        u_f = np.atleast_1d(spsolve(k_ff, rhs))
        residual = np.abs(k_ff @ u_f - rhs).max(initial=0.0)
        if not np.all(np.isfinite(u_f)) or residual > 1e-8 * max(1.0, np.abs(rhs).max(initial=0.0)):
            raise MechanicsError(f"the free DOFs have no unique equilibrium (a mechanism); residual {residual:g}")
        u[free] = u_f
    reaction = k @ u
    return float(reaction[2 * np.flatnonzero(right)].sum() / delta)


# ---- generator ----------------------------------------------------------------------------
def random_spring_network(rng: np.random.Generator, min_nodes: int = 50, max_nodes: int = 500) -> MechanicsGraph:
    """One random triangulated spring network with circular inclusions, and its effective stiffness."""
    while True:
        rows = int(rng.integers(5, 21))
        cols = int(rng.integers(max(2, -(-min_nodes // rows)), max_nodes // rows + 1))
        if min_nodes <= rows * cols <= max_nodes:
            break
    width, height = (cols - 1) / (rows - 1), 1.0                 # square cells of side 1 / (rows - 1)
    gx, gy = np.meshgrid(np.linspace(0.0, width, cols), np.linspace(0.0, height, rows))   # (rows, cols)
    cell = 1.0 / (rows - 1)
    jitter = rng.uniform(-0.3, 0.3, (rows, cols, 2)) * cell
    jitter[:, 0, 0] = jitter[:, -1, 0] = 0.0                    # boundary columns stay on x = 0, x = width
    pos = np.stack([gx, gy], axis=-1) + jitter
    node = np.arange(rows * cols).reshape(rows, cols)
    pos = pos.reshape(-1, 2)
    springs = [np.stack([node[:, :-1].ravel(), node[:, 1:].ravel()]),       # horizontal
               np.stack([node[:-1, :].ravel(), node[1:, :].ravel()])]       # vertical
    a, b, c, d = node[:-1, :-1].ravel(), node[:-1, 1:].ravel(), node[1:, :-1].ravel(), node[1:, 1:].ravel()
    flip = rng.random(a.size) < 0.5
    springs.append(np.stack([np.where(flip, a, b), np.where(flip, d, c)]))  # one diagonal per cell
    springs = np.concatenate(springs, axis=1).astype(np.int64)
    stiffness = np.exp(rng.normal(0.0, 0.3, springs.shape[1]))
    middle = 0.5 * (pos[springs[0]] + pos[springs[1]])
    for _ in range(int(rng.integers(0, 5))):                    # inclusions of another phase
        centre = rng.uniform([0.0, 0.0], [width, height])
        radius = rng.uniform(0.1, 0.35)
        inside = np.hypot(*(middle - centre).T) < radius
        stiffness[inside] *= np.exp(rng.uniform(np.log(0.1), np.log(10.0)))
    left, right = np.zeros(rows * cols, bool), np.zeros(rows * cols, bool)
    left[node[:, 0]], right[node[:, -1]] = True, True
    target = effective_stiffness(pos, springs, stiffness, left, right)
    return MechanicsGraph(pos, springs, stiffness, left, right, target)


def generate(num_graphs: int, seed: int = 0, min_nodes: int = 50, max_nodes: int = 500) -> List[MechanicsGraph]:
    """`num_graphs` networks; graph i comes from child i of SeedSequence(seed) (independent of num_graphs)."""
    children = np.random.SeedSequence(seed).spawn(num_graphs)
    return [random_spring_network(np.random.default_rng(s), min_nodes, max_nodes) for s in children]


def cache_path(num_graphs: int, seed: int, min_nodes: int, max_nodes: int, cache: Optional[str] = None) -> Path:
    return cache_root(cache) / f"mechanics-v{VERSION}-n{num_graphs}-s{seed}-{min_nodes}-{max_nodes}.npz"


def mechanics_dataset(num_graphs: int = 2000, seed: int = 0, min_nodes: int = 50, max_nodes: int = 500,
                      cache: Optional[str] = None) -> List[MechanicsGraph]:
    """The dataset, generated once and then read from the cache file (see module docstring)."""
    path = cache_path(num_graphs, seed, min_nodes, max_nodes, cache)
    if path.is_file():
        return _load(path)
    graphs = generate(num_graphs, seed, min_nodes, max_nodes)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    _save(tmp, graphs)
    os.replace(tmp, path)
    return graphs


def _save(path: Path, graphs: List[MechanicsGraph]) -> None:
    np.savez(path, nodes=np.array([g.num_nodes for g in graphs]), edges=np.array([g.springs.shape[1] for g in graphs]),
             pos=np.concatenate([g.pos for g in graphs]), springs=np.concatenate([g.springs for g in graphs], axis=1),
             stiffness=np.concatenate([g.stiffness for g in graphs]),
             left=np.concatenate([g.left for g in graphs]), right=np.concatenate([g.right for g in graphs]),
             target=np.array([g.target for g in graphs]))


def _load(path: Path) -> List[MechanicsGraph]:
    with np.load(path) as f:
        data = {k: f[k] for k in f.files}
    node_at = np.concatenate([[0], np.cumsum(data["nodes"])])
    edge_at = np.concatenate([[0], np.cumsum(data["edges"])])
    return [MechanicsGraph(data["pos"][node_at[i]:node_at[i + 1]], data["springs"][:, edge_at[i]:edge_at[i + 1]],
                           data["stiffness"][edge_at[i]:edge_at[i + 1]], data["left"][node_at[i]:node_at[i + 1]],
                           data["right"][node_at[i]:node_at[i + 1]], float(data["target"][i]))
            for i in range(len(data["nodes"]))]
