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

import scipy.sparse as sp
import torch

from neurograph.layers import SpikingGraphAttention
from neurograph.models.gcsnn import GCSNN


class GASNN(GCSNN):
    aggregation = "frozen_attention"

    def make_conv(self, layer: int, in_features: int, out_features: int) -> SpikingGraphAttention:
        return SpikingGraphAttention(in_features, out_features, heads=self.cfg.layer_heads()[layer],
                                     dropout=self.cfg.attention_dropout, scores_from=self.cfg.attention_scores_from)

    def aggregation_matrix(self, layer: int, graph):
        """Layer `layer`'s frozen attention, A[target, source]: one CSR, or a list of one per head."""
        conv = self.convs[layer]
        if not torch.equal(conv.frozen_edges, graph.edge_index):
            raise RuntimeError("GA-SNN attention is not calibrated for this graph: call inference_logits first")
        src, dst = graph.edge_index.numpy()
        heads = [sp.csr_matrix((alpha.double().numpy(), (dst, src)), shape=(graph.num_nodes, graph.num_nodes))
                 for alpha in conv.frozen.t()]
        return heads[0] if len(heads) == 1 else heads

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

