"""The train and compile steps, on files.

    RunConfig --train--> model.pt (weights, config, float accuracies of the model and its ANN baseline)
    model.pt --compile--> network.float.npz (exported, folded) + network.npz (fixed point)

Simulation and reporting need no training code: see :mod:`neurograph.sim.steps`.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional

import torch

from neurograph.compile.artifact import AtomicFiles, atomic_write, save_network
from neurograph.compile.export import export_network
from neurograph.compile.fold import fold_scales
from neurograph.compile.quantize import quantize_network
from neurograph.config import RunConfig
from neurograph.data import load_graph
from neurograph.models import build_model
from neurograph.train import accuracies, train_model

CHECKPOINT_FORMAT = "neurograph.checkpoint"
CHECKPOINT_VERSION = 3          # 2: GA-SNN attention heads; 3: STFN statistics per network, not per node


class CheckpointError(ValueError):
    """A model checkpoint that cannot be used; the message says why."""


# spiking model -> its ANN baseline and the dropout usual for that ANN
BASELINES = {"gcsnn": ("gcn", 0.5), "gasnn": ("gat", 0.6)}


def baseline_config(cfg: RunConfig) -> RunConfig:
    """The ANN baseline for a spiking run -- GCN for GC-SNN, GAT for GA-SNN -- with the same layer
    sizes (so its accuracy and the report's ANN energy describe one network), dropout 0.5 (GCN) /
    0.6 (GAT) and weight decay 5e-4 as usual for them, trained by the same loop on the same split."""
    if cfg.model.name not in BASELINES:
        raise ValueError(f"no ANN baseline for model {cfg.model.name!r}; spiking models: {sorted(BASELINES)}")
    name, dropout = BASELINES[cfg.model.name]
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, name=name, dropout=dropout),
                               train=dataclasses.replace(cfg.train, weight_decay=5e-4))


def live_attention_accuracy(model, graph, cfg: RunConfig, split: str = "test") -> float:
    """Test accuracy of a GA-SNN with per-step attention, as trained (not deployable as is)."""
    model.eval()
    with torch.no_grad():
        return accuracies(model.live_attention_logits(graph, cfg.train.input_seed), graph)[split]


def train(cfg: RunConfig, out_path, baseline: bool = True, progress: bool = True) -> dict:
    graph = load_graph(cfg.data)
    runs = {}
    for run_cfg in ([cfg, baseline_config(cfg)] if baseline else [cfg]):
        torch.manual_seed(run_cfg.train.seed)
        model = build_model(run_cfg.model, graph)
        result = train_model(model, graph, run_cfg, progress=progress)
        runs[run_cfg.model.name] = (model, result)
    model, result = runs[cfg.model.name]
    accuracy = {name: r.accuracy["test"] for name, (_, r) in runs.items()}
    if hasattr(model, "live_attention_logits"):     # what the deployed (frozen) attention costs
        accuracy[f"{cfg.model.name} live attention"] = live_attention_accuracy(model, graph, cfg)
    training = {"accuracy": accuracy,
                "details": {name: {"accuracy": r.accuracy, "best_epoch": r.best_epoch, "seconds": r.seconds,
                                   "history": r.history}
                            for name, (_, r) in runs.items()}}
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "config": cfg.to_dict(),
                  "state_dict": model.state_dict(), "training": training}
    atomic_write(out_path, lambda f: torch.save(checkpoint, f), "wb")      # never a half-written checkpoint
    return training


def load_checkpoint(path):
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; create it with `neurograph train`")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(exc).__name__}: {exc}); "
                              f"retrain with `neurograph train`") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a neurograph checkpoint")
    if ckpt.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path} has checkpoint version {ckpt.get('version')}, expected "
                              f"{CHECKPOINT_VERSION}; retrain with `neurograph train`")
    return ckpt


def compile_model(model, graph, cfg: RunConfig, training: Optional[dict] = None):
    """Export, fold and quantize a trained model: (folded float IR, fixed-point IR), calibrated on
    `graph` (the training graph), and that graph as a sample. Binding it once here refuses, at
    compile time, a network whose ranges the training graph already breaks."""
    from neurograph.compile.export import graph_sample
    from neurograph.compile.graphs import bind
    float_net = export_network(model, graph, cfg)
    if training is not None:
        float_net.metadata["training"] = training
    folded = fold_scales(float_net)
    fixed = quantize_network(folded, cfg.quant.target_threshold, cfg.quant.headroom)
    if cfg.quant.input_as_current:
        from neurograph.compile.current import input_as_current
        fixed = input_as_current(fixed)
    sample = graph_sample(model, graph, cfg)
    bind(fixed, sample)
    if cfg.quant.input_as_current:          # refused now, not at the first simulation
        from neurograph.compile.current import constant_input
        constant_input(fixed, sample, sample.input_spec(fixed))
    return folded, fixed, sample


def restore_model(ckpt):
    """The trained model of a loaded checkpoint, with its configuration and training graph."""
    try:
        cfg = RunConfig.from_dict(ckpt["config"]).check()
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"the checkpoint's run configuration is invalid ({exc}); retrain with "
                              f"`neurograph train`") from exc
    graph = load_graph(cfg.data)
    model = build_model(cfg.model, graph)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"the checkpoint's weights do not fit its configuration ({str(exc).splitlines()[0]}); "
                              f"it was edited or damaged -- retrain with `neurograph train`") from exc
    return model, graph, cfg


def compile_checkpoint(checkpoint_path, out_dir, input_as_current: Optional[bool] = None) -> dict:
    """:func:`compile_model` on a checkpoint; writes network.float.npz, network.npz and the training
    graph as samples.npz (the transductive deployment: the graph it was trained on)."""
    ckpt = load_checkpoint(checkpoint_path)
    model, graph, cfg = restore_model(ckpt)
    if input_as_current is not None:
        cfg.quant.input_as_current = input_as_current
    folded, fixed, sample = compile_model(model, graph, cfg, ckpt["training"])
    from neurograph.compile.artifact import file_hash
    for net in (folded, fixed):          # provenance: the checkpoint this network was compiled from
        net.metadata["made_from"] = {"checkpoint": str(Path(checkpoint_path).resolve()),
                                     "checkpoint_sha256": file_hash(checkpoint_path)}
    return write_compiled(folded, fixed, sample, out_dir)


def write_compiled(folded, fixed, sample, out_dir) -> dict:
    """network.float.npz, network.npz and the sample as samples.npz, replaced together."""
    from neurograph.compile.samples import save_samples
    out = Path(out_dir)
    with AtomicFiles() as files:        # the three replace their old versions together, or none does
        paths = {"float": save_network(folded, out / "network.float.npz", files),
                 "fixed": save_network(fixed, out / "network.npz", files),
                 "samples": save_samples([sample], out / "samples.npz", files)}
    return {"paths": paths, "quantization": fixed.metadata["quantization"]}


def graph_samples(checkpoint_path, dataset_configs, out_path) -> Path:
    """Graphs from datasets, as one sample file for a compiled network of `checkpoint_path` (GA-SNN's
    attention is computed per graph here, on the host, with the trained model)."""
    from neurograph.compile.export import graph_sample
    from neurograph.compile.samples import save_samples
    model, _, cfg = restore_model(load_checkpoint(checkpoint_path))
    samples = []
    for data_cfg in dataset_configs:
        samples.append(graph_sample(model, load_graph(data_cfg), cfg))
    return save_samples(samples, out_path)
