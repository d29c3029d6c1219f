"""GA-SNN: spiking attention recomputed every step, its frozen deployed form, the host stages it needs,
and its lowering to Lava (spike for spike against the reference)."""
import dataclasses

import numpy as np
import pytest
import torch
from torch_geometric.utils import scatter

from neurograph.compile.artifact import load_network, save_network
from neurograph.compile.export import export_network, graph_sample
from neurograph.compile.graphs import bind
from neurograph.compile.ir import HostStage, IRError, host_work, validate
from neurograph.compile.samples import load_samples, save_samples
from neurograph.config import ModelConfig, RunConfig
from neurograph.data import load_graph
from neurograph.layers import SpikingGraphAttention, SpikingGraphConv
from neurograph.pipeline import compile_model
from neurograph.sim.energy import CMOS45, energy_report
from neurograph.sim.lava_runner import run_on_lava
from neurograph.sim.reference import prepare, run_reference, spike_agreement
from neurograph.sim.steps import graph_stats

from conftest import train_small_model


def tiny_config(**model) -> RunConfig:
    cfg = RunConfig()
    cfg.data.name, cfg.data.num_nodes, cfg.data.num_features, cfg.data.num_classes = "synthetic", 80, 12, 3
    cfg.model = dataclasses.replace(cfg.model, name="gasnn", hidden=8, num_steps=5, **model)
    cfg.train.epochs = 8
    return cfg


@pytest.fixture(scope="module", params=[dict(stfn=True), dict(stfn=False, neuron="lif", leak=0.125, heads=2)],
                ids=["if-stfn", "lif-no-stfn-2-heads"])
def trained(request):
    cfg = tiny_config(**request.param)
    graph = load_graph(cfg.data)
    return train_small_model(cfg, graph), graph, cfg


@pytest.mark.parametrize("scores_from", ["step", "running"])
@pytest.mark.parametrize("heads", [1, 2])
def test_attention_is_a_softmax_over_each_nodes_in_edges_at_every_step(scores_from, heads):
    torch.manual_seed(0)
    layer = SpikingGraphAttention(5, 4, heads=heads, scores_from=scores_from)
    edge_index = torch.tensor([[0, 1, 2, 0, 1, 2], [0, 0, 0, 1, 1, 2]])     # node 0 hears 0, 1, 2
    h = torch.randn(3, 3, 4)
    alpha = layer.attention(h, edge_index)
    assert alpha.shape == (3, 6, heads)
    sums = scatter(alpha, edge_index[1], dim=1, dim_size=3, reduce="sum")
    assert torch.allclose(sums, torch.ones(3, 3, heads))
    t = 1                                                                     # node 0 at step 1, by hand
    seen = h[t] if scores_from == "step" else (h[0] + h[1]) / 2               # running: mean of steps 0..t
    width = 4 // heads
    for k in range(heads):                                                    # head k: its slice of features
        mine = seen[:, k * width:(k + 1) * width]
        e = torch.nn.functional.leaky_relu(mine[[0, 1, 2]] @ layer.att_src[k] + mine[0] @ layer.att_dst[k], 0.2)
        assert torch.allclose(alpha[t, :3, k], torch.softmax(e, dim=0))


def test_each_head_aggregates_its_own_feature_slice():
    torch.manual_seed(2)
    layer = SpikingGraphAttention(3, 4, heads=2).eval()
    edge_index = torch.tensor([[0, 1, 1], [0, 0, 1]])
    layer.frozen_edges, layer.frozen = edge_index, torch.tensor([[0.25, 1.0], [0.75, 0.0], [1.0, 1.0]])
    s = torch.rand(1, 2, 3)
    out = layer(s, edge_index, None, 3)[2]                                   # delivered two steps later
    h = layer.lin(s[0])
    assert torch.allclose(out[0, :2], 0.25 * h[0, :2] + 0.75 * h[1, :2])     # head 0: features 0, 1
    assert torch.allclose(out[0, 2:], h[0, 2:])                              # head 1: features 2, 3
    assert torch.allclose(out[1], h[1])


def test_attention_options_are_checked():
    with pytest.raises(ValueError, match="scores_from must be one of"):
        SpikingGraphAttention(5, 4, scores_from="mean")
    with pytest.raises(ValueError, match="heads=3 must be >= 1 and divide out_features=4"):
        SpikingGraphAttention(5, 4, heads=3)
    with pytest.raises(ValueError, match="heads=3 must be >= 1 and divide hidden=64"):
        ModelConfig(name="gasnn", heads=3).layer_heads()


def test_calibration_freezes_the_window_mean_and_eval_then_is_a_fixed_graph_conv():
    torch.manual_seed(1)
    layer, plain = SpikingGraphAttention(6, 4).eval(), SpikingGraphConv(6, 4).eval()
    plain.lin.weight.data.copy_(layer.lin.weight.data)
    edge_index = torch.tensor([[0, 1, 2, 3, 1, 2, 0], [0, 0, 1, 1, 2, 3, 3]])
    s = (torch.rand(6, 4, 6) < 0.5).float()
    window = slice(1, 4)
    with pytest.raises(RuntimeError, match="not calibrated"):
        layer(s, edge_index, None, 8, window)
    layer.calibrating = True
    calibration_out = layer(s, edge_index, None, 8, window)
    layer.calibrating = False
    expected = layer.attention(layer.lin(s), edge_index)[window].mean(dim=0)
    assert torch.allclose(layer.frozen, expected)
    frozen_out = layer(s, edge_index, None, 8, window)
    assert torch.allclose(frozen_out, plain(s, edge_index, layer.frozen[:, 0], 8))    # one head
    assert torch.equal(calibration_out, frozen_out)      # the calibration pass already runs the deployed form
    layer.live = True
    assert not torch.allclose(layer(s, edge_index, None, 8, window), frozen_out)   # per-step attention differs
    layer.live = False
    with pytest.raises(RuntimeError, match="not calibrated for this graph"):      # another graph, same edge count
        layer(s, edge_index.flip(0), None, 8, window)


def test_gasnn_exports_attention_slots_and_the_host_computes_frozen_attention_per_graph(trained):
    model, graph, cfg = trained
    net = export_network(model, graph, cfg)
    heads = [cfg.model.heads, 1]                                  # the output layer has one head
    assert [(pr.rule, pr.heads, pr.weight) for pr in net.graph_projections] == [("attention", h, None) for h in heads]
    assert net.metadata["aggregation"] == "attention"
    sample = graph_sample(model, graph, cfg)
    edges = graph.edge_index.shape[1]                             # self loops included
    # recompute the frozen attention independently: the window mean of each layer's per-step
    # attention on the spikes the deployed network itself produces
    sources = [model.deployed_input(graph, cfg.train.input_seed).to_dense().view(-1, *graph.x.shape),
               model.trace[f"{cfg.model.neuron}1"]["spikes"]]
    for layer, conv in enumerate(model.convs):
        with torch.no_grad():
            alpha = conv.attention(conv.lin(sources[layer]), graph.edge_index)[model.source_window(layer)].mean(0)
        assert alpha.shape == (edges, heads[layer])
        name = f"aggregate{layer + 1}"
        assert np.array_equal(sample.coefficient_edges[name], graph.edge_index.numpy())
        assert np.allclose(sample.coefficients[name], alpha.double().numpy(), atol=1e-6)
    binding = bind(net, sample)
    for layer in range(2):                                        # softmax rows, per head
        for a in binding.matrices[f"aggregate{layer + 1}"]:
            assert np.allclose(np.asarray(a.sum(axis=1)).ravel(), 1.0)
    stages = {s.name: s for s in net.host}
    assert list(stages) == ["encode_input", "attention", "decide_class"]
    attention = stages["attention"]
    assert attention.when == "per_graph" and attention.per == "sample"
    assert {"aggregate1", "aggregate2"} <= set(attention.feeds)
    ops = host_work(net, sample)["attention"]["ops"]
    assert ops == sample.host_ops["attention"]
    # layer 1 (its heads) sees T input steps, layer 2 (one head) the S run steps
    head_steps = heads[0] * cfg.model.num_steps + heads[1] * model.run_steps
    assert ops["exp"] == head_steps * edges and ops["div"] == head_steps * edges + sum(heads) * edges
    # multiplies: LeakyReLU per edge, head and step, running-mean scores 2 per node, head and step,
    # LIF's leak per neuron and run step (STFN's statistics are the training graph's: not recomputed)
    n, hidden = graph.num_nodes, cfg.model.hidden
    assert cfg.model.attention_scores_from == "running"
    assert ops["fp32_mult"] == (head_steps * edges + 2 * n * head_steps
                                + (cfg.model.neuron == "lif") * model.run_steps * n * hidden)
    work = host_work(net, sample)
    assert work["decide_class"]["ops"] == {"compares": graph.num_nodes * (graph.num_classes - 1)}
    assert work["encode_input"]["ops"]["compares"] == cfg.model.num_steps * int(torch.count_nonzero(graph.x))


@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.usefixtures("no_leaked_processes")
def test_gasnn_lowering_agrees_with_the_reference_spike_for_spike(trained, tmp_path):
    model, graph, cfg = trained
    _, fixed, sample = compile_model(model, graph, cfg)
    fixed = load_network(save_network(fixed, tmp_path / "net.npz"))         # host stages survive the file
    (sample,) = load_samples(save_samples([sample], tmp_path / "samples.npz"))   # and coefficients theirs
    assert [s.name for s in fixed.host][1] == "attention"
    windows = prepare(fixed, [sample])
    ref = run_reference(fixed, windows)
    assert sum(ref.raster(name).sum() for name in ref.spikes) > 0, "a network that never spikes proves nothing"
    for lowering in ("fused", "stock"):
        lava = run_on_lava(fixed, windows, lowering)
        assert spike_agreement(ref, lava)["all"] == 1.0
        assert np.array_equal(ref.readout, lava.readout)


def test_host_energy_is_counted_operations_times_45nm_constants(trained):
    from neurograph.sim.counters import count_events
    model, graph, cfg = trained
    _, fixed, sample = compile_model(model, graph, cfg)
    windows = prepare(fixed, [sample])
    counts = count_events(fixed, windows, run_reference(fixed, windows).spikes)
    energy = energy_report(fixed, counts, [graph_stats(fixed, windows[0])], [host_work(fixed, sample)])
    attention = energy["host"]["stages"]["attention"]
    ops = sample.host_ops["attention"]
    assert attention["total_pj"] == pytest.approx(sum(ops[k] * CMOS45[k].value_pj
                                                      for k in ("fp32_add", "fp32_mac", "fp32_mult")))
    assert attention["unpriced_ops"]["exp"] == ops["exp"]          # no 45 nm constant: counted, not priced
    assert energy["host"]["per_graph_pj"] == attention["total_pj"] and energy["host"]["once_pj"] == 0.0
    assert energy["host"]["per_inference_pj"] == 0.0              # random draws and compares: unpriced
    assert energy["chip_energy"]["where"].startswith("on chip: a lower bound")     # Loihi 1 figures are minimums


def test_a_host_stage_must_feed_existing_parts(trained):
    model, graph, cfg = trained
    net = export_network(model, graph, cfg)
    net.host.append(HostStage("mystery", "per_inference", ["aggregate9"], {}))
    with pytest.raises(IRError, match="aggregate9"):
        validate(net)
    net.host[-1] = HostStage("mystery", "sometimes", ["input"], {})
    with pytest.raises(IRError, match="sometimes"):
        validate(net)
    net.host[-1] = HostStage("mystery", "per_graph", ["input"], {}, per="fortnight")
    with pytest.raises(IRError, match="fortnight"):
        validate(net)
