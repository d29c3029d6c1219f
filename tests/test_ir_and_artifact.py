"""IR validation errors and the network file: round trip, corruption, wrong version."""
import copy
import dataclasses
import json

import numpy as np
import pytest

from neurograph.compile.artifact import ArtifactError, load_network, save_network
from neurograph.compile.graphs import bind
from neurograph.compile.ir import IRError, head_slices, validate
from neurograph.sim.reference import prepare, project, run_samples

from conftest import make_fixed_network, make_float_network, random_sample


@pytest.mark.parametrize("heads", [1, 3])
def test_round_trip_preserves_the_network_exactly(tmp_path, heads):
    net = make_fixed_network(seed=3, hidden=6, heads=heads)
    loaded = load_network(save_network(net, tmp_path / "net.npz"))
    assert loaded.domain == "fixed" and loaded.input == net.input
    for a, b in zip(net.populations, loaded.populations):
        for f in ("name", "kind", "features", "threshold", "leak", "bias_exp", "payload_bits", "calibration"):
            assert getattr(a, f) == getattr(b, f)
        assert (a.bias is None and b.bias is None) or np.array_equal(a.bias, b.bias)
    for a, b in zip(net.projections, loaded.projections):
        assert (a.weight is None) == (b.weight is None)
        assert a.weight is None or np.array_equal(a.weight, b.weight)
        assert (a.kind, a.rule, a.heads, a.coefficient_scale, a.exponent, a.delay) == \
            (b.kind, b.rule, b.heads, b.coefficient_scale, b.exponent, b.delay)
    assert loaded.projections[1].heads == heads
    sample = random_sample(3)
    (ra,), (rb,) = run_samples(net, [sample]), run_samples(loaded, [sample])
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
    (lambda n: setattr(n.populations[1], "kind", "izhikevich"), "unknown kind"),
    (lambda n: setattr(n.populations[1], "bias", np.zeros((2, 2))), "bias has shape"),
    (lambda n: setattr(n.projections[1], "delay", 0), "delay must be 1 step"),
    (lambda n: setattr(n.projections[1], "weight", np.eye(6)), "a graph projection holds no weights"),
    (lambda n: setattr(n.projections[1], "rule", "median"), "unknown aggregation rule 'median'"),
    (lambda n: setattr(n.projections[1], "heads", 4), "4 attention heads cannot split 6"),
    (lambda n: setattr(n.readout, "population", "missing"), "readout population"),
    (lambda n: setattr(n.readout, "population", "if1"), "has no membrane readout"),
    (lambda n: setattr(n.input, "features", 0), "needs >= 1 feature"),
    (lambda n: n.populations.reverse(), "is listed at or after its target"),
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
    (lambda n: setattr(n.projections[1], "coefficient_scale", 300.0), "outside the 8-bit mantissa range"),
    (lambda n: setattr(n.populations[0], "payload_bits", 40), "payload_bits=40"),
    (lambda n: setattr(n.populations[1], "input_scale", np.ones(6)), "folded before quantization"),
])
def test_fixed_point_bit_widths_are_enforced(breakage, message):
    net = copy.deepcopy(make_fixed_network())
    breakage(net)
    with pytest.raises(IRError, match=message):
        validate(net)


def test_a_relay_payload_that_could_overflow_its_width_is_refused_not_clipped():
    net = make_fixed_network()
    validate(net)
    bind(net, random_sample(0))                          # as quantized: the worst case fits
    relay = net.populations[0]
    worst = int(np.abs(net.projections[0].weight).sum(axis=0).max())
    shifted = worst << net.projections[0].exponent if net.projections[0].exponent >= 0 else \
        -((-worst) >> -net.projections[0].exponent)
    relay.payload_bits = max(2, shifted.bit_length())     # one bit short of the worst case's signed width
    assert shifted > (1 << (relay.payload_bits - 1)) - 1
    with pytest.raises(IRError, match=f"relay1.*worst-case payload {shifted:,} does not fit its "
                                      f"{relay.payload_bits}-bit payload"):
        bind(net, random_sample(0))


def _by_hand(edges, values, n):
    a = np.zeros((n, n))
    for (u, v), c in zip(edges.T, values):
        a[v, u] += c
    return a


def test_each_attention_head_aggregates_its_slice_of_the_features():
    net = make_float_network(seed=1, hidden=6, heads=3)
    for pr in net.graph_projections:
        pr.rule = "attention"                            # coefficients come with the sample, one set per head
    rng = np.random.default_rng(0)
    sample = random_sample(1)
    loops = np.stack([np.arange(12), np.arange(12)])
    edges = np.concatenate([sample.edge_index, loops], axis=1)
    for pr in net.graph_projections:
        sample.coefficient_edges[pr.name] = edges
        sample.coefficients[pr.name] = rng.uniform(0.1, 1.0, (edges.shape[1], pr.heads))
    (window,) = prepare(net, [sample])
    pr = net.projections[1]
    x = rng.normal(size=(12, 6))
    y = project(net, pr, x, window.binding, fixed=False)
    for k in range(3):                 # head k: features 2k, 2k + 1, with its own coefficients
        a = _by_hand(edges, sample.coefficients[pr.name][:, k], 12)
        assert np.allclose(y[:, 2 * k:2 * k + 2], a @ x[:, 2 * k:2 * k + 2])
    assert head_slices(6, 3) == [slice(0, 2), slice(2, 4), slice(4, 6)]


def test_host_computed_coefficients_must_come_with_the_sample():
    net = make_float_network(seed=1)
    net.projections[1].rule = "attention"
    with pytest.raises(IRError, match="lacks its per-graph coefficients"):
        bind(net, random_sample(1))
    sample = random_sample(1)
    sample.coefficient_edges["aggregate1"] = sample.edge_index
    sample.coefficients["aggregate1"] = np.full((sample.num_edges, 1), 1.5)      # above the rule's bound 1
    with pytest.raises(IRError, match="leave the rule's range"):
        bind(net, sample)
    sample.coefficients["aggregate1"] = np.full((sample.num_edges, 2), 0.5)      # 2 heads for a 1-head slot
    with pytest.raises(IRError, match="expected"):
        bind(net, dataclasses.replace(sample))
