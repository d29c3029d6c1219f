"""Count the events of a run: spikes, graded payloads, synaptic ops, neuron updates.

Counts are taken step by step while the reference executor replays a run with the
spiking populations' outputs given (Lava's, or the reference's own), so they count
the spikes a run actually produced; relay payloads follow from those spikes with
the IR's integer semantics. Memory is one step's worth, whatever T.

Definitions (per step, over the whole run):

* event: a binary spike, or a nonzero graded payload sent by a relay.
* synaptic op: one event delivered over one synapse of the *expanded* network.
  A dense (feature-transform) projection fans an event of feature i out to the
  nonzero weights in row i of W; a graph projection fans an event of node u out
  to the nonzero entries of column u of A (its out-edges, self loop included) --
  with attention heads, of the A of the head its feature belongs to.
* neuron update: every compartment is updated every step. It is *active* when
  it received a nonzero synaptic input (after the projection's shift) or has a
  nonzero bias, else *inactive*.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, List

import numpy as np

from neurograph.compile.graphs import Binding
from neurograph.compile.ir import Network, host_chain


@dataclass
class ProjectionCounts:
    name: str
    kind: str
    source: str
    target: str
    graded: bool                    # events carry a payload (multiply-accumulate) or not (accumulate)
    synapses: int                   # in the expanded network (of the last graph bound)
    events: int = 0
    synaptic_ops: int = 0
    synaptic_ops_per_step: List[int] = field(default_factory=list)
    on_host: bool = False           # computed by the host once per sample (input as current): not chip work


@dataclass
class PopulationCounts:
    name: str
    kind: str
    neurons: int
    events: int = 0                 # spikes, or nonzero payloads for graded kinds
    events_per_step: List[int] = field(default_factory=list)
    active_updates: int = 0
    inactive_updates: int = 0
    on_host: bool = False           # the relay of a host-computed input current: not on the chip

    @property
    def firing_rate(self) -> float:
        """Events per neuron per step (every update is one neuron-step)."""
        neuron_steps = self.active_updates + self.inactive_updates
        return self.events / neuron_steps if neuron_steps else 0.0


@dataclass
class RunCounts:
    steps: int
    input_spikes: int                # spikes entering the chip from the host-side source
    projections: List[ProjectionCounts]
    populations: List[PopulationCounts]
    # the host's share of an input computed as a current: feature-transform adds and aggregation MACs,
    # once per sample
    host_ops: Dict[str, int] = field(default_factory=dict)

    @property
    def chip_projections(self) -> List[ProjectionCounts]:
        return [p for p in self.projections if not p.on_host]

    @property
    def chip_populations(self) -> List[PopulationCounts]:
        return [p for p in self.populations if not p.on_host]

    def to_dict(self) -> dict:
        return {"steps": self.steps, "input_spikes": self.input_spikes, "host_ops": dict(self.host_ops),
                "projections": [asdict(p) for p in self.projections],
                "populations": [{**asdict(p), "firing_rate": p.firing_rate} for p in self.populations]}


class EventCounter:
    """An observer for :func:`neurograph.sim.reference.run_reference` that counts every event."""

    def __init__(self, net: Network, num_nodes: int):
        self.net, self.n = net, num_nodes
        self.counts = RunCounts(0, 0, [], [])
        chain = host_chain(net)
        host_relay = chain[1].name if chain else None
        for pr in net.projections:
            self.counts.projections.append(ProjectionCounts(pr.name, pr.kind, pr.source, pr.target,
                                                            net.sends_graded(pr.source), 0,
                                                            on_host=pr.on_host))
        for pop in net.populations:
            self.counts.populations.append(PopulationCounts(pop.name, pop.kind, num_nodes * pop.features,
                                                            on_host=pop.name == host_relay))
        self._input_on_chip = any(pr.source == net.input.name and not pr.on_host for pr in net.projections)
        self._bias = {p.name: p.bias is not None and np.asarray(p.bias) != 0 for p in net.populations}
        self._fan = {}           # (projection, binding id) -> fan-out per source feature / per head

    def _fan_out(self, pr, binding: Binding):
        key = (pr.name, id(binding))
        if key not in self._fan:
            if pr.kind == "dense":
                fan = np.count_nonzero(np.asarray(pr.weight), axis=1)          # synapses per source feature
                self._fan[key] = (fan, self.n * int(fan.sum()))
            else:
                heads = [(features, np.diff(a.tocsc().indptr)) for features, a in binding.heads(pr)]
                synapses = sum((f.stop - f.start) * int(fan.sum()) for f, fan in heads)
                self._fan[key] = (heads, synapses)
        return self._fan[key]

    def __call__(self, step) -> None:
        inputs, outputs, binding = step.inputs, step.outputs, step.binding
        c = self.counts
        c.steps += 1
        if self._input_on_chip:
            c.input_spikes += int(np.count_nonzero(outputs[self.net.input.name]))
        first_steps = step.index % self.net.window_steps       # the host computes the chain once per window
        for pr, pc in zip(self.net.projections, c.projections):
            active = outputs.get(pr.source)
            if active is None:
                pc.synaptic_ops_per_step.append(0)
                continue
            active = active != 0
            fan, pc.synapses = self._fan_out(pr, binding)
            if pr.kind == "dense":
                ops = int(active.sum(axis=0) @ fan)                           # events per feature x fan-out
            else:
                ops = sum(int(active[:, f].sum(axis=1) @ out_degree) for f, out_degree in fan)
            if pr.on_host:           # the input transform (adds, binary input) at step 0, the aggregation at 1
                kind = "fp32_add" if pr.kind == "dense" else "fp32_mac"
                if first_steps == (0 if pr.kind == "dense" else 1):
                    c.host_ops[kind] = c.host_ops.get(kind, 0) + ops
                pc.synaptic_ops_per_step.append(0)
                continue
            pc.events += int(active.sum())
            pc.synaptic_ops += ops
            pc.synaptic_ops_per_step.append(ops)
        for pop, pc in zip(self.net.populations, c.populations):
            out = outputs.get(pop.name)
            events = int(np.count_nonzero(out)) if out is not None else 0
            pc.events += events
            pc.events_per_step.append(events)
            if pop.neuron.forwards_input:          # a relay updates exactly when it forwards a payload
                active = events
            else:
                changing = inputs[pop.name] != 0
                if np.any(self._bias[pop.name]):
                    changing = changing | self._bias[pop.name][None, :]
                active = int(np.count_nonzero(changing))
            pc.active_updates += active
            pc.inactive_updates += self.n * pop.features - active


def count_events(net: Network, windows, spikes: Dict[str, np.ndarray]) -> RunCounts:
    """Count every event of a run of `net` over `windows` whose spiking populations produced `spikes`
    (bit-packed rasters, as in :class:`~neurograph.sim.reference.SimResult`)."""
    from neurograph.sim.reference import run_reference
    counter = EventCounter(net, windows[0].binding.num_nodes)
    run_reference(net, windows, given=spikes, observers=[counter], record=False)
    return counter.counts


def merge_counts(runs: List[RunCounts]) -> RunCounts:
    """Totals over several runs (e.g. one per sample); per-step lists are concatenated."""
    first = runs[0]
    host_ops = {}
    for r in runs:
        for k, v in r.host_ops.items():
            host_ops[k] = host_ops.get(k, 0) + v
    total = RunCounts(sum(r.steps for r in runs), sum(r.input_spikes for r in runs), [], [], host_ops)
    for i, p in enumerate(first.projections):
        parts = [r.projections[i] for r in runs]
        total.projections.append(ProjectionCounts(p.name, p.kind, p.source, p.target, p.graded,
                                                  max(q.synapses for q in parts), sum(q.events for q in parts),
                                                  sum(q.synaptic_ops for q in parts),
                                                  [x for q in parts for x in q.synaptic_ops_per_step], p.on_host))
    for i, p in enumerate(first.populations):
        parts = [r.populations[i] for r in runs]
        total.populations.append(PopulationCounts(p.name, p.kind, max(q.neurons for q in parts),
                                                  sum(q.events for q in parts),
                                                  [x for q in parts for x in q.events_per_step],
                                                  sum(q.active_updates for q in parts),
                                                  sum(q.inactive_updates for q in parts), p.on_host))
    return total


@dataclass
class TrafficCounts:
    """Spike messages on a placed mapping, per event source: one message per distinct destination
    core of each event, and the east-west and north-south core-to-core hops those messages travel."""
    messages: Dict[str, int] = field(default_factory=dict)
    hops_east_west: Dict[str, int] = field(default_factory=dict)
    hops_north_south: Dict[str, int] = field(default_factory=dict)
    placement: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class MessageCounter:
    """An observer for :func:`neurograph.sim.reference.run_reference` that counts the messages every event
    sends and their hops, with `routes_for(binding)` giving each source's
    :class:`~neurograph.compile.mapping.Routes` for a sample's graph (its mapping depends on the graph)."""

    def __init__(self, routes_for, placement: str):
        self.routes_for, self._routes = routes_for, {}
        self.counts = TrafficCounts(placement=placement)

    def __call__(self, step) -> None:
        key = id(step.binding)
        if key not in self._routes:
            self._routes[key] = self.routes_for(step.binding)
        c = self.counts
        for source, routes in self._routes[key].items():
            out = step.outputs.get(source)
            if out is None:
                continue
            active = out != 0
            for total, per_compartment in ((c.messages, routes.messages), (c.hops_east_west, routes.hops_east_west),
                                           (c.hops_north_south, routes.hops_north_south)):
                total[source] = total.get(source, 0) + int(per_compartment[active].sum())
