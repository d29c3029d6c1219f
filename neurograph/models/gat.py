"""GAT baseline (Velickovic et al.): the ANN GA-SNN is compared with.

One attention head per layer, the layer sizes of the GA-SNN it is the baseline for
(so its accuracy and the energy report's ANN describe the same network); ELU
between layers, dropout on features and attention coefficients, as usual for GAT.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GATConv

from neurograph.config import ModelConfig


class GAT(nn.Module):
    def __init__(self, cfg: ModelConfig, num_nodes: int, num_features: int, num_classes: int):
        super().__init__()
        self.cfg = cfg
        dims = [num_features] + [cfg.hidden] * (cfg.layers - 1) + [num_classes]
        # the graph already carries its self loops
        self.convs = nn.ModuleList(GATConv(a, b, heads=1, dropout=cfg.dropout, add_self_loops=False)
                                   for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        h = x / x.sum(dim=1, keepdim=True).clamp(min=1e-12)
        for i, conv in enumerate(self.convs):
            h = F.dropout(h, self.cfg.dropout, self.training)
            h = conv(h, edge_index)
            if i < len(self.convs) - 1:
                h = F.elu(h)
        return h

    def train_logits(self, graph, epoch: int, seed: int) -> torch.Tensor:
        return self(graph.x, graph.edge_index)

    def inference_logits(self, graph, input_seed: int) -> torch.Tensor:
        return self(graph.x, graph.edge_index)
