"""One training loop for every model: full-batch Adam, cross-entropy on the labelled nodes.

Model selection keeps the epoch with the best validation accuracy (ties: lower
validation loss), evaluated in the model's deployed inference form.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Dict, List

import torch
import torch.nn.functional as F

from neurograph.config import RunConfig


@dataclass
class TrainResult:
    accuracy: Dict[str, float]                 # train/val/test at the selected epoch
    best_epoch: int
    seconds: float
    history: List[Dict[str, float]] = field(default_factory=list)


def accuracies(logits: torch.Tensor, graph) -> Dict[str, float]:
    pred = logits.argmax(dim=1)
    return {split: float((pred[m] == graph.y[m]).float().mean()) for split, m in graph.masks.items()}


def train_model(model, graph, cfg: RunConfig, progress: bool = True) -> TrainResult:
    torch.manual_seed(cfg.train.seed)
    if hasattr(model, "initialize"):          # spiking models may scale their initial weights on the data
        model.initialize(graph, cfg.train.seed)
    # Weight decay on weight matrices only -- synaptic weights and GA-SNN's per-head attention
    # vectors (GAT decays its attention too); decaying STFN's scale or the biases would just
    # shrink the signal relative to the threshold.
    weights = [p for p in model.parameters() if p.dim() > 1]
    others = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.Adam([{"params": weights, "weight_decay": cfg.train.weight_decay},
                            {"params": others, "weight_decay": 0.0}], lr=cfg.train.lr)
    train_mask, val_mask = graph.masks["train"], graph.masks["val"]
    best_key, best_state, best_epoch, history = None, None, -1, []
    epochs = range(cfg.train.epochs)
    bar = None
    if progress:
        from neurograph.progress import progress_bar
        epochs = bar = progress_bar(epochs, desc=f"train {cfg.model.name} on {graph.name}", unit="epoch")
    start = time.perf_counter()
    for epoch in epochs:
        model.train()
        opt.zero_grad()
        logits = model.train_logits(graph, epoch, cfg.train.seed)
        loss = F.cross_entropy(logits[train_mask], graph.y[train_mask])
        loss.backward()
        opt.step()

        model.eval()
        with torch.no_grad():
            logits = model.inference_logits(graph, cfg.train.input_seed)
            val_loss = float(F.cross_entropy(logits[val_mask], graph.y[val_mask]))
        acc = accuracies(logits, graph)
        history.append({"epoch": epoch, "loss": loss.item(), "val_loss": val_loss, **acc})
        key = (acc["val"], -val_loss)
        if best_key is None or key > best_key:
            best_key, best_epoch, best_state = key, epoch, copy.deepcopy(model.state_dict())
        if bar is not None:
            bar.set_postfix(loss=f"{loss.item():.3f}", val=f"{acc['val']:.3f}", best=f"{best_key[0]:.3f}")
    seconds = time.perf_counter() - start
    model.load_state_dict(best_state)
    model.eval()
    with torch.no_grad():
        acc = accuracies(model.inference_logits(graph, cfg.train.input_seed), graph)
    return TrainResult(accuracy=acc, best_epoch=best_epoch, seconds=seconds, history=history)
