"""GA-SNN: graph attention spiking network (Xu et al., arXiv 2407.20508).

GC-SNN with each graph convolution replaced by spiking graph attention: the edge
coefficients are a softmax over each node's in-edges of scores recomputed at every
time step from the spiking features -- by default their running mean up to that
step -- with `heads` attention heads per hidden layer (see :class:`SpikingGraphAttention`).

Deployment choice: a chip synapse holds a fixed weight and cannot compute a
softmax, so the deployed network uses *frozen attention*: per-edge coefficients
averaged over the input window in one host-side calibration pass on the deployed
input (at compile time, like STFN's statistics). On the chip a GA-SNN layer is then
exactly a GC-SNN layer with different aggregation weights -- one set per attention
head, each applied to its head's slice of the features. What freezing costs is
measured by :meth:`GASNN.live_attention_logits` (per-step attention, as trained).
"""
from __future__ import annotations

import torch

from neurograph.layers import SpikingGraphAttention
from neurograph.models.gcsnn import GCSNN


class GASNN(GCSNN):
    aggregation_rule = "attention"

    def make_conv(self, layer: int, in_features: int, out_features: int) -> SpikingGraphAttention:
        return SpikingGraphAttention(in_features, out_features, heads=self.cfg.layer_heads()[layer],
                                     dropout=self.cfg.attention_dropout, scores_from=self.cfg.attention_scores_from)

    def attention_coefficients(self, graph, input_seed: int):
        """The host stage of a deployment on `graph`: every layer's frozen attention computed on this
        graph's deployed input (STFN statistics stay those of the training graph), as (E, heads)
        arrays over graph.edge_index (self loops included), and the pass's counted operations."""
        from neurograph.compile.export import calibration_ops
        self.eval()
        with torch.no_grad():
            self.inference_logits(graph, input_seed, calibrate_stfn=False)
            spikes = int(self.deployed_input(graph, input_seed).coalesce().values().sum())
        coefficients = [conv.frozen.double().cpu().numpy().copy() for conv in self.convs]
        return coefficients, calibration_ops(self, graph, spikes)

    def live_attention_logits(self, graph, input_seed: int) -> torch.Tensor:
        """Logits with per-step attention (the trained model) and the deployed STFN statistics."""
        self.inference_logits(graph, input_seed)      # calibrates STFN on the deployed input
        for conv in self.convs:
            conv.live = True
        try:
            return self(self.deployed_input(graph, input_seed), graph.edge_index, graph.edge_weight)
        finally:
            for conv in self.convs:
                conv.live = False

