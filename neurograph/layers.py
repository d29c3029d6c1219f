"""Spiking graph layers as PyG MessagePassing layers, timed like the chip.

On the chip a graph layer is two synaptic hops -- the feature transform
S @ W into graded relay compartments, then the aggregation over edges -- and each
hop delivers one step later. So the current into layer l at step t is the
aggregation of layer l-1's spikes at step t - DELAY. Training with that timing
makes the float model and the deployed network the same dynamical system.

Both layers compute I_t[v] = sum_u c_t[v, u] * (S_{t-DELAY}[u] @ W); they differ in
the edge coefficients c: fixed (GCN normalization) or per-step attention.

Aggregation is a sparse matrix product, step by step (:func:`aggregate`): A, held as
CSR once per graph (:func:`graph_structure`), times each step's (N, F) features, with
a hand-written backward through A's transpose. Memory is O(nnz(A) + T * N * F); the
per-edge (T, E, F) message tensor of ``MessagePassing.message`` is never built.
``message`` is kept as the per-edge definition the tests compare against.
"""
from __future__ import annotations

import warnings
import weakref
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import softmax

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state")

ATTENTION_SCORES_FROM = ("step", "running")
GRAPH_CONV_DELAY = 2   # steps: Dense (feature transform) + Sparse (aggregation), one each


@dataclass
class GraphStructure:
    """A graph's edges as CSR, rows = targets (A[dst, src]), and its transpose, built once per graph.

    ``order`` sorts the edges by (dst, src): A's values are ``c[order]``; ``order_t`` sorts them by
    (src, dst), the order of A^T's values."""
    num_nodes: int
    src: torch.Tensor          # (E,) in edge_index order
    dst: torch.Tensor
    crow: torch.Tensor         # A: row pointers over targets, columns = sources
    col: torch.Tensor
    order: torch.Tensor
    crow_t: torch.Tensor       # A^T: rows = sources, columns = targets
    col_t: torch.Tensor
    order_t: torch.Tensor
    _constant: dict = field(default_factory=dict)

    def matrix(self, values: torch.Tensor, transpose: bool = False) -> torch.Tensor:
        """A (or A^T) with per-edge `values` given in edge_index order, (E,).

        Kept for the last constant `values` tensor seen (the GCN weights: built once, not per call)."""
        if not values.requires_grad and values._base is None:
            key = (id(values), values._version, transpose)
            hit = self._constant.get(transpose)
            if hit is not None and hit[0] == key and hit[1]() is values:
                return hit[2]
            a = self._build(values, transpose)
            self._constant[transpose] = (key, weakref.ref(values), a)
            return a
        return self._build(values, transpose)

    def _build(self, values: torch.Tensor, transpose: bool) -> torch.Tensor:
        n = self.num_nodes
        if transpose:
            return torch.sparse_csr_tensor(self.crow_t, self.col_t, values[self.order_t], (n, n),
                                           check_invariants=False)
        return torch.sparse_csr_tensor(self.crow, self.col, values[self.order], (n, n), check_invariants=False)


_STRUCTURES: dict = {}


def graph_structure(edge_index: torch.Tensor, num_nodes: int = None) -> GraphStructure:
    """The CSR structure of `edge_index`, cached per edge_index tensor (while it lives, unmodified)."""
    key = id(edge_index)
    hit = _STRUCTURES.get(key)
    if hit is not None and hit[0]() is edge_index and hit[1] == edge_index._version:
        if num_nodes is None or hit[2].num_nodes == num_nodes:
            return hit[2]
    for k in [k for k, v in _STRUCTURES.items() if v[0]() is None]:
        del _STRUCTURES[k]
    if num_nodes is None:      # one host sync per graph, not per call
        num_nodes = int(edge_index.max()) + 1 if edge_index.numel() else 0
    src, dst = edge_index[0].clone(), edge_index[1].clone()     # not views: the cache must not keep the graph alive
    order = torch.argsort(dst * num_nodes + src)
    order_t = torch.argsort(src * num_nodes + dst)
    to_csr = torch._convert_indices_from_coo_to_csr
    structure = GraphStructure(num_nodes, src, dst,
                               to_csr(dst[order], num_nodes), src[order], order,
                               to_csr(src[order_t], num_nodes), dst[order_t], order_t)
    _STRUCTURES[key] = (weakref.ref(edge_index), edge_index._version, structure)
    weakref.finalize(edge_index, _forget, key, structure)     # frees it (device memory too) with the graph
    return structure


def _forget(key, structure) -> None:
    hit = _STRUCTURES.get(key)
    if hit is not None and hit[2] is structure:
        del _STRUCTURES[key]


def _spmm(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.sparse.mm(a, x.contiguous())


class _Aggregate(torch.autograd.Function):
    """out[t, v, k] = sum_u c[t or 0, (v, u), k] * h[t, u, k, :] for h (T, N, K, W), c (S, E, K), S in {1, T}.

    One CSR product per step and head; backward goes through A^T for h and through one
    (E, K, W) gather per step for c -- nothing holds (T, E, F)."""

    @staticmethod
    def forward(ctx, c, h, structure):
        ctx.structure = structure
        ctx.save_for_backward(c, h)
        steps, _, heads, _ = h.shape
        out = torch.empty_like(h)
        for k in range(heads):
            a = structure.matrix(c[0, :, k]) if c.shape[0] == 1 else None
            for t in range(steps):
                at = a if a is not None else structure.matrix(c[t, :, k])
                out[t, :, k] = _spmm(at, h[t, :, k])
        return out

    @staticmethod
    def backward(ctx, grad):
        c, h = ctx.saved_tensors
        structure = ctx.structure
        steps, _, heads, _ = h.shape
        grad_c = grad_h = None
        if ctx.needs_input_grad[1]:
            grad_h = torch.empty_like(h)
            for k in range(heads):
                a = structure.matrix(c[0, :, k], transpose=True) if c.shape[0] == 1 else None
                for t in range(steps):
                    at = a if a is not None else structure.matrix(c[t, :, k], transpose=True)
                    grad_h[t, :, k] = _spmm(at, grad[t, :, k])
        if ctx.needs_input_grad[0]:
            grad_c = torch.zeros_like(c)
            for t in range(steps):   # d out[t, dst] / d c[t, e] = h[t, src]: one step's (E, K, W) at a time
                g = (grad[t, structure.dst] * h[t, structure.src]).sum(-1)
                if c.shape[0] == 1:
                    grad_c[0] += g
                else:
                    grad_c[t] = g
        return grad_c, grad_h, None


def aggregate(h: torch.Tensor, edge_index: torch.Tensor, coefficient: torch.Tensor, heads: int = 1) -> torch.Tensor:
    """I[t, v] = sum_u c[t, (v, u)] * h[t, u], per head on its slice of the features.

    h: (T, N, F); coefficient: (E,) or (E, heads) for every step, or (T, E) / (T, E, heads) per step."""
    steps, n, features = h.shape
    structure = graph_structure(edge_index, n)
    c = coefficient
    if c.dim() == 1:
        c = c.view(1, -1, 1)
    elif c.dim() == 2:   # (E, heads) for every step, else (T, E) per step
        c = c.unsqueeze(0) if tuple(c.shape) == (edge_index.shape[1], heads) else c.unsqueeze(-1)
    if c.shape[-1] != heads:
        raise ValueError(f"coefficients of shape {tuple(coefficient.shape)} do not match {heads} heads")
    per_head = h.view(steps, n, heads, features // heads)
    return _Aggregate.apply(c.to(h.dtype), per_head, structure).view(steps, n, features)


class _SpikeProjection(torch.autograd.Function):
    """S @ W^T for a CSR raster S (T * N, F_in); W's gradient (S^T G)^T through S's transpose."""

    @staticmethod
    def forward(ctx, s, weight):
        ctx.save_for_backward(s)
        return torch.sparse.mm(s, weight.t().contiguous())

    @staticmethod
    def backward(ctx, grad):
        (s,) = ctx.saved_tensors
        rows = torch._convert_indices_from_csr_to_coo(s.crow_indices(), s.col_indices())[0]
        cols = s.col_indices()
        # S^T's order, (col, row): a stable sort on the column alone, since CSR entries are in row order
        order = torch.sort(cols.to(torch.int32) if s.shape[1] < 2**31 else cols, stable=True).indices
        s_t = torch.sparse_csr_tensor(torch._convert_indices_from_coo_to_csr(cols[order], s.shape[1]), rows[order],
                                      s.values()[order], (s.shape[1], s.shape[0]), check_invariants=False)
        return None, torch.sparse.mm(s_t, grad.contiguous()).t()


class SpikingGraphConv(MessagePassing):
    """I_t = sum_u A[v, u] * (S_{t-DELAY}[u] @ W), for inputs shaped (T, N, F_in)."""
    coefficients_follow_weights = False     # A is fixed, so the current is linear in W

    def __init__(self, in_features: int, out_features: int):
        super().__init__(aggr="add", node_dim=-2)
        self.lin = nn.Linear(in_features, out_features, bias=False)

    def forward(self, s: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor,
                num_steps: int, window: slice = slice(None)) -> torch.Tensor:
        """s: spikes, dense (T_s, N, F_in) or sparse (T_s * N, F_in) for sparse inputs such as
        bag-of-words features; `window`: the source steps carrying the input window (used by
        layers that calibrate on it). Returns the delayed current, (num_steps, N, F_out).

        Only the source steps that arrive within num_steps are transformed and aggregated
        (the last DELAY steps would land after the window); attention at step t depends on
        steps <= t only, so this changes nothing."""
        if s.layout == torch.sparse_csr:
            num_nodes = graph_structure(edge_index).num_nodes
            h = _SpikeProjection.apply(s, self.lin.weight).view(-1, num_nodes, self.lin.out_features)
        elif s.is_sparse:
            num_nodes = graph_structure(edge_index).num_nodes
            h = torch.sparse.mm(s, self.lin.weight.t()).view(-1, num_nodes, self.lin.out_features)
        else:
            h = self.lin(s[:max(num_steps - GRAPH_CONV_DELAY, 0)])
        n = min(h.shape[0], num_steps - GRAPH_CONV_DELAY)
        out = h.new_zeros((num_steps,) + h.shape[1:])
        if n <= 0:
            return out
        h = h[:n]
        coefficients = self.edge_coefficients(h, edge_index, edge_weight, window)
        out[GRAPH_CONV_DELAY:GRAPH_CONV_DELAY + n] = aggregate(h, edge_index, coefficients, self.num_heads)
        return out

    num_heads = 1

    def edge_coefficients(self, h: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor,
                          window: slice) -> torch.Tensor:
        """Per-edge coefficients, (E,) for all steps or (T_s, E) per step."""
        return edge_weight

    def message(self, x_j: torch.Tensor, coefficient: torch.Tensor) -> torch.Tensor:
        """The per-edge definition (``propagate``), kept as the reference the sparse path is tested against."""
        return coefficient.unsqueeze(-1) * x_j


class SpikingGraphAttention(SpikingGraphConv):
    """GAT-style attention from the spiking features, recomputed every step:

        h_t = S_t W,   e_t[v, u, k] = LeakyReLU(a_dst[k] . r_t[v, k] + a_src[k] . r_t[u, k]),
        c_t[v, u, k] = softmax over v's in-edges u (self loop included) of e_t[v, u, k],

    for each head k, which attends with its own slice of out_features / heads features
    (I_t[v, slice k] = sum_u c_t[v, u, k] * h_{t-DELAY}[u, slice k]; heads concatenated, as
    GAT). r_t is what the scores see at step t (``scores_from``): "running", the mean of h
    over the steps so far, (h_0 + ... + h_t) / (t + 1) -- the spike rate up to t, which
    steadies the scores as the window goes on; or "step", h_t alone, one step's binary
    spikes (the literal reading of the paper; "running" won the validation sweep,
    docs/gasnn-settings.md, and the two are compared in docs/results-static.md).
    Scores are linear in h, so the running mean is taken of the projected scores.

    A synapse cannot compute a softmax, so the deployed form freezes c: a calibration
    pass (``calibrating = True``, eval mode, the deployed input) records the mean of c_t
    over the input window per edge and head and already runs with it, so the layers after
    it calibrate on exactly the spikes the deployed network produces (as STFN's pass
    normalizes with the statistics it has just measured). From then on eval mode uses
    those fixed coefficients (``frozen``, (E, heads)). ``live = True`` evaluates with
    per-step attention instead, to measure what freezing costs.
    """
    coefficients_follow_weights = True      # the scores come from S W: scaling W changes c too

    def __init__(self, in_features: int, out_features: int, heads: int = 1, negative_slope: float = 0.2,
                 dropout: float = 0.0, scores_from: str = "running"):
        super().__init__(in_features, out_features)
        if scores_from not in ATTENTION_SCORES_FROM:
            raise ValueError(f"attention scores_from must be one of {ATTENTION_SCORES_FROM}, got {scores_from!r}")
        if heads < 1 or out_features % heads:
            raise ValueError(f"heads={heads} must be >= 1 and divide out_features={out_features}")
        self.heads, self.negative_slope, self.dropout, self.scores_from = heads, negative_slope, dropout, scores_from
        width = out_features // heads
        bound = (6.0 / (width + 1)) ** 0.5                   # glorot for one head's (1, width) vector
        self.att_src = nn.Parameter(torch.empty(heads, width).uniform_(-bound, bound))
        self.att_dst = nn.Parameter(torch.empty(heads, width).uniform_(-bound, bound))
        # recalibrated after loading, so not saved; frozen_edges says which graph they belong to
        self.register_buffer("frozen", torch.empty(0, heads), persistent=False)
        self.register_buffer("frozen_edges", torch.empty(2, 0, dtype=torch.long), persistent=False)
        self.calibrating = False
        self.live = False

    @property
    def num_heads(self) -> int:
        return self.heads

    def attention(self, h: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """Per-step attention coefficients, (T_s, E, heads)."""
        src, dst = edge_index
        per_head = h.view(*h.shape[:-1], self.heads, -1)                    # (T_s, N, heads, width)
        from_src, from_dst = (per_head * self.att_src).sum(-1), (per_head * self.att_dst).sum(-1)
        if self.scores_from == "running":
            steps_so_far = torch.arange(1, h.shape[0] + 1, dtype=h.dtype, device=h.device).view(-1, 1, 1)
            from_src, from_dst = from_src.cumsum(dim=0) / steps_so_far, from_dst.cumsum(dim=0) / steps_so_far
        scores = F.leaky_relu(from_src[:, src] + from_dst[:, dst], self.negative_slope)
        return softmax(scores, dst, num_nodes=h.shape[1], dim=1)

    def edge_coefficients(self, h, edge_index, edge_weight, window):
        if self.calibrating:
            self.frozen = self.attention(h, edge_index)[window].mean(dim=0).detach()
            self.frozen_edges = edge_index
            return self.frozen
        if self.training:
            # as GAT, drop attention coefficients -- one mask per edge and head for the whole window
            alpha = self.attention(h, edge_index)
            if self.dropout == 0.0:
                return alpha
            keep = (torch.rand(alpha.shape[1:], device=alpha.device) >= self.dropout).to(alpha.dtype) / (1.0 - self.dropout)
            return alpha * keep
        if self.live:
            return self.attention(h, edge_index)
        if not torch.equal(self.frozen_edges, edge_index):
            raise RuntimeError("GA-SNN attention is not calibrated for this graph: run the model's "
                               "inference_logits (which calibrates) before evaluating its deployed form")
        return self.frozen

    def message(self, x_j: torch.Tensor, coefficient: torch.Tensor) -> torch.Tensor:
        per_head = x_j.view(*x_j.shape[:-1], self.heads, -1)
        return (coefficient.unsqueeze(-1) * per_head).view(x_j.shape)


def window_dropout(s: torch.Tensor, p: float, training: bool, num_nodes: int) -> torch.Tensor:
    """Dropout with one mask per (node, feature) for the whole time window.

    A feature dropped at one step is dropped at every step, as GCN drops it once;
    independent masks per step would average out over the window and barely
    regularize. Works on dense (T, N, F) and sparse (T * N, F, COO or CSR) spike tensors.
    """
    if not training or p == 0.0 or getattr(s, "window_dropout_applied", False):
        return s
    features = s.shape[-1]
    keep = (torch.rand(num_nodes, features, device=s.device) >= p).to(s.dtype) / (1.0 - p)
    if s.layout == torch.sparse_csr:
        rows = torch._convert_indices_from_csr_to_coo(s.crow_indices(), s.col_indices())[0]
        values = s.values() * keep[rows % num_nodes, s.col_indices()]
        return torch.sparse_csr_tensor(s.crow_indices(), s.col_indices(), values, s.shape, check_invariants=False)
    if not s.is_sparse:
        return s * keep
    s = s.coalesce()
    rows, cols = s.indices()
    values = s.values() * keep[rows % num_nodes, cols]
    return torch.sparse_coo_tensor(s.indices(), values, s.shape, check_invariants=False)


def spike_raster(index: torch.Tensor, feature: torch.Tensor, value: torch.Tensor, num_rows: int,
                 num_features: int, dropout_applied: bool = False) -> torch.Tensor:
    """Spikes (row t * N + node, feature, value), sorted by (row, feature), as a CSR (T * N, F) tensor.
    `dropout_applied`: the values already carry window dropout (window_dropout passes it through)."""
    crow = torch._convert_indices_from_coo_to_csr(index, num_rows)
    s = torch.sparse_csr_tensor(crow, feature, value, (num_rows, num_features), check_invariants=False)
    s.window_dropout_applied = dropout_applied
    return s


def sparse_spikes(events, num_nodes: int, num_features: int, num_steps: int) -> torch.Tensor:
    """Spike events (steps, nodes, features) as a sparse float tensor (T * N, F)."""
    steps, nodes, feats = (torch.from_numpy(a) for a in events)
    index = torch.stack([steps * num_nodes + nodes, feats])
    return torch.sparse_coo_tensor(index, torch.ones(index.shape[1]), (num_steps * num_nodes, num_features),
                                   check_invariants=False).coalesce()
