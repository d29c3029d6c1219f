"""STFN: spatial-temporal feature normalization, in a trained form and a deployable form.

Training (as in Xu et al., see ../shared/notes/stfn.md): for each node v the
presynaptic input S (time x features) is normalized with its own mean and
variance over features *and* the time window, scaled to the threshold:

    Y[t, v, k] = lambda_k * rho * V_th * (S[t, v, k] - mu_v) / sqrt(var_v + eps) + gamma_k

with rho = 1 here (lambda is trained, so rho would be redundant).

Those statistics see the whole window, which a causal chip cannot, and they are
per node, which a network meant for any graph cannot keep. The deployed form
freezes them as batch norm keeps running statistics: one calibration pass over the
training graph (eval mode, its deployed input) averages the per-node mean and
standard deviation over the nodes, and from then on STFN is a fixed per-feature
affine map, the same for every node of every graph:

    Y = (lambda_k * V_th / sigma) * S + (gamma_k - lambda_k * V_th * mu / sigma)

whose scale folds into the feature-transform columns and whose shift is a bias.
Reported accuracy is always measured with this frozen form.
"""
from __future__ import annotations

from typing import Tuple

import torch
from torch import nn


class STFN(nn.Module):
    def __init__(self, num_features: int, threshold: float = 1.0, eps: float = 1e-5):
        super().__init__()
        self.threshold, self.eps = threshold, eps
        self.weight = nn.Parameter(torch.ones(num_features))     # lambda_k
        self.bias = nn.Parameter(torch.zeros(num_features))      # gamma_k
        self.register_buffer("frozen_mean", torch.zeros(()))
        self.register_buffer("frozen_std", torch.ones(()))
        self.calibrating = False

    def forward(self, s: torch.Tensor, window: slice = slice(None)) -> torch.Tensor:
        """s: (steps, N, F) presynaptic input; statistics over the steps in `window`."""
        if self.training:
            mean = s[window].mean(dim=(0, 2))[None, :, None]
            std = torch.sqrt(s[window].var(dim=(0, 2), unbiased=False) + self.eps)[None, :, None]
        else:
            if self.calibrating:       # freeze the node-averaged statistics of this pass's data
                self.frozen_mean.copy_(s[window].mean(dim=(0, 2)).mean().detach())
                self.frozen_std.copy_(torch.sqrt(s[window].var(dim=(0, 2), unbiased=False) + self.eps).mean().detach())
            mean, std = self.frozen_mean, self.frozen_std
        return (s - mean) / std * (self.weight * self.threshold) + self.bias

    def folded(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """(input scale (F,), bias (F,)) of the frozen affine form."""
        scale = self.weight * self.threshold / self.frozen_std
        return scale.detach(), (self.bias - scale * self.frozen_mean).detach()
