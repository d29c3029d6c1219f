"""GCN baseline (Kipf & Welling): the ANN the spiking models are compared with."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GCNConv

from neurograph.config import ModelConfig


class GCN(nn.Module):
    """ReLU GCN on row-normalized features (its usual setting), same graph normalization as GC-SNN."""

    def __init__(self, cfg: ModelConfig, num_nodes: int, num_features: int, num_classes: int):
        super().__init__()
        self.cfg = cfg
        dims = [num_features] + [cfg.hidden] * (cfg.layers - 1) + [num_classes]
        self.convs = nn.ModuleList(GCNConv(a, b, normalize=False) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        h = x / x.sum(dim=1, keepdim=True).clamp(min=1e-12)
        for i, conv in enumerate(self.convs):
            h = F.dropout(h, self.cfg.dropout, self.training)
            h = conv(h, edge_index, edge_weight)
            if i < len(self.convs) - 1:
                h = F.relu(h)
        return h

    def train_logits(self, graph, epoch: int, seed: int) -> torch.Tensor:
        return self(graph.x, graph.edge_index, graph.edge_weight)

    def inference_logits(self, graph, input_seed: int) -> torch.Tensor:
        return self(graph.x, graph.edge_index, graph.edge_weight)
