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


def load_cached(dataset: str, source: Path, files: Sequence[str], raw_subdir: str, cache: Optional[str],
                load: Callable[[Path], object]):
    """Copy `files` from `source` into <cache>/<dataset>-<digest>/<raw_subdir> and run `load(folder)`
    (PyG's loader, which writes processed/ there), holding a lock on the folder so concurrent
    processes (torchrun ranks) neither copy over each other nor read half-processed files.

    A raw file PyG cannot parse becomes a DatasetError naming `source`, and the half-made cache
    folder is emptied so nothing built from damaged bytes stays behind."""
    import fcntl
    folder = cache_root(cache) / f"{dataset}-{raw_digest(source, files)}"
    raw = folder / raw_subdir
    raw.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in files:
            if not (raw / name).is_file() or (raw / name).stat().st_size != (source / name).stat().st_size:
                tmp = raw / f".{name}.tmp"
                shutil.copyfile(source / name, tmp)
                os.replace(tmp, raw / name)
        return _load_or_explain(dataset, source, folder, lambda: load(folder))


def _load_or_explain(dataset: str, source: Path, folder: Path, load: Callable):
    try:
        return load()
    except Exception as exc:            # PyG's parsers raise whatever their format's reader raises
        for child in folder.iterdir():
            if child.name != ".lock":
                shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
        raise DatasetError(f"{dataset}: the raw files in {source} could not be read ({type(exc).__name__}: "
                           f"{str(exc)[:120]}); they may be damaged -- restore them from the original "
                           f"source (see SOURCES.md beside the datasets)") from exc
