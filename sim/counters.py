"""Count the events of a run: spikes, graded payloads, synaptic ops, neuron updates.

Counts come from the spike rasters a run produced (Lava's or the reference's);
relay payloads are recomputed from those spikes with the IR's integer semantics.

Definitions (per step, over the whole run of ``num_steps`` steps):

* event: a binary spike, or a nonzero graded payload sent by a relay.
* synaptic op: one event delivered over one synapse of the *expanded* network.
  A dense (feature-transform) projection fans an event of feature i out to the
  nonzero weights in row i of W; a graph projection fans an event of node u out
  to the nonzero entries of column u of A (its out-edges, self loop included) --
  with attention heads, of the A of the head its feature belongs to.
* neuron update: every compartment is updated every step. It is *active* when
  it received a nonzero synaptic input (after the projection's shift) or has a
  nonzero bias, else *inactive*. An IF compartment with neither keeps its state;
  a leaky one still decays, which this count does not treat as activity.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List

import numpy as np

from neurograph.compile.ir import Network, graph_heads
from neurograph.sim.reference import input_raster, population_input, relay_outputs


@dataclass
class ProjectionCounts:
    name: str
    kind: str
    source: str
    target: str
    graded: bool                    # events carry a payload (multiply-accumulate) or not (accumulate)
    synapses: int                   # in the expanded network
    events: int
    synaptic_ops: int
    synaptic_ops_per_step: List[int]


@dataclass
class PopulationCounts:
    name: str
    kind: str
    neurons: int
    events: int                     # spikes, or nonzero payloads for relays
    events_per_step: List[int]
    active_updates: int
    inactive_updates: int

    @property
    def firing_rate(self) -> float:
        """Events per neuron per step."""
        steps = len(self.events_per_step)
        return self.events / (self.neurons * steps) if steps else 0.0


@dataclass
class RunCounts:
    steps: int
    projections: List[ProjectionCounts]
    populations: List[PopulationCounts]

    def to_dict(self) -> dict:
        return {"steps": self.steps,
                "projections": [asdict(p) for p in self.projections],
                "populations": [{**asdict(p), "firing_rate": p.firing_rate} for p in self.populations]}


def count_events(net: Network, spikes: Dict[str, np.ndarray]) -> RunCounts:
    """Count every event of a run of `net` whose spiking populations produced `spikes`."""
    fixed = net.domain == "fixed"
    outputs = {net.input.name: input_raster(net), **relay_outputs(net, spikes)}
    outputs.update({name: s for name, s in spikes.items()})
    steps = net.num_steps

    projections = []
    for pr in net.projections:
        active = outputs[pr.source] != 0                       # (steps, N, F)
        n_src, f_src = net.source_shape(pr.source)
        if pr.kind == "dense":
            fan = np.count_nonzero(np.asarray(pr.weight), axis=1)   # synapses per source feature
            per_step = active.sum(axis=1) @ fan                # events per feature x fan-out
            synapses = n_src * int(fan.sum())
        else:
            per_step, synapses = np.zeros(steps, dtype=np.int64), 0
            for features, a in graph_heads(pr, f_src):          # each head's features, its out-degrees
                fan = np.diff(a.tocsc().indptr)
                per_step = per_step + active[:, :, features].sum(axis=2) @ fan   # events per node x out-degree
                synapses += (features.stop - features.start) * int(fan.sum())
        graded = pr.source != net.input.name and net.population(pr.source).kind == "relay"
        projections.append(ProjectionCounts(pr.name, pr.kind, pr.source, pr.target, graded, synapses,
                                            int(active.sum()), int(per_step.sum()),
                                            [int(x) for x in per_step]))

    populations = []
    for pop in net.populations:
        out = outputs.get(pop.name)
        events = (out != 0).reshape(steps, -1).sum(axis=1) if out is not None else np.zeros(steps, int)
        if pop.kind == "relay":
            active = int(events.sum())
        else:
            a_in = population_input(net, pop.name, outputs, fixed)
            changing = (a_in != 0)
            if pop.bias is not None:
                changing |= (np.asarray(pop.bias) != 0)[None]
            active = int(changing.sum())
        populations.append(PopulationCounts(pop.name, pop.kind, pop.size, int(events.sum()),
                                            [int(x) for x in events], active, pop.size * steps - active))
    return RunCounts(steps=steps, projections=projections, populations=populations)
