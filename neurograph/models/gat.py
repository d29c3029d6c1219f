"""GAT baseline (Velickovic et al.): the ANN GA-SNN is compared with.

One attention head per layer, the layer sizes of the GA-SNN it is the baseline for
(so its accuracy and the energy report's ANN describe the same network); ELU
between layers, dropout on features and attention coefficients, as usual for GAT.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch_geometric.nn import GATConv

from neurograph.config import ModelConfig
from neurograph.models.gcn import GraphANN


class GAT(GraphANN):
    activation = staticmethod(F.elu)

    def __init__(self, cfg: ModelConfig, num_nodes: int, num_features: int, num_classes: int):
        # the graph already carries its self loops
        super().__init__(cfg, [GATConv(a, b, heads=1, dropout=cfg.dropout, add_self_loops=False)
                               for a, b in cfg.layer_sizes(num_features, num_classes)])

    def layer(self, conv, h, graph) -> torch.Tensor:
        return conv(h, graph.edge_index)
