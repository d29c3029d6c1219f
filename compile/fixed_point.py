"""Loihi/Lava integer semantics, written once.

Used by the neuron kinds (and so by the reference executor and our own Lava
process models) and by the projections. Every function mirrors a line of Lava
0.10's bit-accurate models (../shared/notes/lava-fixed-point.md, sections 1-2).
"""
from __future__ import annotations

import numpy as np

ACT_SHIFT = 6                     # Lava shifts a_in (and vth) left by 6 bits
STATE_BITS = 24                   # u wraps, v saturates at 24 bits
DECAY_SHIFT = 12
DECAY_UNITY = 1 << DECAY_SHIFT    # dv = 0 .. 4095: factor (4096 - dv) / 4096
UV_LIMIT = 1 << (STATE_BITS - 1)  # 2**23
ACCUMULATOR_BITS = 32             # Dense/Sparse and InPorts sum in int32


def shift(x: np.ndarray, exponent: int) -> np.ndarray:
    """A projection's weight exponent on its summed input: << e, or arithmetic (floor) >> -e."""
    return np.left_shift(x, exponent) if exponent >= 0 else np.right_shift(x, -exponent)


def trunc_decay(x: np.ndarray, factor: int) -> np.ndarray:
    """Lava's decay x * factor / 4096, rounded toward zero: sign(x*f) * (|x*f| >> 12)."""
    prod = np.asarray(x, dtype=np.int64) * factor
    return np.sign(prod) * (np.abs(prod) >> DECAY_SHIFT)


def input_current(a: np.ndarray, events: dict, key: str) -> np.ndarray:
    """u = a << 6 as Lava's LIF computes it: in int32 (wrapping), then wrapped into 24 bits.

    Counts under `key` every compartment whose u differs from the exact a * 64."""
    exact = np.asarray(a, dtype=np.int64) << ACT_SHIFT
    u = exact.astype(np.int32).astype(np.int64)
    u = np.where(u > UV_LIMIT, u - 2 * UV_LIMIT, u)
    u = np.where(u <= -UV_LIMIT, u + 2 * UV_LIMIT, u)
    events[key] = events.get(key, 0) + int(np.count_nonzero(u != exact))
    return u


def saturate_voltage(v: np.ndarray, events: dict, key: str) -> np.ndarray:
    """v clipped to +-(2**23 - 1), counting clipped compartments under `key`."""
    clipped = np.clip(v, -UV_LIMIT + 1, UV_LIMIT - 1)
    events[key] = events.get(key, 0) + int(np.count_nonzero(clipped != v))
    return clipped


def effective_bias(bias, bias_exp: int, features: int) -> np.ndarray:
    """bias_mant << bias_exp per feature (added to v unshifted, as Lava does)."""
    if bias is None:
        return np.zeros(features, dtype=np.int64)
    return np.left_shift(np.asarray(bias, dtype=np.int64), bias_exp)


def lava_weights(mantissa, exponent: int):
    """Encode 8-bit mantissas for Lava's Dense/Sparse so they arrive unchanged.

    Lava drops the lowest bit of mixed-sign 8-bit weights (weightutils.truncate_weights),
    so a mixed-sign mantissa m in [-128, 127] is passed as 2m with exponent e-1: the
    sum of 2m*s is even, and shifting it by e-1 equals shifting sum(m*s) by e. Lava then
    accumulates twice the sum, so the IR's accumulator bound counts that factor
    (:func:`stored_weight_factor`). Single-sign mantissas in [0, 255] or [-255, 0] pass unchanged.
    """
    if stored_weight_factor(mantissa) == 1:
        return mantissa, exponent
    return mantissa * 2, exponent - 1


def stored_weight_factor(mantissa) -> int:
    """2 for mixed-sign mantissas (Lava stores 2m), 1 for single-sign ones."""
    import scipy.sparse as sp
    values = mantissa.data if sp.issparse(mantissa) else np.asarray(mantissa)
    if values.size == 0 or values.min() >= 0 or values.max() <= 0:
        return 1
    return 2
