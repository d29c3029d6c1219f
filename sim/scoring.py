"""Scoring readouts against the targets samples bring."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np


def scored_nodes(sample, split: str = "test") -> np.ndarray:
    """The nodes a sample is scored on: its `split` mask if it has one, else every labelled node."""
    if sample.labels is None:
        return np.zeros(sample.num_nodes, dtype=bool)
    mask = sample.masks.get(split)
    return (np.asarray(mask) if mask is not None else np.ones(sample.num_nodes, dtype=bool)) & (sample.labels >= 0)


def correct_and_total(readout: np.ndarray, sample, split: str = "test") -> Tuple[int, int]:
    if sample.labels is None:          # nothing to classify (e.g. a graph-level regression sample)
        return 0, 0
    mask = scored_nodes(sample, split)
    predictions = np.asarray(readout).argmax(axis=1)
    return int((predictions[mask] == sample.labels[mask]).sum()), int(mask.sum())


def accuracy(run, samples: Sequence, split: str = "test") -> Optional[float]:
    """Accuracy of a run's readouts (one per window) over its samples' scored nodes; None if unlabelled."""
    correct = total = 0
    for readout, sample in zip(run.readouts, samples):
        c, t = correct_and_total(readout, sample, split)
        correct, total = correct + c, total + t
    return correct / total if total else None


def pooled_accuracy(parts: List[Tuple[int, int]]) -> Optional[float]:
    correct, total = sum(c for c, _ in parts), sum(t for _, t in parts)
    return correct / total if total else None


def graph_predictions(net, readout: np.ndarray, sample) -> np.ndarray:
    """The host's share of a graph-level task on one window's readout (N, F): the mean over each
    graph's nodes (``pool`` "mean") and the linear head -> (G, outputs)."""
    head = net.readout
    values = np.asarray(readout, dtype=np.float64)
    if head.pool == "mean":
        graph = np.zeros(sample.num_nodes, np.int64) if sample.graph_index is None else np.asarray(sample.graph_index)
        sums = np.zeros((sample.num_graphs, values.shape[1]))
        np.add.at(sums, graph, values)
        values = sums / np.bincount(graph, minlength=sample.num_graphs)[:, None]
    if head.head_weight is not None:
        values = values @ np.asarray(head.head_weight, dtype=np.float64) + np.asarray(head.head_bias, dtype=np.float64)
    return values
