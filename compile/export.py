"""Export a trained spiking model to the float IR, and its graphs to samples.

A GC-SNN or GA-SNN layer l becomes the chain the chip runs:

    source --dense W_l--> relay_l (graded) --graph (rule)--> if_l   (or the readout integrator)

The graph projection is a slot: rule "gcn" (GC-SNN: the GCN-normalized adjacency of
whatever graph a sample brings) or "attention" (GA-SNN: coefficients a host stage
computes per graph, one matrix per head). Frozen STFN becomes a per-feature input
scale and bias, folded into the synapses by :func:`fold_scales`. What the chip does
not compute -- input encoding, binding a graph, attention, the class decision --
becomes the IR's host stages, with their operations counted per unit of a sample.
"""
from __future__ import annotations

from typing import Dict, List

import numpy as np
import torch

from neurograph.compile.ir import HostStage, Input, IRError, Network, Population, Projection, Readout, validate
from neurograph.compile.samples import Sample


def export_network(model, graph, config) -> Network:
    """Trained model + the run configuration -> float IR (validated), calibrated on `graph`.

    `graph` (the training graph) supplies the value ranges quantization needs and, for STFN,
    the statistics frozen into the network; the network itself holds no graph."""
    from neurograph.layers import GRAPH_CONV_DELAY
    from neurograph.models.dysign import DySIGN
    from neurograph.models.gcsnn import GCSNN

    if isinstance(model, DySIGN):
        return export_dysign(model, graph, config)
    if not isinstance(model, GCSNN):
        raise IRError(f"cannot export {type(model).__name__}: only spiking models deploy to the chip "
                      f"(supported: GCSNN, GASNN, DySIGN); ANN baselines are compared in the energy report instead")
    if GRAPH_CONV_DELAY != 2:
        raise IRError("the float model's graph-conv delay must equal the chip's two synaptic hops")
    input_seed = config.train.input_seed
    model.eval()
    with torch.no_grad():
        model.inference_logits(graph, input_seed)     # freezes STFN statistics and attention, records ranges
    populations, projections = [], []
    source = "input"
    last = len(model.convs) - 1
    for layer, conv in enumerate(model.convs):
        f_out = conv.lin.out_features
        relay, target = f"relay{layer + 1}", ("readout" if layer == last else f"{model.cfg.neuron}{layer + 1}")
        populations.append(Population(relay, "relay", f_out))
        projections.append(Projection(f"transform{layer + 1}", "dense", source, relay,
                                      conv.lin.weight.detach().double().cpu().numpy().T.copy()))
        projections.append(Projection(f"aggregate{layer + 1}", "graph", relay, target, rule=model.aggregation_rule,
                                      heads=getattr(conv, "heads", 1)))
        if layer == last:
            populations.append(Population(target, "integrator", f_out,
                                          bias=model.readout_bias.detach().double().cpu().numpy().copy(),
                                          calibration=_ranges(model.trace["readout"])))
        else:
            scale = model.norms[layer].folded()[0].double().cpu().numpy() if model.cfg.stfn else None
            populations.append(Population(target, model.cfg.neuron, f_out, threshold=model.cfg.threshold,
                                          leak=model.leak, bias=model.hidden_bias(layer).detach().double().cpu().numpy(),
                                          input_scale=scale, calibration=_ranges(model.trace[target])))
        source = target
    net = Network(domain="float",
                  input=Input("input", graph.num_features, model.cfg.num_steps, model.cfg.coding, input_seed),
                  populations=populations, projections=projections, readout=Readout("readout"),
                  host=host_stages(model, graph.num_classes),
                  metadata={"config": config.to_dict(), "model": type(model).__name__,
                            "trained_on": graph.name, "aggregation": model.aggregation_rule})
    return validate(net)


def export_hvsgnn(model, calibration, config) -> Network:
    """A trained HVS-GNN / HLIF-GNN (neurograph.models.hvsgnn) -> float IR (validated).

    Each SAGE layer l becomes two chains into its target, the neighbours' mean and the root weight:

        source --dense W_n--> relay{l}n --graph mean--> target
        source --dense W_r--> relay{l}r --graph self--> target

    with BatchNorm folded (W columns times its scale). A boundary becomes its kind's population:
    ``vsn`` a VSN with the model's threshold, leak and payload width; ``lif`` LIF; ``relu`` a VSN
    with threshold 0 and (almost) full leak, which fires whenever z >= 0 and sends ReLU(z). The
    last layer feeds the readout integrator; the host pools it per graph and applies the head
    (weights divided by T, as the model's V / T).

    Biases travel with the sample, as in the model: the input has a clock channel (the value 1 on
    its T steps, :class:`~neurograph.compile.ir.Input`), each layer's bias and BatchNorm shift are
    the root weights of the source's clock, and each boundary population relays the clock in one
    extra neuron, whose current (above the threshold) makes it fire on each step its layer's sample
    passes. No population has a constant bias, so nothing drives a neuron between samples.

    The input is graded: the float IR reads the same 8-bit integers as the chip, so the first
    layer's weights are divided by GRADED_INPUT_MAX. `calibration` (x, edges) is a batch of
    training graphs whose value ranges choose the fixed-point scales."""
    from neurograph.compile.inputs import GRADED_INPUT_MAX
    from neurograph.models.hvsgnn import population_name
    if not model.spiking:
        raise IRError("an HVS-GNN with only ReLU boundaries is the continuous A-GNN: nothing spikes, so it is "
                      "compared in the energy report instead of deployed")
    model.eval()
    with torch.no_grad():
        model.embeddings(*calibration)          # records the value ranges quantization needs
    cfg = model.cfg
    clock_current = max(1.0, 2.0 * cfg.threshold)      # a clock neuron's input: above any boundary's threshold
    clock_sent = float(GRADED_INPUT_MAX)               # the source's clock value, as the float IR reads it
    populations, projections, source = [], [], "input"
    last = len(model.convs) - 1
    for layer, conv in enumerate(model.convs):
        neigh = conv.neigh.weight.detach().double().numpy().T.copy()
        root = conv.root.weight.detach().double().numpy().T.copy()
        bias = conv.bias.detach().double().numpy().copy()
        if layer == 0:
            neigh, root = neigh / GRADED_INPUT_MAX, root / GRADED_INPUT_MAX
        if layer < last:
            scale, shift = (t.detach().double().numpy() for t in model.norms[layer].folded())
            neigh, root, bias = neigh * scale, root * scale, bias * scale + shift
        kind = model.boundaries[layer] if layer < last else "readout"
        target = population_name(kind, layer) if layer < last else "readout"
        clock = layer < last                           # a boundary relays the clock to the next layer
        # the source's clock is one more input row, a clock neuron one more output column; the clock is
        # not aggregated over the neighbours, so the mean chain's clock row and column stay zero
        neigh, root = (np.pad(w, ((0, 1), (0, int(clock)))) for w in (neigh, root))
        root[-1, :cfg.hidden] = bias / clock_sent
        if clock:
            root[-1, -1] = clock_current / clock_sent
        features = cfg.hidden + int(clock)
        for chain, weight, rule in (("n", neigh, "mean"), ("r", root, "self")):
            relay = f"relay{layer + 1}{chain}"
            populations.append(Population(relay, "relay", features, clock=clock))
            projections.append(Projection(f"{'neigh' if chain == 'n' else 'root'}{layer + 1}", "dense", source,
                                          relay, weight))
            projections.append(Projection(f"{rule}{layer + 1}", "graph", relay, target, rule=rule))
        ranges = {k: v for k, v in model.trace[target if layer < last else "readout"].items() if k.startswith("max_")}
        if layer == last:
            populations.append(Population(target, "integrator", features, calibration=ranges))
            break
        # the clock neuron's current and (graded kinds) payload are values this population holds too
        ranges = {k: v if k == "max_payload" and kind == "lif" else max(v, clock_current) for k, v in ranges.items()}
        if kind == "lif":
            populations.append(Population(target, "lif", features, threshold=cfg.threshold, leak=cfg.leak,
                                          calibration=ranges, clock=True))
            clock_sent = 1.0                           # a binary spike
        else:     # vsn, or relu as a VSN that fires whenever z >= 0 and forgets (dv = 4095 of 4096)
            threshold, leak = (cfg.threshold, cfg.leak) if kind == "vsn" else (0.0, 4095 / 4096)
            populations.append(Population(target, "vsn", features, threshold=threshold, leak=leak,
                                          payload_bits=cfg.payload_bits, calibration=ranges, clock=True))
            clock_sent = clock_current                 # the payload ReLU(clock_current)
        source = target
    head_weight = model.head.weight.detach().double().numpy().T / cfg.num_steps
    net = Network(domain="float",
                  input=Input("input", model.convs[0].neigh.in_features + 1, cfg.num_steps, "graded", 0, clock=True),
                  populations=populations, projections=projections,
                  readout=Readout("readout", pool="mean", head_weight=head_weight,
                                  head_bias=model.head.bias.detach().double().numpy().copy()),
                  host=regression_host_stages(model.convs[0].neigh.in_features, cfg.hidden, model.head.out_features,
                                              [pr.name for pr in projections if pr.rule == "mean"]),
                  metadata={"config": config.to_dict(), "model": type(model).__name__,
                            "boundaries": list(model.boundaries), "task": "graph regression"})
    return validate(net)


def graded_encoding_stage(num_features: int) -> HostStage:
    """The host's graded input coding: each node feature scaled to 8 bits and rounded once per sample."""
    return HostStage("encode_input", "per_inference", ["input"], {"fp32_mult": num_features},
                     "8-bit graded coding of each node feature (scale and round), once per sample: the source "
                     "replays the payloads on the input steps", per="node")


def regression_host_stages(in_features: int, features: int, outputs: int, graphs: List[str]) -> List[HostStage]:
    """The host's share of a graph-regression deployment, per unit of a sample."""
    return [graded_encoding_stage(in_features),
            HostStage("bind_graph", "per_graph", graphs, {"fp32_add": 1, "div": 1},
                      "mean-rule coefficients 1/in-degree (degree count, one divide per edge) and their "
                      "quantization", per="edge"),
            HostStage("pool_nodes", "per_inference", ["readout"], {"fp32_add": features},
                      "sum of the readout's membranes over each graph's nodes", per="node"),
            HostStage("regression_head", "per_inference", ["readout"],
                      {"div": features, "fp32_mac": features * outputs, "fp32_add": outputs},
                      "mean (one divide per feature) and the linear head", per="graph")]


def host_stages(model, num_classes: int) -> List[HostStage]:
    """The host's share of a deployment, with operations per unit of a sample."""
    graphs = [f"aggregate{i}" for i in range(1, len(model.convs) + 1)]
    stages = host_stages_for(model.cfg.coding, graphs)
    if model.aggregation_rule == "attention":
        stages[-1] = HostStage("attention", "per_graph", graphs, {},
                               "float pass over the sample's input that computes each layer's attention "
                               "coefficients (the aggregation weights), per head", per="sample")
    stages.append(HostStage("decide_class", "per_inference", ["readout"], {"compares": num_classes - 1},
                            "argmax over the readout's membrane potentials", per="node"))
    return stages


def graph_sample(model, graph, config, name: str = "") -> Sample:
    """A graph (GraphData) as a sample for the compiled network: edges without self loops (the
    rule adds them), features, labels and split masks; for GA-SNN, the attention coefficients of
    every layer computed on this graph by the host stage, with its operation count."""
    src, dst = graph.edge_index.cpu().numpy()
    keep = src != dst
    sample = Sample(name or graph.name, graph.num_nodes, np.stack([src[keep], dst[keep]]).astype(np.int64),
                    features=graph.x.cpu().numpy().astype(np.float64), labels=graph.y.cpu().numpy().astype(np.int64),
                    masks={k: v.cpu().numpy().astype(bool) for k, v in graph.masks.items()})
    if model.aggregation_rule == "attention":
        coefficients, ops = model.attention_coefficients(graph, config.train.input_seed)
        edges = graph.edge_index.cpu().numpy().astype(np.int64)
        for layer, values in enumerate(coefficients):
            sample.coefficient_edges[f"aggregate{layer + 1}"] = edges
            sample.coefficients[f"aggregate{layer + 1}"] = values
        sample.host_ops["attention"] = ops
    return sample


def calibration_ops(model, graph, input_spikes: int) -> Dict[str, int]:
    """Operations of GA-SNN's per-graph attention pass, from its shapes and the spikes it counted.

    Per layer, over the steps its source carries (T input steps for the first layer, the
    S run steps after): the feature transform adds W's row per source spike; aggregation is
    one MAC per edge and feature per step; attention adds two score MACs per node and
    feature per step and, per head, two adds and two multiplies by 1/(t+1) per node and
    step for running-mean scores, a score add, LeakyReLU multiply, exp, softmax add and
    divide per edge and step, and the window mean (one add per edge and window step, one
    divide per edge). Over the S run steps: IF neurons one add and one compare per neuron
    per step (LIF one multiply more), the readout integrator one add per neuron per step.
    """
    ops = dict.fromkeys(("fp32_add", "fp32_mac", "fp32_mult", "exp", "div", "compares"), 0)
    s, t, n, e = model.run_steps, model.cfg.num_steps, graph.num_nodes, graph.edge_index.shape[1]
    source_spikes, source_steps = input_spikes, t
    last = len(model.convs) - 1
    for layer, conv in enumerate(model.convs):
        f, k = conv.lin.out_features, conv.heads
        ops["fp32_add"] += source_spikes * f + k * (2 * source_steps * e + t * e)
        ops["fp32_mac"] += source_steps * e * f + source_steps * 2 * n * f
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
            ops["fp32_mac"] += s * n * f
        ops["fp32_add"] += s * n * f
        ops["compares"] += s * n * f
        if model.cfg.neuron == "lif":
            ops["fp32_mult"] += s * n * f
        source_spikes = int(model.trace[f"{model.cfg.neuron}{layer + 1}"]["spikes"].sum())
        source_steps = s
    return ops


def _ranges(trace: dict) -> dict:
    return {"max_abs_input": float(trace["max_abs_input"]), "max_abs_v": float(trace["max_abs_v"])}


# ---- Dy-SIGN: a stream of snapshots with the membranes carried ---------------------------------
def export_dysign(model, graph, config) -> Network:
    """Dy-SIGN -> float IR (validated), calibrated on `graph` (a DynamicGraph, all its snapshots).

        input --dense F1--> lif1 <--dense W1 (feedback)-- lifL
        lif(l-1) --dense Fl--> relay_l --graph (gcn)--> lif_l          l = 2..L
        lifL --dense identity--> readout (integrator: counts lifL's spikes)

    Run the snapshots as one carried sequence (their samples: :func:`dysign_samples`); the host
    turns the readout at the end of each window into that snapshot's spike counts and applies the
    classifier (:func:`dysign_logits`)."""
    from neurograph.compile.inputs import GRADED_INPUT_MAX
    from neurograph.data.dynamic_loader import full_batch
    if model.decay != 1.0:
        raise IRError(f"cannot export Dy-SIGN with leak {model.cfg.leak}: the readout counts spikes without "
                      f"weighting them, which equals the weighted firing rate only for lambda = 1 (leak 0)")
    input_seed = config.train.input_seed
    model.eval()
    model.inference_logits(full_batch(graph), input_seed, record=True)       # records the ranges quantization needs
    cfg, h, L = model.cfg, model.cfg.hidden, model.cfg.layers

    def weight(linear):
        return linear.weight.detach().double().cpu().numpy().T.copy()

    def lif(l):
        return Population(f"lif{l}", "lif_subtract", h, threshold=cfg.threshold, leak=cfg.leak,
                          bias=model.biases[l - 1].detach().double().cpu().numpy().copy(),
                          calibration=_ranges(model.trace[f"lif{l}"]))

    populations = [lif(1)]
    # graded input: the IR's input sends the 8-bit payloads, the model reads them in float units
    scale = GRADED_INPUT_MAX if cfg.coding == "graded" else 1
    projections = [Projection("transform1", "dense", "input", "lif1", weight(model.input_transform) / scale),
                   Projection("compensation", "dense", f"lif{L}", "lif1", weight(model.feedback))]
    for l in range(2, L + 1):
        populations += [Population(f"relay{l}", "relay", h), lif(l)]
        projections += [Projection(f"transform{l}", "dense", f"lif{l - 1}", f"relay{l}", weight(model.transforms[l - 2])),
                        Projection(f"aggregate{l}", "graph", f"relay{l}", f"lif{l}", rule=model.aggregation_rule)]
    populations.append(Population("readout", "integrator", h, calibration=_ranges(model.trace["readout"])))
    projections.append(Projection("count", "dense", f"lif{L}", "readout", np.eye(h)))
    classes = model.classifier.out_features
    host = host_stages_for(cfg.coding, [f"aggregate{l}" for l in range(2, L + 1)], graph.num_features) + [
        HostStage("classify", "per_inference", ["readout"], {"fp32_add": h, "fp32_mac": h * classes},
                  "per snapshot: the readout's spike counts (difference of the carried readout) through that "
                  "snapshot's share of the classifier FC(||_t a_t) (its input standardisation folded into the "
                  "weights), accumulated; argmax after the last", per="node")]
    net = Network(domain="float", input=Input("input", graph.num_features, cfg.num_steps, cfg.coding, input_seed),
                  populations=populations, projections=projections, readout=Readout("readout"), host=host,
                  metadata={"config": config.to_dict(), "model": "DySIGN", "trained_on": graph.name,
                            "aggregation": model.aggregation_rule, "snapshots": graph.num_snapshots})
    if net.window_steps != model.window:
        raise IRError(f"the exported window ({net.window_steps} steps) differs from the model's ({model.window})")
    return validate(net)


def host_stages_for(coding: str, graphs: List[str], num_features: int = 0) -> List[HostStage]:
    """Encoding the input and binding each new graph (GCN rule): the host's share per sample.
    `num_features`: the input's width, which graded coding scales and rounds once per node."""
    if coding == "graded":
        encode = graded_encoding_stage(num_features)
    else:
        encode = HostStage("encode_input", "per_inference", ["input"],
                           {"random_draws" if coding == "bernoulli" else "fp32_add": 1, "compares": 1},
                           f"{coding} spike coding of the nonzero node features, every input step",
                           per="nonzero_input_step")
    return [encode,
            HostStage("bind_graph", "per_graph", graphs, {"fp32_add": 1, "fp32_mult": 3},
                      "GCN normalization of the sample's edges (degree count, two scalings) and "
                      "quantization of each coefficient", per="edge")]


def dysign_samples(graph) -> List[Sample]:
    """A DynamicGraph's snapshots as samples, in time order, on one node set (run them carried)."""
    masks = {k: np.asarray(v, bool) for k, v in graph.masks.items()}
    return [Sample(f"{graph.name}-t{t:02d}", graph.num_nodes, graph.edges(t).astype(np.int64),
                   features=graph.features(t).astype(np.float64), labels=np.asarray(graph.y, np.int64), masks=masks)
            for t in range(graph.num_snapshots)]


def readout_unit(net: Network) -> float:
    """What one spike of the counted population adds to the readout's membrane."""
    from neurograph.compile.fixed_point import ACT_SHIFT, shift
    pr = net.projection("count")
    if net.domain == "float":
        return float(np.asarray(pr.weight)[0, 0])
    return float(int(shift(np.asarray(pr.weight, dtype=np.int64)[0, 0], pr.exponent)) << ACT_SHIFT)


def dysign_representations(model, net: Network, readouts) -> torch.Tensor:
    """A carried run's readouts (one per snapshot window) as the model's representations (T, N, H): each
    window's spike counts over the window's steps."""
    from neurograph.models.dysign import readout_counts
    rates = readout_counts(readouts) / (readout_unit(net) * model.window)
    return torch.as_tensor(rates, dtype=torch.float32)


def dysign_logits(model, net: Network, readouts) -> np.ndarray:
    """The host's classifier on a carried run's readouts: logits (N, C)."""
    model.eval()                                  # the classifier's standardisation: its running statistics
    with torch.no_grad():
        return model.classify(dysign_representations(model, net, readouts)).numpy()
