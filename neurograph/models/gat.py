"""GAT baseline (Velickovic et al.): the ANN GA-SNN is compared with.

The layer sizes and attention heads of the GA-SNN it is the baseline for (so its
accuracy and the energy report's ANN describe the same network): hidden layers of
`heads` concatenated heads, one head in the output layer; ELU
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
        super().__init__(cfg, [GATConv(a, b // k, heads=k, dropout=cfg.dropout, add_self_loops=False)
                               for (a, b), k in zip(cfg.layer_sizes(num_features, num_classes), cfg.layer_heads())])

    def layer(self, conv, h, graph) -> torch.Tensor:
        return conv(h, graph.edge_index)
