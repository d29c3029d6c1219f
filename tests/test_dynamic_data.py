"""Dynamic graphs: DBLP's snapshots, DeepWalk features, the evolving block model, splits, F1, the loader."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from neurograph.data.dynamic import f1_scores, load_dblp_dynamic, make_evolving_sbm, split_nodes
from neurograph.data.dynamic_loader import DynamicNeighborSampler, full_batch


def edge_set(edges):
    return set(map(tuple, np.asarray(edges).T.tolist()))


def test_dblp_snapshots_as_spikenet_builds_them(tmp_path):
    g = load_dblp_dynamic(cache=str(tmp_path))
    assert (g.num_nodes, g.num_classes, g.num_snapshots) == (28085, 10, 27)
    assert np.bincount(g.y).tolist() == [8133, 1913, 4844, 1289, 3818, 2345, 3527, 851, 345, 1020]
    sizes = [g.edges(t).shape[1] for t in (0, 13, 26)]
    assert sizes[-1] == 301_136                       # 150,568 undirected pairs, both directions (SOURCES.md)
    assert sizes[0] < sizes[1] < sizes[2]
    e5 = edge_set(g.edges(5))
    assert e5 <= edge_set(g.edges(6))                 # cumulative
    assert e5 == {(b, a) for a, b in e5}              # symmetric
    assert all(a != b for a, b in e5)
    with pytest.raises(IndexError, match="snapshot 27"):
        g.edges(27)


def test_a_feature_seed_fixes_dblps_deepwalk_while_the_seed_moves_the_split(tmp_path):
    from neurograph.config import DataConfig
    from neurograph.data.dynamic import load_dynamic
    own = load_dynamic(DataConfig(name="dblp", cache=str(tmp_path), seed=3))
    shared = load_dynamic(DataConfig(name="dblp", cache=str(tmp_path), seed=3, feature_seed=0))
    first = load_dynamic(DataConfig(name="dblp", cache=str(tmp_path), seed=0))
    assert own.features.seed == 3 and shared.features.seed == 0
    assert shared.features.folder == first.features.folder            # one cache: fitted once for every seed
    assert np.array_equal(shared.masks["train"], own.masks["train"])  # the split follows the seed
    assert not np.array_equal(shared.masks["train"], first.masks["train"])


def test_dblp_missing_files_are_a_clear_error(tmp_path):
    from neurograph.data.planetoid import DatasetNotFoundError
    with pytest.raises(DatasetNotFoundError, match="DBLP files not found"):
        load_dblp_dynamic(root=str(tmp_path))


def test_splits_are_stratified_disjoint_and_sized():
    y = np.random.default_rng(0).integers(0, 5, 2000)
    for ratio in (0.4, 0.6, 0.8):
        m = split_nodes(y, ratio, seed=3)
        assert not (m["train"] & m["val"]).any() and not (m["train"] & m["test"]).any()
        assert (m["train"] | m["val"] | m["test"]).all()
        assert abs(m["train"].mean() - ratio) < 0.01 and abs(m["val"].mean() - 0.05) < 0.01
        for c in range(5):                            # every class in the same proportion
            assert abs(m["train"][y == c].mean() - ratio) < 0.01
    assert all(np.array_equal(a, b) for a, b in zip(split_nodes(y, 0.4, 1).values(), split_nodes(y, 0.4, 1).values()))
    with pytest.raises(ValueError, match="train_ratio"):
        split_nodes(y, 0.96, 0)


def test_macro_and_micro_f1():
    y = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 1, 0])
    f = f1_scores(pred, y)
    # class 0: tp 2 fp 1 fn 1 -> 2/3; class 1: tp 2 fp 1 fn 0 -> 4/5; class 2: 0
    assert f["macro_f1"] == pytest.approx(100 * (2 / 3 + 4 / 5 + 0) / 3)
    assert f["micro_f1"] == pytest.approx(100 * 4 / 6)


def test_evolving_sbm_is_seeded_cumulative_and_homophilous():
    a, b = make_evolving_sbm(500, 4, 5, seed=2), make_evolving_sbm(500, 4, 5, seed=2)
    assert np.array_equal(a.pairs, b.pairs) and np.array_equal(a.features(3), b.features(3))
    assert not np.array_equal(a.pairs, make_evolving_sbm(500, 4, 5, seed=3).pairs)
    sizes = [a.edges(t).shape[1] for t in range(5)]
    assert all(x < y for x, y in zip(sizes, sizes[1:]))
    assert edge_set(a.edges(1)) <= edge_set(a.edges(2))
    src, dst = a.edges(4)
    same = (a.y[src] == a.y[dst]).mean()
    assert 0.75 < same < 0.9                          # 0.8 + 0.2 / 4 expected
    x = a.features(0)
    assert x.shape == (500, 16) and x.min() >= 0 and x.max() <= 1
    assert not np.array_equal(a.features(0), a.features(1))       # fresh noise per step


def test_deepwalk_features_are_seeded_and_cached(tmp_path):
    from neurograph.data.deepwalk import DeepWalkFeatures
    g = make_evolving_sbm(120, 3, 3, seed=0)
    g.num_nodes += 2                                  # two nodes that never get an edge
    g.y = np.concatenate([g.y, [0, 1]])
    edge_file = tmp_path / "edges.txt"
    edge_file.write_text("stand-in for the edge file whose bytes key the cache\n")
    settings = {"dimensions": 8, "walks_per_node": 2, "walk_length": 8}
    first = DeepWalkFeatures(g, edge_file, cache=str(tmp_path / "c"), seed=5, **settings)
    x = first(2)
    assert x.shape == (122, 8) and x.min() >= 0 and x.max() <= 1
    assert np.all(x[-2:] == 0)                        # no neighbour: no embedding, no input spikes
    assert set(first.seconds) == {2} and (first.folder / "step02.npy").is_file()
    again = DeepWalkFeatures(g, edge_file, cache=str(tmp_path / "c"), seed=5, **settings)
    assert np.array_equal(again(2), x) and again.seconds == {}        # read from the cache
    fresh = DeepWalkFeatures(g, edge_file, cache=str(tmp_path / "d"), seed=5, **settings)
    assert np.array_equal(fresh(2), x)                # recomputed: the same numbers
    other = DeepWalkFeatures(g, edge_file, cache=str(tmp_path / "c"), seed=6, **settings)
    assert other.folder != first.folder and not np.array_equal(other(2), x)
    with pytest.raises(ValueError, match="unknown DeepWalk settings"):
        DeepWalkFeatures(g, edge_file, walks=3)


def test_deepwalk_probabilities_spread_every_dimension_over_the_nodes():
    """Dimensions with very different offsets and scales (as word2vec's are) each become probabilities
    centred on 0.5 with a spread of 1/6, so no dimension's variation drowns in the Bernoulli noise."""
    from neurograph.data.deepwalk import DeepWalkFeatures
    rng = np.random.default_rng(0)
    emb = (rng.normal(size=(2000, 4)) * [0.1, 1.0, 3.0, 0.5] + [5.0, -2.0, 0.0, 1.0]).astype(np.float32)
    emb[:10] = 0                                                    # nodes without a neighbour yet
    x = DeepWalkFeatures._probabilities(emb)
    assert np.all(x[:10] == 0)
    assert np.allclose(x[10:].mean(axis=0), 0.5, atol=0.01)
    assert np.allclose(x[10:].std(axis=0), 1 / 6, atol=0.01)


def test_sampled_batch_shapes_time_order_and_fanout():
    g = make_evolving_sbm(600, 4, 4, seed=1)
    sampler = DynamicNeighborSampler(g, (5, 2))
    targets = torch.arange(0, 600, 20)
    batch = sampler.sample(targets, torch.Generator().manual_seed(0))
    n = batch.num_nodes
    assert batch.num_snapshots == 4 and torch.equal(batch.nodes[:len(targets)], targets)
    assert len(set(batch.nodes.tolist())) == n and torch.equal(batch.y, torch.as_tensor(g.y)[batch.nodes])
    assert n <= len(targets) * (1 + 5 + 5 * 2) * 4           # bounded by the batch, not the graph
    for t, (ei, ew) in enumerate(batch.snapshots):
        assert ei.shape[0] == 2 and ei.shape[1] == ew.shape[0] and int(ei.max()) < n and (ew > 0).all()
        src, dst = batch.nodes[ei].numpy()
        real = src != dst
        assert edge_set(np.stack([src[real], dst[real]])) <= edge_set(g.edges(t))   # only edges of step t
        into_targets = np.bincount(ei[1][ei[0] != ei[1]].numpy(), minlength=n)[:len(targets)]
        assert into_targets.max() <= 5
        assert batch.features(t).shape == (n, g.num_features)
        assert torch.equal(batch.features(t), torch.as_tensor(g.features(t))[batch.nodes])
    full = full_batch(g)
    sizes = [ei.shape[1] for ei, _ in full.snapshots]
    assert sizes == sorted(sizes) and full.num_nodes == 600


def _future_changed(g):
    """`g` with its last snapshot rewired and its last features replaced; earlier steps untouched."""
    rng = np.random.default_rng(9)
    extra = rng.integers(0, g.num_nodes, (2, 400))
    pairs = np.concatenate([g.pairs, np.stack([extra.min(0), extra.max(0)])], axis=1)
    first = np.concatenate([g.first_step, np.full(400, g.num_snapshots - 1)])
    keep = pairs[0] != pairs[1]
    last = g.num_snapshots - 1
    return replace(g, pairs=pairs[:, keep], first_step=first[keep],
                   features=lambda t: g.features(t) if t < last else rng.random(g.features(t).shape).astype(np.float32))


def test_no_future_snapshot_reaches_an_earlier_representation():
    """Representations of snapshots 0..T-2 are identical whatever snapshot T-1 holds, sampled or full.
    (Deterministic coding: a Bernoulli raster is one random stream over the batch's nodes, so its
    draws shift with the number of nodes a batch ends up with -- noise, not information.)"""
    from neurograph.config import RunConfig
    from neurograph.models import build_model
    g = make_evolving_sbm(300, 3, 4, seed=4)
    changed = _future_changed(g)
    cfg = RunConfig().with_model("dysign").model
    cfg.hidden, cfg.coding = 16, "deterministic"
    torch.manual_seed(0)
    model = build_model(cfg, g)
    with torch.no_grad():
        model.biases[0].fill_(0.3)                    # make the layers fire
    targets = torch.arange(0, 300, 7)
    for make in (lambda graph: DynamicNeighborSampler(graph, (5, 2)).sample(targets, torch.Generator().manual_seed(1)),
                 full_batch):
        a, b = make(g), make(changed)
        with torch.no_grad():
            ra = model.representations(a, model.deployed_spikes(a, 7))
            rb = model.representations(b, model.deployed_spikes(b, 7))
        assert ra[:3].sum() > 0
        m = min(a.num_targets, b.num_targets)
        assert torch.equal(ra[:3, :m], rb[:3, :m])
        assert not torch.equal(ra[3, :m], rb[3, :m])


def test_a_target_keeps_its_sampled_neighbours_unless_new_edges_outrank_them():
    """Bottom-k keys shared by the snapshots: from t to t+1 a target loses at most as many sampled
    neighbours as it gained edges, so the batch's node set does not grow with every redraw."""
    g = make_evolving_sbm(500, 4, 6, avg_degree=16, seed=5)
    targets = torch.arange(0, 500, 10)
    batch = DynamicNeighborSampler(g, (5, 2)).sample(targets, torch.Generator().manual_seed(2))
    degree = np.stack([g.degrees(t) for t in range(6)])

    def sampled(t, target):
        ei, _ = batch.snapshots[t]
        local = int((batch.nodes == target).nonzero())
        src = ei[0][(ei[1] == local) & (ei[0] != ei[1])]
        return set(batch.nodes[src].tolist())

    lost = []
    for t in range(5):
        for v in targets.tolist():
            before, after = sampled(t, v), sampled(t + 1, v)
            assert len(before - after) <= degree[t + 1, v] - degree[t, v]
            lost.append(len(before - after))
    assert sum(lost) < 0.5 * sum(len(sampled(t, v)) for t in range(5) for v in targets.tolist())
