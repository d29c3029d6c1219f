"""Spiking graph convolution as a PyG MessagePassing layer, timed like the chip.

On the chip a graph convolution is two synaptic hops -- the feature transform
S @ W into graded relay compartments, then the aggregation over edges -- and each
hop delivers one step later. So the current into layer l at step t is the
convolution of layer l-1's spikes at step t - DELAY. Training with that timing
makes the float model and the deployed network the same dynamical system.
"""
from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import MessagePassing

GRAPH_CONV_DELAY = 2   # steps: Dense (feature transform) + Sparse (aggregation), one each


class SpikingGraphConv(MessagePassing):
    """I_t = sum_u A[v, u] * (S_{t-DELAY}[u] @ W), for inputs shaped (T, N, F_in)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__(aggr="add", node_dim=-2)
        self.lin = nn.Linear(in_features, out_features, bias=False)

    def forward(self, s: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor,
                num_steps: int) -> torch.Tensor:
        """s: spikes, dense (T_s, N, F_in) or sparse (T_s * N, F_in) for sparse inputs such as
        bag-of-words features. Returns the delayed current, (num_steps, N, F_out)."""
        if s.is_sparse:
            num_nodes = int(edge_index.max()) + 1 if edge_index.numel() else 0
            h = torch.sparse.mm(s, self.lin.weight.t()).view(-1, num_nodes, self.lin.out_features)
        else:
            h = self.lin(s)
        h = self.propagate(edge_index, x=h, edge_weight=edge_weight)
        out = h.new_zeros((num_steps,) + h.shape[1:])
        n = min(h.shape[0], num_steps - GRAPH_CONV_DELAY)
        if n > 0:
            out[GRAPH_CONV_DELAY:GRAPH_CONV_DELAY + n] = h[:n]
        return out

    def message(self, x_j: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        return edge_weight.view(-1, 1) * x_j


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
