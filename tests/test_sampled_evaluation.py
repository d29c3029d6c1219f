"""With sampled training, evaluation runs in chunks on exact L-hop subgraphs: the same numbers."""
import pytest
import torch

from neurograph.config import RunConfig
from neurograph.data.synthetic import make_csbm
from neurograph.models import build_model
from neurograph.train import deployed_logits


@pytest.mark.parametrize("name", ["gcsnn", "gasnn"])
def test_chunked_exact_subgraphs_give_the_full_graph_logits(name):
    graph = make_csbm(400, seed=3)
    cfg = RunConfig().with_model(name)
    cfg.model.coding = "deterministic"          # the same input draw on a subgraph as on the whole graph
    torch.manual_seed(0)
    model = build_model(cfg.model, graph).eval()
    with torch.no_grad():
        full = model.inference_logits(graph, cfg.train.input_seed)
        cfg.train.batch_size = 37               # chunks of 37 labelled nodes, each with its 2-hop subgraph
        chunked = deployed_logits(model, graph, cfg)
    labelled = torch.stack(list(graph.masks.values())).any(dim=0)
    assert labelled.sum() == 400 and full.abs().max() > 0
    assert torch.allclose(chunked[labelled], full[labelled], atol=1e-6)
