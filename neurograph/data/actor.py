"""Actor (film co-occurrence, 7,600 nodes, 5 classes, heterophilous), from local raw files via PyG."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from neurograph.data.cache import load_cached
from neurograph.data.graph import GraphData, from_edges
from neurograph.data.planetoid import DatasetNotFoundError, default_data_root

RAW_FILES = ["out1_node_feature_label.txt", "out1_graph_edges.txt"] + \
    [f"film_split_0.6_0.2_{i}.npz" for i in range(10)]


def load_actor(root: Optional[str], cache: Optional[str] = None, split: int = 0) -> GraphData:
    """Geom-GCN split `split` (of 10): 60% train / 20% validation / 20% test."""
    from torch_geometric.datasets import Actor

    source = Path(root or default_data_root()) / "Actor" / "raw"
    missing = [f for f in RAW_FILES if not (source / f).is_file()]
    if missing:
        raise DatasetNotFoundError(f"Actor raw files not found: expected {', '.join(missing)} in {source}")
    data = load_cached("actor", source, RAW_FILES, "raw", cache, lambda folder: Actor(str(folder))[0])
    masks = {"train": data.train_mask[:, split], "val": data.val_mask[:, split], "test": data.test_mask[:, split]}
    return from_edges("actor", data.x.numpy(), data.y.numpy(), data.edge_index, masks, int(data.y.max()) + 1)
