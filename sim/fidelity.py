"""Where the quantized network departs from the float one, layer by layer.

Compares the folded float IR (``network.float.npz``) with the fixed-point IR,
both on the reference executor over the same samples, so a user whose deployed
accuracy drops can see which layer and which parameter caused it:

* spike mismatch: the fraction of (neuron, step) spike decisions that differ,
  overall and per step;
* input-current error of each population *given the same presynaptic spikes*
  (the float run's), so each layer's own quantization error is isolated:
  RMS and maximum error in units of the threshold, with the layer's weight and
  aggregation exponents and vth next to it;
* accuracy with the first l layers swapped to fixed point (their spikes fed to
  the float remainder), l = 0 .. all;
* saturation and wrap-around events counted during the fixed-point run.

The two runs step in lockstep, so memory is one step's worth whatever T.
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from neurograph.compile.ir import Network
from neurograph.sim.reference import SimResult, Window, run_reference, steps
from neurograph.sim.scoring import accuracy


def fidelity_report(float_net: Network, float_windows: List[Window], fixed_net: Network,
                    fixed_windows: List[Window], fixed_run: Optional[SimResult] = None) -> dict:
    """Float vs fixed point on one sequence of windows; `fixed_run`: the fixed network's reference run.
    Returns (the report, the float network's run)."""
    float_run = run_reference(float_net, float_windows)
    fixed_run = fixed_run or run_reference(fixed_net, fixed_windows)
    quant = fixed_net.metadata.get("quantization", {})
    samples = [w.sample for w in fixed_windows]
    layers = {pop.name: {"sq": 0.0, "signal": 0.0, "max": 0.0, "count": 0}
              for pop in fixed_net.populations if not pop.neuron.graded}
    lockstep = zip(steps(float_net, float_windows), steps(fixed_net, fixed_windows, given=float_run.spikes))
    for f_step, q_step in lockstep:          # every population's input, float and fixed, from the float spikes
        for name, acc in layers.items():
            scale = quant.get(name, {}).get("activation_scale")
            if not scale:
                continue
            threshold = float_net.population(name).threshold or 1.0     # readout: float units
            a_f = f_step.inputs[name] / threshold
            err = q_step.inputs[name] / scale / threshold - a_f
            acc["sq"] += float(np.sum(err ** 2))
            acc["signal"] += float(np.sum(a_f ** 2))
            acc["max"] = max(acc["max"], float(np.abs(err).max(initial=0.0)))
            acc["count"] += err.size
    report = {}
    for pop in fixed_net.populations:
        if pop.neuron.graded:
            continue
        q, acc = quant.get(pop.name, {}), layers[pop.name]
        entry = {"parameters": {k: q.get(k) for k in ("weight_exp", "adjacency_exp", "vth", "bias_exp",
                                                      "payload_bits")}}
        if acc["count"]:
            entry["current_error"] = {"rms": (acc["sq"] / acc["count"]) ** 0.5, "max": acc["max"],
                                      "signal_rms": (acc["signal"] / acc["count"]) ** 0.5}
        if pop.neuron.spiking:
            differ = float_run.raster(pop.name) != fixed_run.raster(pop.name)
            entry["spike_mismatch"] = {"rate": float(differ.mean()), "per_step": [
                float(x) for x in differ.reshape(differ.shape[0], -1).mean(axis=1)]}
        entry["saturation"] = {k.split(".", 1)[1]: v for k, v in fixed_run.saturation.items()
                               if k.split(".", 1)[0] == pop.name}
        report[pop.name] = entry

    spiking = [p.name for p in fixed_net.populations if p.neuron.spiking]
    swaps = [{"fixed_layers": [], "accuracy": accuracy(float_run, samples)}]
    for i in range(1, len(spiking) + 1):
        given = {name: fixed_run.spikes[name] for name in spiking[:i]}
        swaps.append({"fixed_layers": spiking[:i],
                      "accuracy": accuracy(run_reference(float_net, float_windows, given, record=False), samples)})
    swaps.append({"fixed_layers": "all", "accuracy": accuracy(fixed_run, samples)})
    agree = np.concatenate([(a.argmax(axis=1) == b.argmax(axis=1)).ravel()
                            for a, b in zip(float_run.readouts, fixed_run.readouts)])
    return ({"layers": report, "accuracy_with_fixed_layers": swaps,
             "prediction_agreement": float(agree.mean()), "float_accuracy": accuracy(float_run, samples)}, float_run)
