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
