"""One step of a projection, in numbers: shared by the reference executor and our Lava processes.

Fixed point follows Lava's Dense/Sparse: integer weights times the source's output,
summed, then shifted by the exponent (the shift applies to the sum). The sums are
exact in int64; the IR's range check guarantees they also fit Lava's int32.
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

from neurograph.compile.fixed_point import shift


def exact_int_matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x @ w for integers via float64 BLAS when every partial sum is exact (< 2**53)."""
    bound = float(np.abs(x).max(initial=0)) * float(np.abs(w).max(initial=0)) * x.shape[-1]
    if bound < 2.0 ** 53:
        return np.rint(x.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)
    return x.astype(np.int64) @ w.astype(np.int64)


def dense_step(x: np.ndarray, weight: np.ndarray, exponent: int, fixed: bool) -> np.ndarray:
    """Per node shared weights: (N, F_in) -> (N, F_out)."""
    if fixed:
        return shift(exact_int_matmul(x, weight), exponent)
    return np.asarray(x, dtype=np.float64) @ weight


def graph_step(x: np.ndarray, heads: List[Tuple[slice, object]], exponent: int, fixed: bool) -> np.ndarray:
    """Aggregation over edges, each head's A on its slice of the features: (N, F) -> (N, F)."""
    x = x.astype(np.int64) if fixed else np.asarray(x, dtype=np.float64)
    y = np.concatenate([np.asarray(a @ x[:, features]) for features, a in heads], axis=1)
    return shift(y, exponent) if fixed else y
