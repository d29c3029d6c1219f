"""Spike coding of node features: a seeded, reproducible spike raster (T, N, F).

The deployed network is fed exactly the raster this module makes for the
configured seed; training draws fresh rasters with other seeds.
"""
from __future__ import annotations

import numpy as np

from neurograph.compile.inputs import SPIKE_CODINGS  # noqa: E402  (one list of codings)


def encode(features: np.ndarray, num_steps: int, seed: int, coding: str = "bernoulli") -> np.ndarray:
    """The spike raster, bool (T, N, F), of :func:`encode_events`."""
    x = np.asarray(features)
    steps, nodes, feats = encode_events(x, num_steps, seed, coding)
    spikes = np.zeros((num_steps,) + x.shape, dtype=bool)
    spikes[steps, nodes, feats] = True
    return spikes


def encode_events(features: np.ndarray, num_steps: int, seed: int, coding: str = "bernoulli"):
    """Encode features in [0, 1] as spike events (step, node, feature index arrays).

    bernoulli:      each step, node v's feature k spikes with probability x[v, k].
    deterministic:  integrate-and-fire coding: an accumulator adds x each step and
                    spikes (subtracting 1) when it reaches 1 -- rate x, no randomness.
    Binary features (Cora's bag of words) give the same raster with either coding.
    """
    from neurograph.compile.inputs import InputSpec      # the one implementation the deployed input uses
    spec = InputSpec.from_features(features, num_steps, coding, seed)
    fired = list(spec.fired())
    steps = np.concatenate([np.full(len(f), t) for t, f in enumerate(fired)]).astype(np.int64)
    index = np.concatenate(fired).astype(np.int64)
    return steps, spec.rows[index], spec.cols[index]


def draw_spikes(x, num_steps: int, generator, coding: str = "bernoulli", dropout: float = 0.0):
    """A training raster drawn by torch on x's device (no numpy, no host round trip).

    Same codings as :func:`encode_events`, from `generator` (a ``torch.Generator`` on x's
    device) instead of numpy's, so not the same raster: training only. The deployed raster is
    always :func:`encode_events`. `dropout` drops whole (node, feature) inputs for the whole
    window (one mask per nonzero feature, as ``layers.window_dropout``; a zero feature never
    spikes) and scales the kept ones by 1 / (1 - dropout).

    Returns (index, feature, value) tensors: the spikes' row in a (T * N, F) raster,
    t * N + node, sorted by (row, feature), and their value (1, or the dropout scale)."""
    import torch

    n = x.shape[0]
    rows, cols, p = _nonzero_features(x)
    fire = _fire(p, num_steps, generator, coding)
    step, entry = fire.nonzero(as_tuple=True)         # sorted by (step, entry)
    value = torch.ones(step.shape[0], dtype=x.dtype, device=x.device)
    if dropout > 0.0:
        keep = (torch.rand(p.shape[0], generator=generator, device=x.device) >= dropout).to(x.dtype)
        value = keep[entry] / (1.0 - dropout)
    return step * n + rows[entry], cols[entry], value


def graded_values(x):
    """x in [0, 1] as the graded input delivers it: the 8-bit payload round(x * GRADED_INPUT_MAX), read
    back in float units (compile/inputs.py), so the float model sees the chip's quantized input."""
    import torch

    from neurograph.compile.inputs import GRADED_INPUT_MAX
    return torch.round(x * GRADED_INPUT_MAX) / GRADED_INPUT_MAX


def draw_raster(x, num_steps: int, generator, coding: str = "bernoulli"):
    """:func:`draw_spikes`'s raster (no dropout) as a dense (T, N, F) tensor of x's dtype: the same
    draws, without the event lists (for dense features such as embeddings, the events are
    nearly the whole raster and listing them costs more than the raster)."""
    import torch

    rows, cols, p = _nonzero_features(x)
    fire = _fire(p, num_steps, generator, coding)
    raster = torch.zeros((num_steps, x.shape[0] * x.shape[1]), dtype=x.dtype, device=x.device)
    raster[:, rows * x.shape[1] + cols] = fire.to(x.dtype)
    return raster.view(num_steps, *x.shape)


def _fire(p, num_steps: int, generator, coding: str):
    """(T, nnz) bool: which of the nonzero features `p` spike at each step, drawn by torch."""
    import torch

    if coding not in SPIKE_CODINGS:
        raise ValueError(f"unknown spike coding {coding!r}; choose one of {SPIKE_CODINGS}")
    if coding == "bernoulli":
        return torch.rand((num_steps, p.shape[0]), generator=generator, device=p.device, dtype=p.dtype) < p
    acc, fire = torch.zeros_like(p, dtype=torch.float64), []
    for _ in range(num_steps):
        acc += p.double()
        fired = acc >= 1.0 - 1e-12
        acc[fired] -= 1.0
        fire.append(fired)
    return torch.stack(fire)


_NONZERO = {}


def _nonzero_features(x):
    """x's nonzero entries (rows, cols, values), row-major; kept for the last x seen (full-batch
    training draws from the same features every epoch)."""
    import weakref
    hit = _NONZERO.get("x")
    if hit is not None and hit[0]() is x and hit[1] == x._version:
        return hit[2]
    rows, cols = x.nonzero(as_tuple=True)            # row-major: sorted by (node, feature)
    entry = (rows, cols, x[rows, cols])
    _NONZERO["x"] = (weakref.ref(x), x._version, entry)
    weakref.finalize(x, lambda: _NONZERO.get("x", (None,) * 3)[2] is entry and _NONZERO.pop("x", None))
    return entry
