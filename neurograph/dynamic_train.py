"""Training on dynamic graphs (Dy-SIGN): mini-batches of target nodes over all snapshots.

Each optimizer step takes a batch of training nodes, samples its neighbourhood in every
snapshot (neurograph.data.dynamic_loader, SpikeNet's [5, 2] by default) and runs the snapshots
in time order; ``batch_size = 0`` trains on the whole graph. After every epoch the model is
evaluated in its deployed form (the whole graph, every snapshot, the deployed input raster)
and the epoch with the best validation Macro-F1 is kept.

Training memory is measured as the bytes autograd keeps for the backward pass (every tensor
saved by the forward pass, each storage counted once): what grows with the K latency steps
under BPTT and does not under implicit differentiation.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List

import numpy as np
import torch
import torch.nn.functional as F

from neurograph.config import RunConfig


@dataclass
class DynamicTrainResult:
    f1: Dict[str, Dict[str, float]]          # split -> macro_f1 / micro_f1 (percent) at the selected epoch
    best_epoch: int
    seconds_per_epoch: float                 # optimizer steps only (evaluation excluded)
    autograd_bytes: int                      # the largest batch's saved tensors
    history: List[Dict[str, float]] = field(default_factory=list)


class SavedTensorMeter:
    """Counts the bytes of the tensors autograd saves inside the context (each storage once)."""

    def __init__(self):
        self.bytes, self._seen = 0, set()

    def _pack(self, tensor):
        if tensor.layout == torch.sparse_csr:          # a graph's adjacency: its three arrays
            parts = (tensor.crow_indices(), tensor.col_indices(), tensor.values())
        elif tensor.layout == torch.sparse_coo:
            parts = (tensor._indices(), tensor._values())
        else:
            parts = (tensor,)
        for part in parts:
            storage = part.untyped_storage()
            if storage.data_ptr() not in self._seen:
                self._seen.add(storage.data_ptr())
                self.bytes += storage.nbytes()
        return tensor

    def __enter__(self):
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc):
        self._hooks.__exit__(*exc)


def autograd_bytes(forward: Callable[[], torch.Tensor]) -> int:
    """Bytes autograd keeps for the backward pass of `forward()` (which returns a loss)."""
    with SavedTensorMeter() as meter:
        forward()
    return meter.bytes


def parse_hops(text) -> List[int]:
    """'5,2' -> [5, 2]: in-edges kept per node, hop by hop outward from the targets."""
    hops = [int(v) for v in str(text).replace(" ", "").split(",") if v]
    if not hops or min(hops) < 1:
        raise ValueError(f"--fanout for dynamic graphs takes positive fanouts outward from the targets, e.g. 5,2; "
                         f"got {text!r}")
    return hops


def evaluate(model, graph, cfg: RunConfig, batch=None, refit: bool = False) -> Dict[str, Dict[str, float]]:
    """Macro/Micro-F1 per split of the deployed form on the whole graph.

    `refit`: first fit the classifier to the training nodes' representations from this same run. The
    sampled batches' representations differ from the whole graph's (a node's neighbourhood is cut at
    two hops, though the feedback reaches further every step), and a classifier fitted to them loses
    on the deployed ones. On DBLP, with the spiking layers frozen at init, one epoch of the classifier on
    sampled batches reached validation Macro-F1 25.5; on the whole graph's representations, test 40.1."""
    from neurograph.data.dynamic import f1_scores
    from neurograph.data.dynamic_loader import full_batch
    model.eval()
    batch = batch if batch is not None else full_batch(graph, model.biases[0].device)
    reps = model.deployed_representations(batch, cfg.train.input_seed)
    if refit:
        train = torch.as_tensor(graph.masks["train"], device=reps.device)
        model.fit_classifier(reps[:, train], batch.y[train])
    with torch.no_grad():
        pred = model.classify(reps).argmax(dim=1).cpu().numpy()
    return {split: f1_scores(pred[m], graph.y[m]) for split, m in graph.masks.items()}


def calibration_batch(graph, cfg: RunConfig, sampler):
    """The batch the balanced init calibrates on: the first `batch_size` training nodes, sampled by `sampler`
    with the run's seed."""
    train_nodes = torch.as_tensor(np.flatnonzero(graph.masks["train"]), device=sampler.device)
    return sampler.sample(train_nodes[:cfg.train.batch_size],
                          torch.Generator(device=sampler.device).manual_seed(cfg.train.seed))


def train_dynamic(model, graph, cfg: RunConfig, progress: bool = True) -> DynamicTrainResult:
    """Trains `model` on `graph`'s training nodes; returns it on the CPU with the selected epoch's weights."""
    from neurograph.data.dynamic_loader import DynamicNeighborSampler, full_batch
    from neurograph.train import make_optimizer, resolve_device
    t = cfg.train
    torch.manual_seed(t.seed)
    device = resolve_device(t.device)
    model.to(device)
    opt = make_optimizer(model, cfg)
    whole = full_batch(graph, device)
    train_nodes = torch.as_tensor(np.flatnonzero(graph.masks["train"]), device=device)
    sampler = DynamicNeighborSampler(graph, parse_hops(t.fanout), device) if t.batch_size > 0 else None
    model.initialize(calibration_batch(graph, cfg, sampler) if sampler is not None else whole, t.seed)
    best, best_state, best_epoch, history = None, None, -1, []
    seconds, peak = 0.0, 0
    epochs = range(t.epochs)
    if progress:
        from neurograph.progress import progress_bar
        epochs = progress_bar(epochs, desc=f"train dysign ({cfg.model.gradient}) on {graph.name}", unit="epoch")
    for epoch in epochs:
        model.train()
        start = time.perf_counter()
        generator = torch.Generator(device=device).manual_seed(t.seed * 7_919 + epoch)
        if sampler is None:
            batches = [(whole, train_nodes)]
        else:
            order = train_nodes[torch.randperm(len(train_nodes), generator=generator, device=device)]
            batches = [(sampler.sample(chunk, generator), None) for chunk in torch.split(order, t.batch_size)]
        total = 0.0
        for step, (batch, targets) in enumerate(batches):
            opt.zero_grad()
            with SavedTensorMeter() as meter:
                logits = model.train_logits(batch, epoch * len(batches) + step, t.seed)
                if targets is None:                 # a sampled batch: its targets come first
                    loss = F.cross_entropy(logits, batch.y[:batch.num_targets])
                else:
                    loss = F.cross_entropy(logits[targets], batch.y[targets])
            peak = max(peak, meter.bytes)
            loss.backward()
            opt.step()
            total += float(loss.detach())
        seconds += time.perf_counter() - start
        f1 = evaluate(model, graph, cfg, whole, refit=t.refit_classifier)
        history.append({"epoch": epoch, "loss": total / len(batches),
                        **{f"{split}_{k}": v for split, s in f1.items() for k, v in s.items()}})
        key = (f1["val"]["macro_f1"], f1["val"]["micro_f1"])
        if best is None or key > best:
            best, best_epoch, best_state = key, epoch, copy.deepcopy(model.state_dict())
        if progress:
            epochs.set_postfix(loss=f"{history[-1]['loss']:.3f}", val=f"{key[0]:.1f}")
    model.load_state_dict(best_state)
    model.to("cpu")
    f1 = evaluate(model, graph, cfg)
    return DynamicTrainResult(f1, best_epoch, seconds / t.epochs, peak, history)
