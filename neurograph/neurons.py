"""Spiking neurons in PyTorch, with the exact update order of the deployed (Lava) neurons.

Per step: V = (1 - leak) * V + I;  spike = V > threshold;  V = 0 where it spiked.
IF is leak = 0. The spike's gradient is a rectangular surrogate.
"""
from __future__ import annotations

from typing import Tuple

import torch


class RectangularSpike(torch.autograd.Function):
    """Heaviside(x > 0) forward; 1/width on |x| < width/2 backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, width: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.width = width
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        window = (x.abs() < ctx.width / 2).to(grad.dtype) / ctx.width
        return grad * window, None


def run_neurons(current: torch.Tensor, threshold: float, leak: float = 0.0,
                surrogate_width: float = 1.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Step IF/LIF neurons through time. current: (T, ...). Returns (spikes, max |V| seen).

    The steps are taken with unbind (one gradient tensor for all steps, not one (T, ...) zero
    tensor per step as indexing current[t] would give), and nothing leaves the device."""
    v = torch.zeros_like(current[0])
    spikes = []
    v_max = torch.zeros((), dtype=current.dtype, device=current.device)
    for step_current in current.unbind(0):
        v = v + step_current if leak == 0.0 else (1.0 - leak) * v + step_current
        v_max = torch.maximum(v_max, v.detach().abs().max())
        s = RectangularSpike.apply(v - threshold, surrogate_width)
        v = v * (1.0 - s.detach())      # reset to zero; the reset itself is not differentiated
        spikes.append(s)
    return torch.stack(spikes), v_max
