"""A writable cache for PyG's processed files, keyed by the content of the raw files.

The shared datasets are read-only and PyG writes processed/ beside raw/, so raw files
are copied into a cache folder named after the sha256 of their bytes: a changed or
damaged raw file gets a new folder (it never meets processed files made from other
bytes), and a damaged one fails with a message naming the data folder. The cache lives
in the user's cache directory ($NEUROGRAPH_CACHE, else $XDG_CACHE_HOME/neurograph, else
~/.cache/neurograph), never in the current directory.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Callable, Optional, Sequence


class DatasetError(ValueError):
    """Raw dataset files that cannot be read; the message names the folder and the fix."""


def cache_root(cache: Optional[str] = None) -> Path:
    if cache:
        return Path(cache).expanduser().resolve()
    if os.environ.get("NEUROGRAPH_CACHE"):
        return Path(os.environ["NEUROGRAPH_CACHE"]).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "neurograph"


def raw_digest(source: Path, files: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        with open(source / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def cached_copy(dataset: str, source: Path, files: Sequence[str], raw_subdir: str, cache: Optional[str]) -> Path:
    """Copy `files` from `source` into <cache>/<dataset>-<digest>/<raw_subdir>; returns the folder PyG gets."""
    folder = cache_root(cache) / f"{dataset}-{raw_digest(source, files)}"
    raw = folder / raw_subdir
    raw.mkdir(parents=True, exist_ok=True)
    for name in files:
        if not (raw / name).is_file() or (raw / name).stat().st_size != (source / name).stat().st_size:
            tmp = raw / f".{name}.tmp"
            shutil.copyfile(source / name, tmp)
            os.replace(tmp, raw / name)
    return folder


def load_or_explain(dataset: str, source: Path, folder: Path, load: Callable):
    """Run PyG's loader; a raw file it cannot parse becomes a DatasetError naming `source`, and the
    half-made cache folder is removed so nothing built from damaged bytes stays behind."""
    try:
        return load()
    except Exception as exc:            # PyG's parsers raise whatever their format's reader raises
        shutil.rmtree(folder, ignore_errors=True)
        raise DatasetError(f"{dataset}: the raw files in {source} could not be read ({type(exc).__name__}: "
                           f"{str(exc)[:120]}); they may be damaged -- restore them from the original "
                           f"source (see SOURCES.md beside the datasets)") from exc
