"""Export a trained PyTorch model to the float IR (what it computes, in its own units).

A GC-SNN layer l becomes the chain the chip runs:

    source --dense W_l--> relay_l (graded) --graph A--> if_l   (or the readout integrator)

with STFN's frozen per-neuron affine map kept as the target's node/feature input
scales and bias, to be folded into the synapses by :func:`fold_scales`.
"""
from __future__ import annotations

import numpy as np
import torch

from neurograph.compile.ir import Input, IRError, Network, Population, Projection, Readout, Task, validate


def export_network(model, graph, config) -> Network:
    """Trained model + its graph + the run configuration -> float IR (validated)."""
    from neurograph.layers import GRAPH_CONV_DELAY
    from neurograph.models.gcsnn import GCSNN

    if not isinstance(model, GCSNN):
        raise IRError(f"cannot export {type(model).__name__}: only spiking models deploy to the chip "
                      f"(supported: GCSNN); ANN baselines are compared in the energy report instead")
    if GRAPH_CONV_DELAY != 2:
        raise IRError("the float model's graph-conv delay must equal the chip's two synaptic hops")
    input_seed = config.train.input_seed
    model.eval()
    with torch.no_grad():
        model.inference_logits(graph, input_seed)     # freezes STFN statistics, records ranges
    spikes = model.input_spikes(graph, input_seed)
    n = graph.num_nodes
    adjacency = graph.adjacency()
    populations, projections = [], []
    source = "input"
    last = len(model.convs) - 1
    for layer, conv in enumerate(model.convs):
        f_out = conv.lin.out_features
        relay, target = f"relay{layer + 1}", ("readout" if layer == last else f"{model.cfg.neuron}{layer + 1}")
        populations.append(Population(relay, "relay", (n, f_out)))
        projections.append(Projection(f"transform{layer + 1}", "dense", source, relay,
                                      conv.lin.weight.detach().double().numpy().T.copy()))
        projections.append(Projection(f"aggregate{layer + 1}", "graph", relay, target, adjacency.copy()))
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
                  metadata={"config": config.to_dict(), "model": type(model).__name__, "dataset": graph.name,
                            # for the sparsity-aware ANN baseline: nonzero entries of the feature matrix
                            "input_nonzero_features": int(torch.count_nonzero(graph.x))})
    return validate(net)


def _ranges(trace: dict) -> dict:
    return {"max_abs_input": float(trace["max_abs_input"]), "max_abs_v": float(trace["max_abs_v"])}
