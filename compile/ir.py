"""The network IR: the one contract between training, compilation and simulation.

A :class:`Network` is a feed-forward graph of populations joined by projections,
driven by one input spike raster and read out at one population. The same IR
describes the network in two *domains*:

``float``  what the trained model computes, in its own units (weights, thresholds,
           biases as floats; optional per-neuron input scales from normalization).
``fixed``  what a Loihi-style chip stores: integer weight mantissas with a
           per-projection exponent, Lava's LIF encodings (vth, du, dv, bias
           mantissa/exponent), graded payload widths.

Semantics (shared by the reference executor and the Lava lowering; time steps
are numbered 1..num_steps as in Lava):

* input: ``spikes[t-1]`` is emitted at step t for t <= T, nothing after.
* projection with delay d from population P adds, at step t, the transform of
  P's output at step t-d:
    - ``dense``: per-node shared weights, out[n, o] = sum_i x[n, i] * W[i, o]
    - ``graph``: aggregation over edges,  out[v, k] = sum_u A[v, u] * x[u, k]; with
      attention heads (a list of K matrices A_h) the features split into K equal
      slices and feature k uses its head's A_h(k) (see :func:`graph_heads`)
  In the fixed domain the integer sum is shifted by the projection's exponent
  (``<<e`` or arithmetic ``>>-e``), exactly as Lava's Dense/Sparse apply
  ``weight_exp`` to the accumulated sum.
* populations (input a = sum of incoming projections at step t):
    - ``relay``: graded compartment; output payload = a (same step).
    - ``if`` / ``lif``: V = decay(V) + a + bias; spike when V > threshold; V = 0
      after a spike. Fixed domain: Lava's LIF bit-accurate model with du=4095
      (no current memory) -- see :mod:`neurograph.sim.reference`.
    - ``integrator``: V = V + a + bias, never spikes; its final V is the readout.

Delays are explicit so the reference and Lava agree by construction: Lava's
Dense/Sparse deliver a spike one step later, so a two-stage graph convolution
(feature transform, then aggregation) takes two steps.

What the chip cannot do is named too: ``host`` lists the :class:`HostStage` s the
deployed network relies on (input encoding, the read-out, a calibration pass that
froze STFN statistics or attention coefficients into weights), when each runs and
what it feeds, with its counted operations, so reports say what runs where.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np
import scipy.sparse as sp

IR_FORMAT = "neurograph.network"
IR_VERSION = 3                    # 2: host stages; 3: attention heads in graph projections

POPULATION_KINDS = ("relay", "if", "lif", "integrator")
SPIKING_KINDS = ("if", "lif")
PROJECTION_KINDS = ("dense", "graph")
DOMAINS = ("float", "fixed")
HOST_WHEN = ("per_inference", "once")
# what a graph projection's weights are, recorded in metadata["aggregation"] by export
AGGREGATIONS = {"gcn_adjacency": "GCN-normalized adjacency",
                "frozen_attention": "attention coefficients frozen in the host's calibration pass"}


class IRError(ValueError):
    """A network that breaks the IR's rules; the message names the part and the fix."""


# Loihi / Lava fixed-point limits (see ../shared/notes/lava-fixed-point.md, sections 1-2).
WEIGHT_MANTISSA_BITS = 8          # signed 8-bit synaptic weight mantissa
WEIGHT_EXP_RANGE = (-8, 7)        # per-projection weight exponent
VTH_BITS = 17                     # LIF vth (unsigned); effective threshold vth << 6
BIAS_MANT_BITS = 13               # signed bias mantissa
BIAS_EXP_RANGE = (0, 7)           # bias exponent
DECAY_BITS = 12                   # du, dv in 0..4095
STATE_BITS = 24                   # u wraps, v saturates at 24 bits
ACT_SHIFT = 6                     # Lava shifts a_in and vth left by 6 bits
MAX_PAYLOAD_BITS = 24             # graded spike payload (Loihi 2: up to 24 bits on the simulator path we use)


@dataclass
class Input:
    """The encoded input: a spike raster fed by a source process.

    The raster is generated once (seeded) by the training side's encoder and
    stored here, so every executor sees the very same spikes.
    """
    name: str
    spikes: np.ndarray            # bool, shape (T, N, F)
    coding: str                   # how it was made ("bernoulli", ...), for reports
    seed: int

    @property
    def num_steps(self) -> int:
        return int(self.spikes.shape[0])

    @property
    def shape(self) -> Tuple[int, int]:
        return tuple(int(s) for s in self.spikes.shape[1:])


@dataclass
class Population:
    """A group of compartments of shape (nodes, features)."""
    name: str
    kind: str
    shape: Tuple[int, int]
    threshold: Optional[float] = None      # float: V > threshold; fixed: v > vth << 6
    leak: float = 0.0                      # float: fraction of V lost per step; fixed: dv (0..4095)
    bias: Optional[np.ndarray] = None      # per neuron, shape `shape`; fixed: bias mantissa
    bias_exp: int = 0                      # fixed only
    payload_bits: int = 0                  # relay only: signed payload width
    # float domain only: a = node_scale[:, None] * feature_scale[None, :] * a_in
    # (a folded normalization); removed by the fold pass.
    node_scale: Optional[np.ndarray] = None
    feature_scale: Optional[np.ndarray] = None
    # float domain: ranges seen on calibration data, used to choose fixed-point scales.
    calibration: Dict[str, float] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(self.shape[0] * self.shape[1])

    @property
    def spiking(self) -> bool:
        return self.kind in SPIKING_KINDS


@dataclass
class Projection:
    """Synapses from `source` (a population or the input) to `target`."""
    name: str
    kind: str
    source: str
    target: str
    weight: object                 # dense: ndarray (F_in, F_out); graph: scipy CSR (N, N), or a list of
                                   # them, one per attention head
    exponent: int = 0              # fixed only: shift applied to each step's summed input
    delay: int = 1                 # steps from a source event to its effect on the target


@dataclass
class Readout:
    """Which population is read out, and how: its membrane potential after the run."""
    population: str
    kind: str = "membrane"


@dataclass
class Task:
    """Labels and node masks to score the readout (transductive node classification)."""
    labels: np.ndarray             # int, (N,)
    masks: Dict[str, np.ndarray]   # "train"/"val"/"test" -> bool (N,)
    num_classes: int


@dataclass
class HostStage:
    """Work the deployed network needs from the host computer beside the chip."""
    name: str
    when: str                      # "per_inference", or "once" (at compile time, for this graph and input)
    feeds: List[str]               # the IR parts it produces or consumes (input, projections, readout)
    ops: Dict[str, int]            # counted operations by kind: fp32_add, fp32_mac, fp32_mult, exp, ...
    what: str = ""                 # one line for people


@dataclass
class Network:
    domain: str
    input: Input
    populations: List[Population]
    projections: List[Projection]
    readout: Readout
    task: Optional[Task] = None
    host: List[HostStage] = field(default_factory=list)
    # Everything needed to say how this network was made (the run configuration,
    # quantization choices, provenance); saved with the artifact.
    metadata: Dict[str, object] = field(default_factory=dict)

    # ---- lookups -------------------------------------------------------------------
    def population(self, name: str) -> Population:
        for p in self.populations:
            if p.name == name:
                return p
        raise IRError(f"no population named {name!r}; populations: {[p.name for p in self.populations]}")

    def incoming(self, name: str) -> List[Projection]:
        return [pr for pr in self.projections if pr.target == name]

    def source_shape(self, name: str) -> Tuple[int, int]:
        if name == self.input.name:
            return self.input.shape
        return self.population(name).shape

    def arrival_step(self, name: str) -> int:
        """Latest pipeline delay (steps) from the input to population `name`."""
        if name == self.input.name:
            return 0
        return max((self.arrival_step(pr.source) + pr.delay for pr in self.incoming(name)), default=0)

    @property
    def aggregation(self) -> str:
        """What the graph projections' weights are: a key of AGGREGATIONS."""
        return str(self.metadata.get("aggregation", "gcn_adjacency"))

    @property
    def num_steps(self) -> int:
        """Steps to run so the last input step reaches the readout."""
        return self.input.num_steps + self.arrival_step(self.readout.population)


# ---- validation ------------------------------------------------------------------------
def _fits_signed(values: np.ndarray, bits: int) -> bool:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return values.size == 0 or (values.min() >= lo and values.max() <= hi)


def head_matrices(weight) -> list:
    """A graph weight's matrices: [A] for one CSR, the list itself for per-head matrices."""
    return weight if isinstance(weight, list) else [weight]


def head_slices(num_features: int, heads: int) -> List[slice]:
    """The features of each attention head: `heads` equal, consecutive slices (GAT's concatenation)."""
    width = num_features // heads
    return [slice(k * width, (k + 1) * width) for k in range(heads)]


def graph_heads(pr: Projection, num_features: int) -> List[Tuple[slice, sp.csr_matrix]]:
    """A graph projection's aggregation as (feature slice, A) pairs, one per attention head: a
    single CSR weight is one head over all features, a list of K splits them into K equal slices."""
    weights = head_matrices(pr.weight)
    return list(zip(head_slices(num_features, len(weights)), weights))


def map_heads(weight, fn):
    """Apply `fn` to a graph weight's matrix, or to each head's (keeping the list)."""
    return [fn(w) for w in weight] if isinstance(weight, list) else fn(weight)


def weight_values(pr: Projection) -> np.ndarray:
    if pr.kind == "graph":
        return np.concatenate([w.data for w in head_matrices(pr.weight)] or [np.zeros(0)])
    return np.asarray(pr.weight)


def weight_mantissa_range(pr: Projection) -> Tuple[int, int]:
    """Loihi's 8-bit weight: [-128, 127] for mixed signs, [0, 255] / [-255, 0] for one sign."""
    w = weight_values(pr)
    if w.size and w.min() >= 0:
        return 0, 255
    if w.size and w.max() <= 0:
        return -255, 0
    return -128, 127


def validate(net: Network) -> Network:
    """Check structure (names, shapes, order) and, in the fixed domain, every bit width.

    Raises :class:`IRError` naming the offending part and what to do about it.
    Returns the network so passes can be chained.
    """
    if net.domain not in DOMAINS:
        raise IRError(f"network domain {net.domain!r} is not one of {DOMAINS}")
    spikes = net.input.spikes
    if spikes.ndim != 3 or spikes.dtype != np.bool_:
        raise IRError(f"input {net.input.name!r}: spikes must be a bool array (T, nodes, features), "
                      f"got dtype {spikes.dtype} shape {spikes.shape}")
    names = [net.input.name] + [p.name for p in net.populations]
    if len(set(names)) != len(names):
        raise IRError(f"population names must be unique, got {names}")
    seen = {net.input.name}
    for pop in net.populations:  # populations are listed in topological order
        _validate_population(net, pop)
        incoming = net.incoming(pop.name)
        if not incoming:
            raise IRError(f"population {pop.name!r} has no incoming projection")
        for pr in incoming:
            if pr.source not in seen:
                raise IRError(f"projection {pr.name!r}: source {pr.source!r} must be listed before "
                              f"target {pop.name!r} (the IR is feed-forward, in topological order)")
        seen.add(pop.name)
    for pr in net.projections:
        _validate_projection(net, pr)
    if net.readout.population not in names[1:]:
        raise IRError(f"readout population {net.readout.population!r} does not exist")
    if net.readout.kind != "membrane":
        raise IRError(f"readout kind {net.readout.kind!r} is not supported; the readout is the final membrane "
                      f"potential ('membrane')")
    if net.aggregation not in AGGREGATIONS:
        raise IRError(f"metadata aggregation {net.aggregation!r} is not one of {sorted(AGGREGATIONS)}")
    parts = set(names) | {pr.name for pr in net.projections}
    for stage in net.host:
        if stage.when not in HOST_WHEN:
            raise IRError(f"host stage {stage.name!r}: when={stage.when!r} is not one of {HOST_WHEN}")
        unknown = [f for f in stage.feeds if f not in parts]
        if unknown:
            raise IRError(f"host stage {stage.name!r} feeds {unknown}, which are not parts of the network")
        if any(int(v) < 0 for v in stage.ops.values()):
            raise IRError(f"host stage {stage.name!r}: operation counts must be >= 0, got {stage.ops}")
    if net.task is not None:
        n = net.population(net.readout.population).shape[0]
        if net.task.labels.shape != (n,):
            raise IRError(f"task labels have shape {net.task.labels.shape}, expected ({n},) for the readout's nodes")
    return net


def _validate_population(net: Network, pop: Population) -> None:
    where = f"population {pop.name!r} ({pop.kind})"
    if pop.kind not in POPULATION_KINDS:
        raise IRError(f"{where}: unsupported kind; supported kinds are {POPULATION_KINDS}")
    if len(pop.shape) != 2 or min(pop.shape) < 1:
        raise IRError(f"{where}: shape must be (nodes, features) with both >= 1, got {pop.shape}")
    if pop.bias is not None and np.shape(pop.bias) != tuple(pop.shape):
        raise IRError(f"{where}: bias has shape {np.shape(pop.bias)}, expected {tuple(pop.shape)}")
    if pop.spiking and pop.threshold is None:
        raise IRError(f"{where}: a spiking population needs a threshold")
    if net.domain == "float":
        for scale, n in ((pop.node_scale, pop.shape[0]), (pop.feature_scale, pop.shape[1])):
            if scale is not None and np.shape(scale) != (n,):
                raise IRError(f"{where}: input scale has shape {np.shape(scale)}, expected ({n},)")
        return
    # fixed domain
    if pop.node_scale is not None or pop.feature_scale is not None:
        raise IRError(f"{where}: per-neuron input scales must be folded before quantization (run fold_scales)")
    if pop.kind == "relay":
        if not 1 < pop.payload_bits <= MAX_PAYLOAD_BITS:
            raise IRError(f"{where}: payload_bits={pop.payload_bits} outside 2..{MAX_PAYLOAD_BITS}")
        return
    if pop.spiking:
        vth = int(pop.threshold)
        if not 0 <= vth < (1 << VTH_BITS) or vth != pop.threshold:
            raise IRError(f"{where}: threshold {pop.threshold} does not fit Lava's unsigned {VTH_BITS}-bit vth "
                          f"(0..{(1 << VTH_BITS) - 1}); lower the activation scale in quantization")
    if not (float(pop.leak).is_integer() and 0 <= pop.leak < (1 << DECAY_BITS)):
        raise IRError(f"{where}: leak (dv) must be an integer in 0..{(1 << DECAY_BITS) - 1}, got {pop.leak}")
    if pop.bias is not None:
        if not np.issubdtype(np.asarray(pop.bias).dtype, np.integer):
            raise IRError(f"{where}: fixed-point bias mantissa must be integers")
        if not _fits_signed(np.asarray(pop.bias), BIAS_MANT_BITS):
            raise IRError(f"{where}: bias mantissa range [{pop.bias.min()}, {pop.bias.max()}] does not fit "
                          f"{BIAS_MANT_BITS}-bit signed; raise bias_exp or lower the activation scale")
    if not BIAS_EXP_RANGE[0] <= pop.bias_exp <= BIAS_EXP_RANGE[1]:
        raise IRError(f"{where}: bias_exp {pop.bias_exp} outside {BIAS_EXP_RANGE}")


def _validate_projection(net: Network, pr: Projection) -> None:
    where = f"projection {pr.name!r} ({pr.kind}, {pr.source} -> {pr.target})"
    if pr.kind not in PROJECTION_KINDS:
        raise IRError(f"{where}: unsupported kind; supported kinds are {PROJECTION_KINDS}")
    if pr.delay < 1:
        raise IRError(f"{where}: delay must be >= 1 step (Lava's synapses deliver one step later), got {pr.delay}")
    names = [net.input.name] + [p.name for p in net.populations]
    for end in (pr.source, pr.target):
        if end not in names:
            raise IRError(f"{where}: {end!r} is neither the input nor a population")
    (n_src, f_src), (n_tgt, f_tgt) = net.source_shape(pr.source), net.population(pr.target).shape
    if pr.kind == "dense":
        if sp.issparse(pr.weight) or np.shape(pr.weight) != (f_src, f_tgt) or n_src != n_tgt:
            raise IRError(f"{where}: dense weight must have shape (source features, target features) = "
                          f"({f_src}, {f_tgt}) on the same nodes ({n_src} vs {n_tgt}); got {np.shape(pr.weight)}")
    else:
        heads = head_matrices(pr.weight)
        if not heads or f_src % len(heads):
            raise IRError(f"{where}: {len(heads)} attention heads cannot split {f_src} features into equal "
                          f"slices; give one CSR matrix per head, with heads dividing the features")
        for w in heads:
            if not sp.isspmatrix_csr(w) or w.shape != (n_tgt, n_src) or f_src != f_tgt:
                raise IRError(f"{where}: graph weight must be a CSR matrix (target nodes, source nodes) = "
                              f"({n_tgt}, {n_src}) over the same features ({f_src} vs {f_tgt}), or a list "
                              f"of them (one per head); got {type(w).__name__} {np.shape(w)}")
    if net.domain == "fixed":
        w = weight_values(pr)
        if not np.issubdtype(w.dtype, np.integer):
            raise IRError(f"{where}: fixed-point weights must be integer mantissas, got {w.dtype}")
        lo, hi = weight_mantissa_range(pr)
        if w.size and (w.min() < lo or w.max() > hi):
            raise IRError(f"{where}: weight mantissas span [{w.min()}, {w.max()}], which does not fit Loihi's "
                          f"8-bit synapse format [{lo}, {hi}]; re-quantize with quantize_network")
        if not WEIGHT_EXP_RANGE[0] <= pr.exponent <= WEIGHT_EXP_RANGE[1]:
            raise IRError(f"{where}: weight exponent {pr.exponent} outside {WEIGHT_EXP_RANGE}")
