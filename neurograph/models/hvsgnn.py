"""HVS-GNN (arXiv 2412.09379) and its baselines: SAGE-style graph regression with VSN, LIF or ReLU
activations at the layer boundaries, in one harness.

    graded input x (8-bit) -> [SAGE -> BatchNorm -> boundary] x (layers - 1) -> SAGE -> readout
                           -> (host) mean over each graph's nodes -> linear head -> prediction

* SAGE layer: z_v = W_n mean_{u -> v} h_u + W_r h_v + b (PyG's SAGEConv, mean aggregation, root weight).
* Boundary activation, one per hidden layer (``ModelConfig.boundaries``, comma-separated or one for all):
    ``vsn``   variable spiking neuron: M = (1 - leak) M + z; fires when M >= Th (reset to 0) and sends
              the graded payload ReLU(z) of the current input (compile/kinds/vsn.py, same equations);
    ``lif``   binary LIF spikes, reset to zero (HLIF-GNN; compile/kinds/lif.py);
    ``relu``  the continuous activation. All ``relu`` is A-GNN, computed in one static pass.
* With any spiking boundary the network runs the deployed window step by step: T input steps
  plus two synaptic hops per layer to flush, each layer's input arriving two steps after its
  source sent it -- exactly what the chip computes, so the float model is the deployed network
  before quantization. Biases (and BatchNorm shifts) travel with the data: a layer's bias is
  present on the T steps at which its sample arrives and absent during the flush, so every
  neuron sees exactly the paper's T-step simulation, shifted by the pipeline, and nothing fires
  while no sample passes (a constant bias would drive the boundary neurons on every flush step:
  with T = 1 nine spikes in ten were such idle firing). On the chip a *clock* channel carries the
  gate: the host sends 1 on the input steps, each boundary population relays it in one extra
  neuron (compile/export.py). The readout integrates the last layer's current over its T steps
  (V / T is each node's embedding).
* Spiking activity is the paper's measure: spikes per boundary neuron per input step (all the
  window's spikes over neurons x T).
* The spiking loss (SLF): alpha_L * MSE + beta_L * spiking activity (averaged over the spiking
  boundaries, differentiated through the surrogate gradient), ``ModelConfig.spiking_loss``
  = beta_L (alpha_L = 1).
* Surrogate gradients through the threshold (``ModelConfig.surrogate``): ``fast_sigmoid``
  (d/dx = 1 / (1 + k|x|)^2, the VSN papers' choice) or ``rectangular`` (1/w on |x| < w/2).
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple

import numpy as np
import torch
from torch import nn

from neurograph.encoding import graded_values
from neurograph.config import ModelConfig
from neurograph.layers import GRAPH_CONV_DELAY     # dense transform, then aggregation: one delay each

BOUNDARIES = ("vsn", "lif", "relu")
SURROGATES = ("fast_sigmoid", "rectangular")


class ThresholdSpike(torch.autograd.Function):
    """Heaviside forward (x >= 0 where the neuron fires at equality, as the VSN; else x > 0, as LIF);
    backward the chosen surrogate: ``fast_sigmoid`` 1 / (1 + |x| / w)^2 or ``rectangular`` 1/w on |x| < w/2."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, surrogate: str, width: float, at_equality: bool) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.surrogate, ctx.width = surrogate, width
        return ((x >= 0) if at_equality else (x > 0)).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        if ctx.surrogate == "fast_sigmoid":
            slope = grad / (1.0 + x.abs() / ctx.width) ** 2
        else:
            slope = grad * (x.abs() < ctx.width / 2).to(grad.dtype) / ctx.width
        return slope, None, None, None


def vsn_steps(current: torch.Tensor, threshold: float, leak: float, surrogate: str, width: float):
    """Variable spiking neurons over steps. current: (S, N, F) -> (payloads, fired), both (S, N, F)."""
    m = torch.zeros_like(current[0])
    payloads, fired = [], []
    for z in current.unbind(0):
        m = (1.0 - leak) * m + z
        f = ThresholdSpike.apply(m - threshold, surrogate, width, True)
        m = m * (1.0 - f.detach())          # reset to zero; the reset itself is not differentiated
        payloads.append(f * torch.relu(z))
        fired.append(f)
    return torch.stack(payloads), torch.stack(fired)


def lif_steps(current: torch.Tensor, threshold: float, leak: float, surrogate: str, width: float):
    """LIF as the deployed kind: V = (1 - leak) V + I; spike where V > threshold; reset to zero."""
    v = torch.zeros_like(current[0])
    spikes = []
    for i in current.unbind(0):
        v = (1.0 - leak) * v + i
        s = ThresholdSpike.apply(v - threshold, surrogate, width, False)
        v = v * (1.0 - s.detach())
        spikes.append(s)
    spikes = torch.stack(spikes)
    return spikes, spikes


class SAGELayer(nn.Module):
    """z = W_n mean_{u -> v} h_u + W_r h_v (+ bias, kept apart: on the chip it lives in the target)."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.neigh = nn.Linear(in_features, out_features, bias=False)
        self.root = nn.Linear(in_features, out_features, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, h: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """h: (..., N, F) for any leading (step) dimensions; adjacency: sparse (N, N) mean aggregation."""
        shape = h.shape
        flat = h.reshape(-1, shape[-2], shape[-1]).permute(1, 0, 2).reshape(shape[-2], -1)    # (N, S * F)
        mean = torch.sparse.mm(adjacency, flat).reshape(shape[-2], -1, shape[-1]).permute(1, 0, 2).reshape(shape)
        return self.neigh(mean) + self.root(h)


class WindowBatchNorm(nn.Module):
    """BatchNorm over the nodes and the steps of the input window (where the layer carries the
    sample), applied at every step as the per-feature affine map export folds into the weights."""

    def __init__(self, features: int, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))
        self.momentum, self.eps = momentum, eps

    def forward(self, z: torch.Tensor, window: slice, gate) -> torch.Tensor:
        """scale z + gate shift: the shift, like the bias, is present only where `gate` is 1."""
        if self.training:
            seen = z[window].reshape(-1, z.shape[-1])
            mean, var = seen.mean(0), seen.var(0, unbiased=False)
            with torch.no_grad():
                n = seen.shape[0]
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var * n / max(n - 1, 1), self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        scale = self.weight / torch.sqrt(var + self.eps)
        return z * scale + gate * (self.bias - mean * scale)

    def folded(self):
        """(scale, shift) of the eval-mode map z -> scale z + shift."""
        scale = self.weight / torch.sqrt(self.running_var + self.eps)
        return scale, self.bias - self.running_mean * scale


class MeanEdges(NamedTuple):
    """A graph's mean aggregation as weighted edges: A[v, u] = 1 / in-degree(v) for each edge u -> v,
    sorted by target (then source), as scipy's CSR gives them."""
    source: torch.Tensor
    target: torch.Tensor
    weight: torch.Tensor

    def matrix(self, num_nodes: int) -> torch.Tensor:
        """Sparse (N, N) A; the edges are already in coalesced order, so no sort."""
        return torch.sparse_coo_tensor(torch.stack([self.target, self.source]), self.weight, (num_nodes, num_nodes),
                                       is_coalesced=True, check_invariants=False)


def mean_edges(edge_index, num_nodes: int) -> MeanEdges:
    """The coefficients of the deployed ``mean`` rule (compile/graphs.py: duplicates merged), as tensors."""
    from neurograph.compile.graphs import RULES
    a = RULES["mean"].coefficients(np.asarray(edge_index), num_nodes).tocoo()
    return MeanEdges(torch.from_numpy(a.col.astype(np.int64)), torch.from_numpy(a.row.astype(np.int64)),
                     torch.from_numpy(a.data.astype(np.float32)))


class HVSGNN(nn.Module):
    def __init__(self, cfg: ModelConfig, num_features: int, num_outputs: int = 1):
        super().__init__()
        if cfg.layers < 2:
            raise ValueError(f"HVS-GNN needs >= 2 SAGE layers (a boundary between them), got {cfg.layers}")
        if cfg.surrogate not in SURROGATES:
            raise ValueError(f"surrogate must be one of {SURROGATES}, got {cfg.surrogate!r}")
        self.cfg = cfg
        self.boundaries = boundary_kinds(cfg.boundaries, cfg.layers - 1)
        dims = [num_features] + [cfg.hidden] * cfg.layers
        self.convs = nn.ModuleList(SAGELayer(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.norms = nn.ModuleList(WindowBatchNorm(cfg.hidden) for _ in self.boundaries)
        self.head = nn.Linear(cfg.hidden, num_outputs)
        self.trace: Dict[str, dict] = {}

    @property
    def spiking(self) -> bool:
        return any(b != "relu" for b in self.boundaries)

    @property
    def run_steps(self) -> int:
        """Window steps: T input steps plus the pipeline's flush (static A-GNN: one pass)."""
        return self.cfg.num_steps + GRAPH_CONV_DELAY * len(self.convs) if self.spiking else 1

    def input_window(self, layer: int) -> slice:
        """The window steps at which layer `layer`'s conv output (its sample) reaches its target."""
        start = GRAPH_CONV_DELAY * (layer + 1)
        return slice(start, start + self.cfg.num_steps)

    def gate(self, layer: int, z: torch.Tensor) -> torch.Tensor:
        """(steps, 1, 1): 1 on the input window of `layer`, where its bias is present."""
        gate = z.new_zeros((z.shape[0], 1, 1))
        gate[self.input_window(layer)] = 1.0
        return gate

    def embeddings(self, x: torch.Tensor, edges: MeanEdges):
        """Node embeddings (N, hidden) and the mean firing of each spiking boundary (for the SLF)."""
        adjacency = edges.matrix(x.shape[0])
        # the deployed input: 8-bit graded payloads (compile/inputs.py), read back in float units
        h = graded_values(x)
        steps = self.run_steps
        if self.spiking:
            window = torch.zeros((steps,) + h.shape, dtype=h.dtype, device=h.device)
            window[:self.cfg.num_steps] = h
            h = window
        record = not self.training
        if record:
            self.trace = {}
        activity: List[torch.Tensor] = []
        for layer, conv in enumerate(self.convs):
            z = conv(h, adjacency)
            gate = 1.0
            if self.spiking:        # arrives two hops after its source sent it, with the bias
                z = torch.cat([z.new_zeros((GRAPH_CONV_DELAY,) + z.shape[1:]), z[:-GRAPH_CONV_DELAY]])
                gate = self.gate(layer, z)
            z = z + gate * conv.bias
            if layer == len(self.convs) - 1:
                v = z.sum(0) if self.spiking else z
                if record:
                    self.trace["readout"] = {"max_abs_input": float(z.detach().abs().max()),
                                             "max_abs_v": float(torch.cumsum(z.detach(), 0).abs().max()
                                                                if self.spiking else z.detach().abs().max())}
                return v / (self.cfg.num_steps if self.spiking else 1), activity
            z = self.norms[layer](z, self.input_window(layer) if self.spiking else slice(None), gate)
            kind = self.boundaries[layer]
            if kind == "relu":
                h = torch.relu(z)
            else:
                run = vsn_steps if kind == "vsn" else lif_steps
                h, fired = run(z, self.cfg.threshold, self.cfg.leak, self.cfg.surrogate, self.cfg.surrogate_width)
                activity.append(fired.mean() * steps / self.cfg.num_steps)     # per neuron and input step
            if record:
                name = population_name(kind, layer)
                self.trace[name] = {"max_abs_input": float(z.detach().abs().max()),     # all synaptic (bias too)
                                    "max_abs_v": float(z.detach().abs().max()),
                                    "max_payload": float(h.detach().max()) if kind != "lif" else 1.0,
                                    "activity": float(activity[-1].detach()) if kind != "relu" else 1.0}
                if kind == "relu":          # the share of ReLU outputs a zero-skipping ANN computes with
                    self.trace[name]["nonzero"] = float((h.detach() > 0).to(h.dtype).mean())

    def forward(self, x: torch.Tensor, edges: MeanEdges, batch: torch.Tensor, num_graphs: int):
        """Predictions (G, outputs) and the spiking activity (a scalar tensor; 0 without spiking boundaries).
        `edges`: the batch's :class:`MeanEdges` (e.g. :func:`batch_edges` of a PyG batch)."""
        emb, activity = self.embeddings(x, edges)
        pooled = torch.zeros((num_graphs, emb.shape[1]), dtype=emb.dtype, device=emb.device).index_add_(0, batch, emb)
        counts = torch.bincount(batch, minlength=num_graphs).clamp(min=1).to(emb.dtype)
        rate = torch.stack(activity).mean() if activity else emb.new_zeros(())
        return self.head(pooled / counts[:, None]), rate


def boundary_kinds(spec: str, count: int) -> List[str]:
    """'vsn' -> every boundary a VSN; 'vsn,relu' -> one kind per boundary."""
    kinds = [k.strip() for k in spec.split(",")]
    if len(kinds) == 1:
        kinds = kinds * count
    if len(kinds) != count or any(k not in BOUNDARIES for k in kinds):
        raise ValueError(f"boundaries={spec!r}: give one of {BOUNDARIES} or {count} of them, comma-separated")
    return kinds


def population_name(kind: str, layer: int) -> str:
    """The IR population a boundary becomes (export and the trace agree on it)."""
    return f"{kind}{layer + 1}"


def batch_edges(batch) -> MeanEdges:
    """The MeanEdges of a PyG batch whose graphs carry ``mean_edge_index`` (2, E) [source; target] and
    ``mean_weight`` (E,) from :func:`mean_edges`, computed once per graph (PyG offsets *_index keys)."""
    return MeanEdges(batch.mean_edge_index[0], batch.mean_edge_index[1], batch.mean_weight)
