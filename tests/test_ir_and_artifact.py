"""IR validation errors and the network file: round trip, corruption, wrong version."""
import copy
import json

import numpy as np
import pytest
import scipy.sparse as sp

from neurograph.compile.artifact import ArtifactError, load_network, save_network
from neurograph.compile.ir import IRError, graph_heads, head_matrices, validate
from neurograph.sim.reference import project_step
from neurograph.sim.reference import run_reference

from conftest import make_fixed_network, make_float_network


@pytest.mark.parametrize("heads", [1, 3])
def test_round_trip_preserves_the_network_exactly(tmp_path, heads):
    net = make_fixed_network(seed=3, hidden=6, heads=heads)
    loaded = load_network(save_network(net, tmp_path / "net.npz"))
    assert loaded.domain == "fixed" and np.array_equal(loaded.input.spikes, net.input.spikes)
    for a, b in zip(net.projections, loaded.projections):
        assert isinstance(a.weight, list) == isinstance(b.weight, list)
        for wa, wb in zip(head_matrices(a.weight), head_matrices(b.weight)):
            wa, wb = (w.toarray() if sp.issparse(w) else w for w in (wa, wb))
            assert np.array_equal(wa, wb)
        assert a.exponent == b.exponent and a.delay == b.delay
    assert isinstance(loaded.projections[1].weight, list) == (heads > 1)
    ra, rb = run_reference(net), run_reference(loaded)
    assert np.array_equal(ra.readout, rb.readout)


def test_corrupt_file_gives_a_clear_error(tmp_path):
    path = save_network(make_fixed_network(), tmp_path / "net.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match="corrupt|not a readable"):
        load_network(path)


def test_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(ArtifactError, match="neurograph compile"):
        load_network(tmp_path / "nope.npz")


def test_wrong_version_is_refused(tmp_path):
    path = save_network(make_fixed_network(), tmp_path / "net.npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays["header"].tobytes())
    header["version"] = 999
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ArtifactError, match="version 999"):
        load_network(path)


def test_not_a_zip_file(tmp_path):
    path = tmp_path / "net.npz"
    path.write_text("hello")
    with pytest.raises(ArtifactError):
        load_network(path)


@pytest.mark.parametrize("breakage, message", [
    (lambda n: setattr(n.projections[0], "weight", np.zeros((3, 3))), "dense weight must have shape"),
    (lambda n: setattr(n.populations[1], "kind", "izhikevich"), "unsupported kind"),
    (lambda n: setattr(n.populations[1], "bias", np.zeros((2, 2))), "bias has shape"),
    (lambda n: setattr(n.projections[1], "delay", 0), "delay must be >= 1"),
    (lambda n: setattr(n.projections[1], "weight", n.projections[1].weight[:5]), "graph weight must be"),
    (lambda n: setattr(n.projections[1], "weight", [n.projections[1].weight] * 4), "4 attention heads cannot split 6"),
    (lambda n: setattr(n.projections[1], "weight", [n.projections[1].weight, n.projections[1].weight[:5]]),
     "or a list of them"),
    (lambda n: setattr(n.readout, "population", "missing"), "readout population"),
    (lambda n: setattr(n.input, "spikes", n.input.spikes.astype(float)), "bool array"),
    (lambda n: n.populations.reverse(), "topological order"),
])
def test_structural_errors_name_the_problem(breakage, message):
    net = copy.deepcopy(make_float_network())
    breakage(net)
    with pytest.raises(IRError, match=message):
        validate(net)


@pytest.mark.parametrize("breakage, message", [
    (lambda n: setattr(n.projections[0], "weight", n.projections[0].weight * 4), "does not fit Loihi's 8-bit"),
    (lambda n: setattr(n.populations[1], "threshold", 1 << 17), "17-bit vth"),
    (lambda n: setattr(n.populations[1], "bias", n.populations[1].bias * 0 + 5000), "13-bit signed"),
    (lambda n: setattr(n.projections[1], "exponent", 9), "exponent 9 outside"),
    (lambda n: setattr(n.populations[0], "payload_bits", 40), "payload_bits=40"),
    (lambda n: setattr(n.populations[1], "node_scale", np.ones(12)), "folded before quantization"),
])
def test_fixed_point_bit_widths_are_enforced(breakage, message):
    net = copy.deepcopy(make_fixed_network())
    breakage(net)
    with pytest.raises(IRError, match=message):
        validate(net)


def test_each_attention_head_aggregates_its_slice_of_the_features():
    net = make_float_network(seed=1, hidden=6, heads=3)
    pr = net.projections[1]
    x = np.random.default_rng(0).normal(size=(12, 6))
    y = project_step(pr, x, fixed=False)
    for k, a in enumerate(pr.weight):                 # head k: features 2k, 2k + 1, with its own A
        assert np.allclose(y[:, 2 * k:2 * k + 2], a.toarray() @ x[:, 2 * k:2 * k + 2])
    assert [f for f, _ in graph_heads(pr, 6)] == [slice(0, 2), slice(2, 4), slice(4, 6)]
