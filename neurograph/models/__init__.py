"""Model families. Each model offers train_logits(graph, epoch, seed) and
inference_logits(graph, input_seed); the training loop needs nothing else. Dy-SIGN
(dynamic graphs) takes batches of snapshots instead (neurograph.dynamic_train)."""
from neurograph.config import ModelConfig
from neurograph.models.gasnn import GASNN
from neurograph.models.dysign import DySIGN
from neurograph.models.gat import GAT
from neurograph.models.gcn import GCN
from neurograph.models.gcsnn import GCSNN

MODELS = {"gcsnn": GCSNN, "gasnn": GASNN, "gcn": GCN, "gat": GAT, "dysign": DySIGN}
SPIKING = ("gcsnn", "gasnn")
DYNAMIC = ("dysign",)           # built over a DynamicGraph's snapshots


def build_model(cfg: ModelConfig, graph):
    if cfg.name not in MODELS:
        raise ValueError(f"unknown model {cfg.name!r}; choose one of {sorted(MODELS)}")
    if cfg.name in DYNAMIC:
        return MODELS[cfg.name](cfg, graph.num_snapshots, graph.num_features, graph.num_classes)
    return MODELS[cfg.name](cfg, graph.num_nodes, graph.num_features, graph.num_classes)
