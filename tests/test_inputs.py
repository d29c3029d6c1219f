"""The deployed input stream is the training side's encoding, step by step."""
import numpy as np
import pytest

from neurograph.compile.inputs import InputSpec
from neurograph.encoding import encode


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
