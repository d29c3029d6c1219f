"""The deployed input stream is the training side's encoding, step by step."""
import numpy as np
import pytest

from neurograph.compile.inputs import InputSpec
from neurograph.encoding import encode


def _legacy_raster(x, steps, seed, coding):
    """The encoding as written before the deployed stream existed (an independent copy, frozen here):
    one uniform draw per nonzero feature and step, in row-major order of the nonzeros."""
    rows, cols = np.nonzero(x)
    p, rng, acc = x[rows, cols], np.random.default_rng(seed), np.zeros(len(rows))
    out = np.zeros((steps,) + x.shape, dtype=bool)
    for t in range(steps):
        if coding == "bernoulli":
            fire = rng.random(len(p)) < p
        else:
            acc += p
            fire = acc >= 1.0 - 1e-12
            acc[fire] -= 1.0
        out[t, rows[fire], cols[fire]] = True
    return out


@pytest.mark.parametrize("coding", ["bernoulli", "deterministic"])
def test_stream_and_encode_equal_the_frozen_encoding(coding):
    rng = np.random.default_rng(4)
    x = np.where(rng.random((30, 7)) < 0.5, rng.random((30, 7)), 0.0)
    expected = _legacy_raster(x, 9, 17, coding)
    assert np.array_equal(np.stack(list(InputSpec.from_features(x, 9, coding, 17).stream())), expected)
    assert np.array_equal(encode(x, 9, 17, coding), expected)


@pytest.mark.parametrize("coding", ["bernoulli", "deterministic"])
def test_stream_equals_encode(coding):
    rng = np.random.default_rng(4)
    x = np.where(rng.random((30, 7)) < 0.5, rng.random((30, 7)), 0.0)
    x[0, 0], x[1, 1] = 1.0, 1.0 / 3.0          # certain spikes; a rate the accumulator reaches on step 3
    streamed = np.stack(list(InputSpec.from_features(x, 9, coding, 17).stream()))
    assert np.array_equal(streamed, encode(x, 9, 17, coding))
    assert streamed[:, 0, 0].all() and (coding == "bernoulli" or streamed[:, 1, 1].tolist() == [0, 0, 1] * 3)


def test_raster_input_replays_exactly():
    spikes = np.random.default_rng(0).random((4, 5, 11)) < 0.3
    assert np.array_equal(np.stack(list(InputSpec.from_raster(spikes).stream())), spikes)
