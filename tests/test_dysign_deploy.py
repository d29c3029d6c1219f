"""Dy-SIGN deployed: snapshots as one carried stream, the float IR equal to PyTorch, Lava equal to the reference."""
import numpy as np
import pytest
import torch

from neurograph.compile.export import dysign_logits, dysign_samples, export_network
from neurograph.compile.fold import fold_scales
from neurograph.compile.ir import IRError
from neurograph.compile.quantize import quantize_network
from neurograph.config import RunConfig
from neurograph.data.dynamic import make_evolving_sbm
from neurograph.data.dynamic_loader import full_batch
from neurograph.models import build_model
from neurograph.sim.reference import prepare, run_reference, run_samples


def exported(layers=2, leak=0.0, nodes=60, snapshots=4, coding="bernoulli"):
    graph = make_evolving_sbm(nodes, 3, snapshots, 8, seed=0).with_split(0.4, 0)
    cfg = RunConfig().with_model("dysign")
    cfg.model.hidden, cfg.model.layers, cfg.model.leak, cfg.model.coding = 12, layers, leak, coding
    torch.manual_seed(0)
    model = build_model(cfg.model, graph)
    with torch.no_grad():
        model.biases[0].fill_(0.2)                    # every layer fires
    return graph, cfg, model, export_network(model, graph, cfg)


@pytest.mark.parametrize("layers", [2, 3])
def test_export_has_the_feedback_and_the_models_window(layers):
    _, _, model, net = exported(layers)
    assert [pr.name for pr in net.projections if net.is_feedback(pr)] == ["compensation"]
    assert net.window_steps == model.window == model.cfg.num_steps + 2 * layers
    assert {p.kind for p in net.populations} == {"lif_subtract", "relay", "integrator"}


def test_leaky_dysign_is_refused():
    with pytest.raises(IRError, match="lambda = 1"):
        exported(leak=0.1)


@pytest.mark.parametrize("coding", ["bernoulli", "graded"])
def test_float_ir_on_the_carried_stream_is_the_pytorch_model(coding):
    """The membranes carried from snapshot to snapshot as in training: the same logits, and without the carry
    the later snapshots differ. Graded input: the IR's 8-bit payloads are the model's quantized features."""
    graph, cfg, model, net = exported(layers=3, coding=coding)
    samples = dysign_samples(graph)
    expected = model.inference_logits(full_batch(graph), cfg.train.input_seed).numpy()
    carried = run_samples(net, samples, carry=True)[0]
    assert np.allclose(dysign_logits(model, net, carried.readouts), expected, atol=1e-5)
    reset = run_samples(net, samples, carry=False)
    assert np.array_equal(carried.readouts[0], reset[0].readouts[0])
    assert not np.array_equal(carried.readouts[2] - carried.readouts[1], reset[2].readouts[0])


@pytest.mark.lava
@pytest.mark.parametrize("coding", ["bernoulli", "graded"])
def test_snapshots_with_carried_state_agree_spike_for_spike_on_lava(coding, no_leaked_processes):
    from neurograph.sim.lava_runner import run_on_lava
    graph, cfg, model, net = exported(coding=coding)
    fixed = quantize_network(fold_scales(net), cfg.quant.target_threshold, cfg.quant.headroom)
    windows = prepare(fixed, dysign_samples(graph))
    reference = run_reference(fixed, windows)
    assert all(reference.raster(name).sum() > 0 for name in ("lif1", "lif2"))
    assert not any(reference.saturation.values())
    lava = run_on_lava(fixed, windows, "fused")
    for name in reference.spikes:
        assert np.array_equal(reference.spikes[name], lava.spikes[name]), name
    assert len(lava.readouts) == graph.num_snapshots
    assert all(np.array_equal(a, b) for a, b in zip(reference.readouts, lava.readouts))
    expected = model.inference_logits(full_batch(graph), cfg.train.input_seed).argmax(1).numpy()
    assert (dysign_logits(model, fixed, lava.readouts).argmax(1) == expected).mean() > 0.9


@pytest.mark.slow
@pytest.mark.lava
def test_demo_runs_the_whole_path_on_an_evolving_block_model(tmp_path, capsys, no_leaked_processes):
    import json
    from neurograph.cli import main
    assert main(["demo", "--model", "dysign", "--epochs", "2", "--hidden", "16", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["data"]["name"] == "synthetic" and summary["config"]["train"]["epochs"] == 2
    assert summary["config"]["model"]["hidden"] == 16 and summary["config"]["train"]["batch_size"] == 128
    assert summary["deployed"]["agreement"] == 1.0
    assert 0.0 <= summary["deployed"]["deployed_classifier_refit"]["macro_f1"] <= 100.0
    assert (tmp_path / "network.npz").is_file() and (tmp_path / "samples.npz").is_file()
    assert "spike agreement" in capsys.readouterr().out


def test_cli_points_dysign_training_to_the_demo_and_refuses_static_datasets(tmp_path, capsys):
    from neurograph.cli import main
    assert main(["train", "--model", "dysign", "--out", str(tmp_path / "m.pt")]) != 0
    assert "neurograph demo --model dysign" in capsys.readouterr().err
    assert main(["demo", "--model", "dysign", "--dataset", "citeseer", "--out", str(tmp_path)]) != 0
    assert "dynamic graphs" in capsys.readouterr().err


def test_dense_fed_population_shares_one_activation_scale():
    """lif1 sums the input transform and the feedback: both quantized at the same scale K, each with the
    exponent that fits its own mantissas, so m * 2**e = W * K up to rounding."""
    _, cfg, _, net = exported()
    fixed = quantize_network(fold_scales(net), cfg.quant.target_threshold, cfg.quant.headroom)
    scale = fixed.metadata["quantization"]["lif1"]["activation_scale"]
    assert fixed.population("lif1").threshold == round(cfg.model.threshold * scale)
    for name in ("transform1", "compensation"):
        m, e, w = fixed.projection(name).weight, fixed.projection(name).exponent, net.projection(name).weight
        assert np.abs(m).max() > 127 // 2                             # at least half the mantissa range used
        assert np.abs(m * 2.0 ** e - w * scale).max() <= 2.0 ** e / 2 + 1e-9
    count = fixed.projection("count")
    assert np.count_nonzero(count.weight) == count.weight.shape[0]    # the identity survives quantization
