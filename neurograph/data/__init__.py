"""Datasets: Planetoid citation graphs from local raw files, and synthetic graphs.

Everything here returns a :class:`GraphData`. Nothing is downloaded: real datasets
are read from ``../shared/datasets`` (or ``DataConfig.root`` / ``$NEUROGRAPH_DATA``),
copied into a writable cache before PyG writes its processed files.
"""
from neurograph.data.graph import GraphData, load_graph
from neurograph.data.planetoid import DatasetNotFoundError

__all__ = ["DatasetNotFoundError", "GraphData", "load_graph"]
