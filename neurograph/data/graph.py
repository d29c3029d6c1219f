"""GraphData: one transductive node-classification graph, ready for every model."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

import scipy.sparse as sp
import torch
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from neurograph.config import DataConfig


@dataclass
class GraphData:
    name: str
    x: torch.Tensor                 # (N, F) features in [0, 1]
    y: torch.Tensor                 # (N,) class labels
    edge_index: torch.Tensor        # (2, E') with self loops, source -> target
    edge_weight: torch.Tensor       # (E',) symmetric GCN normalization D^-1/2 (A+I) D^-1/2
    masks: Dict[str, torch.Tensor]  # train / val / test, bool (N,)
    num_classes: int

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_features(self) -> int:
        return int(self.x.shape[1])

    def adjacency(self) -> sp.csr_matrix:
        """The normalized adjacency as CSR, A[target, source] = edge weight (float64)."""
        src, dst = self.edge_index.numpy()
        w = self.edge_weight.double().numpy()
        return sp.csr_matrix((w, (dst, src)), shape=(self.num_nodes, self.num_nodes))


def from_edges(name: str, x, y, edge_index, masks, num_classes: int) -> GraphData:
    """Build GraphData, adding self loops and the symmetric GCN normalization once."""
    x = torch.as_tensor(x, dtype=torch.float32)
    edge_index = torch.as_tensor(edge_index, dtype=torch.long)
    ei, ew = gcn_norm(edge_index, None, num_nodes=x.shape[0], add_self_loops=True)
    return GraphData(name=name, x=x, y=torch.as_tensor(y, dtype=torch.long), edge_index=ei,
                     edge_weight=ew.float(), masks={k: torch.as_tensor(v, dtype=torch.bool) for k, v in masks.items()},
                     num_classes=int(num_classes))


def load_graph(cfg: DataConfig) -> GraphData:
    from neurograph.data.actor import load_actor
    from neurograph.data.dblp import load_dblp
    from neurograph.data.planetoid import PLANETOID_NAMES, load_planetoid
    from neurograph.data.synthetic import make_csbm

    name = cfg.name.lower()
    if name == "dblp":
        return load_dblp(cfg.root)
    if name == "actor":
        return load_actor(cfg.root, cfg.cache)
    if name == "synthetic":
        return make_csbm(cfg.num_nodes, cfg.num_classes, cfg.num_features, cfg.avg_degree, cfg.homophily, cfg.seed,
                         cfg.prototype_seed)
    if name in PLANETOID_NAMES:
        return load_planetoid(name, cfg.root, cfg.cache)
    raise ValueError(f"unknown dataset {cfg.name!r}; choose one of {sorted(PLANETOID_NAMES) + ['actor', 'dblp', 'synthetic']}")

