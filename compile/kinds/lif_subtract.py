"""LIF with reset by subtraction: u <- lambda u + I - Vth s (Dy-SIGN's neuron).

Stock Lava LIF resets to zero, so this kind runs on Lava as our KindStep process,
whose model runs this module's :meth:`LIFSubtract.step`. Fixed point, per step:
    u = wrap24(int32(a << 6));  v = sat24(trunc0(v (4096 - dv) / 4096) + u + (bias << bias_exp))
    s = v > vth << 6;  v[s] -= vth << 6
Float: V = (1 - leak) V + a + bias; s = V > threshold; V[s] -= threshold.
"""
from __future__ import annotations

import numpy as np

from neurograph.compile.kinds import NeuronKind
from neurograph.compile.kinds.lif import LIF


class LIFSubtract(LIF):
    name = "lif_subtract"
    help = "leaky integrate-and-fire, reset by subtracting the threshold"

    def after_spike(self, v, spikes, threshold):
        return np.where(spikes, v - threshold, v)

    lava_process = NeuronKind.lava_process    # KindStep (stock LIF resets to zero), not LIF's
