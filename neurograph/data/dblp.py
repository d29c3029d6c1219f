"""DBLP co-authorship graph (28,085 authors, 10 research areas), its final snapshot as a static graph.

Read from ``DBLP/gnnet24_raw/{edge_index,y}.npz`` (see ../shared/datasets/DBLP/FORMAT.md).
DBLP has no raw node features (SpikeNet fits DeepWalk embeddings per snapshot), so
this static view uses cheap *structural* features: a seeded random projection of
the normalized adjacency's rows, propagated once more and min-max scaled to [0, 1]
per dimension (a Johnson-Lindenstrauss sketch of each node's 2-hop neighbourhood).
Split: seeded random 10% train / 10% validation / 80% test.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import scipy.sparse as sp

from neurograph.data.graph import GraphData, from_edges
from neurograph.data.planetoid import DatasetNotFoundError, default_data_root


def load_dblp(root: Optional[str] = None, num_features: int = 128, seed: int = 0) -> GraphData:
    folder = Path(root or default_data_root()) / "DBLP" / "gnnet24_raw"
    files = [folder / "edge_index.npz", folder / "y.npz"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise DatasetNotFoundError(f"DBLP files not found: {', '.join(missing)}; point DataConfig.root / "
                                   f"$NEUROGRAPH_DATA at a folder holding DBLP/gnnet24_raw/")
    edge_index = np.load(files[0])["arr_0"]
    y = np.load(files[1])["arr_0"]
    n = len(y)
    a = sp.csr_matrix((np.ones(edge_index.shape[1]), (edge_index[0], edge_index[1])), shape=(n, n))
    a = ((a + a.T) > 0).astype(np.float64)
    edges = np.vstack(a.nonzero())
    deg = np.asarray(a.sum(axis=1)).ravel() + 1.0
    norm = sp.diags(deg ** -0.5) @ (a + sp.identity(n)) @ sp.diags(deg ** -0.5)
    rng = np.random.default_rng(seed)
    sketch = norm @ (norm @ rng.normal(size=(n, num_features)))
    lo, hi = sketch.min(axis=0), sketch.max(axis=0)
    x = (sketch - lo) / np.where(hi > lo, hi - lo, 1.0)
    order = rng.permutation(n)
    masks = {name: np.zeros(n, bool) for name in ("train", "val", "test")}
    masks["train"][order[: n // 10]] = True
    masks["val"][order[n // 10: n // 5]] = True
    masks["test"][order[n // 5:]] = True
    return from_edges("dblp", x, y, edges, masks, int(y.max()) + 1)
