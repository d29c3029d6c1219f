"""STFN's deployed form, its folding into synapses, and export from PyTorch to the float IR."""
import numpy as np
import pytest
import torch

from neurograph.compile.export import export_network, graph_sample
from neurograph.compile.fold import fold_scales
from neurograph.compile.ir import IRError
from neurograph.config import RunConfig
from neurograph.data.synthetic import make_csbm
from neurograph.models import build_model
from neurograph.norm import STFN
from neurograph.sim.reference import run_samples

from conftest import make_float_network, random_sample, train_small_model


def trained_norm(features=5):
    torch.manual_seed(0)
    norm = STFN(num_features=features, threshold=1.0)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2.0)
        norm.bias.uniform_(-0.5, 0.5)
    return norm


def freeze(norm, s):
    norm.eval()
    norm.calibrating = True
    norm(s)
    norm.calibrating = False


def test_frozen_stfn_keeps_the_node_averaged_statistics_of_the_calibration_input():
    norm = trained_norm()
    s = torch.randn(6, 7, 5) * torch.linspace(0.5, 3.0, 7)[None, :, None] + torch.arange(7.0)[None, :, None]
    freeze(norm, s)
    frozen = norm(s)
    # by hand: per node mean and std over time and features, then averaged over the nodes
    per_node = s.permute(1, 0, 2).reshape(7, -1)
    mu = per_node.mean(dim=1).mean()
    sigma = torch.sqrt(per_node.var(dim=1, unbiased=False) + norm.eps).mean()
    assert torch.allclose(frozen, (s - mu) / sigma * norm.weight + norm.bias, atol=1e-5)
    scale, bias = norm.folded()
    assert scale.shape == bias.shape == (5,)
    assert torch.allclose(frozen, s * scale + bias, atol=1e-5)        # one affine map for every node


def test_frozen_stfn_equals_batch_statistics_when_every_node_has_the_same_statistics():
    norm = trained_norm()
    base = torch.randn(6 * 5) * 3 + 1
    # every node sees a permutation of the same values: equal per-node mean and variance
    s = torch.stack([base[torch.randperm(30)].view(6, 5) for _ in range(7)], dim=1)
    norm.train()
    batch = norm(s)
    freeze(norm, s)
    assert torch.allclose(batch, norm(s), atol=1e-5)
    # per node, over features and time: mean 0 and std = threshold * lambda before the shift
    z = (norm(s) - norm.bias) / (norm.weight * norm.threshold)
    assert torch.allclose(z.mean(dim=(0, 2)), torch.zeros(7), atol=1e-5)
    assert torch.allclose(z.std(dim=(0, 2), unbiased=False), torch.ones(7), atol=1e-3)


def test_frozen_stfn_is_causal_statistics_do_not_follow_the_input():
    norm = STFN(num_features=2).eval()
    norm.calibrating = True
    norm(torch.randn(4, 3, 2))
    norm.calibrating = False
    a = torch.randn(4, 3, 2)
    b = a.clone()
    b[3] += 100.0                                   # a change at the last step...
    assert torch.allclose(norm(a)[:3], norm(b)[:3])  # ...does not change earlier steps
    c = torch.randn(4, 9, 2)                        # and it runs unchanged on a graph of any size
    assert norm(c).shape == (4, 9, 2)


@pytest.mark.parametrize("seed", range(3))
def test_fold_scales_preserves_the_float_network(seed):
    sample = random_sample(seed, nodes=25)
    net = make_float_network(seed=seed, sample=sample)
    folded = fold_scales(net)
    assert any(p.input_scale is not None for p in net.populations)
    assert all(p.input_scale is None for p in folded.populations)
    (a,), (b,) = run_samples(net, [sample]), run_samples(folded, [sample])
    for name in a.spikes:
        assert np.array_equal(a.spikes[name], b.spikes[name])
    assert np.allclose(a.readout, b.readout)


def test_fold_refuses_a_population_without_a_conv_chain():
    net = make_float_network()
    net.projections[1].kind = "dense"      # the neuron is fed by a dense projection: no rows to scale
    net.projections[1].weight = np.eye(net.populations[0].features)
    with pytest.raises(IRError, match="graph projection"):
        fold_scales(net)


@pytest.fixture(scope="module", params=["gcsnn", "gasnn"])
def trained_small_model(request):
    cfg = RunConfig()
    cfg.data.name, cfg.model.name, cfg.model.stfn = "synthetic", request.param, True
    cfg.model.hidden, cfg.model.num_steps = 16, 6
    cfg.train.epochs = 15
    graph = make_csbm(num_nodes=150, num_classes=3, num_features=20, seed=1)
    return train_small_model(cfg, graph), graph, cfg


def test_exported_float_ir_reproduces_the_torch_model(trained_small_model):
    model, graph, cfg = trained_small_model
    net = export_network(model, graph, cfg)
    assert all(pr.weight is None for pr in net.graph_projections)          # the network holds no graph
    sample = graph_sample(model, graph, cfg)                                # GA-SNN: attention for this graph
    with torch.no_grad():
        logits = model.inference_logits(graph, cfg.train.input_seed).double().numpy()
    torch_spikes = model.trace["if1"]["spikes"].numpy().astype(bool)
    (result,) = run_samples(fold_scales(net), [sample])
    assert net.window_steps == model.run_steps
    assert np.mean(result.raster("if1") == torch_spikes) > 0.999      # float32 vs float64 at the threshold only
    assert np.mean(result.predictions() == logits.argmax(1)) > 0.99
    assert np.corrcoef(result.readout.ravel() / net.window_steps, logits.ravel())[0, 1] > 0.999


def test_export_refuses_an_ann(trained_small_model):
    _, graph, cfg = trained_small_model
    cfg = RunConfig.from_dict({**cfg.to_dict(), "model": {**cfg.to_dict()["model"], "name": "gcn"}})
    with pytest.raises(IRError, match="only spiking models"):
        export_network(build_model(cfg.model, graph), graph, cfg)


@pytest.mark.parametrize("name", ["gcsnn", "gasnn"])
def test_balanced_init_scales_hidden_currents_to_the_threshold_and_every_layer_fires(name):
    cfg = RunConfig().with_model(name)
    cfg.model.layers, cfg.model.hidden, cfg.model.num_steps, cfg.model.init = 6, 16, 6, "balanced"
    graph = make_csbm(num_nodes=120, num_classes=3, num_features=16, seed=2)
    torch.manual_seed(0)
    model = build_model(cfg.model, graph)
    with torch.no_grad():
        for conv in model.convs:            # a start so weak that nothing fires beyond the first layer
            conv.lin.weight.mul_(0.05)
    model.initialize(graph, seed=3)
    model.eval()
    with torch.no_grad():
        model.inference_logits(graph, input_seed=3)
    rates = [float(model.trace[f"if{i}"]["spikes"].mean()) for i in range(1, cfg.model.layers)]
    assert min(rates) > 0.005, rates
    # the scaled layer-1 current has the target spread (half the threshold) over the input window
    spikes = model.encode(graph.x, 3)
    with torch.no_grad():
        current = model.convs[0](spikes, graph.edge_index, graph.edge_weight, model.run_steps, model.source_window(0))
    spread = float(current[model.input_window(0)].std())
    assert spread == pytest.approx(0.5 * cfg.model.threshold, rel=2e-3)


def test_unknown_init_is_refused():
    cfg = RunConfig()
    cfg.model.init = "magic"
    graph = make_csbm(num_nodes=30, num_classes=2, num_features=4, seed=0)
    with pytest.raises(ValueError, match="init must be"):
        build_model(cfg.model, graph).initialize(graph, seed=0)
