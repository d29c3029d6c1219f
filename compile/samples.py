"""Samples: what flows into a compiled network at run time.

A :class:`Sample` is one graph (its nodes and directed edges), its input
(features to encode, or a ready spike raster) and optionally targets (node labels
with split masks, or graph-level regression targets; a sample that is the disjoint
union of several graphs says which graph each node belongs to). A sequence of samples is a stream of snapshots; a list of small
graphs can run one by one or as their disjoint union (:func:`disjoint_union`).

Sample files (``.samples.npz``) hold any number of samples as arrays plus a JSON
header, need no torch, and are checked on load -- indices, shapes, dtypes and
finiteness -- before any numeric code touches them.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from neurograph.compile.inputs import InputSpec
from neurograph.compile.ir import IRError, Network

SAMPLES_FORMAT = "neurograph.samples"
SAMPLES_VERSION = 1


class SampleError(ValueError):
    """A sample (or sample file) that cannot be used; the message says why and what to do."""


@dataclass
class Sample:
    name: str
    num_nodes: int
    edge_index: np.ndarray                        # (2, E) int, source -> target
    features: Optional[np.ndarray] = None         # (N, F) floats in [0, 1], encoded by the network's coding
    spikes: Optional[np.ndarray] = None           # or a given raster, bool (T, N, F)
    labels: Optional[np.ndarray] = None           # (N,) int, < 0 for unlabelled nodes
    masks: Dict[str, np.ndarray] = field(default_factory=dict)          # split -> bool (N,)
    # per graph projection whose rule is host-computed (attention): edges (2, E') and coefficients (E', heads)
    coefficient_edges: Dict[str, np.ndarray] = field(default_factory=dict)
    coefficients: Dict[str, np.ndarray] = field(default_factory=dict)
    # operations of host stages counted per sample by the code that made it (stage -> kind -> count)
    host_ops: Dict[str, Dict[str, int]] = field(default_factory=dict)
    targets: Optional[np.ndarray] = None          # (G, outputs) floats: graph-level regression targets
    graph_index: Optional[np.ndarray] = None      # (N,) int: the graph of each node (None: one graph)

    @property
    def num_edges(self) -> int:
        return int(self.edge_index.shape[1])

    @property
    def num_graphs(self) -> int:
        return 1 if self.graph_index is None else int(np.max(self.graph_index, initial=-1)) + 1

    def input_spec(self, net: Network) -> InputSpec:
        if self.spikes is not None:
            return InputSpec.from_raster(self.spikes)
        return InputSpec.from_features(self.features, net.input.num_steps, net.input.coding, net.input.seed,
                                       net.input.clock)


def check_sample(sample: Sample, net: Optional[Network] = None) -> Sample:
    """Raise SampleError unless `sample` is well formed (and fits `net`, if given)."""
    where = f"sample {sample.name!r}"
    n = sample.num_nodes
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise SampleError(f"{where}: num_nodes must be a positive integer, got {n!r}")
    e = np.asarray(sample.edge_index)
    if e.ndim != 2 or e.shape[0] != 2 or not np.issubdtype(e.dtype, np.integer):
        raise SampleError(f"{where}: edge_index must be an integer array (2, E), got {e.dtype} {e.shape}")
    if e.size and (e.min() < 0 or e.max() >= n):
        raise SampleError(f"{where}: edge_index refers to node {int(e.min()) if e.min() < 0 else int(e.max())} "
                          f"outside 0..{n - 1}")
    if (sample.features is None) == (sample.spikes is None):
        raise SampleError(f"{where}: give exactly one input, features (N, F) or spikes (T, N, F)")
    if sample.features is not None:
        x = np.asarray(sample.features)
        if x.ndim != 2 or x.shape[0] != n or not np.issubdtype(x.dtype, np.number):
            raise SampleError(f"{where}: features must be numbers of shape ({n}, F), got {x.dtype} {x.shape}")
        if not np.all(np.isfinite(x)) or (x.size and (x.min() < 0 or x.max() > 1)):
            raise SampleError(f"{where}: features must be finite firing probabilities in [0, 1]; rescale them")
        width = x.shape[1]
    else:
        s = np.asarray(sample.spikes)
        if s.ndim != 3 or s.shape[1] != n or s.dtype != np.bool_:
            raise SampleError(f"{where}: spikes must be bool (T, {n}, F), got {s.dtype} {s.shape}")
        width = s.shape[2]
    if sample.labels is not None:
        y = np.asarray(sample.labels)
        if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
            raise SampleError(f"{where}: labels must be integers of shape ({n},), got {y.dtype} {y.shape}")
    if sample.graph_index is not None:
        g = np.asarray(sample.graph_index)
        if g.shape != (n,) or not np.issubdtype(g.dtype, np.integer) or g.min() < 0 or \
                np.any(np.bincount(g) == 0):
            raise SampleError(f"{where}: graph_index must give each of the {n} nodes a graph 0..G-1, every graph "
                              f"with at least one node")
    if sample.targets is not None:
        t = np.asarray(sample.targets)
        if t.ndim != 2 or t.shape[0] != sample.num_graphs or not np.issubdtype(t.dtype, np.floating) or \
                not np.all(np.isfinite(t)):
            raise SampleError(f"{where}: targets must be finite floats of shape ({sample.num_graphs}, outputs), "
                              f"one row per graph, got {t.dtype} {t.shape}")
    for split, m in sample.masks.items():
        if np.asarray(m).shape != (n,) or np.asarray(m).dtype != np.bool_:
            raise SampleError(f"{where}: mask {split!r} must be bool ({n},)")
    for name, edges in sample.coefficient_edges.items():
        edges, values = np.asarray(edges), np.asarray(sample.coefficients.get(name))
        if edges.ndim != 2 or edges.shape[0] != 2 or not np.issubdtype(edges.dtype, np.integer) or \
                (edges.size and (edges.min() < 0 or edges.max() >= n)):
            raise SampleError(f"{where}: coefficient edges of {name!r} must be node indices (2, E) below {n}")
        if values.ndim != 2 or values.shape[0] != edges.shape[1] or not np.all(np.isfinite(values)):
            raise SampleError(f"{where}: coefficients of {name!r} must be finite (E, heads) for its {edges.shape[1]} edges")
    if net is not None:
        if width != net.input.sample_features:
            raise SampleError(f"{where}: has {width} input features, the network expects {net.input.sample_features}")
        if sample.spikes is not None and net.input.clock:
            raise SampleError(f"{where}: brings a spike raster, but this network's input is graded with a clock; "
                              f"give the sample's features instead")
        if sample.spikes is not None and sample.spikes.shape[0] != net.input.num_steps:
            raise SampleError(f"{where}: spike raster has {sample.spikes.shape[0]} steps, the network's input "
                              f"window is {net.input.num_steps}")
        readout_features = net.population(net.readout.population).features
        if sample.labels is not None and sample.labels.size and sample.labels.max() >= readout_features:
            raise SampleError(f"{where}: label {int(sample.labels.max())} >= the readout's {readout_features} classes")
    return sample


def disjoint_union(samples: List[Sample], name: str = "batch") -> Sample:
    """Many graphs as one: nodes concatenated, edges offset, inputs and targets stacked.

    Nodes of different graphs share no edge, so each graph's nodes compute exactly what they
    would alone -- given the same input spikes: samples with rasters (or deterministic coding)
    give the same per-graph results; Bernoulli-coded features draw one stream over the union."""
    if not samples:
        raise SampleError("disjoint_union needs at least one sample")
    if any(s.coefficients for s in samples):
        raise SampleError("disjoint_union of samples with host-computed coefficients is not supported")
    offsets = np.cumsum([0] + [s.num_nodes for s in samples])
    edges = np.concatenate([s.edge_index + off for s, off in zip(samples, offsets)], axis=1)
    features = spikes = labels = None
    if all(s.features is not None for s in samples):
        features = np.concatenate([s.features for s in samples])
    elif all(s.spikes is not None for s in samples):
        spikes = np.concatenate([s.spikes for s in samples], axis=1)
    else:
        raise SampleError("disjoint_union needs all samples to give features, or all to give spikes")
    if all(s.labels is not None for s in samples):
        labels = np.concatenate([s.labels for s in samples])
    splits = set.intersection(*(set(s.masks) for s in samples))
    masks = {k: np.concatenate([s.masks[k] for s in samples]) for k in splits}
    targets = graph_index = None
    if all(s.targets is not None for s in samples):
        targets = np.concatenate([s.targets for s in samples])
    if targets is not None or any(s.graph_index is not None for s in samples):
        first = np.cumsum([0] + [s.num_graphs for s in samples])
        graph_index = np.concatenate([(np.zeros(s.num_nodes, np.int64) if s.graph_index is None else s.graph_index)
                                      + g0 for s, g0 in zip(samples, first)])
    return Sample(name, int(offsets[-1]), edges, features, spikes, labels, masks, targets=targets,
                  graph_index=graph_index)


# ---- files ---------------------------------------------------------------------------------
_ARRAYS = ("edge_index", "features", "spikes", "labels", "targets", "graph_index")


def save_samples(samples: List[Sample], path, files=None) -> Path:
    """Write samples to one .npz atomically (a temporary name, then renamed); with `files` (an
    :class:`~neurograph.compile.artifact.AtomicFiles`), together with the other files written there."""
    from neurograph.compile.artifact import atomic_savez, savez_to
    arrays, header = {}, {"format": SAMPLES_FORMAT, "version": SAMPLES_VERSION, "samples": []}
    for i, s in enumerate(samples):
        check_sample(s)
        entry = {"name": s.name, "num_nodes": int(s.num_nodes), "masks": sorted(s.masks),
                 "coefficients": sorted(s.coefficients),
                 "host_ops": {k: {o: int(c) for o, c in v.items()} for k, v in s.host_ops.items()}}
        for key in _ARRAYS:
            value = getattr(s, key)
            if value is not None:
                arrays[f"s{i}.{key}"] = np.packbits(value, axis=-1) if key == "spikes" else np.asarray(value)
                entry[key] = list(np.shape(value))
        for k, m in s.masks.items():
            arrays[f"s{i}.mask.{k}"] = m
        for k in s.coefficients:
            arrays[f"s{i}.coef_edges.{k}"], arrays[f"s{i}.coef.{k}"] = s.coefficient_edges[k], s.coefficients[k]
        header["samples"].append(entry)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    return files.write(path, savez_to(arrays), "wb") if files is not None else atomic_savez(path, arrays)


def load_samples(path) -> List[Sample]:
    path = Path(path)
    if not path.is_file():
        raise SampleError(f"sample file {path} does not exist; write one with `neurograph samples` or save_samples")
    from neurograph.compile.artifact import read_npz
    try:
        arrays = read_npz(path)            # every array is the samples' data; each checked before decompressing
        header = json.loads(arrays.pop("header").tobytes().decode())
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, UnicodeDecodeError, EOFError) as exc:
        raise SampleError(f"{path} is not a readable sample file ({type(exc).__name__}); it may be truncated or "
                          f"corrupt -- write it again") from exc
    if not isinstance(header, dict) or header.get("format") != SAMPLES_FORMAT:
        raise SampleError(f"{path} is not a neurograph sample file")
    if header.get("version") != SAMPLES_VERSION:
        raise SampleError(f"{path} has sample format version {header.get('version')}, this neurograph reads "
                          f"{SAMPLES_VERSION}; write it again")
    samples = []
    try:
        for i, entry in enumerate(header["samples"]):
            values = {}
            for key in _ARRAYS:
                if key in entry:
                    a = arrays[f"s{i}.{key}"]
                    if key == "spikes":
                        t, n, f = (int(d) for d in entry[key])
                        if a.shape != (t, n, (f + 7) // 8) or a.dtype != np.uint8:
                            raise SampleError(f"{path}: sample {i}: packed spikes have shape {a.shape}")
                        a = np.unpackbits(a, axis=-1, count=f).astype(bool)
                    values[key] = a
            sample = Sample(str(entry["name"]), int(entry["num_nodes"]), values.get("edge_index"),
                            values.get("features"), values.get("spikes"), values.get("labels"),
                            {k: arrays[f"s{i}.mask.{k}"] for k in entry["masks"]},
                            {k: arrays[f"s{i}.coef_edges.{k}"] for k in entry["coefficients"]},
                            {k: arrays[f"s{i}.coef.{k}"] for k in entry["coefficients"]},
                            {k: {o: int(c) for o, c in v.items()} for k, v in entry.get("host_ops", {}).items()},
                            values.get("targets"), values.get("graph_index"))
            samples.append(check_sample(sample))
    except SampleError as exc:
        raise SampleError(f"{path}: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SampleError(f"{path} is incomplete or inconsistent ({type(exc).__name__}: {exc}); write it again") from exc
    return samples


__all__ = ["IRError", "Sample", "SampleError", "check_sample", "disjoint_union", "load_samples", "save_samples"]
