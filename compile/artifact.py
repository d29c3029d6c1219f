"""The compiled network as a file: versioned, self-describing, loadable without torch.

Layout: one NumPy ``.npz`` holding a JSON header (format, version, the IR's
structure, metadata including the run configuration) and the arrays it names.
The input raster is stored bit-packed. Loading checks the format and version and
turns every way a file can be broken into an :class:`ArtifactError` that says so.
"""
from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path
from typing import Dict

import numpy as np
import scipy.sparse as sp

from neurograph.compile.ir import (IR_FORMAT, IR_VERSION, HostStage, Input, IRError, Network, Population,
                                   Projection, Readout, Task, validate)


class ArtifactError(ValueError):
    """A network file that cannot be used; the message says why and what to do."""


def _put(arrays: Dict[str, np.ndarray], key: str, value):
    if value is None:
        return None
    if isinstance(value, list):         # a graph projection's per-head matrices
        return {"heads": [_put(arrays, f"{key}.head{k}", v) for k, v in enumerate(value)]}
    if sp.issparse(value):
        csr = sp.csr_matrix(value)
        for part in ("data", "indices", "indptr"):
            arrays[f"{key}.{part}"] = getattr(csr, part)
        return {"csr": key, "shape": list(csr.shape)}
    arrays[key] = np.asarray(value)
    return {"array": key}


def _get(arrays, ref):
    if ref is None:
        return None
    if "heads" in ref:
        return [_get(arrays, head) for head in ref["heads"]]
    if "csr" in ref:
        key = ref["csr"]
        return sp.csr_matrix((arrays[f"{key}.data"], arrays[f"{key}.indices"], arrays[f"{key}.indptr"]),
                             shape=tuple(ref["shape"]))
    return arrays[ref["array"]]


def save_network(net: Network, path) -> Path:
    validate(net)
    arrays: Dict[str, np.ndarray] = {}
    spikes = net.input.spikes
    arrays["input.spikes"] = np.packbits(spikes, axis=-1)
    header = {
        "format": IR_FORMAT, "version": IR_VERSION, "domain": net.domain,
        "input": {"name": net.input.name, "coding": net.input.coding, "seed": net.input.seed,
                  "shape": list(spikes.shape)},
        "populations": [], "projections": [],
        "readout": {"population": net.readout.population, "kind": net.readout.kind},
        "metadata": net.metadata,
        "host": [dataclasses.asdict(stage) for stage in net.host],
    }
    for i, p in enumerate(net.populations):
        header["populations"].append({
            "name": p.name, "kind": p.kind, "shape": list(p.shape), "threshold": p.threshold, "leak": p.leak,
            "bias_exp": p.bias_exp, "payload_bits": p.payload_bits, "calibration": p.calibration,
            "bias": _put(arrays, f"pop{i}.bias", p.bias),
            "node_scale": _put(arrays, f"pop{i}.node_scale", p.node_scale),
            "feature_scale": _put(arrays, f"pop{i}.feature_scale", p.feature_scale)})
    for i, pr in enumerate(net.projections):
        header["projections"].append({
            "name": pr.name, "kind": pr.kind, "source": pr.source, "target": pr.target,
            "exponent": pr.exponent, "delay": pr.delay, "weight": _put(arrays, f"proj{i}.weight", pr.weight)})
    if net.task is not None:
        header["task"] = {"num_classes": net.task.num_classes,
                          "labels": _put(arrays, "task.labels", net.task.labels),
                          "masks": {k: _put(arrays, f"task.mask.{k}", v) for k, v in net.task.masks.items()}}
    arrays["header"] = np.frombuffer(json.dumps(header, default=_json_default).encode(), dtype=np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:       # a file object keeps numpy from appending ".npz"
        np.savez_compressed(f, **arrays)
    return path


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    raise TypeError(f"cannot store {type(o).__name__} in the artifact header")


def load_network(path) -> Network:
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"network file {path} does not exist; create it with `neurograph compile`")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        header = json.loads(arrays.pop("header").tobytes().decode())
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, UnicodeDecodeError, EOFError) as exc:
        raise ArtifactError(f"{path} is not a readable neurograph network file ({type(exc).__name__}: {exc}); "
                            f"it may be truncated or corrupt -- recompile it with `neurograph compile`") from exc
    if header.get("format") != IR_FORMAT:
        raise ArtifactError(f"{path} is not a neurograph network (format {header.get('format')!r})")
    if header.get("version") != IR_VERSION:
        raise ArtifactError(f"{path} has network format version {header.get('version')}, this neurograph reads "
                            f"version {IR_VERSION}; recompile it with this version (`neurograph compile`)")
    try:
        inp = header["input"]
        t, n, f = inp["shape"]
        spikes = np.unpackbits(arrays["input.spikes"], axis=-1, count=f).astype(bool).reshape(t, n, f)
        pops = [Population(name=p["name"], kind=p["kind"], shape=tuple(p["shape"]), threshold=p["threshold"],
                           leak=p["leak"], bias=_get(arrays, p["bias"]), bias_exp=p["bias_exp"],
                           payload_bits=p["payload_bits"], node_scale=_get(arrays, p["node_scale"]),
                           feature_scale=_get(arrays, p["feature_scale"]), calibration=p["calibration"])
                for p in header["populations"]]
        projs = [Projection(name=p["name"], kind=p["kind"], source=p["source"], target=p["target"],
                            weight=_get(arrays, p["weight"]), exponent=p["exponent"], delay=p["delay"])
                 for p in header["projections"]]
        task = None
        if "task" in header:
            tk = header["task"]
            task = Task(labels=_get(arrays, tk["labels"]), num_classes=tk["num_classes"],
                        masks={k: _get(arrays, v) for k, v in tk["masks"].items()})
        net = Network(domain=header["domain"], input=Input(inp["name"], spikes, inp["coding"], inp["seed"]),
                      populations=pops, projections=projs, readout=Readout(**header["readout"]), task=task,
                      host=[HostStage(**stage) for stage in header["host"]], metadata=header.get("metadata", {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(f"{path} is incomplete or inconsistent ({type(exc).__name__}: {exc}); "
                            f"recompile it with `neurograph compile`") from exc
    try:
        return validate(net)
    except IRError as exc:
        raise ArtifactError(f"{path} holds an invalid network: {exc}") from exc
