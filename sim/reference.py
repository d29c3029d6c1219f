"""Reference executor: numpy semantics of the IR, bit-exact with Lava's fixed-point models.

It runs a network in either domain (see :mod:`neurograph.compile.ir`):

* ``float``: what the trained model computes (used to check export and folding);
* ``fixed``: Loihi-style integers, reproducing Lava 0.10's ``PyLifModelBitAcc``
  and ``Dense``/``Sparse`` bit-accurate models operation for operation
  (24-bit current wrap, 24-bit voltage saturation, ``v > vth << 6``, reset to 0,
  floor shift of each projection's summed input).

The network is feed-forward, so it is evaluated one population at a time over the
whole time window: each projection is a per-step linear map applied to the source's
output raster, shifted by its delay; each population then steps its neuron
dynamics through time. That is exactly the order of events in Lava's
synchronous time steps.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, Optional

import numpy as np

from neurograph.compile.ir import ACT_SHIFT, STATE_BITS, Network, Population, Projection, graph_heads

_UV_LIMIT = 1 << (STATE_BITS - 1)      # 2**23
_DECAY_UNITY = 1 << 12


@dataclass
class SimResult:
    """What one run of a network produced; the same shape for every engine."""
    engine: str
    spikes: Dict[str, np.ndarray]            # spiking population -> bool (steps, N, F)
    readout: np.ndarray                      # final V of the readout population (N, F)
    saturation: Dict[str, int] = field(default_factory=dict)  # "<pop>.<what>" -> events
    seconds: Dict[str, float] = field(default_factory=dict)

    def predictions(self) -> np.ndarray:
        return np.asarray(self.readout).argmax(axis=1)


# ---- projections ---------------------------------------------------------------------
def shift(x: np.ndarray, exponent: int) -> np.ndarray:
    """Lava's weight exponent on a summed input: << e, or arithmetic (floor) >> -e."""
    return np.left_shift(x, exponent) if exponent >= 0 else np.right_shift(x, -exponent)


def _exact_int_matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x @ w for integers via float64 BLAS when every partial sum is exact (< 2**53)."""
    bound = float(np.abs(x).max(initial=0)) * float(np.abs(w).max(initial=0)) * x.shape[-1]
    if bound < 2.0 ** 53:
        return np.rint(x.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)
    return x.astype(np.int64) @ w.astype(np.int64)


def project_step(pr: Projection, x: np.ndarray, fixed: bool) -> np.ndarray:
    """One step of a projection: source output (N, F_src) -> target input (N, F_tgt)."""
    if pr.kind == "dense":
        y = _exact_int_matmul(x, pr.weight) if fixed else x @ pr.weight
    else:  # graph: aggregate over incoming edges, feature by feature, each head's features with its A
        x = x.astype(np.int64) if fixed else x
        y = np.concatenate([np.asarray(a @ x[:, features]) for features, a in graph_heads(pr, x.shape[1])], axis=1)
    return shift(y, pr.exponent) if fixed else y


def project(pr: Projection, outputs: np.ndarray, fixed: bool) -> np.ndarray:
    """Apply a projection to a whole output raster (steps, N, F_src), with its delay."""
    steps = outputs.shape[0]
    sample = project_step(pr, outputs[0], fixed)
    result = np.zeros((steps,) + sample.shape, dtype=sample.dtype)
    for t in range(steps - pr.delay):
        result[t + pr.delay] = sample if t == 0 else project_step(pr, outputs[t], fixed)
    return result


# ---- neuron dynamics ---------------------------------------------------------------
def _trunc_decay(x: np.ndarray, factor: int) -> np.ndarray:
    """Lava's decay: sign(x*f) * (|x*f| >> 12), i.e. round toward zero."""
    prod = x.astype(np.int64) * factor
    return np.sign(prod) * (np.abs(prod) >> 12)


def _effective_bias(pop: Population) -> np.ndarray:
    if pop.bias is None:
        return np.zeros(pop.shape, dtype=np.int64)
    return np.left_shift(np.asarray(pop.bias, dtype=np.int64), pop.bias_exp)


def run_population_fixed(pop: Population, a_in: np.ndarray, saturation: Dict[str, int]) -> np.ndarray:
    """Lava PyLifModelBitAcc (du=4095: no current memory) for IF/LIF/integrator.

    Returns spikes (bool raster) for spiking kinds, the final v for an integrator.
    """
    steps = a_in.shape[0]
    v = np.zeros(pop.shape, dtype=np.int64)
    bias = _effective_bias(pop)
    vth_eff = (int(pop.threshold) << ACT_SHIFT) if pop.spiking else None
    spikes = np.zeros(a_in.shape, dtype=bool) if pop.spiking else None
    wraps = sats = 0
    for t in range(steps):
        # u = a << 6 computed in int32 like Lava, then wrapped once into 24 bits
        u = (a_in[t].astype(np.int64) << ACT_SHIFT).astype(np.int32).astype(np.int64)
        wrapped = np.where(u > _UV_LIMIT, u - 2 * _UV_LIMIT, u)
        wrapped = np.where(wrapped <= -_UV_LIMIT, u + 2 * _UV_LIMIT, wrapped)
        wraps += int(np.count_nonzero(wrapped != u))
        v_new = _trunc_decay(v, _DECAY_UNITY - int(pop.leak)) + wrapped + bias
        v = np.clip(v_new, -_UV_LIMIT + 1, _UV_LIMIT - 1)
        sats += int(np.count_nonzero(v != v_new))
        if pop.spiking:
            s = v > vth_eff
            v[s] = 0
            spikes[t] = s
    saturation[f"{pop.name}.current_wrap"] = wraps
    saturation[f"{pop.name}.voltage_saturation"] = sats
    return spikes if pop.spiking else v


def run_population_float(pop: Population, a_in: np.ndarray, peaks: Optional[Dict[str, float]] = None) -> np.ndarray:
    """Float dynamics: V = (1 - leak) V + a + bias; spike V > threshold; reset to 0.

    `peaks`, if given, receives the largest |scaled input| and |V| (before reset) seen:
    the calibration ranges quantization needs."""
    if pop.node_scale is not None or pop.feature_scale is not None:
        node = np.ones(pop.shape[0]) if pop.node_scale is None else pop.node_scale
        feat = np.ones(pop.shape[1]) if pop.feature_scale is None else pop.feature_scale
        a_in = a_in * (node[:, None] * feat[None, :])
    bias = 0.0 if pop.bias is None else pop.bias
    v = np.zeros(pop.shape)
    spikes = np.zeros(a_in.shape, dtype=bool) if pop.spiking else None
    peak_v = 0.0
    for t in range(a_in.shape[0]):
        v = (1.0 - pop.leak) * v + a_in[t] + bias
        peak_v = max(peak_v, float(np.abs(v).max()))
        if pop.spiking:
            s = v > pop.threshold
            v[s] = 0.0
            spikes[t] = s
    if peaks is not None:
        peaks.update(max_abs_input=float(np.abs(a_in).max()), max_abs_v=peak_v)
    return spikes if pop.spiking else v


def relay_payload(pop: Population, a_in: np.ndarray, fixed: bool, saturation: Dict[str, int]) -> np.ndarray:
    """A graded relay passes its input on; in fixed point it saturates at payload_bits."""
    if not fixed:
        return a_in
    hi = (1 << (pop.payload_bits - 1)) - 1
    clipped = np.clip(a_in, -hi - 1, hi)
    saturation[f"{pop.name}.payload_saturation"] = int(np.count_nonzero(clipped != a_in))
    return clipped


def population_input(net: Network, name: str, outputs: Dict[str, np.ndarray], fixed: bool) -> np.ndarray:
    """Summed input to population `name` over the run, from its sources' outputs."""
    total = None
    for pr in net.incoming(name):
        contribution = project(pr, outputs[pr.source], fixed)
        total = contribution if total is None else total + contribution
    return total


def input_raster(net: Network) -> np.ndarray:
    """The input spikes over the whole run (zero after the input window)."""
    steps = net.num_steps
    raster = np.zeros((steps,) + net.input.shape, dtype=np.int64 if net.domain == "fixed" else np.float64)
    raster[: net.input.num_steps] = net.input.spikes
    return raster


def run_reference(net: Network, given_spikes: Optional[Dict[str, np.ndarray]] = None) -> SimResult:
    """Run the whole network; returns spikes of every spiking population and the readout.

    `given_spikes` replaces the named spiking populations' output by the given rasters
    (e.g. a fixed-point run's), to see what the rest of the network does with them.
    """
    start = time.perf_counter()
    fixed = net.domain == "fixed"
    outputs: Dict[str, np.ndarray] = {net.input.name: input_raster(net)}
    spikes: Dict[str, np.ndarray] = {}
    saturation: Dict[str, int] = {}
    readout = None
    given_spikes = given_spikes or {}
    for pop in net.populations:
        if pop.name in given_spikes:
            spikes[pop.name] = given_spikes[pop.name]
            outputs[pop.name] = given_spikes[pop.name].astype(np.int64 if fixed else np.float64)
            continue
        a_in = population_input(net, pop.name, outputs, fixed)
        if pop.kind == "relay":
            outputs[pop.name] = relay_payload(pop, a_in, fixed, saturation)
            continue
        result = run_population_fixed(pop, a_in, saturation) if fixed else run_population_float(pop, a_in)
        if pop.spiking:
            spikes[pop.name] = result
            outputs[pop.name] = result.astype(np.int64 if fixed else np.float64)
        if pop.name == net.readout.population:
            readout = result if not pop.spiking else result.sum(axis=0)
    return SimResult(engine=f"reference-{net.domain}", spikes=spikes, readout=readout,
                     saturation=saturation, seconds={"run": time.perf_counter() - start})


def relay_outputs(net: Network, spikes: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Payload rasters of every relay, recomputed from given spike rasters (any engine).

    Used by the event counters, so counts come from the spikes a run actually produced.
    """
    fixed = net.domain == "fixed"
    dtype = np.int64 if fixed else np.float64
    outputs = {net.input.name: input_raster(net)}
    outputs.update({name: s.astype(dtype) for name, s in spikes.items()})
    relays = {}
    for pop in net.populations:
        if pop.kind == "relay":
            relays[pop.name] = relay_payload(pop, population_input(net, pop.name, outputs, fixed), fixed, {})
            outputs[pop.name] = relays[pop.name]
    return relays


def spike_agreement(a: SimResult, b: SimResult) -> Dict[str, float]:
    """Fraction of (step, neuron) entries whose spike/no-spike matches, per population and overall."""
    per_pop, same, total = {}, 0, 0
    for name, sa in a.spikes.items():
        sb = b.spikes[name]
        if sa.shape != sb.shape:
            raise ValueError(f"population {name!r}: rasters have shapes {sa.shape} and {sb.shape}")
        eq = int(np.count_nonzero(sa == sb))
        per_pop[name] = eq / sa.size
        same, total = same + eq, total + sa.size
    per_pop["all"] = same / total if total else 1.0
    return per_pop
