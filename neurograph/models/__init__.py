"""Model families. Each model offers train_logits(graph, epoch, seed) and
inference_logits(graph, input_seed); the training loop needs nothing else."""
from neurograph.config import ModelConfig
from neurograph.models.gasnn import GASNN
from neurograph.models.gat import GAT
from neurograph.models.gcn import GCN
from neurograph.models.gcsnn import GCSNN

MODELS = {"gcsnn": GCSNN, "gasnn": GASNN, "gcn": GCN, "gat": GAT}
SPIKING = ("gcsnn", "gasnn")


def build_model(cfg: ModelConfig, graph):
    if cfg.name not in MODELS:
        raise ValueError(f"unknown model {cfg.name!r}; choose one of {sorted(MODELS)}")
    return MODELS[cfg.name](cfg, graph.num_nodes, graph.num_features, graph.num_classes)
