"""GC-SNN: graph convolutional spiking network (Xu et al., arXiv 2407.20508).

    spike-coded features -> [SpikingGraphConv -> STFN -> IF/LIF] x (layers-1)
                         -> SpikingGraphConv -> membrane readout

The readout is a non-spiking integrator: logits are its membrane potential at the
end of the window, V = sum_t (I_t + b), divided by the number of steps. (The paper
reads out mean spike counts; an integrator avoids ties between classes at small T
and maps onto one compartment per class on the chip.) Every layer runs for the
full deployed window: T input steps plus GRAPH_CONV_DELAY per layer to flush.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Dict, List

import torch
from torch import nn

from neurograph.config import ModelConfig
from neurograph.encoding import draw_spikes, encode_events
from neurograph.layers import GRAPH_CONV_DELAY, SpikingGraphConv, sparse_spikes, spike_raster, window_dropout
from neurograph.neurons import run_neurons
from neurograph.norm import STFN


class GCSNN(nn.Module):
    aggregation_rule = "gcn"           # how a graph becomes the deployed aggregation weights (compile/graphs.py)

    def __init__(self, cfg: ModelConfig, num_nodes: int, num_features: int, num_classes: int):
        """`num_nodes` is accepted with the other models' signature and not kept: nothing in a spiking
        model depends on the number of nodes, so one trained model serves every graph."""
        super().__init__()
        if cfg.layers < 1:
            raise ValueError(f"layers must be >= 1, got {cfg.layers}")
        if cfg.neuron not in ("if", "lif"):
            raise ValueError(f"neuron must be 'if' or 'lif', got {cfg.neuron!r}")
        self.cfg = cfg
        self.leak = cfg.leak if cfg.neuron == "lif" else 0.0
        sizes = cfg.layer_sizes(num_features, num_classes)
        self.convs = nn.ModuleList(self.make_conv(i, a, b) for i, (a, b) in enumerate(sizes))
        hidden = [b for _, b in sizes[:-1]]
        if cfg.stfn:
            self.norms = nn.ModuleList(STFN(f, cfg.threshold) for f in hidden)
        else:
            self.biases = nn.ParameterList(nn.Parameter(torch.zeros(f)) for f in hidden)
        self.readout_bias = nn.Parameter(torch.zeros(num_classes))
        self.trace: Dict[str, dict] = {}
        self.calibration_trace: Dict[str, dict] = {}
        self._input_cache = {}

    def make_conv(self, layer: int, in_features: int, out_features: int) -> SpikingGraphConv:
        return SpikingGraphConv(in_features, out_features)

    @property
    def run_steps(self) -> int:
        return self.cfg.num_steps + GRAPH_CONV_DELAY * len(self.convs)

    def input_window(self, layer: int) -> slice:
        """The T steps in which layer `layer` receives the input window (after the pipeline delay).

        STFN's statistics are taken over these steps, the paper's time window; the
        pipeline's fill and flush steps around them are a deployment artifact."""
        start = GRAPH_CONV_DELAY * (layer + 1)
        return slice(start, start + self.cfg.num_steps)

    def source_window(self, layer: int) -> slice:
        """The steps in which the source of layer `layer` carries the input window."""
        start = GRAPH_CONV_DELAY * layer
        return slice(start, start + self.cfg.num_steps)

    def hidden_input(self, layer: int, current: torch.Tensor) -> torch.Tensor:
        """What hidden layer `layer`'s neurons integrate: the current, STFN-normalized or biased."""
        if self.cfg.stfn:
            return self.norms[layer](current, self.input_window(layer))
        return current + self.biases[layer]

    def frozen_on_host(self) -> List[str]:
        """What the host's calibration pass freezes into the deployed weights (empty: no pass)."""
        return ((["STFN statistics (folded into weights and biases)"] if self.cfg.stfn else [])
                + (["attention coefficients (the aggregation weights)"]
                   if self.aggregation_rule == "attention" else []))

    @contextmanager
    def calibration_pass(self, stfn: bool = True):
        """Run with STFN and attention in calibration mode: they measure what they freeze (on this
        pass's data) and already use it, so the pass computes the deployed form. `stfn=False` keeps
        STFN's statistics frozen (from the training graph) and recalibrates attention only, as
        deploying on a new graph does."""
        from neurograph.norm import STFN
        modules = [m for m in self.modules() if hasattr(m, "calibrating") and (stfn or not isinstance(m, STFN))]
        for m in modules:
            m.calibrating = True
        try:
            yield
        finally:
            for m in modules:
                m.calibrating = False

    def hidden_bias(self, layer: int) -> torch.Tensor:
        """The per-feature bias of hidden layer `layer` in its deployed (frozen) form, (F,)."""
        return self.norms[layer].folded()[1] if self.cfg.stfn else self.biases[layer]

    def encode(self, x: torch.Tensor, seed: int) -> torch.Tensor:
        """The input raster for `seed` (numpy's, as deployed), as a sparse (T * N, F) tensor on x's device."""
        events = encode_events(x.cpu().numpy(), self.cfg.num_steps, seed, self.cfg.coding)
        return sparse_spikes(events, x.shape[0], x.shape[1], self.cfg.num_steps).to(x.device)

    def _dropout(self, s: torch.Tensor) -> torch.Tensor:
        # the nodes of this graph (a sampled subgraph has fewer than the model was built for)
        nodes = s.shape[0] // self.cfg.num_steps if s.layout != torch.strided else s.shape[1]
        return window_dropout(s, self.cfg.dropout, self.training, nodes)

    def forward(self, spikes: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        """spikes: input raster, (T, N, F) or sparse (T * N, F). Returns logits (N, C) = readout V / run_steps."""
        steps, s = self.run_steps, spikes
        record = not self.training
        if record:
            self.trace = {}
        for layer, conv in enumerate(self.convs[:-1]):
            s = self._dropout(s)
            current = conv(s, edge_index, edge_weight, steps, self.source_window(layer))
            y = self.hidden_input(layer, current)
            s, v_max = run_neurons(y, self.cfg.threshold, self.leak, self.cfg.surrogate_width)
            if record:   # keyed by the population name export gives this layer
                self.trace[f"{self.cfg.neuron}{layer + 1}"] = {
                    "max_abs_input": float((y - self.hidden_bias(layer)).abs().max()),
                    "max_abs_v": float(v_max), "spikes": s.detach()}
        s = self._dropout(s)
        current = self.convs[-1](s, edge_index, edge_weight, steps, self.source_window(len(self.convs) - 1))
        v = torch.cumsum(current + self.readout_bias, dim=0)
        if record:
            self.trace["readout"] = {"max_abs_input": float(current.abs().max()), "max_abs_v": float(v.abs().max())}
        return v[-1] / steps

    def initialize(self, graph, seed: int) -> None:
        """Threshold-balanced initialization (``init = "balanced"``), before training.

        With PyTorch's default init no spike gets past the second layer of a deeper GC-SNN, so
        the surrogate gradient is zero for every earlier layer and training never starts.
        Layer by layer, on a training raster, this scales W so the hidden layer's input current
        has a standard deviation of half the threshold over the input window: IF neurons then
        fire at initialization however deep the network is. (GA-SNN's attention moves with W,
        so its layers are rescaled until the spread settles.)"""
        if self.cfg.init not in ("default", "balanced"):
            raise ValueError(f"init must be 'default' or 'balanced', got {self.cfg.init!r}")
        if self.cfg.init == "default":
            return
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad(), self.calibration_pass():
                s = self.encode(graph.x, seed)
                for layer, conv in enumerate(self.convs[:-1]):
                    args = (s, graph.edge_index, graph.edge_weight, self.run_steps, self.source_window(layer))
                    current = conv(*args)
                    for _ in range(5):      # one round unless the edge coefficients move with W
                        std = float(current[self.input_window(layer)].std())
                        if std == 0 or abs(0.5 * self.cfg.threshold / std - 1.0) < 1e-3:
                            break
                        scale = 0.5 * self.cfg.threshold / std
                        conv.lin.weight.mul_(scale)
                        current = conv(*args) if conv.coefficients_follow_weights else current * scale
                    s, _ = run_neurons(self.hidden_input(layer, current), self.cfg.threshold, self.leak)
        finally:
            self.train(was_training)

    # ---- the two ways the training loop calls a model -------------------------------
    def train_logits(self, graph, epoch: int, seed: int) -> torch.Tensor:
        """A fresh raster every epoch, drawn by torch on the graph's device with the input's window
        dropout already applied (training only; the deployed raster is always :meth:`encode`'s)."""
        x, steps = graph.x, self.cfg.num_steps
        generator = torch.Generator(device=x.device).manual_seed(seed * 100_003 + epoch + 1)
        p = self.cfg.dropout if self.training else 0.0
        index, feature, value = draw_spikes(x, steps, generator, self.cfg.coding, dropout=p)
        spikes = spike_raster(index, feature, value, steps * x.shape[0], x.shape[1], dropout_applied=True)
        return self(spikes, graph.edge_index, graph.edge_weight)

    def inference_logits(self, graph, input_seed: int, calibrate_stfn: bool = True) -> torch.Tensor:
        """Deployed form: freeze what the chip cannot compute (STFN statistics, attention) on the
        deployed input in one calibration pass, then run with it frozen. On a graph the model was
        not trained on, `calibrate_stfn=False` keeps the training graph's STFN statistics."""
        spikes = self.deployed_input(graph, input_seed)
        if self.frozen_on_host():
            with self.calibration_pass(stfn=calibrate_stfn):
                self(spikes, graph.edge_index, graph.edge_weight)
            self.calibration_trace = self.trace       # export counts the host's calibration work
        return self(spikes, graph.edge_index, graph.edge_weight)

    def deployed_input(self, graph, input_seed: int) -> torch.Tensor:
        """The deployed input raster (sparse), encoded once per graph and seed."""
        cached = self._input_cache
        if cached.get("graph") is not graph or cached.get("seed") != input_seed:
            self._input_cache = cached = {"graph": graph, "seed": input_seed,
                                          "spikes": self.encode(graph.x, input_seed)}
        return cached["spikes"]
