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
g = dL/da + J^T g by fixed-point iteration (at most ``implicit_iterations``, until it settles) and
differentiates one application of the map, so memory holds one evaluation of the map per
snapshot, not K steps.
The carried state enters each snapshot as a constant. ``gradient = "bptt"`` is the SpikeNet-style
baseline: the same network with surrogate gradients backpropagated through every step of every
snapshot.
"""
from __future__ import annotations

import warnings
from typing import Callable, Dict, List

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from neurograph.config import ModelConfig
from neurograph.neurons import RectangularSpike


def adjacency(edge_index: torch.Tensor, edge_weight: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """The snapshot's weighted adjacency as a sparse CSR matrix (rows: targets), so that
    adjacency @ x is out[v] = sum over edges (u -> v) of w * x[u]. Built once per snapshot of a
    batch: a sparse product is an order of magnitude faster than scattering a copy of x per edge."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        coo = torch.sparse_coo_tensor(edge_index.flip(0), edge_weight, (num_nodes, num_nodes), check_invariants=False)
        return coo.coalesce().to_sparse_csr()


# The classifier's standardisation divides each rate by its spread over the nodes, floored at this many
# spikes per window: a feature that barely varies (25 % of DBLP's have a spread under 0.005, a twentieth of
# one spike in a 9-step window) would otherwise turn one spike that fixed point moves into a jump of many
# units. On DBLP at 40 % (one trained model, the classifier refit per floor), floors of 0, 1/4, 1/2, 1 and 2
# spikes gave validation Macro-F1 59.9, 60.5, 59.7, 61.2, 61.5 in float and test Macro-F1 44.5, 47.5, 51.8,
# 52.9, 54.7 on the fixed-point network's readouts.
READOUT_MIN_STD_SPIKES = 2.0


class RateNorm(nn.BatchNorm1d):
    """BatchNorm without affine terms (the classifier after it has its own) whose spread is floored at
    `min_std`: (x - mean) / max(std, min_std), batch statistics while training, running ones after."""

    def __init__(self, features: int, min_std: float):
        super().__init__(features, affine=False)
        self.min_std = min_std

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            mean, var = x.mean(dim=0), x.var(dim=0, unbiased=False)
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(x.var(dim=0), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) / var.clamp_min(self.min_std ** 2).sqrt()


# The backward pass's fixed-point iteration stops early once an iteration changes the solution by
# less than this fraction of its largest entry (or after `implicit_iterations`): the iteration
# contracts geometrically, and on DBLP 10 iterations already agree with 30 to 2e-5.
IMPLICIT_TOLERANCE = 1e-6


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
        # the rates reach the classifier standardised per feature (batch statistics while training, running
        # ones after, which the host folds into the classifier's weights): raw rates average about 0.07 and
        # on DBLP Adam then fits the classifier several times more slowly (an ablation in
        # docs/results-dysign-dblp.md)
        self.readout_norm = RateNorm(num_snapshots * h, min_std=READOUT_MIN_STD_SPIKES / self.window)
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

    def initialize(self, batch, seed: int) -> None:
        """Threshold-balanced initialization (``init = "balanced"``) on a training batch, before training.

        With PyTorch's default init, on DBLP's embeddings the last layer fires at 1-2 % and
        the readout the classifier sees is mostly zeros. Layer by layer, on the batch's last
        snapshot (where most nodes have edges) and a training raster, this scales F^l so the
        layer's input current has a standard deviation of half the threshold over the input
        window, the layer's spikes then feeding the next layer's calibration (GC-SNN's rule, see
        models/gcsnn.py). The feedback W^1 keeps its init: it carries the last layer's spikes,
        which are few until the earlier layers are balanced."""
        if self.cfg.init not in ("default", "balanced"):
            raise ValueError(f"init must be 'default' or 'balanced', got {self.cfg.init!r}")
        if self.cfg.init == "default":
            return
        t, vth, K = batch.num_snapshots - 1, self.cfg.threshold, self.cfg.num_steps
        device = self.biases[0].device
        graph = adjacency(*batch.snapshots[t], batch.num_nodes)
        generator = torch.Generator(device=device).manual_seed(seed)
        spikes = self.input_window(batch.features(t).to(device), generator)
        with torch.no_grad():
            for l in range(self.cfg.layers):
                linear = self.input_transform if l == 0 else self.transforms[l - 1]
                current = torch.stack([linear(x) if l == 0 else graph @ linear(x) for x in spikes])
                std = float(current.std())
                if std > 0:
                    linear.weight.mul_(0.5 * vth / std)
                    current *= 0.5 * vth / std
                v, fired = torch.zeros_like(current[0]), []
                for c in current:                          # LIF with reset by subtraction, lambda as trained
                    v = self.decay * v + c + self.biases[l]
                    fired.append((v > vth).to(v.dtype))
                    v = v - vth * fired[-1]
                spikes = torch.stack(fired)

    # ---- the K-step dynamics ---------------------------------------------------------------
    def simulate(self, batch, spikes: Callable[[int], torch.Tensor], graphs: List[torch.Tensor], record: bool = False):
        """Run every snapshot of `batch` back to back. `spikes(t)`: the input raster (K, n, F);
        `graphs`: the snapshots' adjacencies (:func:`adjacency`).

        Returns per snapshot (rates (n, L*H) of the spiking layers, mean input (n, F), readout
        rate (n_targets, H)). Differentiable through the steps only when autograd is on (BPTT)."""
        cfg, n, h, L, K = self.cfg, batch.num_nodes, self.cfg.hidden, self.cfg.layers, self.cfg.num_steps
        device = self.biases[0].device
        zeros = torch.zeros(n, h, device=device)
        v = [zeros] * L
        s = [zeros] * L                      # each layer's spikes sent in the previous step
        relay = [zeros] * (L - 1)            # F^l s^(l-1) sent in the previous step (l = 2..L)
        graph_prev = graphs[0]
        weights = self.rate_weights(device)
        peaks = {f"lif{l + 1}": [0.0, 0.0] for l in range(L)}
        out = []
        for t, graph in enumerate(graphs):
            raster = spikes(t)
            # F^1 x of every input step at once; the input sent at step k arrives at k + 1, and the
            # flush steps after the K input steps (as step 0, whose predecessor was a flush step) get none
            drive = self.input_transform(raster)
            rates = [torch.zeros(n, h, device=device) for _ in range(L)]
            counted = torch.zeros(batch.num_targets, h, device=device)
            for k in range(self.window):
                feedback = self.feedback(s[L - 1])
                currents = [feedback + drive[k - 1] if 1 <= k <= K else feedback]
                for l in range(1, L):
                    currents.append(graph_prev @ relay[l - 1])
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
                s, relay, graph_prev = new_s, new_relay, graph
            out.append((torch.cat(rates, dim=1), raster.sum(dim=0) / self.window, counted / self.window))
        if record:
            self.trace = {name: {"max_abs_input": p[0], "max_abs_v": max(p[1], cfg.threshold)}
                          for name, p in peaks.items()}
            # the readout's range is its worst case, a spike every step of every snapshot, so no input
            # stream can saturate it (its weights are an identity: no precision to lose)
            self.trace["readout"] = {"max_abs_input": 1.0, "max_abs_v": float(len(graphs) * self.window)}
        return out

    def equilibrium_map(self, a: torch.Tensor, x_mean: torch.Tensor, graph: torch.Tensor) -> torch.Tensor:
        """f(a): the rates the layers settle to given rates `a` (n, L*H), mean input and the snapshot's
        adjacency."""
        h, L, vth = self.cfg.hidden, self.cfg.layers, self.cfg.threshold
        layers = a.split(h, dim=1)
        out = [(self.input_transform(x_mean) + self.feedback(layers[L - 1]) + self.biases[0]) / vth]
        for l in range(1, L):
            out.append((graph @ self.transforms[l - 1](layers[l - 1]) + self.biases[l]) / vth)
        return torch.cat(out, dim=1).clamp(0.0, 1.0)

    def equilibrium_vjp(self, a: torch.Tensor, x_mean: torch.Tensor, graph: torch.Tensor):
        """g -> J^T g per layer, J the Jacobian of the equilibrium map at `a`, written out: the clamp's
        slope (1/Vth where the rate is strictly inside (0, 1)) then the transposed weights and graph.
        The backward pass applies it `implicit_iterations` times per snapshot, where autograd's
        bookkeeping for one small map cost more than the products. `g`: one (n, H) tensor per layer."""
        L, vth = self.cfg.layers, self.cfg.threshold
        with torch.no_grad():
            f = self.equilibrium_map(a, x_mean, graph)
            slope = (((f > 0.0) & (f < 1.0)).to(a.dtype) / vth).split(self.cfg.hidden, dim=1)
            graph_t = graph.t().to_sparse_csr()

        def vjp(g: List[torch.Tensor]) -> List[torch.Tensor]:
            d = [g_l * s_l for g_l, s_l in zip(g, slope)]
            return ([(graph_t @ d[l]) @ self.transforms[l - 1].weight for l in range(1, L)]   # into a^1..a^(L-1)
                    + [d[0] @ self.feedback.weight])                                          # into a^L
        return vjp

    def implicit_rates(self, a: torch.Tensor, x_mean: torch.Tensor, graph: torch.Tensor) -> torch.Tensor:
        """f(a*) whose backward pass is the implicit-function-theorem gradient at the equilibrium a*."""
        a = a.detach()
        fa = self.equilibrium_map(a, x_mean, graph)
        if not fa.requires_grad:
            return fa
        iterations = self.cfg.implicit_iterations

        def solve(grad):
            # the Jacobian's pieces are made here, in the backward pass, from tensors the forward pass
            # keeps anyway (`a` is saved by the map's products), so training memory does not grow
            vjp = self.equilibrium_vjp(a, x_mean, graph)
            with torch.no_grad():
                grads = grad.split(self.cfg.hidden, dim=1)
                g = list(grads)
                for _ in range(iterations):
                    g, previous = [back + g0 for back, g0 in zip(vjp(g), grads)], g
                    change = max(float((new - old).abs().max()) for new, old in zip(g, previous))
                    if change <= IMPLICIT_TOLERANCE * max(float(g_l.abs().max()) for g_l in g):
                        break
            return torch.cat(g, dim=1)

        fa.register_hook(solve)
        return fa

    def representations(self, batch, spikes: Callable[[int], torch.Tensor], record: bool = False) -> torch.Tensor:
        """The targets' snapshot representations (T, n_targets, H): the readout rate per snapshot, with
        implicit or BPTT gradients as configured."""
        graphs = [adjacency(ei, ew, batch.num_nodes) for ei, ew in batch.snapshots]
        implicit = self.cfg.gradient == "implicit" and torch.is_grad_enabled()
        with torch.set_grad_enabled(torch.is_grad_enabled() and not implicit):
            steps = self.simulate(batch, spikes, graphs, record)
        reps = []
        h, L, m = self.cfg.hidden, self.cfg.layers, batch.num_targets
        for (a, x_mean, readout), graph in zip(steps, graphs):
            if implicit:
                last = self.implicit_rates(a, x_mean, graph)[:m, (L - 1) * h:]
                readout = readout + (last - last.detach())         # the simulated value, the implicit gradient
            reps.append(readout)
        return torch.stack(reps)

    def classify(self, reps: torch.Tensor) -> torch.Tensor:
        """Logits (n, C) from representations (T, n, H): FC over the concatenated, standardised snapshots."""
        return self.classifier(self.readout_norm(reps.permute(1, 0, 2).reshape(reps.shape[1], -1)))

    def fit_classifier(self, reps: torch.Tensor, y: torch.Tensor, iterations: int = 100, l2: float = 1e-3) -> None:
        """Fit the classifier to representations (T, n, H) of labelled nodes: the standardisation's
        statistics become theirs, then L-BFGS on the cross-entropy (plus l2/2 ||W||^2) from the current
        weights. The spiking layers are untouched."""
        x = reps.permute(1, 0, 2).reshape(reps.shape[1], -1).detach()
        norm = self.readout_norm
        with torch.no_grad():
            norm.running_mean.copy_(x.mean(dim=0))
            norm.running_var.copy_(x.var(dim=0))
        norm.eval()
        fit_linear(self.classifier, norm(x).detach(), y, iterations, l2)

    # ---- inputs --------------------------------------------------------------------------------
    def input_window(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The K input steps (K, n, F) of features x: a raster drawn by torch (spike codings, training
        only), or for graded input the 8-bit values on every step, as deployed (no randomness)."""
        from neurograph.encoding import draw_raster, graded_values
        if self.cfg.coding == "graded":
            return graded_values(x).expand(self.cfg.num_steps, *x.shape)
        return draw_raster(x, self.cfg.num_steps, generator, self.cfg.coding)

    def train_logits(self, batch, epoch: int, seed: int) -> torch.Tensor:
        """Logits of the batch's targets on a fresh input raster per (seed, epoch, snapshot), drawn by torch."""
        device = self.biases[0].device

        def spikes(t):
            generator = torch.Generator(device=device).manual_seed((seed * 100_003 + epoch) * 1_009 + t + 1)
            return self.input_window(batch.features(t).to(device), generator)

        return self.classify(self.representations(batch, spikes))

    def deployed_spikes(self, batch, input_seed: int) -> Callable[[int], torch.Tensor]:
        """The deployed input of every snapshot: the IR's encoding with the network's seed, per window."""
        from neurograph.encoding import encode
        device = self.biases[0].device
        if self.cfg.coding == "graded":
            return lambda t: self.input_window(batch.features(t).to(device), None)
        return lambda t: torch.as_tensor(encode(batch.features(t).cpu().numpy(), self.cfg.num_steps, input_seed,
                                                self.cfg.coding), dtype=torch.float32, device=device)

    def deployed_representations(self, batch, input_seed: int, record: bool = False) -> torch.Tensor:
        """The representations (T, n, H) on the deployed input, without gradients."""
        with torch.no_grad():
            return self.representations(batch, self.deployed_spikes(batch, input_seed), record)

    def inference_logits(self, batch, input_seed: int, record: bool = False) -> torch.Tensor:
        with torch.no_grad():
            return self.classify(self.deployed_representations(batch, input_seed, record))


def fit_linear(linear: nn.Linear, z: torch.Tensor, y: torch.Tensor, iterations: int = 100, l2: float = 1e-3) -> None:
    """L-BFGS on the cross-entropy of linear(z) against y plus l2/2 ||W||^2, from `linear`'s current weights."""
    opt = torch.optim.LBFGS(linear.parameters(), max_iter=iterations, history_size=10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(linear(z), y) + 0.5 * l2 * linear.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)


def readout_counts(readouts: List[np.ndarray]) -> np.ndarray:
    """Per-window counts (T, N, H) from the carried readout's membrane at the end of each window."""
    r = np.asarray(readouts, dtype=np.float64)
    return np.diff(np.concatenate([np.zeros_like(r[:1]), r]), axis=0)
