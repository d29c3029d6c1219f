"""Quantize a folded float IR to Loihi-style fixed point.

Each neuron population is fed by one chain  dense W -> relay -> graph A  (see
:func:`conv_chain`). Its integers are chosen together:

* W and A get 8-bit mantissas using their full range (127 for mixed signs,
  255 for one sign): m_W = round(W * s_W), m_A = round(A * s_A) (one s_A and
  exponent for all attention heads' A: they share the projection).
* One activation scale K maps the float input current to Lava's integer a_in:
  a_in = K * a. K = s_W * s_A * 2**E, where E = e_W + e_A is the sum of the two
  projections' exponents, so K is the largest power-of-two step that keeps
    - the threshold in vth's 17 bits and near ``target_threshold``,
    - calibrated |a_in| and |V| `headroom` times below the 24-bit state limits,
    - every bias within a 13-bit mantissa with a 3-bit exponent.
* vth = round(threshold * K); bias (added to v, which is a_in << 6) =
  round(bias * K * 64) as mantissa << bias_exp; dv = round(leak * 4096).
* The relay's payload width is the worst case of |S @ m_W| for binary spikes,
  and the aggregation's worst-case sum must fit Lava's int32 accumulator.

Anything that cannot fit raises IRError naming the population and the limit.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import scipy.sparse as sp

from neurograph.compile.fold import conv_chain
from neurograph.compile.ir import (ACT_SHIFT, BIAS_EXP_RANGE, BIAS_MANT_BITS, MAX_PAYLOAD_BITS, STATE_BITS,
                                   VTH_BITS, WEIGHT_EXP_RANGE, IRError, Network, head_matrices, map_heads,
                                   validate, weight_values)

ACCUMULATOR_BITS = 32      # Lava's Dense/Sparse accumulate into int32


def mantissa_scale(values: np.ndarray) -> float:
    """Scale that maps the largest |value| to the top of the 8-bit mantissa range."""
    peak = float(np.abs(values).max(initial=0.0))
    if peak == 0.0:
        return 1.0
    one_sign = values.min() >= 0 or values.max() <= 0
    return (255.0 if one_sign else 127.0) / peak


def _mantissas(a, scale: float) -> sp.csr_matrix:
    a = sp.csr_matrix(a, dtype=np.float64)
    return sp.csr_matrix((np.round(a.data * scale).astype(np.int64), a.indices, a.indptr), shape=a.shape)


def activation_scale_limit(pop, headroom: float, target_threshold: int) -> float:
    """Largest K (integer a_in units per float unit) that keeps `pop` inside its bit widths."""
    state_limit = float(1 << (STATE_BITS - 1 - ACT_SHIFT))          # |a_in|, |V| in a_in units: 2**17
    limits = []
    if pop.spiking:
        limits += [((1 << VTH_BITS) - 1) / pop.threshold, target_threshold / pop.threshold]
    cal = pop.calibration
    if cal.get("max_abs_input", 0.0) > 0:
        limits.append(state_limit / (headroom * cal["max_abs_input"]))
    if cal.get("max_abs_v", 0.0) > 0:
        limits.append((state_limit - 1) / (headroom * cal["max_abs_v"]))
    peak_bias = float(np.abs(pop.bias).max(initial=0.0)) if pop.bias is not None else 0.0
    if peak_bias > 0:
        max_bias_v = ((1 << (BIAS_MANT_BITS - 1)) - 1) << BIAS_EXP_RANGE[1]
        limits.append(max_bias_v / (peak_bias * (1 << ACT_SHIFT)))
    if not limits:
        raise IRError(f"population {pop.name!r}: no threshold, calibration or bias to choose a scale from; "
                      f"export records calibration ranges")
    return min(limits)


def quantize_bias(bias_v: np.ndarray, where: str):
    """Integer bias (in v units) -> (13-bit mantissa, smallest exponent in 0..7 that fits)."""
    top = (1 << (BIAS_MANT_BITS - 1)) - 1
    for exp in range(BIAS_EXP_RANGE[0], BIAS_EXP_RANGE[1] + 1):
        mant = np.round(bias_v / (1 << exp)).astype(np.int64)
        if np.abs(mant).max(initial=0) <= top:
            return mant, exp
    raise IRError(f"{where}: bias up to {np.abs(bias_v).max()} (v units) does not fit a {BIAS_MANT_BITS}-bit "
                  f"mantissa with exponent <= {BIAS_EXP_RANGE[1]}; lower the activation scale")


def quantize_network(net: Network, target_threshold: int = 4096, headroom: float = 2.0) -> Network:
    """Float IR (scales folded) -> fixed-point IR. Returns a new, validated network."""
    if net.domain != "float":
        raise IRError("quantize_network expects the float IR")
    for pop in net.populations:
        if pop.node_scale is not None or pop.feature_scale is not None:
            raise IRError(f"population {pop.name!r} still has input scales; run fold_scales first")
    net = copy.deepcopy(net)
    report = {}
    for pop in net.populations:
        if pop.kind == "relay":
            continue
        dense, relay, graph = conv_chain(net, pop.name)
        if dense.source != net.input.name and not net.population(dense.source).spiking:
            raise IRError(f"projection {dense.name!r}: quantization assumes binary spikes into the feature "
                          f"transform, but {dense.source!r} is not spiking")
        w = np.asarray(dense.weight, dtype=np.float64)
        s_w, s_a = mantissa_scale(w), mantissa_scale(weight_values(graph).astype(np.float64))  # s_a: all heads
        limit = activation_scale_limit(pop, headroom, target_threshold)
        total_exp = math.floor(math.log2(limit / (s_w * s_a)))
        e_a = min(max(total_exp, WEIGHT_EXP_RANGE[0]), WEIGHT_EXP_RANGE[1])
        e_w = total_exp - e_a
        if not WEIGHT_EXP_RANGE[0] <= e_w <= WEIGHT_EXP_RANGE[1]:
            raise IRError(f"population {pop.name!r}: needs a total weight exponent of {total_exp}, beyond two "
                          f"projections' range {WEIGHT_EXP_RANGE}; the weights span too many orders of magnitude")
        scale = s_w * s_a * 2.0 ** total_exp

        dense.weight, dense.exponent = np.round(w * s_w).astype(np.int64), e_w
        rounded = map_heads(graph.weight, lambda a: _mantissas(a, s_a))
        heads = head_matrices(rounded)
        dropped = sum(int(np.count_nonzero(m.data == 0)) for m in heads)
        for m in heads:
            m.eliminate_zeros()   # a zero mantissa is no synapse
        graph.weight, graph.exponent = rounded, e_a

        worst_payload = int(np.abs(dense.weight).sum(axis=0).max(initial=0))
        worst_payload = worst_payload << e_w if e_w >= 0 else worst_payload >> -e_w
        relay.payload_bits = max(2, worst_payload.bit_length() + 1)
        if relay.payload_bits > MAX_PAYLOAD_BITS:
            raise IRError(f"relay {relay.name!r}: worst-case payload {worst_payload} needs {relay.payload_bits} "
                          f"bits, more than the {MAX_PAYLOAD_BITS}-bit graded spike")
        worst_row = max(int(np.asarray(abs(m).sum(axis=1)).max(initial=0)) for m in heads)
        worst_sum = worst_row << (relay.payload_bits - 1)
        if worst_sum >= 1 << (ACCUMULATOR_BITS - 1):
            raise IRError(f"projection {graph.name!r}: worst-case summed input {worst_sum} overflows the "
                          f"{ACCUMULATOR_BITS}-bit synaptic accumulator; lower the feature-transform scale")

        if pop.spiking:
            pop.threshold = int(round(pop.threshold * scale))
        pop.leak = int(round(pop.leak * 4096))
        if pop.bias is not None:
            pop.bias, pop.bias_exp = quantize_bias(np.round(pop.bias * scale * (1 << ACT_SHIFT)),
                                                   f"population {pop.name!r}")
        report[pop.name] = {"activation_scale": scale, "weight_scale": s_w, "adjacency_scale": s_a,
                            "weight_exp": e_w, "adjacency_exp": e_a, "vth": pop.threshold if pop.spiking else None,
                            "bias_exp": pop.bias_exp, "payload_bits": relay.payload_bits,
                            "edges_dropped_by_rounding": dropped}   # (edge, head) pairs with heads
    net.domain = "fixed"
    net.metadata = {**net.metadata, "quantization": report}
    return validate(net)
