"""Dy-SIGN: dynamic spiking graph network trained by implicit differentiation (Yin et al., AAAI 2024).

Per snapshot t, K latency steps of LIF neurons with reset by subtraction and leak lambda:

    u^1 <- lambda u^1 + W^1 s^L + F^1 x + b^1 - Vth s^1        (W^1: the feedback, "information compensation")
    u^l <- lambda u^l + Con(A_t, F^l s^(l-1)) + b^l - Vth s^l   (l = 2..L; Con: GCN-normalized aggregation)

The steps follow the deployed network exactly (compile/export.py, export_dysign): every projection
delivers one step later, a graph convolution is two hops (dense F^l -> relay -> graph A_t), and
snapshots run back to back as windows of K input steps plus the 2L-step flush, with the
membranes carried from one snapshot to the next and never reset. A spike sent in the last step
of a window reaches its target in the next window over the graph it was sent on.

The snapshot's representation is the last layer's firing rate over its window (what an
integrator readout counts); the classifier is one linear layer over the concatenated
representations of all snapshots (the paper's FC(||_t a*_t)).

Training (``gradient = "implicit"``, the paper's): the K steps run without autograd; the weighted
average firing rates a_l = sum_k lambda^(W-1-k) s_l[k] / sum_k lambda^(W-1-k) are taken as the
equilibrium of

    a^1 = clamp((F^1 xbar + W^1 a^L + b^1) / Vth, 0, 1),  a^l = clamp((A_t F^l a^(l-1) + b^l) / Vth, 0, 1)

and gradients come from the implicit function theorem at that point: the backward pass solves
g = dL/da + J^T g by fixed-point iteration (``implicit_iterations``) and differentiates one
application of the map, so memory holds two evaluations of the map per snapshot, not K steps.
The carried state enters each snapshot as a constant. ``gradient = "bptt"`` is the SpikeNet-style
baseline: the same network with surrogate gradients backpropagated through every step of every
snapshot.
"""
from __future__ import annotations

from typing import Callable, Dict, List

import numpy as np
import torch
from torch import nn

from neurograph.config import ModelConfig
from neurograph.neurons import RectangularSpike


def aggregate(edge_index: torch.Tensor, edge_weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """out[v] = sum over edges (u -> v) of w * x[u]."""
    src, dst = edge_index
    return torch.zeros_like(x).index_add_(0, dst, x[src] * edge_weight.unsqueeze(1))


class DySIGN(nn.Module):
    aggregation_rule = "gcn"

    def __init__(self, cfg: ModelConfig, num_snapshots: int, num_features: int, num_classes: int):
        super().__init__()
        if cfg.layers < 2:
            raise ValueError(f"Dy-SIGN needs layers >= 2 (the feedback runs from the last layer to the first), "
                             f"got {cfg.layers}")
        if cfg.gradient not in ("implicit", "bptt"):
            raise ValueError(f"gradient must be 'implicit' or 'bptt', got {cfg.gradient!r}")
        self.cfg, self.num_snapshots = cfg, num_snapshots
        h = cfg.hidden
        self.input_transform = nn.Linear(num_features, h, bias=False)             # F^1
        self.feedback = nn.Linear(h, h, bias=False)                               # W^1
        self.transforms = nn.ModuleList(nn.Linear(h, h, bias=False) for _ in range(cfg.layers - 1))  # F^2..F^L
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(h)) for _ in range(cfg.layers))
        self.classifier = nn.Linear(num_snapshots * h, num_classes)
        self.trace: Dict[str, dict] = {}

    @property
    def decay(self) -> float:
        """lambda: the fraction of the membrane kept per step (1 - leak)."""
        return 1.0 - self.cfg.leak

    @property
    def window(self) -> int:
        """Steps per snapshot: K input steps and the flush until the last reaches the readout."""
        return self.cfg.num_steps + 2 * self.cfg.layers

    def rate_weights(self, device) -> torch.Tensor:
        """lambda^(W-1-k) for the window's steps k, normalized to sum 1 (weighted average firing rate)."""
        w = self.decay ** torch.arange(self.window - 1, -1, -1, dtype=torch.float32, device=device)
        return w / w.sum()

    # ---- the K-step dynamics ---------------------------------------------------------------
    def simulate(self, batch, spikes: Callable[[int], torch.Tensor], record: bool = False):
        """Run every snapshot of `batch` back to back. `spikes(t)`: the input raster (K, n, F).

        Returns per snapshot (rates (n, L*H) of the spiking layers, mean input (n, F), readout
        rate (n_targets, H)). Differentiable through the steps only when autograd is on (BPTT)."""
        cfg, n, h, L = self.cfg, batch.num_nodes, self.cfg.hidden, self.cfg.layers
        device = self.biases[0].device
        zeros = torch.zeros(n, h, device=device)
        v = [zeros] * L
        s = [zeros] * L                      # each layer's spikes sent in the previous step
        relay = [zeros] * (L - 1)            # F^l s^(l-1) sent in the previous step (l = 2..L)
        x_prev = torch.zeros(n, self.input_transform.in_features, device=device)
        graph_prev = batch.snapshots[0]
        weights = self.rate_weights(device)
        peaks = {f"lif{l + 1}": [0.0, 0.0] for l in range(L)}
        out = []
        for t, graph in enumerate(batch.snapshots):
            raster = spikes(t)
            rates = [torch.zeros(n, h, device=device) for _ in range(L)]
            x_sum = torch.zeros_like(x_prev)
            counted = torch.zeros(batch.num_targets, h, device=device)
            for k in range(self.window):
                currents = [self.input_transform(x_prev) + self.feedback(s[L - 1])]
                for l in range(1, L):
                    currents.append(aggregate(*graph_prev, relay[l - 1]))
                new_relay = [self.transforms[l - 1](s[l - 1]) for l in range(1, L)]
                counted = counted + s[L - 1][:batch.num_targets]       # the readout integrates lif_L's spikes
                new_s = []
                for l in range(L):
                    v[l] = self.decay * v[l] + currents[l] + self.biases[l]
                    if record:
                        peaks[f"lif{l + 1}"][0] = max(peaks[f"lif{l + 1}"][0], float(currents[l].abs().max()))
                        peaks[f"lif{l + 1}"][1] = max(peaks[f"lif{l + 1}"][1], float(v[l].abs().max()))
                    fired = RectangularSpike.apply(v[l] - cfg.threshold, cfg.surrogate_width)
                    v[l] = v[l] - cfg.threshold * fired.detach()       # reset by subtraction, not differentiated
                    new_s.append(fired)
                    rates[l] = rates[l] + weights[k] * fired
                x_now = raster[k] if k < cfg.num_steps else torch.zeros_like(x_prev)
                x_sum = x_sum + x_now
                s, relay, x_prev, graph_prev = new_s, new_relay, x_now, graph
            out.append((torch.cat(rates, dim=1), x_sum / self.window, counted / self.window))
        if record:
            self.trace = {name: {"max_abs_input": p[0], "max_abs_v": max(p[1], cfg.threshold)}
                          for name, p in peaks.items()}
            # the readout's range is its worst case, a spike every step of every snapshot, so no input
            # stream can saturate it (its weights are an identity: no precision to lose)
            self.trace["readout"] = {"max_abs_input": 1.0, "max_abs_v": float(len(batch.snapshots) * self.window)}
        return out

    def equilibrium_map(self, a: torch.Tensor, x_mean: torch.Tensor, graph) -> torch.Tensor:
        """f(a): the rates the layers settle to given rates `a` (n, L*H), mean input and the snapshot's graph."""
        h, L, vth = self.cfg.hidden, self.cfg.layers, self.cfg.threshold
        layers = a.split(h, dim=1)
        out = [(self.input_transform(x_mean) + self.feedback(layers[L - 1]) + self.biases[0]) / vth]
        for l in range(1, L):
            out.append((aggregate(*graph, self.transforms[l - 1](layers[l - 1])) + self.biases[l]) / vth)
        return torch.cat(out, dim=1).clamp(0.0, 1.0)

    def implicit_rates(self, a: torch.Tensor, x_mean: torch.Tensor, graph) -> torch.Tensor:
        """f(a*) whose backward pass is the implicit-function-theorem gradient at the equilibrium a*."""
        a = a.detach()
        a0 = a.clone().requires_grad_()
        f0 = self.equilibrium_map(a0, x_mean, graph)            # for J^T products in the backward pass
        fa = self.equilibrium_map(a, x_mean, graph)
        iterations = self.cfg.implicit_iterations

        def solve(grad):
            g = grad
            for _ in range(iterations):
                g = torch.autograd.grad(f0, a0, g, retain_graph=True)[0] + grad
            return g

        if fa.requires_grad:
            fa.register_hook(solve)
        return fa

    def representations(self, batch, spikes: Callable[[int], torch.Tensor], record: bool = False) -> torch.Tensor:
        """The targets' snapshot representations (T, n_targets, H): the readout rate per snapshot, with
        implicit or BPTT gradients as configured."""
        implicit = self.cfg.gradient == "implicit" and torch.is_grad_enabled()
        with torch.set_grad_enabled(torch.is_grad_enabled() and not implicit):
            steps = self.simulate(batch, spikes, record)
        reps = []
        h, L, m = self.cfg.hidden, self.cfg.layers, batch.num_targets
        for (a, x_mean, readout), graph in zip(steps, batch.snapshots):
            if implicit:
                last = self.implicit_rates(a, x_mean, graph)[:m, (L - 1) * h:]
                readout = readout + (last - last.detach())         # the simulated value, the implicit gradient
            reps.append(readout)
        return torch.stack(reps)

    def classify(self, reps: torch.Tensor) -> torch.Tensor:
        """Logits (n, C) from representations (T, n, H): FC over the concatenated snapshots."""
        return self.classifier(reps.permute(1, 0, 2).reshape(reps.shape[1], -1))

    # ---- inputs --------------------------------------------------------------------------------
    def train_logits(self, batch, epoch: int, seed: int) -> torch.Tensor:
        """Logits of the batch's targets on a fresh input raster per (seed, epoch, snapshot), drawn by torch."""
        from neurograph.encoding import draw_spikes
        device = self.biases[0].device

        def spikes(t):
            x = batch.features(t).to(device)
            generator = torch.Generator(device=device).manual_seed((seed * 100_003 + epoch) * 1_009 + t + 1)
            index, feature, value = draw_spikes(x, self.cfg.num_steps, generator, self.cfg.coding)
            raster = torch.zeros(self.cfg.num_steps * x.shape[0], x.shape[1], device=device)
            raster[index, feature] = value
            return raster.view(self.cfg.num_steps, x.shape[0], x.shape[1])

        return self.classify(self.representations(batch, spikes))

    def deployed_spikes(self, batch, input_seed: int) -> Callable[[int], torch.Tensor]:
        """The deployed raster of every snapshot: the IR's encoding with the network's seed, per window."""
        from neurograph.encoding import encode
        device = self.biases[0].device
        return lambda t: torch.as_tensor(encode(batch.features(t).cpu().numpy(), self.cfg.num_steps, input_seed,
                                                self.cfg.coding), dtype=torch.float32, device=device)

    def inference_logits(self, batch, input_seed: int, record: bool = False) -> torch.Tensor:
        with torch.no_grad():
            return self.classify(self.representations(batch, self.deployed_spikes(batch, input_seed), record))


def readout_counts(readouts: List[np.ndarray]) -> np.ndarray:
    """Per-window counts (T, N, H) from the carried readout's membrane at the end of each window."""
    r = np.asarray(readouts, dtype=np.float64)
    return np.diff(np.concatenate([np.zeros_like(r[:1]), r]), axis=0)
