"""Variable spiking neuron (VSN, HVS-GNN, arXiv 2412.09379): graded spikes carrying ReLU(z).

Paper: memory M(t) = beta M(t-1) + z(t); the neuron fires when M(t) >= Th and then M
resets to 0; a firing neuron sends sigma(z(t)), the activation of the *current* input,
as a graded payload; a silent one sends nothing (0).

Choices (the summary leaves them open):

* sigma = ReLU, so the payload is exact in integers (no lookup table, no error); sigma(0) = 0,
  so "silent" and "fired with z <= 0" both put nothing on the wire. The graded spike has
  ``payload_bits`` (signed, as every payload here), so sigma saturates at its top value
  P = 2**(payload_bits - 1) - 1: sigma(z) = min(max(z, 0), P), in float P / K for activation
  scale K. Quantization sets K so that the largest calibrated payload is P (saturation is
  for inputs beyond anything seen in calibration), and the width keeps every sum of the next
  synapses inside Lava's int32 accumulators.
* z(t) = summed synaptic input + bias (the bias of the layer before the VSN lives here,
  as LIF's bias does); beta = 1 - leak, as for LIF.
* Fixed point: M, z and Th are in the units of the summed input a (no << 6: nothing here
  meets Lava's LIF, and the payload must be relu(z) unshifted):
      z = a + (bias << bias_exp)
      M = sat24(trunc0(M (4096 - dv) / 4096) + z)     (trunc0: Lava's decay, toward zero)
      fired = M >= Th;  M[fired] = 0;  payload = fired * min(max(z, 0), P)
  Th is an integer in 0 .. 2**23 - 1 (the 24-bit state), dv in 0 .. 4095.
* Float: M = (1 - leak) M + z; fired = M >= Th; M[fired] = 0; payload = fired * max(z, 0)
  (the float IR has no payload width; the saturation is a quantization effect).

On Lava it is our KindStep process, whose model runs :meth:`VSN.step`. The
state also keeps ``fired`` (bool, this step's threshold crossings, payload or not).
"""
from __future__ import annotations

import numpy as np

from neurograph.compile.fixed_point import (DECAY_UNITY, STATE_BITS, effective_bias, saturate_voltage,
                                            trunc_decay)
from neurograph.compile.kinds import NeuronKind
from neurograph.compile.kinds.lif import BIAS_EXP_RANGE, BIAS_MANT_BITS, check_threshold_leak_bias
from neurograph.compile.kinds.relay import MAX_PAYLOAD_BITS

TH_LIMIT = (1 << (STATE_BITS - 1)) - 1      # Th fits the 24-bit signed memory


class VSN(NeuronKind):
    name = "vsn"
    output = "graded"
    params = {"threshold (Th)": (STATE_BITS - 1, False), "leak (dv)": (12, False),
              "bias mantissa": (13, True), "bias_exp": (3, False), "payload_bits": (5, False)}
    help = "variable spiking neuron: fires when memory >= Th (reset to 0), sends ReLU(current input) as payload"

    def check(self, pop, domain, where):
        from neurograph.compile.ir import IRError
        check_threshold_leak_bias(pop, domain, where, needs_threshold=False)
        th = pop.threshold
        if th is None or not np.isfinite(th) or th < 0:
            raise IRError(f"{where}: a VSN needs a finite threshold >= 0, got {th}")
        if domain == "fixed":
            if not (float(th).is_integer() and th <= TH_LIMIT):
                raise IRError(f"{where}: threshold {th} must be an integer in 0..{TH_LIMIT} (24-bit memory); "
                              f"lower the activation scale in quantization")
            if not 1 < pop.payload_bits <= MAX_PAYLOAD_BITS:
                raise IRError(f"{where}: payload_bits={pop.payload_bits} outside 2..{MAX_PAYLOAD_BITS}")

    def output_bound(self, pop, input_bound):
        """payload = min(relu(a + bias), P) <= input_bound + the largest positive effective bias, and <= P."""
        bias = effective_bias(pop.bias, pop.bias_exp, pop.features)
        return min(int(input_bound) + max(int(bias.max(initial=0)), 0), payload_top(pop))

    def init_state(self, pop, num_nodes, fixed):
        shape = (num_nodes, pop.features)
        return {"m": np.zeros(shape, dtype=np.int64 if fixed else np.float64), "fired": np.zeros(shape, bool)}

    def step(self, pop, state, a, fixed, events):
        if fixed:
            z = np.asarray(a, dtype=np.int64) + effective_bias(pop.bias, pop.bias_exp, pop.features)
            m = trunc_decay(state["m"], DECAY_UNITY - int(pop.leak)) + z
            m = saturate_voltage(m, events, f"{pop.name}.memory_saturation")
        else:
            z = a + (0.0 if pop.bias is None else pop.bias)
            m = (1.0 - pop.leak) * state["m"] + z
        fired = m >= pop.threshold
        state["m"] = np.where(fired, 0, m)
        state["fired"] = fired
        payload = np.maximum(z, 0)
        if fixed:
            payload = np.minimum(payload, payload_top(pop))
        return np.where(fired, payload, 0)

    def membrane(self, state):
        return state["m"]

    def quantize(self, pop, scale):
        """Th = round(Th K), dv = round(leak 4096), bias = round(bias K) in a_in units (no << 6),
        as a 13-bit mantissa with the smallest exponent that holds it."""
        from neurograph.compile.ir import IRError
        pop.threshold = int(round(pop.threshold * scale))
        pop.leak = int(round(pop.leak * DECAY_UNITY))
        if pop.bias is None:
            return
        bias_a = np.round(np.asarray(pop.bias, dtype=np.float64) * scale)
        for exp in range(BIAS_EXP_RANGE[0], BIAS_EXP_RANGE[1] + 1):
            mant = np.round(bias_a / (1 << exp)).astype(np.int64)
            if np.abs(mant).max(initial=0) <= (1 << (BIAS_MANT_BITS - 1)) - 1:
                pop.bias, pop.bias_exp = mant, exp
                return
        raise IRError(f"population {pop.name!r}: VSN bias up to {np.abs(bias_a).max()} (a_in units) does not fit "
                      f"a {BIAS_MANT_BITS}-bit mantissa with exponent <= {BIAS_EXP_RANGE[1]}; lower the scale")

    def scale_limits(self, pop):
        """Th must fit the 24-bit memory; the largest calibrated payload maps to the payload's top value."""
        limits = [TH_LIMIT / pop.threshold] if pop.threshold else []
        peak = pop.calibration.get("max_payload", 0.0)
        if peak > 0 and pop.payload_bits > 1:
            limits.append(payload_top(pop) / peak)
        return limits


def payload_top(pop) -> int:
    """The largest payload a `payload_bits`-wide graded spike carries."""
    return (1 << (int(pop.payload_bits) - 1)) - 1
