"""Quantize a folded float IR to Loihi-style fixed point.

Each non-relay population is fed by one or more chains  dense W -> relay -> graph A
(:func:`conv_chains`: a GCN layer has one, a SAGE layer two -- the neighbours' mean and
the root weight through the ``self`` rule). Its integers are chosen together:

* W gets 8-bit mantissas using at most its full range (127 for mixed signs, 255 for one
  sign): m_W = round(W * s_W). Graph coefficients are quantized against their rule's
  declared bound, not one graph's values: s_A = 255 / bound, so a coefficient c becomes
  round(c * s_A) on every graph the network will ever see.
* One activation scale K maps the float input current to Lava's integer a_in: per chain
  K = s_W * s_A * 2**E * k_src, with E = e_W + e_A the sum of the two projections' exponents
  and k_src the scale of what the source sends (1 for spikes and the input; a graded
  neuron's activation scale, since its payload is in its own a_in units). K is the largest
  power-of-two step that one chain reaches with its full mantissa range, within the limits
  of the population's kind (threshold, bias and payload widths,
  :meth:`NeuronKind.scale_limits`), near ``target_threshold`` for spiking kinds, and with
  calibrated |a_in| and |V| `headroom` times below the 24-bit state; the other chains reach
  the same K with a mantissa scale at most 2x below their full range.
* the kind turns its parameters into integers (:meth:`NeuronKind.quantize`).
* Each relay's payload width is the worst case of |S @ m_W| (shifted) for the largest value
  its source sends; the graph-dependent int32 bounds are proven when a graph is bound
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
from neurograph.compile.fold import conv_chains
from neurograph.compile.graphs import RULES
from neurograph.compile.inputs import input_bound
from neurograph.compile.ir import MIXED_SIGN_MIN_EXP, WEIGHT_EXP_RANGE, IRError, Network, validate
from neurograph.compile.kinds.relay import MAX_PAYLOAD_BITS


MAX_MANTISSA_BITS_LOST = 2       # weight bits a chain may give up when its exponents cannot shift far enough


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


def source_scale(net: Network, name: str, report: dict) -> float:
    """Integer units per float unit of what `name` sends into a feature transform: 1 for spikes and for
    the input (the float IR reads the input's own integers); a graded neuron's payload is in its
    population's activation scale, so it must be quantized first (listed earlier)."""
    if name == net.input.name or net.population(name).neuron.spiking:
        return 1.0
    if name not in report:
        raise IRError(f"population {name!r} sends graded payloads into a feature transform but is not quantized "
                      f"before its reader; list it earlier (relays cannot feed feature transforms)")
    return report[name]["activation_scale"]


def source_bound(net: Network, name: str) -> int:
    """The largest |value| `name` sends on one channel in one step."""
    if name == net.input.name:
        return input_bound(net.input.coding)
    pop = net.population(name)
    return 1 if pop.neuron.spiking else (1 << (pop.payload_bits - 1)) - 1


def quantize_network(net: Network, target_threshold: int = 4096, headroom: float = 2.0) -> Network:
    """Float IR (scales folded) -> fixed-point IR. Returns a new, validated network."""
    if net.domain != "float":
        raise IRError("quantize_network expects the float IR")
    if any(pop.input_scale is not None for pop in net.populations):
        raise IRError("populations still have input scales; run fold_scales first")
    net = copy.deepcopy(net)
    report = {}
    for pop in net.populations:
        if pop.neuron.forwards_input:       # relays: their width follows from the chains below
            continue
        if all(pr.kind == "dense" for pr in net.incoming(pop.name)):
            report[pop.name] = _quantize_dense_fed(net, pop, headroom, target_threshold)
            continue
        chains = conv_chains(net, pop.name)
        # per chain: float weights, their full-range mantissa scale, the rule's scale, the source's scale
        parts = [(np.asarray(dense.weight, dtype=np.float64), RULES[graph.rule].bound, dense.source)
                 for dense, _, graph in chains]
        parts = [(w, mantissa_scale(w), 255.0 / bound, source_scale(net, src, report)) for w, bound, src in parts]
        limit = activation_scale_limit(pop, headroom, target_threshold)
        # a_in = K a_float needs K = k_src s_w s_a 2**E per chain: K is the largest such value <= limit that
        # some chain reaches with its full mantissa range; the other chains use a scale at most 2x below theirs
        scale = min(k_src * s_w * s_a * 2.0 ** math.floor(math.log2(limit / (k_src * s_w * s_a)))
                    for _, s_w, s_a, k_src in parts)
        chain_report = []
        for (dense, relay, graph), (w, s_w_max, s_a, k_src) in zip(chains, parts):
            lowest = MIXED_SIGN_MIN_EXP if w.size and w.min() < 0 < w.max() else WEIGHT_EXP_RANGE[0]
            wanted = math.ceil(math.log2(scale / (k_src * s_a * s_w_max)) - 1e-9)
            # below the two exponents' range the mantissas give up bits instead, at most MAX_MANTISSA_BITS_LOST
            total_exp = max(wanted, lowest + WEIGHT_EXP_RANGE[0])
            if total_exp > 2 * WEIGHT_EXP_RANGE[1] or total_exp - wanted > MAX_MANTISSA_BITS_LOST:
                raise IRError(f"population {pop.name!r}: needs a total weight exponent of {wanted}, beyond two "
                              f"projections' range [{lowest + WEIGHT_EXP_RANGE[0]}, {2 * WEIGHT_EXP_RANGE[1]}]; "
                              f"the weights span too many orders of magnitude")
            s_w = scale / (k_src * s_a * 2.0 ** total_exp)
            # as much of the shift as possible on the aggregation (the relay keeps its precision), within
            # both projections' exponent ranges
            e_a = min(max(total_exp, WEIGHT_EXP_RANGE[0], total_exp - WEIGHT_EXP_RANGE[1]),
                      WEIGHT_EXP_RANGE[1], total_exp - lowest)
            e_w = total_exp - e_a
            dense.weight, dense.exponent = np.round(w * s_w).astype(np.int64), e_w
            graph.coefficient_scale, graph.exponent = s_a, e_a
            per_channel = int(np.abs(dense.weight).sum(axis=0).max(initial=0)) * source_bound(net, dense.source)
            worst_payload = int(shift(per_channel, e_w)) + (1 if e_w < 0 else 0)
            relay.payload_bits = max(2, worst_payload.bit_length() + 1)
            if relay.payload_bits > MAX_PAYLOAD_BITS:
                raise IRError(f"relay {relay.name!r}: worst-case payload {worst_payload} needs {relay.payload_bits} "
                              f"bits, more than the {MAX_PAYLOAD_BITS}-bit graded spike; lower the source's payload "
                              f"width")
            chain_report.append({"relay": relay.name, "weight_scale": s_w, "adjacency_scale": s_a,
                                 "weight_exp": e_w, "adjacency_exp": e_a, "payload_bits": relay.payload_bits})
        pop.neuron.quantize(pop, scale)
        first = chain_report[0]
        report[pop.name] = {"activation_scale": scale, "weight_scale": first["weight_scale"],
                            "adjacency_scale": first["adjacency_scale"], "weight_exp": first["weight_exp"],
                            "adjacency_exp": first["adjacency_exp"],
                            "vth": pop.threshold if pop.neuron.spiking else None,
                            "bias_exp": pop.bias_exp, "payload_bits": first["payload_bits"],
                            **({"chains": chain_report} if len(chain_report) > 1 else {})}
    if net.readout.head_weight is not None:      # the host's head reads the integer membrane
        readout = net.population(net.readout.population)
        net.readout.head_weight = np.asarray(net.readout.head_weight, dtype=np.float64) / \
            (report[readout.name]["activation_scale"] * (1 << readout.neuron.membrane_shift))
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
