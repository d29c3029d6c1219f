"""Spiking graph layers as PyG MessagePassing layers, timed like the chip.

On the chip a graph layer is two synaptic hops -- the feature transform
S @ W into graded relay compartments, then the aggregation over edges -- and each
hop delivers one step later. So the current into layer l at step t is the
aggregation of layer l-1's spikes at step t - DELAY. Training with that timing
makes the float model and the deployed network the same dynamical system.

Both layers compute I_t[v] = sum_u c_t[v, u] * (S_{t-DELAY}[u] @ W); they differ in
the edge coefficients c: fixed (GCN normalization) or per-step attention.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import softmax

ATTENTION_SCORES_FROM = ("step", "running")
GRAPH_CONV_DELAY = 2   # steps: Dense (feature transform) + Sparse (aggregation), one each


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
        layers that calibrate on it). Returns the delayed current, (num_steps, N, F_out)."""
        if s.is_sparse:
            num_nodes = int(edge_index.max()) + 1 if edge_index.numel() else 0
            h = torch.sparse.mm(s, self.lin.weight.t()).view(-1, num_nodes, self.lin.out_features)
        else:
            h = self.lin(s)
        coefficients = self.edge_coefficients(h, edge_index, edge_weight, window)
        h = self.propagate(edge_index, x=h, coefficient=coefficients)
        out = h.new_zeros((num_steps,) + h.shape[1:])
        n = min(h.shape[0], num_steps - GRAPH_CONV_DELAY)
        if n > 0:
            out[GRAPH_CONV_DELAY:GRAPH_CONV_DELAY + n] = h[:n]
        return out

    def edge_coefficients(self, h: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor,
                          window: slice) -> torch.Tensor:
        """Per-edge coefficients, (E,) for all steps or (T_s, E) per step."""
        return edge_weight

    def message(self, x_j: torch.Tensor, coefficient: torch.Tensor) -> torch.Tensor:
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
            keep = (torch.rand(alpha.shape[1:]) >= self.dropout).to(alpha.dtype) / (1.0 - self.dropout)
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
    regularize. Works on dense (T, N, F) and sparse (T * N, F) spike tensors.
    """
    if not training or p == 0.0:
        return s
    features = s.shape[-1]
    keep = (torch.rand(num_nodes, features) >= p).to(s.dtype) / (1.0 - p)
    if not s.is_sparse:
        return s * keep
    s = s.coalesce()
    rows, cols = s.indices()
    values = s.values() * keep[rows % num_nodes, cols]
    return torch.sparse_coo_tensor(s.indices(), values, s.shape, check_invariants=False)


def sparse_spikes(events, num_nodes: int, num_features: int, num_steps: int) -> torch.Tensor:
    """Spike events (steps, nodes, features) as a sparse float tensor (T * N, F)."""
    steps, nodes, feats = (torch.from_numpy(a) for a in events)
    index = torch.stack([steps * num_nodes + nodes, feats])
    return torch.sparse_coo_tensor(index, torch.ones(index.shape[1]), (num_steps * num_nodes, num_features),
                                   check_invariants=False).coalesce()
