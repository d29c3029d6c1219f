"""Dy-SIGN in PyTorch: the implicit gradient at the equilibrium, memory against BPTT, training."""
import numpy as np
import pytest
import torch
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from neurograph.config import ConfigError, RunConfig
from neurograph.data.dynamic import make_evolving_sbm
from neurograph.data.dynamic_loader import DynamicNeighborSampler, full_batch
from neurograph.models import build_model
from neurograph.models.dysign import READOUT_MIN_STD_SPIKES, DySIGN, adjacency


def tiny_model(hidden=4, layers=2, iterations=60):
    cfg = RunConfig().with_model("dysign").model
    cfg.hidden, cfg.layers, cfg.implicit_iterations = hidden, layers, iterations
    torch.manual_seed(3)
    model = DySIGN(cfg, num_snapshots=1, num_features=5, num_classes=2).double()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0.25)
        for b in model.biases:
            b.fill_(0.5)                    # rates inside (0, 1): the map is smooth there
    return model


def tiny_graph(n=6):
    edges = torch.tensor([[0, 1, 1, 2, 3, 4, 2, 5], [1, 0, 2, 1, 4, 3, 5, 2]])
    ei, ew = gcn_norm(edges, None, num_nodes=n, add_self_loops=True)
    return adjacency(ei, ew.double(), n)


def fixed_point(model, x_mean, graph, iterations=400):
    with torch.no_grad():
        a = torch.full((x_mean.shape[0], model.cfg.layers * model.cfg.hidden), 0.5, dtype=torch.float64)
        for _ in range(iterations):
            a = model.equilibrium_map(a, x_mean, graph)
    return a


def loss_at_equilibrium(model, x_mean, graph, weights):
    h = model.cfg.hidden
    a = fixed_point(model, x_mean, graph)
    return float((weights * a[:, -h:]).sum())


@pytest.mark.parametrize("layers", [2, 3])
def test_implicit_gradient_matches_finite_differences_of_the_equilibrium(layers):
    """dL/dtheta from the implicit backward pass at a* equals the finite-difference slope of L(a*(theta)),
    a* solved to convergence; without the fixed-point solve (0 iterations) it does not."""
    model = tiny_model(layers=layers)
    graph = tiny_graph()
    x_mean = torch.as_tensor(np.random.default_rng(0).random((6, 5)))
    weights = torch.as_tensor(np.random.default_rng(1).normal(size=(6, model.cfg.hidden)))
    a = fixed_point(model, x_mean, graph)
    assert ((a > 0.02) & (a < 0.98)).all()                      # unclamped: differentiable
    assert torch.allclose(model.equilibrium_map(a, x_mean, graph), a, atol=1e-12)
    probes = [(model.input_transform.weight, (0, 0)), (model.feedback.weight, (1, 2)),
              (model.transforms[0].weight, (2, 3)), (model.biases[1], (0,)), (model.biases[0], (3,))]

    def implicit_grads():
        model.zero_grad()
        (weights * model.implicit_rates(a, x_mean, graph)[:, -model.cfg.hidden:]).sum().backward()
        return [float(p.grad[i]) for p, i in probes]

    grads = implicit_grads()
    eps = 1e-6
    for (p, i), g in zip(probes, grads):
        with torch.no_grad():
            p[i] += eps
            up = loss_at_equilibrium(model, x_mean, graph, weights)
            p[i] -= 2 * eps
            down = loss_at_equilibrium(model, x_mean, graph, weights)
            p[i] += eps
        assert g == pytest.approx((up - down) / (2 * eps), rel=1e-4, abs=1e-7)
    model.cfg.implicit_iterations = 0
    assert not np.allclose(implicit_grads(), grads, rtol=1e-2)


def test_simulated_rates_approach_the_equilibrium_as_k_grows():
    """The K-step LIF rates are the fixed point's estimate: their distance to f(rates) shrinks with K."""
    g = make_evolving_sbm(200, 3, 1, seed=0)
    batch = full_batch(g)
    distances = []
    for k in (4, 64):
        cfg = RunConfig().with_model("dysign").model
        cfg.hidden, cfg.num_steps, cfg.coding = 16, k, "deterministic"
        torch.manual_seed(0)
        model = build_model(cfg, g)
        with torch.no_grad():
            model.biases[0].fill_(0.2)
            graph = adjacency(*batch.snapshots[0], batch.num_nodes)
            rates, x_mean, _ = model.simulate(batch, model.deployed_spikes(batch, 0), [graph])[0]
            distances.append(float((model.equilibrium_map(rates, x_mean, graph) - rates).abs().mean()))
    assert distances[1] < 0.5 * distances[0]


def test_balanced_init_brings_every_layer_to_fire():
    """init = "balanced" rescales the weights so the readout, nearly silent with PyTorch's init on weak
    features, counts spikes; "default" leaves the weights alone."""
    g = make_evolving_sbm(300, 3, 3, num_features=64, feature_signal=0.1, seed=0)
    batch = DynamicNeighborSampler(g, (5, 2)).sample(torch.arange(64), torch.Generator().manual_seed(0))
    readouts = {}
    for init in ("default", "balanced"):
        cfg = RunConfig().with_model("dysign").model
        cfg.hidden, cfg.init = 32, init
        torch.manual_seed(0)
        model = build_model(cfg, g)
        before = model.transforms[0].weight.clone()
        model.initialize(batch, 0)
        assert torch.equal(model.transforms[0].weight, before) == (init == "default")
        with torch.no_grad():
            readouts[init] = float(model.representations(batch, model.deployed_spikes(batch, 0)).mean())
    assert readouts["balanced"] > max(0.05, 5 * readouts["default"])


def saved_bytes(model, batch):
    from neurograph.dynamic_train import autograd_bytes
    return autograd_bytes(lambda: model.train_logits(batch, 0, 0).sum())


def test_implicit_training_memory_is_flat_in_k_and_below_bptt():
    g = make_evolving_sbm(400, 4, 4, seed=0)
    batch = DynamicNeighborSampler(g, (5, 2)).sample(torch.arange(64), torch.Generator().manual_seed(0))
    sizes = {}
    for gradient in ("implicit", "bptt"):
        for k in (4, 8):
            cfg = RunConfig().with_model("dysign").model
            cfg.hidden, cfg.num_steps, cfg.gradient = 32, k, gradient
            torch.manual_seed(0)
            sizes[gradient, k] = saved_bytes(build_model(cfg, g), batch)
    assert sizes["implicit", 4] == sizes["implicit", 8]            # no activation kept per step
    assert sizes["bptt", 8] > 1.3 * sizes["bptt", 4]
    assert sizes["implicit", 4] < 0.6 * sizes["bptt", 4]


@pytest.mark.parametrize("gradient", ["implicit", "bptt"])
def test_training_learns_an_evolving_block_model(gradient):
    from neurograph.dynamic_train import train_dynamic
    cfg = RunConfig().with_model("dysign")
    cfg.model.hidden, cfg.model.gradient = 32, gradient
    cfg.data.name, cfg.data.num_nodes, cfg.data.num_snapshots = "synthetic", 400, 4
    cfg.train.epochs, cfg.train.lr, cfg.train.batch_size, cfg.train.fanout = 8, 0.01, 64, "5,2"
    from neurograph.data.dynamic import load_dynamic
    graph = load_dynamic(cfg.data)
    torch.manual_seed(0)
    model = build_model(cfg.model, graph)
    result = train_dynamic(model, graph, cfg, progress=False)
    assert result.f1["test"]["micro_f1"] > 45.0                    # 4 classes: chance is 25 %
    assert len(result.history) == 8 and result.seconds_per_epoch > 0


def test_dysign_settings_are_checked():
    cfg = RunConfig().with_model("dysign")
    cfg.model.layers = 1
    with pytest.raises(ConfigError, match="at least 2 for dysign"):
        cfg.check()
    cfg = RunConfig().with_model("dysign")
    cfg.model.gradient = "adjoint"
    with pytest.raises(ConfigError, match="implicit or bptt"):
        cfg.check()
    cfg = RunConfig().with_model("dysign")
    cfg.data.name, cfg.data.feature_seed = "synthetic", 0         # only DBLP's features have a seed of their own
    with pytest.raises(ConfigError, match="--feature-seed.*with dblp"):
        cfg.check()


def test_classifier_refit_standardises_on_the_given_representations_and_leaves_the_spiking_layers():
    cfg = RunConfig().with_model("dysign").model
    cfg.hidden = 3
    torch.manual_seed(0)
    model = DySIGN(cfg, num_snapshots=2, num_features=4, num_classes=2)
    y = torch.arange(40) % 2
    reps = 0.05 * torch.rand(2, 40, 3)
    reps[1, :, 0] += 0.06 * y                        # one feature, small and offset, separates the classes
    spiking = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith(("classifier", "readout_norm"))}
    model.fit_classifier(reps, y)
    flat = reps.permute(1, 0, 2).reshape(40, -1)
    assert torch.allclose(model.readout_norm.running_mean, flat.mean(0))
    assert torch.allclose(model.readout_norm.running_var, flat.var(0))
    with torch.no_grad():
        assert torch.equal(model.classify(reps).argmax(1), y)
        # a feature that never varies: one spike more moves it by 1 / READOUT_MIN_STD_SPIKES standard units
        flat[:, 1] = 0.2
        model.fit_classifier(flat.reshape(40, 2, 3).permute(1, 0, 2), y)
        one_spike = flat.clone()
        one_spike[0, 1] += 1.0 / model.window
        moved = model.readout_norm(one_spike) - model.readout_norm(flat)
        assert torch.allclose(moved[0, 1], torch.tensor(1.0 / READOUT_MIN_STD_SPIKES))
        assert torch.count_nonzero(moved) == 1
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in spiking.items())


def test_results_of_runs_in_separate_processes_merge_into_one_table(tmp_path):
    import json
    from neurograph.experiments.dysign import main
    common = ["--dataset", "synthetic", "--num-nodes", "120", "--snapshots", "3", "--hidden", "8", "--epochs", "1",
              "--seeds", "0", "--gradients", "implicit", "--batch-size", "32", "--no-deploy"]
    for ratio in ("0.4", "0.6"):
        assert main(common + ["--ratios", ratio, "--out", str(tmp_path / f"r{ratio}.md")]) == 0
    files = [str(tmp_path / f"r{ratio}.md.json") for ratio in ("0.4", "0.6")]
    assert main(["--merge", *files, "--out", str(tmp_path / "all.md")]) == 0
    text = (tmp_path / "all.md").read_text()
    assert "| Dy-SIGN (implicit) | 40% | 1 |" in text and "| Dy-SIGN (implicit) | 60% | 1 |" in text
    assert text.count("--ratios") == 2 and "--merge" in text          # every run's command is named
    rows = json.loads((tmp_path / "all.md.json").read_text())["rows"]
    assert [r["ratio"] for r in rows] == [0.4, 0.6]
    with pytest.raises(SystemExit, match=r"\('implicit', 0.4, 0\)\] appear in more than one row"):
        main(["--merge", files[0], *files, "--out", str(tmp_path / "twice.md")])


def test_width_probe_fits_only_the_classifier_and_writes_a_row_per_width(tmp_path):
    import json
    from neurograph.experiments.dysign_width import main
    out = tmp_path / "width.md"
    assert main(["--dataset", "synthetic", "--hidden", "4", "16", "--batch-size", "64", "--out", str(out)]) == 0
    rows = json.loads((tmp_path / "width.md.json").read_text())["rows"]
    assert [r["model"].split(",")[1].strip() for r in rows[2:]] == ["hidden 4", "hidden 16"]
    # the block model's features carry the class: the classifier alone separates it
    assert rows[0]["test"]["macro_f1"] > 90
    # the untrained network's readouts are fitted, not chance (four classes: 25 %)
    assert rows[3]["test"]["macro_f1"] > 50
    assert "| untrained Dy-SIGN, hidden 16, classifier fitted |" in out.read_text()
