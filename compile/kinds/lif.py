"""IF and LIF compartments: Lava's stock LIF (bit-accurate model), reset to zero.

Fixed point, per step (Lava's PyLifModelBitAcc with du=4095, i.e. no current memory):
    u = wrap24(int32(a << 6));  v = sat24(trunc0(v * (4096 - dv) / 4096) + u + (bias << bias_exp))
    s = v > vth << 6;  v[s] = 0
Float: V = (1 - leak) V + a + bias; s = V > threshold; V[s] = 0. IF is LIF with leak 0.
"""
from __future__ import annotations

import numpy as np

from neurograph.compile.fixed_point import (ACT_SHIFT, DECAY_UNITY, effective_bias, input_current,
                                            saturate_voltage, trunc_decay)
from neurograph.compile.kinds import NeuronKind

VTH_BITS = 17                     # LIF vth (unsigned); effective threshold vth << 6
BIAS_MANT_BITS = 13               # signed bias mantissa
BIAS_EXP_RANGE = (0, 7)
DECAY_BITS = 12                   # dv in 0..4095


class LIF(NeuronKind):
    name = "lif"
    output = "spike"
    params = {"threshold (vth)": (VTH_BITS, False), "leak (dv)": (DECAY_BITS, False),
              "bias mantissa": (BIAS_MANT_BITS, True), "bias_exp": (3, False)}
    help = "leaky integrate-and-fire, reset to zero (Lava LIF)"

    def check(self, pop, domain, where):
        check_threshold_leak_bias(pop, domain, where)

    def init_state(self, pop, num_nodes, fixed):
        return {"v": np.zeros((num_nodes, pop.features), dtype=np.int64 if fixed else np.float64)}

    def step(self, pop, state, a, fixed, events):
        if not fixed:
            v = (1.0 - pop.leak) * state["v"] + a + (0.0 if pop.bias is None else pop.bias)
            spikes = v > pop.threshold
            state["v"] = self.after_spike(v, spikes, pop.threshold)
            return spikes
        v = integrate_fixed(pop, state["v"], a, events)
        vth = int(pop.threshold) << ACT_SHIFT
        spikes = v > vth
        state["v"] = self.after_spike(v, spikes, vth)
        return spikes

    def after_spike(self, v, spikes, threshold):
        """Reset to zero where the compartment spiked."""
        return np.where(spikes, 0, v)

    def membrane(self, state):
        return state["v"]

    def quantize(self, pop, scale):
        quantize_threshold_leak_bias(pop, scale)

    def scale_limits(self, pop):
        return threshold_scale_limits(pop)

    def lava_process(self, pop, num_nodes, context):
        from lava.proc.lif.process import LIF as LavaLIF
        shape = (num_nodes, pop.features)
        bias = np.broadcast_to(effective_bias(pop.bias, 0, pop.features), shape)
        proc = LavaLIF(shape=shape, du=4095, dv=int(pop.leak), vth=int(pop.threshold),
                       bias_mant=np.array(bias), bias_exp=np.full(shape, pop.bias_exp), name=pop.name)
        return proc, proc.a_in, proc.s_out


class IF(LIF):
    name = "if"
    help = "integrate-and-fire (Lava LIF with dv = 0), reset to zero"

    def check(self, pop, domain, where):
        from neurograph.compile.ir import IRError
        if pop.leak != 0:
            raise IRError(f"{where}: an IF population has no leak (got {pop.leak}); use kind 'lif'")
        super().check(pop, domain, where)


# ---- shared by the LIF family (lif_subtract reuses them) -----------------------------------
def integrate_fixed(pop, v, a, events):
    """One step of Lava's fixed-point voltage update before the threshold (du=4095)."""
    u = input_current(a, events, f"{pop.name}.current_wrap")
    v_new = trunc_decay(v, DECAY_UNITY - int(pop.leak)) + u + effective_bias(pop.bias, pop.bias_exp, pop.features)
    return saturate_voltage(v_new, events, f"{pop.name}.voltage_saturation")


def check_threshold_leak_bias(pop, domain, where, needs_threshold=True):
    from neurograph.compile.ir import IRError
    if needs_threshold and (pop.threshold is None or not np.isfinite(pop.threshold)):
        raise IRError(f"{where}: a spiking population needs a finite threshold, got {pop.threshold}")
    if pop.bias is not None and np.shape(pop.bias) != (pop.features,):
        raise IRError(f"{where}: bias has shape {np.shape(pop.bias)}, expected ({pop.features},) (one per feature)")
    if domain == "float":
        if not (np.isfinite(pop.leak) and 0.0 <= pop.leak <= 1.0):
            raise IRError(f"{where}: leak must be a fraction in [0, 1], got {pop.leak}")
        if pop.bias is not None and not np.all(np.isfinite(pop.bias)):
            raise IRError(f"{where}: bias has non-finite values")
        return
    if needs_threshold:
        vth = pop.threshold
        if not (float(vth).is_integer() and 0 <= vth < (1 << VTH_BITS)):
            raise IRError(f"{where}: threshold {vth} does not fit Lava's unsigned {VTH_BITS}-bit vth "
                          f"(0..{(1 << VTH_BITS) - 1}); lower the activation scale in quantization")
    if not (float(pop.leak).is_integer() and 0 <= pop.leak < (1 << DECAY_BITS)):
        raise IRError(f"{where}: leak (dv) must be an integer in 0..{(1 << DECAY_BITS) - 1}, got {pop.leak}")
    if pop.bias is not None:
        bias = np.asarray(pop.bias)
        lo, hi = -(1 << (BIAS_MANT_BITS - 1)), (1 << (BIAS_MANT_BITS - 1)) - 1
        if not np.issubdtype(bias.dtype, np.integer):
            raise IRError(f"{where}: fixed-point bias mantissas must be integers, got {bias.dtype}")
        if bias.size and (bias.min() < lo or bias.max() > hi):
            raise IRError(f"{where}: bias mantissa range [{bias.min()}, {bias.max()}] does not fit "
                          f"{BIAS_MANT_BITS}-bit signed; raise bias_exp or lower the activation scale")
    if not BIAS_EXP_RANGE[0] <= pop.bias_exp <= BIAS_EXP_RANGE[1]:
        raise IRError(f"{where}: bias_exp {pop.bias_exp} outside {BIAS_EXP_RANGE}")


def threshold_scale_limits(pop, target_threshold=None):
    limits = []
    if pop.threshold:
        limits.append(((1 << VTH_BITS) - 1) / pop.threshold)
    peak_bias = float(np.abs(pop.bias).max(initial=0.0)) if pop.bias is not None else 0.0
    if peak_bias > 0:
        max_bias_v = ((1 << (BIAS_MANT_BITS - 1)) - 1) << BIAS_EXP_RANGE[1]
        limits.append(max_bias_v / (peak_bias * (1 << ACT_SHIFT)))
    return limits


def quantize_threshold_leak_bias(pop, scale, has_threshold=True):
    """vth = round(threshold * K); dv = round(leak * 4096); bias (v units) = round(bias * K * 64)."""
    from neurograph.compile.ir import IRError
    if has_threshold:
        pop.threshold = int(round(pop.threshold * scale))
    pop.leak = int(round(pop.leak * DECAY_UNITY))
    if pop.bias is None:
        return
    bias_v = np.round(np.asarray(pop.bias, dtype=np.float64) * scale * (1 << ACT_SHIFT))
    top = (1 << (BIAS_MANT_BITS - 1)) - 1
    for exp in range(BIAS_EXP_RANGE[0], BIAS_EXP_RANGE[1] + 1):
        mant = np.round(bias_v / (1 << exp)).astype(np.int64)
        if np.abs(mant).max(initial=0) <= top:
            pop.bias, pop.bias_exp = mant, exp
            return
    raise IRError(f"population {pop.name!r}: bias up to {np.abs(bias_v).max()} (v units) does not fit a "
                  f"{BIAS_MANT_BITS}-bit mantissa with exponent <= {BIAS_EXP_RANGE[1]}; lower the activation scale")
