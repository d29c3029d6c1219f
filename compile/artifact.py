"""The compiled network as a file: versioned, self-describing, loadable without torch.

Layout: one NumPy ``.npz`` holding a JSON header (format, version, the IR's
structure, metadata including the run configuration) and the arrays it names.
It is the program alone -- no graph, input or labels (those are samples). Files
are written to a temporary name and renamed, so a failed write never leaves a
half-written artifact. Loading checks the format and version, the arrays'
shapes and dtypes, and validates the network before any numeric code touches it;
every way a file can be broken becomes an :class:`ArtifactError` that says so.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Dict

import numpy as np

from neurograph.compile.ir import (IR_FORMAT, IR_VERSION, HostStage, Input, IRError, Network, Population, Projection,
                                   Readout, validate)


class ArtifactError(ValueError):
    """A network file that cannot be used; the message says why and what to do."""


class AtomicFiles:
    """Write several files so that none replaces its old version unless every one was written:
    each goes to a temporary name beside its path, and only a completed block renames them all.

        with AtomicFiles() as files:
            files.write(path_a, lambda f: ..., "wb")
            files.write(path_b, lambda f: ..., "w")
    """

    def __init__(self):
        self.pending = []

    def write(self, path, write, mode: str) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        self.pending.append((tmp, path))
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        return path

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, traceback):
        if kind is None:
            for tmp, path in self.pending:
                os.replace(tmp, path)
        else:
            for tmp, _ in self.pending:
                Path(tmp).unlink(missing_ok=True)
        return False


def atomic_write(path, write, mode: str) -> Path:
    """Call write(file) on a temporary file beside `path`, flush it to disk, then rename it into place."""
    with AtomicFiles() as files:
        return files.write(path, write, mode)


def savez_to(arrays: Dict[str, np.ndarray]):
    """A writer for AtomicFiles: np.savez_compressed into the open file (which keeps numpy from appending .npz)."""
    return lambda f: np.savez_compressed(f, **arrays)


def atomic_savez(path, arrays: Dict[str, np.ndarray]) -> Path:
    """np.savez_compressed, atomically."""
    return atomic_write(path, savez_to(arrays), "wb")


def atomic_write_text(path, text: str) -> Path:
    """Text, atomically."""
    return atomic_write(path, lambda f: f.write(text), "w")


MAX_ARRAY_ELEMENTS = 1 << 31      # no artifact of ours comes near; a crafted file may claim far more


def read_npz(path, wanted=None) -> Dict[str, np.ndarray]:
    """The arrays of an .npz (only those in `wanted`, if given), each checked from its .npy header --
    a numeric dtype and at most MAX_ARRAY_ELEMENTS elements -- before it is decompressed, so a small
    crafted file cannot expand into gigabytes. Raises ValueError (or zipfile.BadZipFile) otherwise."""
    arrays = {}
    with zipfile.ZipFile(path) as z:
        for member in z.namelist():
            name = member[:-4] if member.endswith(".npy") else member
            if wanted is not None and name not in wanted:
                continue
            with z.open(member) as f:
                version = np.lib.format.read_magic(f)
                shape, _, dtype = np.lib.format._read_array_header(f, version)
                if dtype.hasobject or dtype.kind not in "biuf" or int(np.prod(shape, dtype=np.int64)) > MAX_ARRAY_ELEMENTS:
                    raise ValueError(f"array {name!r} ({dtype}, shape {shape}) is not one neurograph writes")
            with z.open(member) as f:
                arrays[name] = np.lib.format.read_array(f, allow_pickle=False)
    return arrays


def file_hash(path) -> str:
    """sha256 of a file's bytes: how artifacts name what they were made from."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_network(net: Network, path, files: "AtomicFiles" = None) -> Path:
    """Write `net` atomically; with `files`, as one of several files that replace their old versions together."""
    validate(net)
    arrays: Dict[str, np.ndarray] = {}
    header = {
        "format": IR_FORMAT, "version": IR_VERSION, "domain": net.domain,
        "input": dataclasses.asdict(net.input), "populations": [], "projections": [],
        "readout": {"population": net.readout.population, "pool": net.readout.pool,
                    "head_weight": None if net.readout.head_weight is None else "readout.head_weight",
                    "head_bias": None if net.readout.head_bias is None else "readout.head_bias"},
        "metadata": net.metadata, "host": [dataclasses.asdict(stage) for stage in net.host],
    }
    for key in ("head_weight", "head_bias"):
        if getattr(net.readout, key) is not None:
            arrays[f"readout.{key}"] = np.asarray(getattr(net.readout, key), dtype=np.float64)
    for i, p in enumerate(net.populations):
        entry = {k: getattr(p, k) for k in ("name", "kind", "features", "threshold", "leak", "bias_exp",
                                            "payload_bits", "calibration", "clock")}
        for key in ("bias", "input_scale"):
            value = getattr(p, key)
            entry[key] = None if value is None else f"pop{i}.{key}"
            if value is not None:
                arrays[f"pop{i}.{key}"] = np.asarray(value)
        header["populations"].append(entry)
    for i, pr in enumerate(net.projections):
        entry = {k: getattr(pr, k) for k in ("name", "kind", "source", "target", "rule", "heads",
                                             "coefficient_scale", "exponent", "delay", "on_host")}
        entry["weight"] = None if pr.weight is None else f"proj{i}.weight"
        if pr.weight is not None:
            arrays[f"proj{i}.weight"] = np.asarray(pr.weight)
        header["projections"].append(entry)
    arrays["header"] = np.frombuffer(json.dumps(header, default=_json_default).encode(), dtype=np.uint8)
    return files.write(path, savez_to(arrays), "wb") if files is not None else atomic_savez(path, arrays)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    raise TypeError(f"cannot store {type(o).__name__} in the artifact header")


def _array(arrays, key, where):
    if key is None:
        return None
    a = arrays[key]
    if a.dtype.kind not in "iuf":
        raise ArtifactError(f"{where}: array {key!r} has dtype {a.dtype}, expected numbers")
    return a


def _readout(entry: dict, arrays, where: str) -> Readout:
    return Readout(population=str(entry["population"]), pool=str(entry.get("pool", "none")),
                   head_weight=_array(arrays, entry.get("head_weight"), where),
                   head_bias=_array(arrays, entry.get("head_bias"), where))


def load_network(path) -> Network:
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"network file {path} does not exist; create it with `neurograph compile`")
    try:
        header = json.loads(read_npz(path, {"header"})["header"].tobytes().decode())
        wanted = {ref for entry in header.get("populations", []) + header.get("projections", [])
                  for ref in (entry.get("bias"), entry.get("input_scale"), entry.get("weight")) if ref}
        wanted |= {ref for ref in (header.get("readout", {}).get("head_weight"),
                                   header.get("readout", {}).get("head_bias")) if ref}
        arrays = read_npz(path, wanted)
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, UnicodeDecodeError, EOFError, AttributeError,
            TypeError) as exc:
        raise ArtifactError(f"{path} is not a readable neurograph network file ({type(exc).__name__}: {exc}); "
                            f"it may be truncated or corrupt -- recompile it with `neurograph compile`") from exc
    if not isinstance(header, dict) or header.get("format") != IR_FORMAT:
        raise ArtifactError(f"{path} is not a neurograph network")
    if header.get("version") != IR_VERSION:
        raise ArtifactError(f"{path} has network format version {header.get('version')}, this neurograph reads "
                            f"version {IR_VERSION} (the network apart from its graph and input); recompile its "
                            f"checkpoint with `neurograph compile CHECKPOINT` (or retrain with `neurograph train`)")
    where = str(path)
    try:
        pops = [Population(name=str(p["name"]), kind=str(p["kind"]), features=int(p["features"]),
                           threshold=p["threshold"], leak=p["leak"], bias=_array(arrays, p["bias"], where),
                           bias_exp=int(p["bias_exp"]), payload_bits=int(p["payload_bits"]),
                           input_scale=_array(arrays, p["input_scale"], where), calibration=dict(p["calibration"]),
                           clock=p["clock"])
                for p in header["populations"]]
        projs = [Projection(name=str(p["name"]), kind=str(p["kind"]), source=str(p["source"]),
                            target=str(p["target"]), weight=_array(arrays, p["weight"], where), rule=str(p["rule"]),
                            heads=int(p["heads"]), coefficient_scale=float(p["coefficient_scale"]),
                            exponent=int(p["exponent"]), delay=int(p["delay"]), on_host=p.get("on_host") is True)
                 for p in header["projections"]]
        net = Network(domain=str(header["domain"]), input=Input(**header["input"]), populations=pops,
                      projections=projs, readout=_readout(header["readout"], arrays, where),
                      host=[HostStage(**stage) for stage in header["host"]], metadata=header.get("metadata", {}))
    except ArtifactError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ArtifactError(f"{path} is incomplete or inconsistent ({type(exc).__name__}: {exc}); "
                            f"recompile it with `neurograph compile`") from exc
    try:
        return validate(net)
    except (IRError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{path} holds an invalid network: {exc}") from exc
