"""Export a trained spiking model to the float IR (what it computes, in its own units).

A GC-SNN or GA-SNN layer l becomes the chain the chip runs:

    source --dense W_l--> relay_l (graded) --graph A_l--> if_l   (or the readout integrator)

A_l is the GCN-normalized adjacency (GC-SNN) or the frozen attention coefficients
(GA-SNN; one matrix per attention head, each for its slice of the features). STFN's
frozen per-neuron affine map is kept as the target's node/feature input scales and
bias, to be folded into the synapses by :func:`fold_scales`.
What the chip does not compute -- input encoding, the class decision, the
calibration pass that froze STFN and attention -- becomes the IR's host stages.
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np
import torch

from neurograph.compile.ir import (HostStage, Input, IRError, Network, Population, Projection, Readout, Task,
                                   validate)


def export_network(model, graph, config) -> Network:
    """Trained model + its graph + the run configuration -> float IR (validated)."""
    from neurograph.layers import GRAPH_CONV_DELAY
    from neurograph.models.gcsnn import GCSNN

    if not isinstance(model, GCSNN):
        raise IRError(f"cannot export {type(model).__name__}: only spiking models deploy to the chip "
                      f"(supported: GCSNN, GASNN); ANN baselines are compared in the energy report instead")
    if GRAPH_CONV_DELAY != 2:
        raise IRError("the float model's graph-conv delay must equal the chip's two synaptic hops")
    input_seed = config.train.input_seed
    model.eval()
    with torch.no_grad():
        model.inference_logits(graph, input_seed)     # freezes STFN statistics and attention, records ranges
    spikes = model.input_spikes(graph, input_seed)
    n = graph.num_nodes
    populations, projections = [], []
    source = "input"
    last = len(model.convs) - 1
    for layer, conv in enumerate(model.convs):
        f_out = conv.lin.out_features
        relay, target = f"relay{layer + 1}", ("readout" if layer == last else f"{model.cfg.neuron}{layer + 1}")
        populations.append(Population(relay, "relay", (n, f_out)))
        projections.append(Projection(f"transform{layer + 1}", "dense", source, relay,
                                      conv.lin.weight.detach().double().numpy().T.copy()))
        projections.append(Projection(f"aggregate{layer + 1}", "graph", relay, target,
                                      model.aggregation_matrix(layer, graph)))
        if layer == last:
            bias = np.broadcast_to(model.readout_bias.detach().double().numpy(), (n, f_out)).copy()
            populations.append(Population(target, "integrator", (n, f_out), bias=bias,
                                          calibration=_ranges(model.trace["readout"])))
        else:
            node_scale = feature_scale = None
            if model.cfg.stfn:
                node_scale, feature_scale, _ = (t.double().numpy() for t in model.norms[layer].folded())
            bias = np.broadcast_to(model.hidden_bias(layer).detach().double().numpy(), (n, f_out)).copy()
            populations.append(Population(target, model.cfg.neuron, (n, f_out), threshold=model.cfg.threshold,
                                          leak=model.leak, bias=bias, node_scale=node_scale,
                                          feature_scale=feature_scale,
                                          calibration=_ranges(model.trace[target])))
        source = target
    task = Task(labels=graph.y.numpy().astype(np.int64),
                masks={k: v.numpy().astype(bool) for k, v in graph.masks.items()}, num_classes=graph.num_classes)
    net = Network(domain="float", input=Input("input", spikes, model.cfg.coding, input_seed),
                  populations=populations, projections=projections, readout=Readout("readout"), task=task,
                  host=host_stages(model, graph, spikes),
                  metadata={"config": config.to_dict(), "model": type(model).__name__, "dataset": graph.name,
                            "aggregation": model.aggregation,
                            # for the sparsity-aware ANN baseline: nonzero entries of the feature matrix
                            "input_nonzero_features": int(torch.count_nonzero(graph.x))})
    return validate(net)


def host_stages(model, graph, spikes: np.ndarray) -> List[HostStage]:
    """The host's share of a deployment, with operation counts from shapes and counted spikes."""
    steps, nonzero = model.cfg.num_steps, int(torch.count_nonzero(graph.x))
    per_feature = {"random_draws" if model.cfg.coding == "bernoulli" else "fp32_add": nonzero * steps,
                   "compares": nonzero * steps}
    stages = [HostStage("encode_input", "per_inference", ["input"], per_feature,
                        f"{model.cfg.coding} spike coding of the {nonzero:,} nonzero node features, T={steps}")]
    frozen = model.frozen_on_host()
    if frozen:
        feeds = []
        if model.aggregation == "frozen_attention":     # every layer's aggregation weights
            feeds += [f"aggregate{i}" for i in range(1, len(model.convs) + 1)]
        if model.cfg.stfn:                              # the synapses and biases of the hidden layers
            feeds += [f"{part}{i}" for part in ("transform", "aggregate", model.cfg.neuron)
                      for i in range(1, len(model.convs))]
        feeds = list(dict.fromkeys(feeds))
        stages.append(HostStage("calibrate", "once", feeds, calibration_ops(model, graph, spikes),
                                "float pass over the deployed input that froze " + " and ".join(frozen)))
    stages.append(HostStage("decide_class", "per_inference", ["readout"],
                            {"compares": graph.num_nodes * (graph.num_classes - 1)},
                            "argmax over the readout's membrane potentials"))
    return stages


def calibration_ops(model, graph, spikes: np.ndarray) -> Dict[str, int]:
    """Operations of the float calibration pass, from its shapes and the spikes it counted.

    Per layer, over the steps its source carries (T input steps for the first layer, the
    S run steps after): the feature transform adds W's row per source spike; aggregation is
    one MAC per edge and feature per step; GA-SNN attention adds two score MACs per node and
    feature per step and, per attention head, two adds and two multiplies by 1/(t+1) per node
    and step for running-mean scores, a score add, LeakyReLU multiply, exp, softmax add and
    divide per edge and step, and the window mean (one add per edge and window step, one
    divide per edge).
    Over the S run steps of the target: STFN statistics take two adds and a multiply per
    neuron per window step and the normalization one MAC per neuron per step; IF neurons one
    add and one compare per neuron per step (LIF one multiply more, the leak); the readout
    integrator one add per neuron per step.
    """
    ops = dict.fromkeys(("fp32_add", "fp32_mac", "fp32_mult", "exp", "div", "compares"), 0)
    s, t, n, e = model.run_steps, model.cfg.num_steps, graph.num_nodes, graph.edge_index.shape[1]
    source_spikes, source_steps = int(spikes.sum()), t
    last = len(model.convs) - 1
    for layer, conv in enumerate(model.convs):
        f = conv.lin.out_features
        ops["fp32_add"] += source_spikes * f
        ops["fp32_mac"] += source_steps * e * f
        if model.aggregation == "frozen_attention":
            k = conv.heads
            ops["fp32_mac"] += source_steps * 2 * n * f
            ops["fp32_add"] += k * (2 * source_steps * e + t * e)
            for kind in ("fp32_mult", "exp", "div"):
                ops[kind] += k * source_steps * e
            ops["div"] += k * e
            if conv.scores_from == "running":
                ops["fp32_add"] += k * source_steps * 2 * n
                ops["fp32_mult"] += k * source_steps * 2 * n
        if layer == last:
            ops["fp32_add"] += s * n * f
            break
        if model.cfg.stfn:
            ops["fp32_add"] += 2 * t * n * f
            ops["fp32_mult"] += t * n * f
            ops["fp32_mac"] += s * n * f
        ops["fp32_add"] += s * n * f
        ops["compares"] += s * n * f
        if model.cfg.neuron == "lif":
            ops["fp32_mult"] += s * n * f
        source_spikes = int(model.calibration_trace[f"{model.cfg.neuron}{layer + 1}"]["spikes"].sum())
        source_steps = s
    return ops


def _ranges(trace: dict) -> dict:
    return {"max_abs_input": float(trace["max_abs_input"]), "max_abs_v": float(trace["max_abs_v"])}
