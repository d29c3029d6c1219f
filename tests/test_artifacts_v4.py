"""The compiled network and sample files: round trips, old formats refused, damaged files named."""
import json

import numpy as np
import pytest

from neurograph.compile.artifact import ArtifactError, load_network, save_network
from neurograph.compile.samples import Sample, SampleError, load_samples, save_samples
from test_streams import feedback_network, snapshots


def test_network_round_trip_keeps_kinds_feedback_and_rules(tmp_path):
    net = feedback_network()
    path = save_network(net, tmp_path / "net.npz")
    back = load_network(path)
    assert [(p.name, p.kind, p.features) for p in back.populations] == \
        [(p.name, p.kind, p.features) for p in net.populations]
    assert [(p.rule, p.heads, p.coefficient_scale) for p in back.graph_projections] == \
        [(p.rule, p.heads, p.coefficient_scale) for p in net.graph_projections]
    assert back.is_feedback(back.projection("compensation"))
    assert np.array_equal(back.projection("compensation").weight, net.projection("compensation").weight)
    with np.load(path) as z:           # the program alone: no raster, graph or labels inside
        assert not any(k.startswith(("input", "task")) for k in z.files)


def test_old_format_is_refused_with_the_way_to_recompile(tmp_path):
    path = tmp_path / "old.npz"
    header = {"format": "neurograph.network", "version": 3}
    np.savez(path, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8))
    with pytest.raises(ArtifactError, match=r"version 3.*recompile its checkpoint with `neurograph compile"):
        load_network(path)


def test_samples_round_trip(tmp_path):
    stream = snapshots(count=2)
    stream[1] = Sample("raster", 10, stream[1].edge_index, spikes=np.random.default_rng(0).random((3, 10, 4)) < 0.5,
                       masks={"test": np.arange(10) < 5})
    back = load_samples(save_samples(stream, tmp_path / "s.npz"))
    assert np.array_equal(back[0].features, stream[0].features) and np.array_equal(back[0].labels, stream[0].labels)
    assert np.array_equal(back[1].spikes, stream[1].spikes) and np.array_equal(back[1].masks["test"], stream[1].masks["test"])


@pytest.mark.parametrize("damage", ["truncate", "edge_out_of_range", "nan_features"])
def test_damaged_sample_files_are_named(tmp_path, damage):
    path = save_samples(snapshots(count=1), tmp_path / "s.npz")
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:200])
        match = "not a readable sample file"
    else:
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        if damage == "edge_out_of_range":
            arrays["s0.edge_index"][0, 0] = 10 ** 9
            match = "outside 0..9"
        else:
            arrays["s0.features"][0, 0] = np.nan
            match = "finite firing probabilities"
        np.savez(path, **arrays)
    with pytest.raises(SampleError, match=match):
        load_samples(path)
