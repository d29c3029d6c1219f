"""Where the quantized network departs from the float one, layer by layer.

Compares the folded float IR (``network.float.npz``) with the fixed-point IR,
both on the reference executor, so a user whose deployed accuracy drops can see
which layer and which parameter caused it:

* spike mismatch: the fraction of (neuron, step) spike decisions that differ,
  overall and per step;
* input-current error of each population *given the same presynaptic spikes*
  (the float run's), so each layer's own quantization error is isolated:
  RMS and maximum error in units of the threshold, with the layer's weight and
  aggregation exponents and vth next to it;
* accuracy with the first l layers swapped to fixed point (their spikes fed to
  the float remainder), l = 0 .. all;
* saturation and wrap-around events counted during the fixed-point run.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from neurograph.compile.ir import Network
from neurograph.sim.reference import SimResult, input_raster, population_input, relay_outputs, run_reference
from neurograph.sim.report import accuracy


def fidelity_report(float_net: Network, fixed_net: Network, fixed_run: Optional[SimResult] = None) -> dict:
    """`fixed_run`: the fixed network's reference run, if already made."""
    float_run = run_reference(float_net)
    fixed_run = fixed_run or run_reference(fixed_net)
    quant = fixed_net.metadata.get("quantization", {})

    # every population's input, float and fixed, from the same (float) presynaptic spikes
    spikes_f = float_run.spikes
    out_f = {float_net.input.name: input_raster(float_net), **relay_outputs(float_net, spikes_f),
             **{k: v.astype(np.float64) for k, v in spikes_f.items()}}
    out_q = {fixed_net.input.name: input_raster(fixed_net), **relay_outputs(fixed_net, spikes_f),
             **{k: v.astype(np.int64) for k, v in spikes_f.items()}}
    layers = {}
    for pop in fixed_net.populations:
        if pop.kind == "relay":
            continue
        q = quant.get(pop.name, {})
        scale = q.get("activation_scale")
        a_f = population_input(float_net, pop.name, out_f, fixed=False)
        a_q = population_input(fixed_net, pop.name, out_q, fixed=True) / scale if scale else None
        threshold = float_net.population(pop.name).threshold or 1.0   # readout: float units
        entry = {"parameters": {k: q.get(k) for k in ("weight_exp", "adjacency_exp", "vth", "bias_exp",
                                                      "payload_bits", "edges_dropped_by_rounding")}}
        if a_q is not None:
            err = (a_q - a_f) / threshold
            entry["current_error"] = {"rms": float(np.sqrt(np.mean(err ** 2))), "max": float(np.abs(err).max()),
                                      "signal_rms": float(np.sqrt(np.mean((a_f / threshold) ** 2)))}
        if pop.spiking:
            differ = spikes_f[pop.name] != fixed_run.spikes[pop.name]
            entry["spike_mismatch"] = {"rate": float(differ.mean()), "per_step": [
                float(x) for x in differ.reshape(differ.shape[0], -1).mean(axis=1)]}
        entry["saturation"] = {k.split(".", 1)[1]: v for k, v in fixed_run.saturation.items()
                               if k.split(".", 1)[0] == pop.name}
        layers[pop.name] = entry

    spiking = [p.name for p in fixed_net.populations if p.spiking]
    swaps = [{"fixed_layers": [], "accuracy": accuracy(float_run.readout, float_net)}]
    for i in range(1, len(spiking) + 1):
        given = {name: fixed_run.spikes[name] for name in spiking[:i]}
        swaps.append({"fixed_layers": spiking[:i],
                      "accuracy": accuracy(run_reference(float_net, given).readout, float_net)})
    swaps.append({"fixed_layers": "all", "accuracy": accuracy(fixed_run.readout, fixed_net)})
    return {
        "layers": layers,
        "accuracy_with_fixed_layers": swaps,
        "prediction_agreement": float((float_run.predictions() == fixed_run.predictions()).mean()),
        "float_accuracy": accuracy(float_run.readout, float_net),
    }
