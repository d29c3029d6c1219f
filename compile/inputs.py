"""Input spike streams: a sample's input, one step at a time (the host's encoding stage).

The stream for features x, T steps, a seed and a coding reproduces
:func:`neurograph.encoding.encode` exactly (same random draws in the same order),
but holds only the nonzero features and one step's raster, so memory does not grow
with T. The reference executor and the Lava source process both build their stream
from the same :meth:`InputSpec.stream`, so they see identical spikes.

    bernoulli:      each step, feature k of node v spikes with probability x[v, k].
    deterministic:  an accumulator adds x each step and spikes (subtracting 1) when it
                    reaches 1 -- rate x, no randomness.
    graded:         no spikes: every step, each nonzero feature sends the graded payload
                    round(x * GRADED_INPUT_MAX), an unsigned 8-bit value (continuous inputs,
                    e.g. HVS-GNN's node coordinates). The float network reads the same integers
                    (export divides the first weights by GRADED_INPUT_MAX), so the host's 8-bit
                    quantization of the input is part of every executor, float included.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

import numpy as np

CODINGS = ("bernoulli", "deterministic", "graded")
SPIKE_CODINGS = ("bernoulli", "deterministic")
GRADED_INPUT_MAX = 255            # graded input payload of a feature equal to 1


def input_bound(coding: str) -> int:
    """The largest value the input sends on one channel in one step."""
    return GRADED_INPUT_MAX if coding == "graded" else 1


@dataclass
class InputSpec:
    """What a source needs to replay one sample's input: nonzero features or a packed raster."""
    num_nodes: int
    num_features: int
    num_steps: int
    coding: str = "bernoulli"
    seed: int = 0
    rows: Optional[np.ndarray] = None      # nonzero features: node, feature, probability
    cols: Optional[np.ndarray] = None
    rates: Optional[np.ndarray] = None
    packed: Optional[np.ndarray] = None    # or a given raster, bit-packed (T, N, ceil(F / 8))

    @classmethod
    def from_features(cls, features: np.ndarray, num_steps: int, coding: str, seed: int,
                      clock: bool = False) -> "InputSpec":
        """`clock`: append the input's clock channel, 1 for every node (see :class:`~neurograph.compile.ir.Input`)."""
        x = np.asarray(features, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"features must be a 2-D (nodes, features) array, got shape {x.shape}")
        if not np.all(np.isfinite(x)) or (x.size and (x.min() < 0.0 or x.max() > 1.0)):
            raise ValueError("spike coding needs finite features in [0, 1] (firing probabilities); rescale them first")
        if clock:
            x = np.hstack([x, np.ones((x.shape[0], 1))])
        if coding not in CODINGS:
            raise ValueError(f"unknown spike coding {coding!r}; choose one of {CODINGS}")
        if num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {num_steps}")
        rows, cols = np.nonzero(x)
        return cls(x.shape[0], x.shape[1], num_steps, coding, int(seed), rows, cols, x[rows, cols])

    @classmethod
    def from_raster(cls, spikes: np.ndarray) -> "InputSpec":
        spikes = np.asarray(spikes)
        if spikes.ndim != 3 or spikes.dtype != np.bool_:
            raise ValueError(f"a spike raster must be bool (T, nodes, features), got {spikes.dtype} {spikes.shape}")
        t, n, f = spikes.shape
        return cls(n, f, t, coding="given", packed=np.packbits(spikes, axis=-1))

    def fired(self) -> Iterator[np.ndarray]:
        """Yield, for steps 1..T, the indices (into rows/cols/rates) of the nonzero features that spike
        (graded coding: every nonzero feature sends at every step)."""
        rng = np.random.default_rng(self.seed)
        acc = np.zeros(self.rates.shape)
        for _ in range(self.num_steps):
            if self.coding == "graded":
                fire = self.rates > 0
            elif self.coding == "bernoulli":
                fire = rng.random(self.rates.shape[0]) < self.rates
            else:
                acc += self.rates
                fire = acc >= 1.0 - 1e-12
                acc[fire] -= 1.0
            yield np.flatnonzero(fire)

    def stream(self) -> Iterator[np.ndarray]:
        """Yield the bool (N, F) raster of steps 1..T (graded coding: int64 payloads)."""
        shape = (self.num_nodes, self.num_features)
        if self.packed is not None:
            for t in range(self.num_steps):
                yield np.unpackbits(self.packed[t], axis=-1, count=self.num_features).astype(bool)
            return
        if self.coding == "graded":
            payload = np.zeros(shape, dtype=np.int64)
            payload[self.rows, self.cols] = np.rint(self.rates * GRADED_INPUT_MAX).astype(np.int64)
            for _ in range(self.num_steps):
                yield payload.copy()
            return
        for index in self.fired():
            raster = np.zeros(shape, dtype=bool)
            raster[self.rows[index], self.cols[index]] = True
            yield raster
