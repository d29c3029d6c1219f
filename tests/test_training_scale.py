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
    assert torch.autograd.gradcheck(lambda c, h: aggregate(h, edge_index, c, heads), (c, h))
