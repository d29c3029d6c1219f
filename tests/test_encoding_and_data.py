"""Spike coding and datasets: seeded determinism, rates, clear errors for bad input or missing data."""
from pathlib import Path

import numpy as np
import pytest

from neurograph.config import DataConfig
from neurograph.data import DatasetNotFoundError, load_graph
from neurograph.data.planetoid import default_data_root
from neurograph.data.synthetic import make_csbm
from neurograph.encoding import encode

CORA_RAW = default_data_root() / "Planetoid" / "Cora" / "raw"


def test_bernoulli_coding_is_seeded_and_has_the_right_rate():
    x = np.array([[0.0, 0.2, 0.5, 1.0]] * 500)
    a, b, c = encode(x, 40, seed=7), encode(x, 40, seed=7), encode(x, 40, seed=8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.dtype == bool and a.shape == (40, 500, 4)
    assert np.allclose(a.mean(axis=(0, 1)), [0.0, 0.2, 0.5, 1.0], atol=0.01)


def test_deterministic_coding_spikes_at_exact_rate():
    x = np.array([[0.25, 0.5, 1.0, 0.0]])
    s = encode(x, 8, seed=0, coding="deterministic")
    assert s[:, 0, :].sum(axis=0).tolist() == [2, 4, 8, 0]
    assert s[:, 0, 0].tolist() == [False, False, False, True, False, False, False, True]


@pytest.mark.parametrize("x, steps, coding, message", [
    (np.array([[1.5]]), 4, "bernoulli", r"features in \[0, 1\]"),
    (np.array([1.0, 0.0]), 4, "bernoulli", "2-D"),
    (np.array([[0.5]]), 0, "bernoulli", "num_steps"),
    (np.array([[0.5]]), 4, "morse", "unknown spike coding"),
])
def test_encoding_rejects_bad_input(x, steps, coding, message):
    with pytest.raises(ValueError, match=message):
        encode(x, steps, seed=0, coding=coding)


def test_synthetic_graph_is_homophilous_with_class_features():
    g = make_csbm(num_nodes=800, num_classes=4, num_features=24, homophily=0.9, seed=3)
    src, dst = g.edge_index.numpy()
    real = src != dst
    same = (g.y.numpy()[src[real]] == g.y.numpy()[dst[real]]).mean()
    assert same > 0.8
    assert 0.0 <= float(g.x.min()) and float(g.x.max()) <= 1.0
    assert int(g.masks["train"].sum()) == 80 and not (g.masks["train"] & g.masks["test"]).any()
    # symmetric normalization: edge weights of an undirected graph are symmetric
    a = g.adjacency()
    assert abs(a - a.T).max() < 1e-12


def test_missing_dataset_names_the_expected_place(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path / "Planetoid" / "Cora" / "raw")):
        load_graph(DataConfig(name="cora", root=str(tmp_path), cache=str(tmp_path / "cache")))


def test_pubmed_explains_what_is_missing(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="ind.pubmed.allx"):
        load_graph(DataConfig(name="pubmed", root=str(tmp_path), cache=str(tmp_path / "cache")))


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_graph(DataConfig(name="imagenet"))


@pytest.mark.skipif(not CORA_RAW.is_dir(), reason=f"Cora raw files not found at {CORA_RAW}")
def test_cora_public_split(tmp_path):
    g = load_graph(DataConfig(name="cora", cache=str(tmp_path)))
    assert (g.num_nodes, g.num_features, g.num_classes) == (2708, 1433, 7)
    assert [int(g.masks[k].sum()) for k in ("train", "val", "test")] == [140, 500, 1000]
    assert g.edge_index.shape[1] == 10556 + 2708          # edges + self loops
    assert set(np.unique(g.x.numpy())) <= {0.0, 1.0}       # binary bag of words
    assert not any(Path(CORA_RAW).glob("../processed*"))   # the shared copy stays untouched


ACTOR_RAW = default_data_root() / "Actor" / "raw"
DBLP_RAW = default_data_root() / "DBLP" / "gnnet24_raw"


@pytest.mark.skipif(not ACTOR_RAW.is_dir(), reason=f"Actor raw files not found at {ACTOR_RAW}")
def test_actor_geom_gcn_split(tmp_path):
    g = load_graph(DataConfig(name="actor", cache=str(tmp_path)))
    assert (g.num_nodes, g.num_features, g.num_classes) == (7600, 932, 5)
    assert [int(g.masks[k].sum()) for k in ("train", "val", "test")] == [3648, 2432, 1520]


@pytest.mark.skipif(not DBLP_RAW.is_dir(), reason=f"DBLP files not found at {DBLP_RAW}")
def test_dblp_final_snapshot_as_static_graph():
    g = load_graph(DataConfig(name="dblp"))
    assert (g.num_nodes, g.num_classes) == (28085, 10)
    assert g.edge_index.shape[1] == 301_136 + 28_085         # symmetric edges + self loops
    assert np.bincount(g.y.numpy()).tolist() == [8133, 1913, 4844, 1289, 3818, 2345, 3527, 851, 345, 1020]
    assert 0.0 <= float(g.x.min()) and float(g.x.max()) <= 1.0


def test_dblp_missing_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="DBLP files not found"):
        load_graph(DataConfig(name="dblp", root=str(tmp_path)))
