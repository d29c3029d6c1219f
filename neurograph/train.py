"""One training loop for every model: Adam, cross-entropy on the labelled nodes.

Full batch by default; with ``TrainConfig.batch_size`` > 0, neighbour-sampled mini-batches
of training nodes (:mod:`neurograph.sampling`). On ``TrainConfig.device`` (auto: the GPU
when there is one); the model comes back on the CPU. Under torch.distributed (launched with
torchrun, :mod:`neurograph.distributed`) the model is wrapped in DistributedDataParallel and
each rank trains on its own share of the training nodes with its own spike samples.

Model selection keeps the epoch with the best validation accuracy (ties: lower
validation loss), evaluated in the model's deployed inference form on the full graph.
"""
from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Dict, List

import torch
import torch.nn.functional as F
from torch import nn

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


def deployed_logits(model, graph, cfg: RunConfig) -> torch.Tensor:
    """The deployed form's logits (N, C) for every node of `graph`.

    Full batch: one pass over the whole graph. With sampled training (``batch_size > 0``, graphs
    too large for one pass) the labelled nodes are evaluated in chunks, each on its *exact* L-hop
    subgraph (every in-edge kept, the full graph's edge weights): the same arithmetic for those
    nodes as on the whole graph, except that the deployed input is drawn per chunk (Bernoulli
    coding) and STFN/attention are calibrated on the chunk's subgraph. Unlabelled nodes get zeros."""
    if cfg.train.batch_size <= 0:
        return model.inference_logits(graph, cfg.train.input_seed)
    from neurograph.sampling import NeighborSampler
    src, dst = graph.edge_index
    most = int(torch.bincount(dst[src != dst], minlength=graph.num_nodes).max()) if src.numel() else 1
    exact = NeighborSampler(graph, [max(1, most)] * len(model.convs))      # fanout >= every in-degree: exact
    nodes = torch.stack(list(graph.masks.values())).any(dim=0).nonzero().view(-1)
    logits = torch.zeros(graph.num_nodes, graph.num_classes, device=graph.x.device)
    generator = torch.Generator(device=graph.x.device).manual_seed(0)     # every edge is kept: the draw is moot
    for chunk in torch.split(nodes, max(1, cfg.train.batch_size)):
        batch = exact.sample(chunk, generator)
        logits[chunk] = model.inference_logits(batch, cfg.train.input_seed)[:len(chunk)]
    return logits


def resolve_device(name: str = "auto") -> torch.device:
    """auto: cuda when available, else cpu; cpu / cuda / cuda:N as given (cuda without a GPU is an error)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device is available here (use auto or cpu)")
    return device


def graph_to(graph, device: torch.device):
    """The graph with its tensors on `device` (the same object when already there)."""
    if graph.x.device == device:
        return graph
    return dataclasses.replace(graph, x=graph.x.to(device), y=graph.y.to(device),
                               edge_index=graph.edge_index.to(device), edge_weight=graph.edge_weight.to(device),
                               masks={k: m.to(device) for k, m in graph.masks.items()})


class TrainStep(nn.Module):
    """model.train_logits as a module's forward, so DistributedDataParallel sees the call."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, graph, step: int, seed: int) -> torch.Tensor:
        return self.model.train_logits(graph, step, seed)


def _world():
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def make_optimizer(model, cfg: RunConfig) -> torch.optim.Optimizer:
    # Weight decay on weight matrices only -- synaptic weights and GA-SNN's per-head attention
    # vectors (GAT decays its attention too); decaying STFN's scale or the biases would just
    # shrink the signal relative to the threshold.
    weights = [p for p in model.parameters() if p.dim() > 1]
    others = [p for p in model.parameters() if p.dim() <= 1]
    return torch.optim.Adam([{"params": weights, "weight_decay": cfg.train.weight_decay},
                             {"params": others, "weight_decay": 0.0}], lr=cfg.train.lr)


class EpochRunner:
    """One training epoch (all its optimizer steps), full batch or sampled, single process or a DDP rank."""

    def __init__(self, model, graph, cfg: RunConfig, optimizer):
        from neurograph.sampling import NeighborSampler, parse_fanout
        self.model, self.graph, self.cfg, self.opt = model, graph, cfg, optimizer
        self.rank, self.world = _world()
        self.step_module = TrainStep(model)
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel
            device_ids = [graph.x.device.index] if graph.x.device.type == "cuda" else None
            # buffers (STFN statistics, frozen attention) are calibration results, not to be broadcast
            self.step_module = DistributedDataParallel(self.step_module, device_ids=device_ids,
                                                       forward_sync_buffers=False)
        self.train_nodes = graph.masks["train"].nonzero().view(-1)
        t = cfg.train
        self.sampler = None
        if t.batch_size > 0:
            self.sampler = NeighborSampler(graph, parse_fanout(t.fanout, len(model.convs)))
            per_rank = -(-len(self.train_nodes) // self.world)
            self.num_batches = max(1, -(-per_rank // t.batch_size))
        else:
            self.num_batches = 1

    def run(self, epoch: int) -> torch.Tensor:
        """Trains one epoch; returns the mean training loss (a tensor: no host sync here)."""
        t, g = self.cfg.train, self.graph
        device = g.x.device
        self.model.train()
        generator = torch.Generator(device=device).manual_seed(t.seed * 7_919 + epoch)   # shared by all ranks
        if self.sampler is None and self.world == 1:
            batches = [(g, g.masks["train"])]
        else:
            order = self.train_nodes[torch.randperm(len(self.train_nodes), generator=generator, device=device)]
            mine = order[self.rank::self.world]                  # each rank its own share of the seeds
            chunks = torch.tensor_split(mine, self.num_batches)
            if self.sampler is None:                             # full graph, the loss on this rank's share
                masks = []
                for c in chunks:
                    m = torch.zeros_like(g.masks["train"])
                    m[c] = True
                    masks.append(m)
                batches = [(g, m) for m in masks]
            else:
                own = torch.Generator(device=device).manual_seed(t.seed * 7_919 + epoch + 104_729 * (self.rank + 1))
                batches = [(b, b.masks["train"]) for b in (self.sampler.sample(c, own) for c in chunks)]
        total = torch.zeros((), device=device)
        for i, (batch, mask) in enumerate(batches):
            self.opt.zero_grad()
            step = (epoch * self.num_batches + i) * self.world + self.rank    # a fresh raster per step and rank
            logits = self.step_module(batch, step, t.seed)
            loss = F.cross_entropy(logits[mask], batch.y[mask])
            loss.backward()
            self.opt.step()
            total = total + loss.detach()
        return total / len(batches)


def train_model(model, graph, cfg: RunConfig, progress: bool = True) -> TrainResult:
    """Trains `model` on `graph`; the model is returned to the CPU with the selected epoch's weights."""
    torch.manual_seed(cfg.train.seed)
    device = resolve_device(cfg.train.device)
    cpu_graph, graph = graph, graph_to(graph, device)
    model.to(device)
    if hasattr(model, "initialize"):          # spiking models may scale their initial weights on the data
        model.initialize(graph, cfg.train.seed)
    opt = make_optimizer(model, cfg)
    runner = EpochRunner(model, graph, cfg, opt)
    val_mask = graph.masks["val"]
    best_key, best_state, best_epoch, history = None, None, -1, []
    epochs = range(cfg.train.epochs)
    bar = None
    if progress and runner.rank == 0:
        from neurograph.progress import progress_bar
        epochs = bar = progress_bar(epochs, desc=f"train {cfg.model.name} on {graph.name}", unit="epoch")
    start = time.perf_counter()
    for epoch in epochs:
        loss = runner.run(epoch)
        model.eval()
        with torch.no_grad():
            logits = deployed_logits(model, graph, cfg)
            val_loss = float(F.cross_entropy(logits[val_mask], graph.y[val_mask]))
        acc = accuracies(logits, graph)
        history.append({"epoch": epoch, "loss": float(loss), "val_loss": val_loss, **acc})
        key = (acc["val"], -val_loss)
        if best_key is None or key > best_key:
            best_key, best_epoch, best_state = key, epoch, copy.deepcopy(model.state_dict())
        if bar is not None:
            bar.set_postfix(loss=f"{history[-1]['loss']:.3f}", val=f"{acc['val']:.3f}", best=f"{best_key[0]:.3f}")
    seconds = time.perf_counter() - start
    model.load_state_dict(best_state)
    if runner.world > 1:     # every rank keeps rank 0's choice, whatever float noise did to its own
        import torch.distributed as dist
        for tensor in model.state_dict().values():
            dist.broadcast(tensor, src=0)
        chosen = torch.tensor([best_epoch], device=device)
        dist.broadcast(chosen, src=0)
        best_epoch = int(chosen)
    model.to("cpu")
    if getattr(model, "_input_cache", None):      # the deployed raster of the device copy of the graph
        model._input_cache = {}
    model.eval()
    with torch.no_grad():
        acc = accuracies(deployed_logits(model, cpu_graph, cfg), cpu_graph)
    return TrainResult(accuracy=acc, best_epoch=best_epoch, seconds=seconds, history=history)
