"""HVS-GNN: the float model against its exported IR, surrogates and the spiking loss, the quantizer's
chains with graded sources, and the deployed network (reference, fused Lava, Lava's stock processes)."""
import dataclasses

import numpy as np
import pytest
import torch

from neurograph.compile.export import export_hvsgnn
from neurograph.compile.inputs import GRADED_INPUT_MAX, InputSpec
from neurograph.compile.ir import IRError, Readout, validate
from neurograph.compile.quantize import quantize_network
from neurograph.compile.samples import Sample, check_sample, disjoint_union, load_samples, save_samples
from neurograph.config import RunConfig
from neurograph.models.hvsgnn import HVSGNN, ThresholdSpike, mean_edges, vsn_steps
from neurograph.sim.reference import prepare, run_reference, sequences
from neurograph.sim.scoring import graph_predictions


def _graph(n, seed):
    """A small random graph with both edge directions and features in [0, 1]."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, n, 3 * n)
    dst = (src + rng.integers(1, n, 3 * n)) % n
    edges = np.unique(np.concatenate([np.stack([src, dst]), np.stack([dst, src])], axis=1), axis=1)
    return edges.astype(np.int64), rng.random((n, 5))


def _model(boundaries="vsn", seed=0, **model):
    model.setdefault("num_steps", 3)          # the memories carry over steps (the shipped setting is T = 1)
    cfg = RunConfig().with_model("hvsgnn")
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, boundaries=boundaries, hidden=8, **model))
    torch.manual_seed(seed)
    net = HVSGNN(cfg.model, 5)
    with torch.no_grad():                     # BatchNorm statistics and weights that make the neurons busy
        for norm in net.norms:
            norm.running_mean.uniform_(-0.3, 0.3)
            norm.running_var.uniform_(0.05, 0.3)
    return cfg, net.eval()


def _samples(count=3, first_seed=0):
    samples = []
    for k in range(count):
        edges, x = _graph(7 + 3 * k, first_seed + k)
        samples.append(Sample(f"g{k}", x.shape[0], edges, features=x, targets=np.array([[0.1 * k]])))
    return samples


def _torch_predictions(model, sample):
    edges = mean_edges(sample.edge_index, sample.num_nodes)
    x = torch.tensor(sample.features, dtype=torch.float32)
    pred, _ = model(x, edges, torch.zeros(sample.num_nodes, dtype=torch.long), 1)
    return pred.detach().numpy().astype(np.float64)


def _exported(model, cfg, samples):
    calib = samples[0]
    x = torch.tensor(calib.features, dtype=torch.float32)
    return export_hvsgnn(model, (x, mean_edges(calib.edge_index, calib.num_nodes)), cfg)


@pytest.mark.parametrize("boundaries,steps", [("vsn", 3), ("lif", 3), ("vsn,relu", 3), ("vsn", 1)])
def test_float_ir_computes_what_the_trained_model_computes(boundaries, steps):
    # export folds BatchNorm, splits each SAGE layer into two chains, delays every layer by two steps, gates the
    # biases with the clock and moves the head to the host: the float IR on the reference executor must give
    # the model's predictions
    cfg, model = _model(boundaries, num_steps=steps)
    samples = _samples()
    net = _exported(model, cfg, samples)
    for seq in sequences(prepare(net, samples), False):
        run = run_reference(net, seq, record=False)
        ir = graph_predictions(net, run.readouts[0], seq[0].sample)
        assert ir == pytest.approx(_torch_predictions(model, seq[0].sample), abs=2e-5)


def test_a_gnn_is_not_deployed():
    cfg, model = _model("relu")
    with pytest.raises(IRError, match="continuous A-GNN"):
        _exported(model, cfg, _samples(1))


def test_quantized_chains_share_one_activation_scale_with_graded_sources():
    # every chain into a population must map a float unit of input to the same integer a_in:
    # K = k_src * s_w * s_a * 2**(e_w + e_a), with k_src the source's scale (1 for the graded input, whose
    # integers the float IR already reads; a VSN's own activation scale for its payloads)
    cfg, model = _model("vsn")
    fixed = quantize_network(_exported(model, cfg, _samples()))
    report = fixed.metadata["quantization"]
    for target in ("vsn2", "readout"):
        k = report[target]["activation_scale"]
        source = "vsn1" if target == "vsn2" else "vsn2"
        for chain in report[target]["chains"]:
            k_chain = report[source]["activation_scale"] * chain["weight_scale"] * chain["adjacency_scale"] * \
                2.0 ** (chain["weight_exp"] + chain["adjacency_exp"])
            assert k_chain == pytest.approx(k, rel=1e-12)
    # the mantissas use their 8 bits: at most MAX_MANTISSA_BITS_LOST below the full range
    for pr in fixed.projections:
        if pr.kind == "dense":
            assert 127 / 4 < np.abs(pr.weight).max() <= 255, pr.name
    # the head reads the integer membrane: its weights are divided by K << 6 (the integrator's voltage)
    float_head = _exported(model, cfg, _samples()).readout.head_weight
    assert fixed.readout.head_weight == pytest.approx(float_head / (report["readout"]["activation_scale"] * 64))


def test_deployed_predictions_follow_the_float_model():
    cfg, model = _model("vsn")
    samples = _samples()
    net = _exported(model, cfg, samples)
    fixed = quantize_network(net)
    for s in samples:
        fixed_run = run_reference(fixed, sequences(prepare(fixed, [s]), False)[0], record=False)
        deployed = graph_predictions(fixed, fixed_run.readouts[0], s)
        assert deployed == pytest.approx(_torch_predictions(model, s), abs=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("boundaries", ["vsn", "lif,vsn"])
def test_graded_chains_agree_on_lava_fused_and_stock(boundaries):
    # the VSN's graded payloads, the graded input and the relays' payloads cross our fused GraphConv
    # processes and, separately, Lava's own Dense/Sparse with 24-bit messages: both must equal the reference
    from neurograph.sim.lava_runner import run_on_lava
    cfg, model = _model(boundaries)
    fixed = quantize_network(_exported(model, cfg, _samples()))
    union = disjoint_union(_samples(2, first_seed=5))
    seq = sequences(prepare(fixed, [union]), False)[0]
    reference = run_reference(fixed, seq)
    assert any(np.count_nonzero(p) for p in reference.payloads.values())
    for lowering in ("fused", "stock"):
        lava = run_on_lava(fixed, seq, lowering=lowering, progress=False)
        assert np.array_equal(lava.readouts[0], reference.readouts[0]), lowering
        for name, payloads in reference.payloads.items():
            assert np.array_equal(lava.payloads[name], payloads), (lowering, name)
        for name in reference.spikes:
            assert np.array_equal(lava.spikes[name], reference.spikes[name]), (lowering, name)


def test_vsn_float_steps_match_the_kind_and_fire_at_equality():
    from neurograph.compile.ir import Population
    from neurograph.compile.kinds import get_kind
    z = torch.tensor([0.5, 0.5, 1.0, -0.25, 1.25]).reshape(5, 1, 1)
    payloads, fired = vsn_steps(z, 1.0, 0.0, "fast_sigmoid", 1.0)
    # M: 0.5, 1.0 (= Th: fires, sends 0.5), 1.0 (fires, 1.0), -0.25, 1.0 (fires, 1.25)
    assert fired.flatten().tolist() == [0, 1, 1, 0, 1]
    assert payloads.flatten().tolist() == [0, 0.5, 1.0, 0, 1.25]
    pop, kind = Population("v", "vsn", 1, threshold=1.0), get_kind("vsn")
    state = kind.init_state(pop, 1, False)
    outs = [kind.step(pop, state, np.array([[v]]), False, {})[0, 0] for v in z.flatten().tolist()]
    assert outs == pytest.approx(payloads.flatten().tolist())


@pytest.mark.parametrize("surrogate, expected", [
    # fast sigmoid: 1 / (1 + |x| / w)^2 with w = 0.5 at x = -1, 0, 0.25: 1/9, 1, 4/9
    ("fast_sigmoid", [1 / 9, 1.0, 4 / 9]),
    # rectangular: 1/w on |x| < w/2 = 0.25: 0, 2, 0 (0.25 is outside)
    ("rectangular", [0.0, 2.0, 0.0])])
def test_surrogate_gradients(surrogate, expected):
    x = torch.tensor([-1.0, 0.0, 0.25], requires_grad=True)
    out = ThresholdSpike.apply(x, surrogate, 0.5, True)
    out.sum().backward()
    assert out.tolist() == [0.0, 1.0, 1.0]
    assert x.grad.tolist() == pytest.approx(expected)


def test_spiking_loss_adds_beta_times_the_activity_gradient():
    # SLF = MSE + beta * activity: its gradient is the MSE's plus beta times the activity's, and a step
    # on the activity alone lowers the firing
    cfg, model = _model("vsn")
    model.train()
    samples = _samples(2)
    union = disjoint_union(samples)
    x = torch.tensor(union.features, dtype=torch.float32)
    edges = mean_edges(union.edge_index, union.num_nodes)
    batch = torch.tensor(union.graph_index)
    y = torch.tensor(union.targets, dtype=torch.float32)

    def grads(beta):
        model.zero_grad()
        torch.manual_seed(0)
        pred, rate = model(x, edges, batch, 2)
        (torch.nn.functional.mse_loss(pred, y) + beta * rate).backward()
        return torch.cat([p.grad.flatten() for p in model.convs[0].parameters()]), float(rate.detach())
    g0, rate = grads(0.0)
    g1, _ = grads(1.0)
    g3, _ = grads(3.0)
    assert rate > 0 and not torch.allclose(g0, g1)
    assert torch.allclose(g3 - g0, 3 * (g1 - g0), atol=1e-6)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for _ in range(5):
        opt.zero_grad()
        _, r = model(x, edges, batch, 2)
        r.backward()
        opt.step()
    _, after = model(x, edges, batch, 2)
    assert float(after.detach()) < rate


def test_graph_samples_round_trip_with_targets_and_graph_index(tmp_path):
    union = disjoint_union(_samples(3))
    assert union.num_graphs == 3 and union.targets.shape == (3, 1)
    assert np.bincount(union.graph_index).tolist() == [7, 10, 13]
    save_samples([union], tmp_path / "s.npz")
    back = load_samples(tmp_path / "s.npz")[0]
    assert np.array_equal(back.graph_index, union.graph_index) and np.array_equal(back.targets, union.targets)
    bad = dataclasses.replace(union, targets=np.zeros((2, 1)))
    with pytest.raises(ValueError, match="one row per graph"):
        check_sample(bad)


def test_readout_head_is_validated_and_pools_per_graph():
    cfg, model = _model("vsn")
    net = _exported(model, cfg, _samples())
    net.readout = Readout("readout", pool="max", head_weight=net.readout.head_weight, head_bias=net.readout.head_bias)
    with pytest.raises(IRError, match="pool='max'"):
        validate(net)
    net.readout = Readout("readout", pool="mean", head_weight=np.ones((3, 1)), head_bias=np.zeros(1))
    with pytest.raises(IRError, match=r"head weight must be \(8, outputs\)"):
        validate(net)
    # pooling by hand: graph 0 = nodes 0, 1; graph 1 = node 2
    net.readout = Readout("readout", pool="mean", head_weight=np.eye(8)[:, :2], head_bias=np.array([1.0, 0.0]))
    sample = Sample("u", 3, np.zeros((2, 0), np.int64), features=np.zeros((3, 5)), graph_index=np.array([0, 0, 1]))
    readout = np.arange(24, dtype=float).reshape(3, 8)
    assert graph_predictions(net, readout, sample).tolist() == [[1 + 4.0, 5.0], [1 + 16.0, 17.0]]


def test_graded_input_stream_is_the_8_bit_feature_at_every_input_step():
    x = np.array([[0.0, 0.5, 1.0], [0.2, 0.0, 0.004]])
    steps = list(InputSpec.from_features(x, 3, "graded", seed=0).stream())
    assert len(steps) == 3
    for s in steps:
        assert s.tolist() == [[0, 128, 255], [51, 0, 1]]
    assert GRADED_INPUT_MAX == 255


@pytest.mark.parametrize("boundaries", ["vsn", "lif"])
def test_biases_travel_with_the_sample_so_nothing_fires_between_samples(boundaries):
    # BatchNorm shifts far above the threshold: with a constant bias every boundary neuron would fire on
    # every flush step. Gated by the clock, the deployed network sends only on the T steps at which each
    # layer's sample arrives, and the clock neuron (the last feature) fires on exactly those steps.
    cfg, model = _model(boundaries, num_steps=2)
    with torch.no_grad():
        for norm in model.norms:
            norm.bias.fill_(3.0)
    samples = _samples(1)
    fixed = quantize_network(_exported(model, cfg, samples))
    assert fixed.input.clock and fixed.input.sample_features == 5 and fixed.input.features == 6
    run = run_reference(fixed, sequences(prepare(fixed, samples), False)[0])
    for layer in range(2):
        name = f"{boundaries}{layer + 1}"
        fired = run.raster(name) if boundaries == "lif" else run.payloads[name] != 0      # what goes on the wire
        assert fixed.population(name).clock and fired.shape[2] == cfg.model.hidden + 1
        window = np.zeros(fired.shape[0], bool)
        window[model.input_window(layer)] = True
        assert fired[window].any(axis=2).all()                    # the shifts make every neuron busy...
        assert not fired[~window].any()                           # ...only while its sample passes
        assert fired[window, :, -1].all() and not fired[~window, :, -1].any()


def test_the_equivalent_ann_has_no_clock_features(tmp_path):
    # the clock is the SNN's way of gating its biases; the ANN it is compared with keeps plain biases,
    # so its MACs count the model's 5 -> 8 -> 8 -> 8 features, not the clock channels (kept by the artifact)
    from neurograph.compile.artifact import load_network, save_network
    from neurograph.sim.energy import ann_macs
    cfg, model = _model("vsn")
    net = load_network(save_network(_exported(model, cfg, _samples(1)), tmp_path / "net.npz"))
    macs = ann_macs(net, [{"num_nodes": 10, "input_nonzero": 50,
                           "graph_nnz": {pr.name: [0] for pr in net.graph_projections}}])
    assert macs["neigh1"] == macs["root1"] == 10 * 5 * 8
    assert macs["neigh2"] == macs["root3"] == 10 * 8 * 8
    assert [net.model_features(p) for p in ("input", "relay1n", "vsn1", "relay3r", "readout")] == [5, 8, 8, 8, 8]


def test_a_clock_needs_graded_features():
    cfg, model = _model("vsn")
    samples = _samples(1)
    net = _exported(model, cfg, samples)
    raster = dataclasses.replace(samples[0], features=None, spikes=np.zeros((cfg.model.num_steps, 7, 5), bool))
    with pytest.raises(Exception, match="graded with a clock; give the sample's features"):
        check_sample(raster, net)
    net.input = dataclasses.replace(net.input, coding="bernoulli")
    with pytest.raises(IRError, match="clock channel needs graded coding"):
        validate(net)
    spec = InputSpec.from_features(samples[0].features, 2, "graded", 0, clock=True)
    payload = next(spec.stream())
    assert payload.shape == (7, 6) and (payload[:, -1] == GRADED_INPUT_MAX).all()


def test_vsn_memories_are_priced_as_adds_at_45nm():
    # a VSN adds its input to its memory as LIF does (relays only forward the sum their synaptic ops count)
    from neurograph.compile.ir import host_work
    from neurograph.sim.counters import EventCounter
    from neurograph.sim.energy import energy_report
    from neurograph.sim.steps import graph_stats
    cfg, model = _model("vsn")
    samples = _samples(1)
    fixed = quantize_network(_exported(model, cfg, samples))
    windows = prepare(fixed, samples)
    counter = EventCounter(fixed, samples[0].num_nodes)
    run_reference(fixed, windows, observers=[counter])
    report = energy_report(fixed, counter.counts, [graph_stats(fixed, windows[0])], [host_work(fixed, samples[0])])
    active = {p.name: p.active_updates for p in counter.counts.populations}
    assert active["vsn1"] > 0 and active["vsn2"] > 0
    assert report["snn_45nm"]["terms"]["neuron_updates_as_adds"]["count"] == \
        active["vsn1"] + active["vsn2"] + active["readout"]
