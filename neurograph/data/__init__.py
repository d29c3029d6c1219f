"""Datasets: Planetoid citation graphs from local raw files, and synthetic graphs.

Everything here returns a :class:`GraphData`. Nothing is downloaded: real datasets
are read from ``../shared/datasets`` (or ``DataConfig.root`` / ``$NEUROGRAPH_DATA``),
copied into a writable cache keyed by their content before PyG writes its processed
files (:mod:`neurograph.data.cache`).
"""
from neurograph.data.cache import DatasetError
from neurograph.data.graph import GraphData, load_graph
from neurograph.data.planetoid import DatasetNotFoundError

__all__ = ["DatasetError", "DatasetNotFoundError", "GraphData", "load_graph"]
