"""Reference executor: numpy semantics of the IR, bit-exact with Lava's fixed-point models.

It runs a network in either domain (see :mod:`neurograph.compile.ir`):

* ``float``: what the trained model computes (used to check export and folding);
* ``fixed``: Loihi-style integers, reproducing Lava 0.10's bit-accurate models.

The whole network steps together, one time step at a time: every projection reads
its source's output of the previous step (all delays are 1), then every population
advances its kind's dynamics (:mod:`neurograph.compile.kinds`). That is Lava's
synchronous step, so any topology -- feedback included -- runs the same here and
there. Working memory is one step's state and outputs, O(N x F); spikes are
recorded bit-packed and readouts once per window.

A run is a sequence of *windows* (one per sample) with state carried from one to
the next; :func:`run_samples` runs samples with state reset (one sequence each) or
carried (one sequence).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np

from neurograph.compile.graphs import Binding, bind
from neurograph.compile.inputs import InputSpec
from neurograph.compile.ir import IRError, Network
from neurograph.compile.projections import dense_step, graph_step
from neurograph.compile.samples import Sample, check_sample


@dataclass
class Window:
    """One sample ready to run: its graph bound to the network, its input stream."""
    sample: Sample
    binding: Binding
    input: InputSpec


def prepare(net: Network, samples: Sequence[Sample]) -> List[Window]:
    """Check each sample against `net` and bind its graph."""
    from neurograph.compile.current import constant_input
    windows = [Window(s, bind(net, check_sample(s, net)), s.input_spec(net)) for s in samples]
    for w in windows:
        constant_input(net, w.sample, w.input)
    return windows


def sequences(windows: List[Window], carry: bool) -> List[List[Window]]:
    """Runs to make: one sequence of all windows (state carried) or one per window (state reset)."""
    if not carry:
        return [[w] for w in windows]
    sizes = {w.binding.num_nodes for w in windows}
    if len(sizes) > 1:
        raise IRError(f"carrying state across samples needs one node set; the samples have {sorted(sizes)} nodes")
    return [list(windows)]


@dataclass
class SimResult:
    """What one run (a sequence of windows) produced; the same shape for every engine."""
    engine: str
    window: int                                  # steps per window
    spikes: Dict[str, np.ndarray]                # spiking population -> bit-packed (steps, N, ceil(F/8))
    features: Dict[str, int]                     # spiking population -> F (to unpack)
    readouts: List[np.ndarray]                   # the readout's membrane at the end of each window (N, F)
    saturation: Dict[str, int] = field(default_factory=dict)   # "<pop>.<what>" -> events
    seconds: Dict[str, float] = field(default_factory=dict)
    # graded populations with their own process (not relays): payloads, int32 (steps, N, F)
    payloads: Dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def readout(self) -> np.ndarray:
        return self.readouts[-1]

    def raster(self, name: str) -> np.ndarray:
        """Population `name`'s spikes as bool (steps, N, F)."""
        return np.unpackbits(self.spikes[name], axis=-1, count=self.features[name]).astype(bool)

    def predictions(self, window: int = -1) -> np.ndarray:
        return np.asarray(self.readouts[window]).argmax(axis=1)


def project(net: Network, pr, x: np.ndarray, binding: Binding, fixed: bool) -> np.ndarray:
    if pr.kind == "dense":
        return dense_step(x, np.asarray(pr.weight), pr.exponent, fixed)
    return graph_step(x, binding.heads(pr), pr.exponent, fixed)


@dataclass
class Step:
    """One step of a run: where it is, what every population received and sent."""
    index: int                               # step in the run
    window: int                              # which window (sample)
    inputs: Dict[str, np.ndarray]            # population -> summed synaptic input (N, F)
    outputs: Dict[str, np.ndarray]           # input / population -> output sent this step
    binding: Binding
    state: Dict[str, dict]                   # population -> its kind's state after this step (live: do not keep)
    readout: Optional[np.ndarray] = None     # the readout's membrane, on a window's last step


def steps(net: Network, windows: List[Window], given: Optional[Dict[str, np.ndarray]] = None,
          events: Optional[Dict[str, int]] = None) -> Iterator[Step]:
    """Step `net` through `windows` back to back (state carried), yielding every step.

    `given` replaces the named spiking populations' output by given bit-packed rasters (e.g. a
    Lava run's), to count a run's events or see what the rest of the network does with them.
    Saturation and wrap events are added to `events`.
    """
    fixed = net.domain == "fixed"
    n = windows[0].binding.num_nodes
    given = given or {}
    events = {} if events is None else events
    dtype = np.int64 if fixed else np.float64
    state = {p.name: p.neuron.init_state(p, n, fixed) for p in net.populations}
    previous = {net.input.name: np.zeros((n, net.input.features), dtype)}
    previous.update({p.name: np.zeros((n, p.features), dtype) for p in net.populations})
    readout_pop = net.population(net.readout.population)
    index, window = 0, net.window_steps
    prev_binding = windows[0].binding
    for w, win in enumerate(windows):
        stream = win.input.stream()
        for k in range(window):
            x = next(stream) if k < win.input.num_steps else None
            inputs = {}
            for pop in net.populations:
                total = np.zeros((n, pop.features), dtype)
                for pr in net.incoming(pop.name):
                    src = previous[pr.source]
                    if src.any():
                        total = total + project(net, pr, src, prev_binding, fixed)
                if pop.input_scale is not None:
                    total = total * pop.input_scale
                inputs[pop.name] = total
            outputs = {net.input.name: np.zeros((n, net.input.features), dtype) if x is None else x.astype(dtype)}
            for pop in net.populations:
                out = pop.neuron.step(pop, state[pop.name], inputs[pop.name], fixed, events)
                if pop.name in given:
                    out = np.unpackbits(given[pop.name][index], axis=-1, count=pop.features).astype(bool)
                if out is not None:
                    outputs[pop.name] = out.astype(dtype)
            last = k == window - 1
            yield Step(index, w, inputs, outputs, win.binding, state,
                       np.array(readout_pop.neuron.membrane(state[readout_pop.name])) if last else None)
            previous.update(outputs)
            prev_binding = win.binding
            index += 1


def run_reference(net: Network, windows: List[Window], given: Optional[Dict[str, np.ndarray]] = None,
                  observers: Sequence[Callable[[Step], None]] = (), record: bool = True) -> SimResult:
    """Run `windows` back to back, state carried; returns spikes of every spiking population
    (bit-packed) and the readout of every window. `observers` see every :class:`Step`."""
    start = time.perf_counter()
    n = windows[0].binding.num_nodes
    spiking = [p for p in net.populations if p.neuron.spiking]
    recorded: Dict[str, list] = {p.name: [] for p in spiking}
    graded = {p.name: [] for p in net.populations if p.neuron.graded and not p.neuron.forwards_input}
    readouts, saturation = [], {}
    for step in steps(net, windows, given, saturation):
        for obs in observers:
            obs(step)
        if record:
            for name, raster in recorded.items():
                raster.append(np.packbits(step.outputs[name] != 0, axis=-1))
            for name, raster in graded.items():
                raster.append(step.outputs[name].astype(np.int32))
        if step.readout is not None:
            readouts.append(step.readout)
    spikes = {name: (np.stack(r) if r else np.zeros((0, n, (net.population(name).features + 7) // 8), np.uint8))
              for name, r in recorded.items()}
    return SimResult(engine=f"reference-{net.domain}", window=net.window_steps, spikes=spikes,
                     features={p.name: p.features for p in spiking}, readouts=readouts, saturation=saturation,
                     seconds={"run": time.perf_counter() - start},
                     payloads={name: np.stack(r) for name, r in graded.items() if r})


def run_samples(net: Network, samples: Sequence[Sample], carry: bool = False) -> List[SimResult]:
    """Run `samples` on the reference: one result per sample (state reset) or one for all (carried)."""
    return [run_reference(net, seq) for seq in sequences(prepare(net, samples), carry)]


def spike_matches(a: SimResult, b: SimResult) -> Dict[str, tuple]:
    """Per spiking population, (entries whose spike/no-spike match, entries): each raster unpacked once."""
    matches = {}
    for name in a.spikes:
        ra, rb = a.raster(name), b.raster(name)
        if ra.shape != rb.shape:
            raise ValueError(f"population {name!r}: rasters have shapes {ra.shape} and {rb.shape}")
        matches[name] = (int(np.count_nonzero(ra == rb)), int(ra.size))
    return matches


def spike_agreement(a: SimResult, b: SimResult) -> Dict[str, float]:
    """Fraction of (step, neuron) entries whose spike/no-spike matches, per population and overall."""
    matches = spike_matches(a, b)
    equal, total = sum(e for e, _ in matches.values()), sum(t for _, t in matches.values())
    return {**{name: e / t if t else 1.0 for name, (e, t) in matches.items()}, "all": equal / total if total else 1.0}
