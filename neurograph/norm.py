"""STFN: spatial-temporal feature normalization, in a trained form and a deployable form.

Training (as in Xu et al., see ../shared/notes/stfn.md): for each node v the
presynaptic input S (time x features) is normalized with its own mean and
variance over features *and* the time window, scaled to the threshold:

    Y[t, v, k] = lambda_k * rho * V_th * (S[t, v, k] - mu_v) / sqrt(var_v + eps) + gamma_k

with rho = 1 here (lambda is trained, so rho would be redundant).

Those statistics see the whole window, which a causal chip cannot. The deployed
form freezes them: after training, one calibration pass over the graph (eval
mode, the deployed input spikes) records mu_v and sigma_v per node, as batch norm
keeps running statistics. From then on STFN is a fixed per-neuron affine map

    Y = (1 / sigma_v) * (lambda_k * V_th) * S + (gamma_k - lambda_k * V_th * mu_v / sigma_v)

whose scales fold into the synapses (1/sigma_v into the aggregation rows,
lambda_k * V_th into the feature-transform columns) and whose shift is a bias.
Reported accuracy is always measured with this frozen form.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn


class STFN(nn.Module):
    def __init__(self, num_nodes: int, num_features: int, threshold: float = 1.0, eps: float = 1e-5):
        super().__init__()
        self.threshold, self.eps = threshold, eps
        self.weight = nn.Parameter(torch.ones(num_features))     # lambda_k
        self.bias = nn.Parameter(torch.zeros(num_features))      # gamma_k
        self.register_buffer("node_mean", torch.zeros(num_nodes))
        self.register_buffer("node_std", torch.ones(num_nodes))
        self.calibrating = False

    def forward(self, s: torch.Tensor, window: slice = slice(None)) -> torch.Tensor:
        """s: (steps, N, F) presynaptic input; statistics over the steps in `window`."""
        if self.training or self.calibrating:
            mean = s[window].mean(dim=(0, 2))
            std = torch.sqrt(s[window].var(dim=(0, 2), unbiased=False) + self.eps)
            if self.calibrating:
                self.node_mean.copy_(mean.detach())
                self.node_std.copy_(std.detach())
        else:
            mean, std = self.node_mean, self.node_std
        return (s - mean[None, :, None]) / std[None, :, None] * (self.weight * self.threshold) + self.bias

    def folded(self) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(node_scale (N,), feature_scale (F,), bias (N, F)) of the frozen affine form."""
        node_scale = 1.0 / self.node_std
        feature_scale = self.weight * self.threshold
        bias = self.bias[None, :] - feature_scale[None, :] * (self.node_mean * node_scale)[:, None]
        return node_scale.detach(), feature_scale.detach(), bias.detach()
