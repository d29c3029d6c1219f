"""Training at scale: sparse aggregation equals the per-edge definition, training spikes drawn on the
device, neighbour-sampled mini-batches, the device option."""
import numpy as np
import pytest
import torch
from torch_geometric.nn import MessagePassing

from neurograph.layers import GRAPH_CONV_DELAY, SpikingGraphAttention, SpikingGraphConv, aggregate


def random_edges(num_nodes: int, num_edges: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    src, dst = torch.randint(0, num_nodes, (2, num_edges), generator=g)
    loops = torch.arange(num_nodes)
    edge_index = torch.unique(torch.stack([torch.cat([src, loops]), torch.cat([dst, loops])]), dim=1)
    weight = torch.rand(edge_index.shape[1], generator=g)
    return edge_index, weight


def per_edge_reference(conv, s, edge_index, edge_weight, num_steps, window=slice(None)):
    """The layer as it was: MessagePassing.propagate over every step's per-edge messages."""
    h = conv.lin(s)
    coefficients = conv.edge_coefficients(h, edge_index, edge_weight, window)
    h = MessagePassing.propagate(conv, edge_index, x=h, coefficient=coefficients)
    out = h.new_zeros((num_steps,) + h.shape[1:])
    n = min(h.shape[0], num_steps - GRAPH_CONV_DELAY)
    out[GRAPH_CONV_DELAY:GRAPH_CONV_DELAY + n] = h[:n]
    return out


def _forward_and_grads(conv, fn, s, *args):
    conv.zero_grad()
    torch.manual_seed(5)        # the same attention dropout mask for both
    s = s.clone().requires_grad_(True)
    out = fn(s, *args)
    (out * torch.linspace(-1, 1, out.numel()).view(out.shape)).sum().backward()
    return out.detach(), s.grad.clone(), {n: p.grad for n, p in conv.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("kind", ["conv", "attention-running", "attention-step", "attention-frozen"])
def test_sparse_aggregation_equals_per_edge_propagate_forward_and_gradient(kind):
    torch.manual_seed(0)
    n, steps = 30, 9
    edge_index, weight = random_edges(n, 90)
    if kind == "conv":
        conv = SpikingGraphConv(7, 8)
    else:
        conv = SpikingGraphAttention(7, 8, heads=2, scores_from="step" if kind == "attention-step" else "running",
                                     dropout=0.5 if kind == "attention-running" else 0.0)
    s = (torch.rand(steps, n, 7) < 0.4).float()
    window = slice(1, 6)
    if kind == "attention-frozen":
        conv.eval()
        conv.calibrating = True
        conv(s, edge_index, weight, steps + GRAPH_CONV_DELAY, window)
        conv.calibrating = False
    new = _forward_and_grads(conv, conv, s, edge_index, weight, steps + GRAPH_CONV_DELAY, window)
    old = _forward_and_grads(conv, lambda *a: per_edge_reference(conv, *a), s, edge_index, weight,
                             steps + GRAPH_CONV_DELAY, window)
    assert torch.allclose(new[0], old[0], atol=1e-5)
    assert torch.allclose(new[1], old[1], atol=1e-5)
    assert new[2].keys() == old[2].keys()
    for name in old[2]:
        assert torch.allclose(new[2][name], old[2][name], atol=1e-5), name


@pytest.mark.parametrize("shape", ["static", "static-heads", "per-step", "per-step-heads"])
def test_aggregate_gradient_wrt_coefficients(shape):
    torch.manual_seed(1)
    n, steps, heads = 12, 4, (2 if shape.endswith("heads") else 1)
    edge_index, _ = random_edges(n, 30, seed=1)
    e = edge_index.shape[1]
    c_shape = {"static": (e,), "static-heads": (e, heads), "per-step": (steps, e),
               "per-step-heads": (steps, e, heads)}[shape]
    c = torch.rand(c_shape, dtype=torch.float64, requires_grad=True)
    h = torch.randn(steps, n, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c, h: aggregate(h, edge_index, c, heads), (c, h), fast_mode=True)


# ---- training spikes on the device ---------------------------------------------------------------
def test_training_spikes_have_the_coding_rates_and_the_deployed_raster_is_unchanged():
    from neurograph.encoding import draw_spikes, encode, encode_events
    rng = np.random.default_rng(0)
    x = np.where(rng.random((40, 6)) < 0.5, rng.random((40, 6)), 0.0)
    xt = torch.tensor(x, dtype=torch.float32)
    steps = 400
    index, feature, value = draw_spikes(xt, steps, torch.Generator().manual_seed(1))
    raster = torch.zeros(steps * 40, 6)
    raster[index, feature] = value
    rate = raster.view(steps, 40, 6).mean(0)
    assert torch.allclose(rate, xt, atol=0.1)
    assert bool((raster.view(steps, 40, 6).sum(0)[xt == 0] == 0).all())          # zero features never spike
    order = index * 6 + feature
    assert bool((order[1:] > order[:-1]).all())                                   # sorted, CSR-ready
    # deterministic coding: the same raster as the deployed encoder
    index, feature, _ = draw_spikes(xt, 7, None, coding="deterministic")
    mine = torch.zeros(7 * 40, 6, dtype=torch.bool)
    mine[index, feature] = True
    assert np.array_equal(mine.view(7, 40, 6).numpy(), encode(x.astype(np.float32), 7, 0, "deterministic"))
    # the deployed raster is numpy's, seeded: the same arrays every time
    a, b = encode_events(x, 8, 1234), encode_events(x, 8, 1234)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))


@pytest.mark.parametrize("coding", ["bernoulli", "deterministic"])
def test_dense_training_raster_is_the_event_lists_raster(coding):
    """draw_raster (Dy-SIGN's dense embeddings) draws exactly the spikes draw_spikes lists, zeros included."""
    from neurograph.encoding import draw_raster, draw_spikes
    rng = np.random.default_rng(0)
    x = torch.tensor(np.where(rng.random((30, 5)) < 0.7, rng.random((30, 5)), 0.0), dtype=torch.float32)
    index, feature, value = draw_spikes(x, 6, torch.Generator().manual_seed(2), coding)
    events = torch.zeros(6 * 30, 5)
    events[index, feature] = value
    dense = draw_raster(x, 6, torch.Generator().manual_seed(2), coding)
    assert dense.shape == (6, 30, 5) and torch.equal(dense, events.view(6, 30, 5)) and dense.sum() > 0


def test_input_window_dropout_keeps_one_mask_per_node_and_feature():
    from neurograph.encoding import draw_spikes
    x = torch.ones(50, 8)
    index, feature, value = draw_spikes(x, 6, torch.Generator().manual_seed(0), dropout=0.5)
    raster = torch.zeros(6 * 50, 8)
    raster[index, feature] = value
    per_step = raster.view(6, 50, 8)
    assert torch.equal(per_step[0], per_step[-1])                                 # the same mask every step
    assert set(per_step.unique().tolist()) == {0.0, 2.0}


def test_device_option():
    from neurograph.train import resolve_device
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU here")
def test_training_on_the_gpu_matches_the_cpu_model_form():
    from neurograph.config import RunConfig
    from neurograph.data.synthetic import make_csbm
    from neurograph.models import build_model
    from neurograph.train import train_model
    cfg = RunConfig()
    cfg.train.epochs, cfg.train.device, cfg.model.hidden = 5, "cuda", 16
    graph = make_csbm(300, seed=0)
    model = build_model(cfg.model, graph)
    result = train_model(model, graph, cfg, progress=False)
    assert next(model.parameters()).device.type == "cpu" and 0.0 <= result.accuracy["test"] <= 1.0


# ---- neighbour sampling --------------------------------------------------------------------------
def _dense(edge_index, weight, n):
    a = torch.zeros(n, n, dtype=torch.float64)
    a.index_put_((edge_index[1], edge_index[0]), weight.double(), accumulate=True)
    return a


def test_sampled_subgraph_with_every_neighbour_aggregates_like_the_full_graph():
    from neurograph.data.synthetic import make_csbm
    from neurograph.sampling import NeighborSampler
    graph = make_csbm(400, seed=0)
    seeds = torch.tensor([5, 17, 3, 250])
    batch = NeighborSampler(graph, [1000, 1000]).sample(seeds, torch.Generator().manual_seed(0))
    assert torch.equal(batch.nodes[:4], seeds) and torch.equal(batch.x, graph.x[batch.nodes])
    full = _dense(graph.edge_index, graph.edge_weight, 400)
    sub = _dense(batch.edge_index, batch.edge_weight, batch.num_nodes)
    h = torch.randn(400, 3, dtype=torch.float64)
    assert torch.allclose((full @ full @ h)[seeds], (sub @ sub @ h[batch.nodes])[:4])


def test_sampling_respects_the_fanout_is_seeded_and_unbiased():
    from neurograph.data.synthetic import make_csbm
    from neurograph.sampling import NeighborSampler
    graph = make_csbm(400, avg_degree=12.0, seed=1)
    sampler = NeighborSampler(graph, [3, 2])
    seeds = torch.arange(10)
    a = sampler.sample(seeds, torch.Generator().manual_seed(7))
    b = sampler.sample(seeds, torch.Generator().manual_seed(7))
    assert torch.equal(a.edge_index, b.edge_index) and torch.equal(a.nodes, b.nodes)
    src, dst = a.edge_index
    in_edges = torch.bincount(dst[src != dst], minlength=a.num_nodes)
    assert int(in_edges[:10].max()) <= 2                 # hop 1: the last layer's fanout
    assert int(in_edges.max()) <= 3
    # the expected sampled aggregation is the full one
    full = _dense(graph.edge_index, graph.edge_weight, 400)
    h = torch.rand(400, 1, dtype=torch.float64)
    mean = torch.zeros(10, 1, dtype=torch.float64)
    one_hop = NeighborSampler(graph, [2])
    for s in range(200):
        batch = one_hop.sample(seeds, torch.Generator().manual_seed(s))
        mean += (_dense(batch.edge_index, batch.edge_weight, batch.num_nodes) @ h[batch.nodes])[:10] / 200
    assert torch.allclose(mean, (full @ h)[:10], rtol=0.1)


@pytest.mark.parametrize("model", ["gcsnn", "gcn", pytest.param("gasnn", marks=pytest.mark.slow)])
def test_sampled_mini_batch_training_learns(model):
    from neurograph.config import RunConfig
    from neurograph.data.synthetic import make_csbm
    from neurograph.models import build_model
    from neurograph.train import train_model
    cfg = RunConfig().with_model(model)
    cfg.model.hidden, cfg.train.epochs, cfg.train.batch_size, cfg.train.fanout = 16, 12, 32, "5"
    graph = make_csbm(600, seed=0)
    torch.manual_seed(0)
    result = train_model(build_model(cfg.model, graph), graph, cfg, progress=False)
    assert result.accuracy["test"] > 0.8, result.accuracy
