"""GCN baseline (Kipf & Welling): the ANN the spiking models are compared with."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GCNConv

from neurograph.config import ModelConfig


class GraphANN(nn.Module):
    """The ANN baselines' shared loop: row-normalized features (their usual setting), then per
    layer dropout -> graph layer -> activation (none after the last)."""
    activation = staticmethod(F.relu)

    def __init__(self, cfg: ModelConfig, convs):
        super().__init__()
        self.cfg = cfg
        self.convs = nn.ModuleList(convs)

    def layer(self, conv, h, graph) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, graph) -> torch.Tensor:
        h = graph.x / graph.x.sum(dim=1, keepdim=True).clamp(min=1e-12)
        for i, conv in enumerate(self.convs):
            h = F.dropout(h, self.cfg.dropout, self.training)
            h = self.layer(conv, h, graph)
            if i < len(self.convs) - 1:
                h = self.activation(h)
        return h

    def train_logits(self, graph, epoch: int, seed: int) -> torch.Tensor:
        return self(graph)

    def inference_logits(self, graph, input_seed: int) -> torch.Tensor:
        return self(graph)


class GCN(GraphANN):
    """ReLU GCN with the same graph normalization as GC-SNN."""

    def __init__(self, cfg: ModelConfig, num_nodes: int, num_features: int, num_classes: int):
        super().__init__(cfg, [GCNConv(a, b, normalize=False)
                               for a, b in cfg.layer_sizes(num_features, num_classes)])

    def layer(self, conv, h, graph) -> torch.Tensor:
        return conv(h, graph.edge_index, graph.edge_weight)
