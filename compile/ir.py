"""The network IR: the one contract between training, compilation and simulation.

A :class:`Network` is the program alone: populations of compartments (one per
node and feature), projections between them with explicit delays, a readout and
the host stages it relies on. It holds no graph, no input and no labels: those
come with each :class:`~neurograph.compile.samples.Sample` at run time, and
:func:`neurograph.compile.graphs.bind` turns a sample's graph into the synaptic
weights of the graph projections. So one compiled network runs on any graph.

Two *domains*:

``float``  what the trained model computes, in its own units (weights, thresholds,
           biases as floats; optional per-feature input scales from normalization).
``fixed``  what a Loihi-style chip stores: integer weight mantissas with a
           per-projection exponent, neuron parameters in their bit widths, graded
           payload widths, and per graph projection the integer scale its edge
           coefficients are quantized with.

Semantics (the reference executor and both Lava lowerings implement exactly this;
steps are numbered 1.. as in Lava). Every sample is a *window* of
``window_steps`` = T input steps + the pipeline's flush; windows of a sequence run
back to back with state reset or carried (the caller chooses):

* input: the sample's spike raster at window step k <= T, silence after; with a *clock*
  (graded input) one more channel sends the value 1 on those steps, so that projections
  from it carry biases with the sample, and a population flagged ``clock`` relays it in its
  last feature to the next layer (a pipelined chip then has no bias driving its neurons
  between samples).
* projection with delay d from P adds, at step t, the transform of P's output at t-d:
    - ``dense``: one weight matrix shared by all nodes, out[n, o] = sum_i x[n, i] W[i, o]
    - ``graph``: aggregation over the sample's edges, out[v, k] = sum_u A[v, u] x[u, k],
      A made from the edges by the projection's rule (GCN normalization, mean, or
      coefficients a host stage computes per graph, e.g. attention); with K heads the
      features split into K equal slices, each with its own A (:func:`head_slices`).
  In the fixed domain the integer sum is shifted by the projection's exponent (<< e, or
  floor >> -e), as Lava's Dense/Sparse apply weight_exp to the accumulated sum. An output
  is aggregated over the graph of the window in which it was sent: at the first step of
  window w+1, the last outputs of window w arrive over window w's graph (the synapse
  computes on arrival, as Lava's Sparse does).
* populations step their kind's dynamics on the summed input (:mod:`neurograph.compile.kinds`);
  every delay is >= 1, so steps are well defined on any topology, feedback included.

What the chip cannot do, :func:`validate` and :func:`check_ranges` refuse: parameters
outside their bit widths, and any sum or payload whose worst case overflows Lava's
int32 accumulators or a relay's declared payload width (so no executor ever wraps or
clips where another would not).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from neurograph.compile.fixed_point import ACCUMULATOR_BITS, stored_weight_factor
from neurograph.compile.inputs import CODINGS, input_bound
from neurograph.compile.kinds import get_kind, kind_names

IR_FORMAT = "neurograph.network"
IR_VERSION = 5                    # 2: host stages; 3: attention heads; 4: the network apart from graph and input;
                                 # 5: clock channels

PROJECTION_KINDS = ("dense", "graph")
DOMAINS = ("float", "fixed")
HOST_WHEN = ("per_inference", "per_graph", "once")
# what a host stage's ops are counted per: the sample's nodes, edges, nonzero input features x input
# steps, graphs (a sample may be a disjoint union), or "sample" (the ops come with each sample, counted
# by the stage that made it)
HOST_UNITS = ("once", "node", "edge", "nonzero_input_step", "graph", "sample")

# Loihi / Lava limits of synapses (../shared/notes/lava-fixed-point.md, section 2)
WEIGHT_EXP_RANGE = (-8, 7)        # per-projection weight exponent
MIXED_SIGN_MIN_EXP = WEIGHT_EXP_RANGE[0] + 1   # mixed signs are stored as 2m with exponent e-1


class IRError(ValueError):
    """A network that breaks the IR's rules; the message names the part and the fix."""


@dataclass
class Input:
    """The network's input port: per node, `features` spike channels for T = `num_steps` steps.

    A sample brings its features (encoded here with `coding` and `seed`, a host stage)
    or a ready spike raster."""
    name: str
    features: int                # with the clock, if any
    num_steps: int
    coding: str = "bernoulli"
    seed: int = 0
    # graded coding only: the last channel is a clock the source adds, the value 1 on every input
    # step; projections read it to carry biases with the sample (HVS-GNN), not as a constant bias
    clock: bool = False

    @property
    def sample_features(self) -> int:
        """Features a sample brings (the clock is the source's own)."""
        return self.features - int(self.clock)


@dataclass
class Population:
    """`features` compartments per node of the sample's graph, all of one neuron kind."""
    name: str
    kind: str
    features: int
    threshold: Optional[float] = None      # float: V > threshold; fixed: v > vth << 6
    leak: float = 0.0                      # float: fraction of V lost per step; fixed: dv (0..4095)
    bias: Optional[np.ndarray] = None      # per feature, shape (features,); fixed: bias mantissa
    bias_exp: int = 0                      # fixed only
    payload_bits: int = 0                  # graded kinds: signed payload width
    # float domain only: a = input_scale[k] * a_in (a folded normalization); removed by the fold pass
    input_scale: Optional[np.ndarray] = None
    # float domain: ranges seen on calibration data, used to choose fixed-point scales
    calibration: Dict[str, float] = field(default_factory=dict)
    # the last feature is the clock channel (relayed to the next layer as the gate of its biases; zero in a
    # chain that does not carry it), not a model feature: it runs and is counted like the others, but the
    # equivalent ANN has no such feature
    clock: bool = False

    @property
    def neuron(self):
        """This population's :class:`~neurograph.compile.kinds.NeuronKind`."""
        return get_kind(self.kind)


@dataclass
class Projection:
    """Synapses from `source` (a population or the input) to `target`.

    dense: `weight` (F_in, F_out). graph: no weights here -- `rule` makes them from each
    sample's edges (see :mod:`neurograph.compile.graphs`); `heads` splits the features;
    in the fixed domain an edge coefficient c becomes the mantissa round(c * coefficient_scale).
    """
    name: str
    kind: str
    source: str
    target: str
    weight: Optional[np.ndarray] = None
    rule: str = ""
    heads: int = 1
    coefficient_scale: float = 1.0
    exponent: int = 0              # fixed only: shift applied to each step's summed input
    delay: int = 1                 # steps from a source event to its effect on the target
    # computed by the host once per sample instead of by synapses every step: only the input's first
    # feature transform and aggregation, for an input that is the same at every step (see compile/current.py)
    on_host: bool = False


POOLS = ("none", "mean")


@dataclass
class Readout:
    """Which population is read out: its membrane potential at the end of every window.

    Graph-level tasks add what the host does with it: ``pool`` "mean" averages it over each
    graph's nodes, and a linear ``head`` (weight (features, outputs), bias (outputs,)) maps the
    pooled vector to the prediction. The head reads the membrane in the network's own units, so
    quantization rescales its weights by the readout's activation scale."""
    population: str
    pool: str = "none"
    head_weight: Optional[np.ndarray] = None
    head_bias: Optional[np.ndarray] = None


@dataclass
class HostStage:
    """Work the deployed network needs from the host computer beside the chip."""
    name: str
    when: str                      # per_inference (every sample), per_graph (every new graph), once (compile)
    feeds: List[str]               # the IR parts it produces or consumes (input, projections, readout)
    ops: Dict[str, int]            # counted operations by kind (fp32_add, fp32_mac, ...) per `per`
    what: str = ""                 # one line for people
    per: str = "once"              # one of HOST_UNITS


@dataclass
class Network:
    domain: str
    input: Input
    populations: List[Population]
    projections: List[Projection]
    readout: Readout
    host: List[HostStage] = field(default_factory=list)
    # how this network was made (run configuration, quantization choices, provenance)
    metadata: Dict[str, object] = field(default_factory=dict)

    # ---- lookups -------------------------------------------------------------------
    def population(self, name: str) -> Population:
        for p in self.populations:
            if p.name == name:
                return p
        raise IRError(f"no population named {name!r}; populations: {[p.name for p in self.populations]}")

    def projection(self, name: str) -> Projection:
        for p in self.projections:
            if p.name == name:
                return p
        raise IRError(f"no projection named {name!r}")

    def incoming(self, name: str) -> List[Projection]:
        return [pr for pr in self.projections if pr.target == name]

    def features(self, name: str) -> int:
        """Features per node of the input or a population."""
        return self.input.features if name == self.input.name else self.population(name).features

    def model_features(self, name: str) -> int:
        """Features per node the trained model has there: :meth:`features` less a clock channel."""
        if name == self.input.name:
            return self.input.sample_features
        pop = self.population(name)
        return pop.features - int(pop.clock)

    def order(self, name: str) -> int:
        """Position in the listing: the input is 0, populations 1.. in the order given."""
        if name == self.input.name:
            return 0
        return 1 + [p.name for p in self.populations].index(name)

    def sends_graded(self, name: str) -> bool:
        """Whether the input or population `name` sends graded payloads (not binary spikes)."""
        if name == self.input.name:
            return self.input.coding == "graded"
        return self.population(name).neuron.graded

    def is_feedback(self, pr: Projection) -> bool:
        """A projection from a population listed at or after its target: a recurrent connection."""
        return self.order(pr.source) >= self.order(pr.target)

    def arrival_step(self, name: str) -> int:
        """Longest feed-forward delay (steps) from the input to `name` (feedback projections excluded)."""
        if name == self.input.name:
            return 0
        forward = [pr for pr in self.incoming(name) if not self.is_feedback(pr)]
        return max((self.arrival_step(pr.source) + pr.delay for pr in forward), default=0)

    @property
    def window_steps(self) -> int:
        """Steps per sample: T input steps plus the flush until the last input step reaches the readout."""
        return self.input.num_steps + self.arrival_step(self.readout.population)

    @property
    def graph_projections(self) -> List[Projection]:
        return [pr for pr in self.projections if pr.kind == "graph"]


def host_work(net: Network, sample) -> Dict[str, dict]:
    """Each host stage's counted operations for one sample: {stage: {"when", "ops", "what"}}.
    Per-edge stages count the sample's distinct edges (self loops aside) plus one self loop per node."""
    from neurograph.compile.graphs import simple_edges
    src, dst = simple_edges(np.asarray(sample.edge_index))         # what the rules normalize: a simple graph
    units = {"once": 1, "node": sample.num_nodes, "edge": int(np.count_nonzero(src != dst)) + sample.num_nodes,
             "nonzero_input_step": (0 if sample.features is None
                                    else int(np.count_nonzero(sample.features)) * net.input.num_steps),
             "graph": sample.num_graphs}
    work = {}
    for stage in net.host:
        if stage.per == "sample":
            ops = dict(sample.host_ops.get(stage.name, {}))
        else:
            ops = {k: int(v) * units[stage.per] for k, v in stage.ops.items()}
        work[stage.name] = {"when": stage.when, "ops": ops, "what": stage.what}
    return work


# ---- helpers over heads ------------------------------------------------------------------
def head_slices(num_features: int, heads: int) -> List[slice]:
    """The features of each attention head: `heads` equal, consecutive slices (GAT's concatenation)."""
    width = num_features // heads
    return [slice(k * width, (k + 1) * width) for k in range(heads)]


def weight_mantissa_range(values: np.ndarray) -> Tuple[int, int]:
    """Loihi's 8-bit weight: [-128, 127] for mixed signs, [0, 255] / [-255, 0] for one sign."""
    if values.size and values.min() >= 0:
        return 0, 255
    if values.size and values.max() <= 0:
        return -255, 0
    return -128, 127


# ---- validation ------------------------------------------------------------------------
def validate(net: Network) -> Network:
    """Check structure (names, kinds, shapes) and, in the fixed domain, every bit width.

    Graph-dependent bounds are checked when a graph is bound (:func:`check_ranges`);
    a network without graph projections is checked completely here.
    Raises :class:`IRError` naming the offending part and what to do about it.
    """
    if net.domain not in DOMAINS:
        raise IRError(f"network domain {net.domain!r} is not one of {DOMAINS}")
    inp = net.input
    for what, value in (("features", inp.features), ("num_steps", inp.num_steps), ("seed", inp.seed)):
        if not _is_int(value):
            raise IRError(f"input {inp.name!r}: {what} must be an integer, got {value!r}")
    if inp.coding not in CODINGS:
        raise IRError(f"input {inp.name!r}: unknown coding {inp.coding!r}; choose one of {CODINGS}")
    if inp.features < 1 or inp.num_steps < 1:
        raise IRError(f"input {inp.name!r}: needs >= 1 feature and >= 1 step, got {inp.features} and {inp.num_steps}")
    if not isinstance(inp.clock, bool) or (inp.clock and (inp.coding != "graded" or inp.features < 2)):
        raise IRError(f"input {inp.name!r}: a clock channel needs graded coding and >= 1 sample feature besides it, "
                      f"got clock={inp.clock!r}, coding {inp.coding!r}, {inp.features} features")
    names = [inp.name] + [p.name for p in net.populations]
    if len(set(names)) != len(names):
        raise IRError(f"population names must be unique, got {names}")
    if len({pr.name for pr in net.projections}) != len(net.projections):
        raise IRError("projection names must be unique")
    for pop in net.populations:
        where = f"population {pop.name!r} ({pop.kind})"
        for what in ("features", "bias_exp", "payload_bits"):
            if not _is_int(getattr(pop, what)):
                raise IRError(f"{where}: {what} must be an integer, got {getattr(pop, what)!r}")
        for what in ("threshold", "leak"):
            value = getattr(pop, what)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, np.number))):
                raise IRError(f"{where}: {what} must be a number, got {value!r}")
        if pop.kind not in kind_names():
            raise IRError(f"{where}: unknown kind; registered kinds are {kind_names()}")
        if pop.features < 1:
            raise IRError(f"{where}: needs >= 1 feature, got {pop.features}")
        if not isinstance(pop.clock, bool) or (pop.clock and (pop.features < 2 or not net.input.clock)):
            raise IRError(f"{where}: a clock channel needs >= 2 features and an input with a clock, got "
                          f"clock={pop.clock!r} with {pop.features} features and input clock={net.input.clock}")
        if net.domain == "fixed" and pop.input_scale is not None:
            raise IRError(f"{where}: input scales must be folded before quantization (run fold_scales)")
        if pop.input_scale is not None and np.shape(pop.input_scale) != (pop.features,):
            raise IRError(f"{where}: input scale has shape {np.shape(pop.input_scale)}, expected ({pop.features},)")
        pop.neuron.check(pop, net.domain, where)
    for pr in net.projections:
        _validate_projection(net, pr)
    for pop in net.populations:
        if not [pr for pr in net.incoming(pop.name) if not net.is_feedback(pr)]:
            raise IRError(f"population {pop.name!r} ({pop.kind}): no feed-forward incoming projection (list "
                          f"populations so that each is fed by the input or an earlier population)")
    if net.readout.population not in names[1:]:
        raise IRError(f"readout population {net.readout.population!r} does not exist")
    readout = net.population(net.readout.population)
    if not readout.neuron.readout:
        raise IRError(f"readout population {readout.name!r} is of kind {readout.kind!r}, which has no membrane "
                      f"readout; read out a non-spiking integrator fed by it instead")
    _validate_readout_head(net.readout, readout.features)
    parts = set(names) | {pr.name for pr in net.projections}
    for stage in net.host:
        if stage.when not in HOST_WHEN:
            raise IRError(f"host stage {stage.name!r}: when={stage.when!r} is not one of {HOST_WHEN}")
        unknown = [f for f in stage.feeds if f not in parts]
        if unknown:
            raise IRError(f"host stage {stage.name!r} feeds {unknown}, which are not parts of the network")
        if stage.per not in HOST_UNITS:
            raise IRError(f"host stage {stage.name!r}: per={stage.per!r} is not one of {HOST_UNITS}")
        if any(not isinstance(v, (int, np.integer)) or int(v) < 0 for v in stage.ops.values()):
            raise IRError(f"host stage {stage.name!r}: operation counts must be integers >= 0, got {stage.ops}")
    if any(pr.on_host for pr in net.projections):
        host_chain(net)                   # raises unless the host part is the input's first graph convolution
    if net.domain == "fixed" and not net.graph_projections:
        check_ranges(net, lambda pr: [])
    return net


def host_chain(net: Network):
    """The projections the host computes instead of the chip: (dense, relay, graph), the input's first
    graph convolution, or None. Any other use of `on_host` is an IRError."""
    marked = [pr for pr in net.projections if pr.on_host]
    if not marked:
        return None
    dense = [pr for pr in marked if pr.kind == "dense" and pr.source == net.input.name]
    if len(marked) == 2 and len(dense) == 1:
        relay = next((p for p in net.populations if p.name == dense[0].target), None)
        graph = [pr for pr in marked if pr.kind == "graph" and pr.source == dense[0].target]
        if relay is not None and relay.neuron.forwards_input and graph and \
                net.incoming(relay.name) == dense and [pr for pr in net.projections if pr.source == relay.name] == graph:
            return dense[0], relay, graph[0]
    raise IRError(f"projections {[pr.name for pr in marked]} are marked on_host, but only the input's first "
                  f"graph convolution (input -> dense -> relay -> graph) can run on the host as a current")


def _validate_readout_head(readout: Readout, features: int) -> None:
    where = f"readout {readout.population!r}"
    if readout.pool not in POOLS:
        raise IRError(f"{where}: pool={readout.pool!r} is not one of {POOLS}")
    if (readout.head_weight is None) != (readout.head_bias is None):
        raise IRError(f"{where}: a head needs both its weight and its bias")
    if readout.head_weight is None:
        return
    w, b = np.asarray(readout.head_weight), np.asarray(readout.head_bias)
    if w.ndim != 2 or w.shape[0] != features or b.shape != (w.shape[1],):
        raise IRError(f"{where}: head weight must be ({features}, outputs) and bias (outputs,), got {w.shape} and "
                      f"{b.shape}")
    if not (np.all(np.isfinite(w.astype(np.float64))) and np.all(np.isfinite(b.astype(np.float64)))):
        raise IRError(f"{where}: head has non-finite values")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _validate_projection(net: Network, pr: Projection) -> None:
    from neurograph.compile.graphs import RULES
    where = f"projection {pr.name!r} ({pr.kind}, {pr.source} -> {pr.target})"
    if pr.kind not in PROJECTION_KINDS:
        raise IRError(f"{where}: unsupported kind; supported kinds are {PROJECTION_KINDS}")
    if not _is_int(pr.exponent) or not _is_int(pr.heads):
        raise IRError(f"{where}: exponent and heads must be integers, got {pr.exponent!r} and {pr.heads!r}")
    if not _is_int(pr.delay) or pr.delay != 1:
        raise IRError(f"{where}: delay must be 1 step (Lava's Dense/Sparse deliver one step later; longer "
                      f"delays are not lowered), got {pr.delay}")
    names = [net.input.name] + [p.name for p in net.populations]
    if pr.source not in names or pr.target not in names[1:]:
        raise IRError(f"{where}: source must be the input or a population and target a population")
    if pr.source != net.input.name and net.population(pr.source).neuron.output == "none":
        raise IRError(f"{where}: {pr.source!r} ({net.population(pr.source).kind}) sends nothing; it cannot be a source")
    if net.is_feedback(pr) and pr.source != net.input.name and not net.population(pr.source).neuron.spiking:
        raise IRError(f"{where}: {pr.source!r} is listed at or after its target, which makes this a feedback "
                      f"projection, and feedback must come from a spiking population (a cycle through graded "
                      f"payloads has no bounded width); list populations so each is fed by earlier ones")
    f_src, f_tgt = net.features(pr.source), net.population(pr.target).features
    if pr.kind == "dense":
        w = np.asarray(pr.weight) if pr.weight is not None else None
        if w is None or w.ndim != 2 or w.shape != (f_src, f_tgt):
            raise IRError(f"{where}: dense weight must have shape (source features, target features) = "
                          f"({f_src}, {f_tgt}); got {None if w is None else w.shape}")
        if not np.all(np.isfinite(w.astype(np.float64))):
            raise IRError(f"{where}: weights have non-finite values")
        if net.domain == "fixed":
            _validate_mantissas(where, w, pr.exponent)
    else:
        if pr.rule not in RULES:
            raise IRError(f"{where}: unknown aggregation rule {pr.rule!r}; known rules: {sorted(RULES)}")
        if pr.weight is not None:
            raise IRError(f"{where}: a graph projection holds no weights; they come from each sample's graph")
        if f_src != f_tgt:
            raise IRError(f"{where}: a graph projection keeps the features ({f_src} vs {f_tgt})")
        if not isinstance(pr.heads, (int, np.integer)) or pr.heads < 1 or f_src % pr.heads:
            raise IRError(f"{where}: {pr.heads} attention heads cannot split {f_src} features into equal slices")
        if net.domain == "fixed":
            scale = pr.coefficient_scale
            if not (np.isfinite(scale) and 0 < scale * RULES[pr.rule].bound <= 255):
                raise IRError(f"{where}: coefficient scale {scale} maps the rule's bound {RULES[pr.rule].bound} "
                              f"outside the 8-bit mantissa range (0, 255]; re-quantize")
            if not WEIGHT_EXP_RANGE[0] <= pr.exponent <= WEIGHT_EXP_RANGE[1]:
                raise IRError(f"{where}: weight exponent {pr.exponent} outside {WEIGHT_EXP_RANGE}")


def _validate_mantissas(where: str, w: np.ndarray, exponent: int) -> None:
    if not np.issubdtype(w.dtype, np.integer):
        raise IRError(f"{where}: fixed-point weights must be integer mantissas, got {w.dtype}")
    lo, hi = weight_mantissa_range(w)
    if w.size and (w.min() < lo or w.max() > hi):
        raise IRError(f"{where}: weight mantissas span [{w.min()}, {w.max()}], which does not fit Loihi's "
                      f"8-bit synapse format [{lo}, {hi}]; re-quantize with quantize_network")
    if not WEIGHT_EXP_RANGE[0] <= exponent <= WEIGHT_EXP_RANGE[1]:
        raise IRError(f"{where}: weight exponent {exponent} outside {WEIGHT_EXP_RANGE}")
    if stored_weight_factor(w) == 2 and exponent < MIXED_SIGN_MIN_EXP:
        raise IRError(f"{where}: mixed-sign weights need exponent >= {MIXED_SIGN_MIN_EXP} (Lava stores them as "
                      f"2m with exponent e-1, and {exponent - 1} is outside {WEIGHT_EXP_RANGE}); re-quantize")


# ---- worst-case ranges (fixed domain) -------------------------------------------------------
def _shifted_bound(bound: int, exponent: int) -> int:
    return bound << exponent if exponent >= 0 else -((-bound) >> -exponent)   # ceil for floor shifts


def check_ranges(net: Network, graph_mantissas: Callable[[Projection], list]) -> Dict[str, int]:
    """Prove that no sum or payload of `net` can wrap or clip, given the bound graphs.

    `graph_mantissas(pr)` returns a graph projection's per-head integer CSR matrices.
    Worst cases: binary sources send 1, a graded input at most its payload bound, a graded kind at most its
    ``output_bound`` (a relay: its summed input). For each
    projection the accumulated sum (with Lava's stored 2m for mixed signs) and the shifted
    sum must fit int32; each population's total input must fit int32 (InPorts add in
    int32); each relay's worst input must fit its payload_bits. Returns the worst |output|
    per population; raises IRError naming the part and the fix otherwise.
    """
    if net.domain != "fixed":
        raise IRError("check_ranges works on the fixed-point network")
    limit = (1 << (ACCUMULATOR_BITS - 1)) - 1
    bound = {net.input.name: input_bound(net.input.coding)}
    for pop in net.populations:           # feedback sources are spiking (validated): bound 1
        if pop.neuron.spiking:
            bound[pop.name] = 1
    for pop in net.populations:
        total = 0
        for pr in net.incoming(pop.name):
            where = f"projection {pr.name!r} ({pr.source} -> {pr.target})"
            if pr.source not in bound:
                raise IRError(f"{where}: its graded source is listed after its target; list relays before readers")
            if pr.kind == "dense":
                w = np.asarray(pr.weight, dtype=np.int64)
                per_target = int(np.abs(w).sum(axis=0).max(initial=0))
                factor = stored_weight_factor(w)
            else:
                heads = graph_mantissas(pr)
                per_target = max((int(np.asarray(abs(m).sum(axis=1)).max(initial=0)) for m in heads), default=0)
                factor = max((stored_weight_factor(m) for m in heads), default=1)
            accumulated = per_target * bound[pr.source]
            if accumulated * factor > limit:
                raise IRError(f"{where}: worst-case accumulated input {accumulated * factor:,} overflows Lava's "
                              f"{ACCUMULATOR_BITS}-bit synaptic accumulator; lower the weights' scale or the "
                              f"source's payload width")
            shifted = _shifted_bound(accumulated, pr.exponent)
            if shifted > limit:
                raise IRError(f"{where}: worst-case input after the exponent shift ({shifted:,}) overflows "
                              f"{ACCUMULATOR_BITS} bits; lower the exponent")
            total += shifted
        if total > limit:
            raise IRError(f"population {pop.name!r}: worst-case summed input {total:,} of its projections overflows "
                          f"the {ACCUMULATOR_BITS}-bit input port")
        if pop.neuron.graded:
            payload = pop.neuron.output_bound(pop, total)      # a relay: its summed input
            top = (1 << (pop.payload_bits - 1)) - 1
            if payload > top:
                raise IRError(f"population {pop.name!r} ({pop.kind}): worst-case payload {payload:,} does not fit "
                              f"its {pop.payload_bits}-bit payload; re-quantize (quantize sets the width from the "
                              f"worst case) or lower the incoming weights")
            bound[pop.name] = payload
    return bound
