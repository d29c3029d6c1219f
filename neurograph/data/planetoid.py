"""Planetoid citation graphs (Cora, CiteSeer, PubMed), public split, from local raw files."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from neurograph.data.cache import load_cached
from neurograph.data.graph import GraphData, from_edges

PLANETOID_NAMES = {"cora": "Cora", "citeseer": "CiteSeer", "pubmed": "PubMed"}
RAW_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's raw files are not where they are expected; the message says where."""


def default_data_root() -> Path:
    """$NEUROGRAPH_DATA, else ../shared/datasets beside the repository (or the current directory)."""
    if os.environ.get("NEUROGRAPH_DATA"):
        return Path(os.environ["NEUROGRAPH_DATA"])
    repo = Path(__file__).resolve().parents[2]
    for base in (repo, Path.cwd()):
        candidate = base.parent / "shared" / "datasets"
        if candidate.is_dir():
            return candidate
    return repo.parent / "shared" / "datasets"


def raw_dir(name: str, root: Optional[str]) -> Path:
    return Path(root or default_data_root()) / "Planetoid" / PLANETOID_NAMES[name] / "raw"


def load_planetoid(name: str, root: Optional[str], cache: Optional[str] = None) -> GraphData:
    from torch_geometric.datasets import Planetoid

    title = PLANETOID_NAMES[name]
    source = raw_dir(name, root)
    missing = [f"ind.{name}.{s}" for s in RAW_SUFFIXES if not (source / f"ind.{name}.{s}").is_file()]
    if missing:
        hint = (" PubMed's ind.pubmed.allx could not be obtained for ../shared/datasets (see SOURCES.md there);"
                " add it and name the folder Planetoid/PubMed/raw." if name == "pubmed" else "")
        raise DatasetNotFoundError(
            f"{title} raw files not found: expected {', '.join(missing)} in {source}. Put the Planetoid raw files "
            f"there, or point DataConfig.root / $NEUROGRAPH_DATA at a folder holding Planetoid/{title}/raw.{hint}")
    files = [f"ind.{name}.{s}" for s in RAW_SUFFIXES]
    data = load_cached(name, source, files, f"{title}/raw", cache,
                       lambda folder: Planetoid(str(folder), title, split="public")[0])
    return from_edges(name, data.x.numpy(), data.y.numpy(), data.edge_index,
                      {"train": data.train_mask, "val": data.val_mask, "test": data.test_mask},
                      int(data.y.max()) + 1)
