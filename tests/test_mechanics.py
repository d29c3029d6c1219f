"""The mechanics regression generator: linear statics of spring networks against closed forms."""
import numpy as np
import pytest

from neurograph.data import mechanics
from neurograph.data.mechanics import (MechanicsError, effective_stiffness, generate, mechanics_dataset,
                                       stiffness_matrix)


def _chains(rows: int, springs_per_chain: int, k: float):
    """`rows` parallel horizontal chains of `springs_per_chain` identical springs (a rectangular lattice
    without cross springs), left column fixed, right column pulled."""
    cols = springs_per_chain + 1
    gx, gy = np.meshgrid(np.arange(cols, dtype=float), np.arange(rows, dtype=float))
    node = np.arange(rows * cols).reshape(rows, cols)
    springs = np.stack([node[:, :-1].ravel(), node[:, 1:].ravel()])
    left, right = np.zeros(rows * cols, bool), np.zeros(rows * cols, bool)
    left[node[:, 0]], right[node[:, -1]] = True, True
    return np.column_stack([gx.ravel(), gy.ravel()]), springs, np.full(springs.shape[1], k), left, right


def test_two_springs_in_series():
    pos = np.array([[0.0, 0.0], [0.7, 0.0], [2.0, 0.0]])
    k = effective_stiffness(pos, np.array([[0, 1], [1, 2]]), [2.0, 3.0], [True, False, False], [False, False, True])
    assert k == pytest.approx(2.0 * 3.0 / (2.0 + 3.0), rel=1e-12)


def test_two_springs_in_parallel():
    pos = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    k = effective_stiffness(pos, np.array([[0, 1], [2, 3]]), [2.0, 3.0], [True, True, False, False],
                            [False, False, True, True])
    assert k == pytest.approx(5.0, rel=1e-12)


@pytest.mark.parametrize("rows, n, k", [(1, 1, 3.0), (1, 7, 2.0), (4, 5, 1.5), (9, 12, 0.25)])
def test_uniform_lattice_of_parallel_chains(rows, n, k):
    """m chains of n identical springs: each chain k / n, the lattice m k / n."""
    assert effective_stiffness(*_chains(rows, n, k)) == pytest.approx(rows * k / n, rel=1e-10)


def test_inclined_spring_projects_its_stiffness():
    """One spring at angle theta, right end pulled along x with u_y = 0: k cos^2 theta."""
    theta = 0.4
    pos = np.array([[0.0, 0.0], [np.cos(theta), np.sin(theta)]])
    assert effective_stiffness(pos, np.array([[0], [1]]), [4.0], [True, False], [False, True]) == \
        pytest.approx(4.0 * np.cos(theta) ** 2, rel=1e-12)


def test_mechanism_is_refused():
    """A free node between two collinear inclined springs can slide perpendicular to them."""
    pos = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    with pytest.warns(Warning), pytest.raises(MechanicsError, match="mechanism"):
        effective_stiffness(pos, np.array([[0, 1], [1, 2]]), [1.0, 1.0], [True, False, False], [False, False, True])


def test_random_network_energy_bounds_and_scaling():
    """On a generated network: K_eff = u^T K u / delta^2 (work = energy), scaling every k by c scales
    K_eff by c, stiffening a spring never lowers it, and the affine field u = (delta x / W, 0), which
    meets the boundary conditions, bounds it from above (minimum potential energy)."""
    g = generate(1, seed=5)[0]
    args = (g.pos, g.springs, g.stiffness, g.left, g.right)
    k_eff = effective_stiffness(*args)
    assert k_eff == pytest.approx(g.target, rel=1e-12) and k_eff > 0
    assert effective_stiffness(g.pos, g.springs, 3.0 * g.stiffness, g.left, g.right) == pytest.approx(3 * k_eff)
    stiffer = g.stiffness.copy()
    stiffer[np.argmax(g.length)] *= 10
    assert effective_stiffness(g.pos, g.springs, stiffer, g.left, g.right) >= k_eff * (1 - 1e-12)
    width = g.pos[g.right, 0].max() - g.pos[g.left, 0].min()
    dx = g.pos[g.springs[1], 0] - g.pos[g.springs[0], 0]
    affine = float(np.sum(g.stiffness * (dx * dx / (g.length * width)) ** 2))
    assert k_eff <= affine * (1 + 1e-12)
    # work = energy with the solved field, here via a delta of 2 (K_eff is independent of delta)
    assert effective_stiffness(*args, delta=2.0) == pytest.approx(k_eff, rel=1e-10)
    k = stiffness_matrix(g.pos, g.springs, g.stiffness)
    assert abs(k - k.T).max() < 1e-12 and np.allclose(k @ np.tile([1.0, 0.0], g.num_nodes), 0)   # rigid motion


def test_generated_graphs_are_well_formed_and_seeded():
    graphs = generate(6, seed=3)
    again = generate(4, seed=3)                   # graph i does not depend on how many are drawn
    for a, b in zip(graphs, again):
        assert np.array_equal(a.pos, b.pos) and np.array_equal(a.springs, b.springs) and a.target == b.target
    assert graphs[0].target != generate(1, seed=4)[0].target
    for g in graphs:
        assert 50 <= g.num_nodes <= 500 and np.isfinite(g.target) and g.target > 0
        assert np.allclose(g.pos[g.left, 0], 0.0) and np.allclose(g.pos[g.right, 0], g.pos[:, 0].max())
        assert g.springs.min() >= 0 and g.springs.max() < g.num_nodes and (g.stiffness > 0).all()
    data = graphs[0].to_pyg()
    s = graphs[0].springs.shape[1]
    assert tuple(data.x.shape) == (graphs[0].num_nodes, 4) and tuple(data.edge_index.shape) == (2, 2 * s)
    assert tuple(data.edge_attr.shape) == (2 * s, 2) and float(data.y) == pytest.approx(graphs[0].target, rel=1e-6)


def test_dataset_is_cached_and_reused(tmp_path, monkeypatch):
    first = mechanics_dataset(num_graphs=4, seed=1, cache=str(tmp_path))
    files = list(tmp_path.glob("mechanics-v*.npz"))
    assert len(files) == 1

    def no_generation(*args, **kwargs):
        raise AssertionError("the cache was not reused")
    monkeypatch.setattr(mechanics, "generate", no_generation)
    second = mechanics_dataset(num_graphs=4, seed=1, cache=str(tmp_path))
    assert [g.target for g in first] == [g.target for g in second]
    assert all(np.array_equal(a.springs, b.springs) and np.array_equal(a.left, b.left) for a, b in zip(first, second))


def test_modulus_removes_the_aspect_ratio_and_features_are_unit_range():
    """A lattice of m chains of n springs k, width n, height m - 1: K_eff = m k / n, modulus = K_eff n / (m - 1);
    doubling every spring doubles the modulus, the aspect ratio alone does not move it (m k / (m - 1) per unit)."""
    pos, springs, k, left, right = _chains(4, 5, 1.5)
    g = mechanics.MechanicsGraph(pos, springs, k, left, right, effective_stiffness(pos, springs, k, left, right))
    assert g.modulus == pytest.approx(4 * 1.5 / 5 * 5 / 3, rel=1e-10)
    pos, springs, k, left, right = _chains(4, 10, 1.5)
    wide = mechanics.MechanicsGraph(pos, springs, k, left, right, effective_stiffness(pos, springs, k, left, right))
    assert wide.modulus == pytest.approx(g.modulus, rel=1e-10) and wide.target == pytest.approx(g.target / 2)
    x = generate(3, seed=1)[2].node_features()
    assert x.shape[1] == 9 and x.min() >= 0.0 and x.max() <= 1.0
    # position, boundary flags: the left column at x = 0, the right one at 1
    f = g.node_features()
    assert f[g.left, 0].max() == 0.0 and f[g.right, 0].min() == 1.0 and f[g.left, 2].all() and f[g.right, 3].all()
    # every spring has log k = log 1.5 -> (log 1.5 + 4) / 8; end nodes have one spring, inner ones two: degree / 8
    assert f[:, 4] == pytest.approx(np.full(len(f), (np.log(1.5) + 4) / 8))
    assert sorted(set(np.round(8 * f[:, 8]).astype(int))) == [1, 2]
