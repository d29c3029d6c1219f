"""Quantize a folded float IR to Loihi-style fixed point.

Each non-relay population is fed by one chain  dense W -> relay -> graph A  (see
:func:`conv_chain`). Its integers are chosen together:

* W gets 8-bit mantissas using its full range (127 for mixed signs, 255 for one sign):
  m_W = round(W * s_W). Graph coefficients are quantized against their rule's declared
  bound, not one graph's values: s_A = 255 / bound, so a coefficient c becomes
  round(c * s_A) on every graph the network will ever see.
* One activation scale K maps the float input current to Lava's integer a_in:
  K = s_W * s_A * 2**E, with E = e_W + e_A the sum of the two projections' exponents,
  the largest power-of-two step within the limits of the population's kind (threshold
  and bias widths, :meth:`NeuronKind.scale_limits`), near ``target_threshold`` for
  spiking kinds, and with calibrated |a_in| and |V| `headroom` times below the 24-bit state.
* the kind turns its parameters into integers (:meth:`NeuronKind.quantize`).
* The relay's payload width is the worst case of |S @ m_W| (shifted) for binary spikes;
  the graph-dependent int32 bounds are proven when a graph is bound
  (:func:`neurograph.compile.graphs.bind`).

A population fed only by dense projections from spikes or the input (Dy-SIGN's first layer:
input transform plus feedback; a readout counting spikes) gets the same activation scale K,
the largest within its limits, and each projection j the exponent e_j that fits its mantissas,
m_j = round(W_j * K / 2**e_j) (at least half the 8-bit range used).

Anything that cannot fit raises IRError naming the population and the limit.
"""
from __future__ import annotations

import copy
import math

import numpy as np

from neurograph.compile.fixed_point import ACT_SHIFT, STATE_BITS, shift
from neurograph.compile.fold import conv_chain
from neurograph.compile.graphs import RULES
from neurograph.compile.ir import MIXED_SIGN_MIN_EXP, WEIGHT_EXP_RANGE, IRError, Network, validate
from neurograph.compile.kinds.relay import MAX_PAYLOAD_BITS


def mantissa_scale(values: np.ndarray) -> float:
    """Scale that maps the largest |value| to the top of the 8-bit mantissa range."""
    peak = float(np.abs(values).max(initial=0.0))
    if peak == 0.0:
        return 1.0
    one_sign = values.min() >= 0 or values.max() <= 0
    return (255.0 if one_sign else 127.0) / peak


def activation_scale_limit(pop, headroom: float, target_threshold: int) -> float:
    """Largest K (integer a_in units per float unit) that keeps `pop` inside its bit widths."""
    state_limit = float(1 << (STATE_BITS - 1 - ACT_SHIFT))          # |a_in|, |V| in a_in units: 2**17
    limits = list(pop.neuron.scale_limits(pop))
    if pop.neuron.spiking and pop.threshold:
        limits.append(target_threshold / pop.threshold)
    cal = pop.calibration
    if cal.get("max_abs_input", 0.0) > 0:
        limits.append(state_limit / (headroom * cal["max_abs_input"]))
    if cal.get("max_abs_v", 0.0) > 0:
        limits.append((state_limit - 1) / (headroom * cal["max_abs_v"]))
    if not limits:
        raise IRError(f"population {pop.name!r}: no threshold, calibration or bias to choose a scale from; "
                      f"export records calibration ranges")
    return min(limits)


def quantize_network(net: Network, target_threshold: int = 4096, headroom: float = 2.0) -> Network:
    """Float IR (scales folded) -> fixed-point IR. Returns a new, validated network."""
    if net.domain != "float":
        raise IRError("quantize_network expects the float IR")
    if any(pop.input_scale is not None for pop in net.populations):
        raise IRError("populations still have input scales; run fold_scales first")
    net = copy.deepcopy(net)
    report = {}
    for pop in net.populations:
        if pop.neuron.forwards_input:       # relays: their width follows from the chain below
            continue
        if all(pr.kind == "dense" for pr in net.incoming(pop.name)):
            report[pop.name] = _quantize_dense_fed(net, pop, headroom, target_threshold)
            continue
        dense, relay, graph = conv_chain(net, pop.name)
        if dense.source != net.input.name and not net.population(dense.source).neuron.spiking:
            raise IRError(f"projection {dense.name!r}: quantization assumes binary spikes into the feature "
                          f"transform, but {dense.source!r} is not spiking")
        w = np.asarray(dense.weight, dtype=np.float64)
        s_w, s_a = mantissa_scale(w), 255.0 / RULES[graph.rule].bound
        limit = activation_scale_limit(pop, headroom, target_threshold)
        total_exp = math.floor(math.log2(limit / (s_w * s_a)))
        e_a = min(max(total_exp, WEIGHT_EXP_RANGE[0]), WEIGHT_EXP_RANGE[1])
        e_w = total_exp - e_a
        lowest = MIXED_SIGN_MIN_EXP if w.size and w.min() < 0 < w.max() else WEIGHT_EXP_RANGE[0]
        if not lowest <= e_w <= WEIGHT_EXP_RANGE[1]:
            raise IRError(f"population {pop.name!r}: needs a total weight exponent of {total_exp}, beyond two "
                          f"projections' range; the weights span too many orders of magnitude")
        scale = s_w * s_a * 2.0 ** total_exp

        dense.weight, dense.exponent = np.round(w * s_w).astype(np.int64), e_w
        graph.coefficient_scale, graph.exponent = s_a, e_a
        worst_payload = int(shift(np.abs(dense.weight).sum(axis=0).max(initial=0), e_w)) + (1 if e_w < 0 else 0)
        relay.payload_bits = max(2, worst_payload.bit_length() + 1)
        if relay.payload_bits > MAX_PAYLOAD_BITS:
            raise IRError(f"relay {relay.name!r}: worst-case payload {worst_payload} needs {relay.payload_bits} "
                          f"bits, more than the {MAX_PAYLOAD_BITS}-bit graded spike")
        pop.neuron.quantize(pop, scale)
        report[pop.name] = {"activation_scale": scale, "weight_scale": s_w, "adjacency_scale": s_a,
                            "weight_exp": e_w, "adjacency_exp": e_a,
                            "vth": pop.threshold if pop.neuron.spiking else None,
                            "bias_exp": pop.bias_exp, "payload_bits": relay.payload_bits}
    net.domain = "fixed"
    net.metadata = {**net.metadata, "quantization": report}
    return validate(net)


def _quantize_dense_fed(net: Network, pop, headroom: float, target_threshold: int) -> dict:
    """One activation scale for every dense projection into `pop`; each projection its own exponent."""
    scale = activation_scale_limit(pop, headroom, target_threshold)
    exponents = {}
    for pr in net.incoming(pop.name):
        if pr.source != net.input.name and not net.population(pr.source).neuron.spiking:
            raise IRError(f"projection {pr.name!r}: quantization assumes binary spikes into a dense projection, "
                          f"but {pr.source!r} is not spiking")
        w = np.asarray(pr.weight, dtype=np.float64)
        peak = float(np.abs(w).max(initial=0.0))
        mixed = bool(w.size and w.min() < 0 < w.max())
        top = 127.0 if mixed else 255.0
        exp = math.ceil(math.log2(scale * peak / top)) if peak > 0 else 0
        lowest = MIXED_SIGN_MIN_EXP if mixed else WEIGHT_EXP_RANGE[0]
        exp = max(exp, lowest)                 # small weights: fewer mantissa bits, never a wider exponent
        if exp > WEIGHT_EXP_RANGE[1]:
            raise IRError(f"projection {pr.name!r}: weights up to {peak:g} at activation scale {scale:g} need "
                          f"exponent {exp}, beyond {WEIGHT_EXP_RANGE[1]}; lower quant.target_threshold")
        pr.weight, pr.exponent = np.round(w * scale / 2.0 ** exp).astype(np.int64), exp
        exponents[pr.name] = exp
    pop.neuron.quantize(pop, scale)
    return {"activation_scale": scale, "weight_exps": exponents,
            "vth": pop.threshold if pop.neuron.spiking else None, "bias_exp": pop.bias_exp}
