"""HVS-GNN results table: A-GNN, HLIF-GNN and HVS-GNN variants on the spring-network regression,
trained in one harness, the spiking ones compiled and run on Lava on every test graph.

    python -m neurograph.experiments.hvsgnn --out docs/results-hvsgnn.md

Rows: A-GNN (ReLU at both boundaries, trained from scratch), then fine-tuned from it for
``--finetune-epochs``: the A-GNN itself (a control: what the extra epochs give without spikes),
HLIF-GNN (binary LIF spikes at both boundaries), HVS-GNN (VSNs at both boundaries) without and
with the spiking loss, and HVS-GNN with a VSN at the first boundary only.
Columns: test MSE (standardized log modulus) and R^2 of the float model, spiking activity (spikes
per boundary neuron per input step; a ReLU boundary counts as always sending),
the deployed network's MSE on Lava, spike and payload agreement with the reference executor,
synaptic ops per graph (binary / graded), and energy per graph: 45 nm with the host's work,
against the A-GNN's dense and fair (same layers, MACs for nonzero inputs and nonzero ReLU outputs
only) cost, and the Loihi chip lower
bound with its sensitivity to the unpublished cost of a graded synaptic op.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path
from typing import List

import numpy as np

VARIANTS = [
    # (row, boundaries, spiking loss beta_L, fine-tuned from the A-GNN)
    ("A-GNN", "relu", 0.0, False),
    ("A-GNN, fine-tuned as long (control)", "relu", 0.0, True),    # the spiking rows' extra epochs, no spikes
    ("HLIF-GNN", "lif", 0.0, True),
    ("HVS-GNN", "vsn", 0.0, True),
    ("HVS-GNN + spiking loss", "vsn", None, True),          # None: --spiking-loss
    ("HVS-GNN, VSN at the first boundary only", "vsn,relu", 0.0, True),
]
GRADED_COST_FACTORS = (1.0, 2.0, 4.0)


def run_variant(base, data, boundaries: str, beta: float, epochs: int, start_from=None, log=print):
    from neurograph.regression import evaluate, train_regression
    cfg = dataclasses.replace(base, model=dataclasses.replace(base.model, boundaries=boundaries, spiking_loss=beta),
                              train=dataclasses.replace(base.train, epochs=epochs))
    start = time.perf_counter()
    model, history = train_regression(cfg, data, progress=lambda s: log(f"  [{boundaries}, beta {beta}] {s}"),
                                      start_from=start_from)
    seconds = time.perf_counter() - start
    test = evaluate(model, data.test)
    return cfg, model, {"mse": test["mse"], "r2": test["r2"], "activity": test["activity"],
                        "train_seconds": seconds, "epochs": epochs,
                        "best_val_mse": min(h["val_mse"] for h in history)}


def relu_density(a_gnn, graphs: list) -> List[float]:
    """Per boundary, the fraction of the A-GNN's hidden ReLU outputs that are nonzero on `graphs`:
    the fair ANN's feature transforms skip the zeros (a ReLU network's cheapest implementation)."""
    import torch
    from torch_geometric.loader import DataLoader

    from neurograph.models.hvsgnn import batch_edges, population_name
    a_gnn.eval()
    nonzero, total = np.zeros(len(a_gnn.boundaries)), 0
    with torch.no_grad():
        for batch in DataLoader(graphs, batch_size=64):
            a_gnn.embeddings(batch.x, batch_edges(batch))
            nonzero += [a_gnn.trace[population_name("relu", layer)]["nonzero"] * batch.num_nodes
                        for layer in range(len(a_gnn.boundaries))]
            total += batch.num_nodes
    return list(nonzero / total)


def deploy_variant(cfg, model, data, graphs_per_run: int, ann_density: List[float], log=print) -> dict:
    """Compile (export, quantize) and run on Lava on every test graph; counts and energy (the fair ANN's
    hidden activations at `ann_density`, :func:`relu_density`)."""
    from torch_geometric.loader import DataLoader

    from neurograph.compile.export import export_hvsgnn
    from neurograph.compile.quantize import quantize_network
    from neurograph.models.hvsgnn import batch_edges
    from neurograph.regression import deploy, graph_samples
    from neurograph.sim.energy import ENERGY_TABLES, energy_report

    calibration = next(iter(DataLoader(data.train[:200], batch_size=200)))
    float_net = export_hvsgnn(model, (calibration.x, batch_edges(calibration)), cfg)
    fixed = quantize_network(float_net, cfg.quant.target_threshold, cfg.quant.headroom)
    start = time.perf_counter()
    result = deploy(fixed, float_net, graph_samples(data.test), engine="lava", graphs_per_run=graphs_per_run)
    log(f"  deployed on Lava: {len(data.test)} graphs in {time.perf_counter() - start:.0f} s, "
        f"MSE {result['deployed']['mse']:.4f}, spike agreement {result['spike_agreement']}, "
        f"payloads identical {result['payloads_identical']}")
    summary, counts = result["summary"], result["counts"]
    from neurograph.models.hvsgnn import population_name
    density = {population_name(kind, layer): ann_density[layer] for layer, kind in enumerate(model.boundaries)}
    energy = energy_report(fixed, counts, summary["graphs"], summary["host_work"], chip="loihi1",
                           hidden_density=density)
    graphs = len(data.test)
    binary = sum(p.synaptic_ops for p in counts.chip_projections if not p.graded)
    graded = sum(p.synaptic_ops for p in counts.chip_projections if p.graded)
    return {
        "deployed_mse": result["deployed"]["mse"], "deployed_r2": result["deployed"]["r2"],
        "float_ir_mse": result["float_ir"]["mse"],
        "spike_agreement": result["spike_agreement"], "payloads_identical": result["payloads_identical"],
        "readouts_identical": result["readouts_identical"],
        "synaptic_ops_per_graph": {"binary": binary / graphs, "graded": graded / graphs},
        "energy_per_graph_pj": {
            "snn_45nm_with_host": energy["with_host"]["snn_45nm_pj"] / graphs,
            "host": energy["with_host"]["host_pj"] / graphs,
            "dense_ann_45nm": energy["ann_45nm"]["total_pj"] / graphs,
            "fair_ann_45nm": energy["fair_ann_45nm"]["total_pj"] / graphs,
            "chip_lower_bound_with_host": energy["with_host"]["chip_pj"] / graphs,
            # the chip total if a graded op cost k binary ones (no chip publishes a graded-op energy)
            "chip_graded_sensitivity": {f"{k:g}x": (energy["chip_energy"]["total_pj"] + graded * (k - 1.0)
                                                    * ENERGY_TABLES["loihi1"]["synaptic_op"].value_pj) / graphs
                                        for k in GRADED_COST_FACTORS},
        },
        "verdict": energy["verdict"],
        "quantization": fixed.metadata["quantization"],
    }


def fmt(value, digits=4, percent=False):
    if value is None:
        return "n/a"
    return f"{100 * value:.1f}%" if percent else f"{value:.{digits}f}"


def table(rows: list, meta: dict) -> str:
    lines = ["# HVS-GNN on the spring-network regression", "",
             f"Made by `{meta['command']}` on {meta['machine']} ({meta['date']}, {meta['minutes']:.0f} min).", "",
             "Task: the standardized log effective modulus of random 2-D spring networks (neurograph/data/"
             f"mechanics.py: {meta['graphs']} graphs of 50-500 nodes, seed {meta['data_seed']}; "
             f"{meta['split']} train / validation / test graphs). Model: three SAGE layers of "
             f"{meta['hidden']} (mean aggregation + root weight, BatchNorm folded at export), boundaries after "
             f"layers 1 and 2, T = {meta['steps']} input steps (window {meta['window']} steps), VSN threshold "
             f"{meta['threshold']}, leak {meta['leak']}, {meta['payload_bits']}-bit graded payloads, "
             f"{meta['surrogate']} surrogate; the host pools the readout per graph and applies the linear head. "
             f"A-GNN trained {meta['epochs']} epochs from scratch; the others fine-tuned from it for "
             f"{meta['finetune_epochs']} epochs (Adam, cosine schedule, best validation MSE kept). "
             f"Spiking loss: MSE + {meta['spiking_loss']} x activity. Training seed {meta['seed']}.", "",
             "| model | test MSE | R^2 | MSE vs A-GNN | spiking activity | Lava MSE | spike agreement | "
             "payloads identical | synaptic ops / graph (binary / graded) | 45 nm + host / graph | "
             "chip lower bound + host / graph |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    a_gnn = rows[0]["float"]["mse"]
    for row in rows:
        f, d = row["float"], row.get("deployed")
        ops = d["synaptic_ops_per_graph"] if d else None
        e = d["energy_per_graph_pj"] if d else None
        ops_text = f"{ops['binary']:,.0f} / {ops['graded']:,.0f}" if d else "-"
        snn_text = f"{e['snn_45nm_with_host'] / 1e6:.3f} uJ" if d else "-"
        chip_text = f"{e['chip_lower_bound_with_host'] / 1e6:.3f} uJ" if d else "-"
        lava_text = fmt(d["deployed_mse"]) if d else "n/a (continuous)"
        agree_text = fmt(d["spike_agreement"], percent=True) if d else "-"
        payload_text = ("yes" if d["payloads_identical"] else "NO") if d else "-"
        lines.append(f"| {row['name']} | {fmt(f['mse'])} | {fmt(f['r2'], 3)} | {100 * (f['mse'] / a_gnn - 1):+.1f}% | "
                     f"{_activity_text(row, meta['hidden'])} | {lava_text} | {agree_text} | {payload_text} | "
                     f"{ops_text} | {snn_text} | {chip_text} |")
    deployed = [r for r in rows if r.get("deployed")]
    if deployed:
        e0 = deployed[0]["deployed"]["energy_per_graph_pj"]
        density = ", ".join(f"{100 * d:.1f}%" for d in meta.get("ann_density", []))
        skipped = (f" and, after each boundary, for the A-GNN's nonzero ReLU outputs only: {density} of them on the "
                   f"test graphs" if density else "")
        lines += ["", f"A-GNN at 45 nm per graph: dense {e0['dense_ann_45nm'] / 1e6:.3f} uJ, fair "
                      f"{e0['fair_ann_45nm'] / 1e6:.3f} uJ (one pass of the same layers, MACs for nonzero inputs "
                      f"only{skipped}; sim/energy.py). Host share of the SNN's 45 nm total: "
                      f"{e0['host'] / 1e6:.3f} uJ per graph (encoding, binding, pooling, head).", "",
                  "The chip column is a lower bound: Davies 2018's minimum per-op energies, each spike or payload "
                  "priced once within a tile (1.7 pJ) -- the per-message and per-hop pricing on a placement "
                  "(docs/energy-model.md) is not applied here. Loihi 2's graded synaptic op has no published "
                  "energy; the chip column prices it as a binary op (23.6 pJ). Sensitivity of the chip total per "
                  "graph (with host) to that assumption:", "",
                  "| model | " + " | ".join(f"graded op = {k:g}x binary" for k in GRADED_COST_FACTORS) + " |",
                  "|---|" + "---|" * len(GRADED_COST_FACTORS)]
        for row in deployed:
            s = row["deployed"]["energy_per_graph_pj"]["chip_graded_sensitivity"]
            host = row["deployed"]["energy_per_graph_pj"]["host"]
            lines.append(f"| {row['name']} | " + " | ".join(f"{(s[f'{k:g}x'] + host) / 1e6:.3f} uJ"
                                                              for k in GRADED_COST_FACTORS) + " |")
        lines += ["", "Verdicts against the fair ANN, host work included (totals over all test graphs):", ""]
        lines += [f"- {r['name']}: {r['deployed']['verdict']}" for r in deployed]
    lines += ["", "What runs where: the chip runs the three SAGE layers (two chains each: dense transform -> "
                  "relay -> mean or self aggregation), the boundary neurons and the readout integrator; the "
                  "host encodes the input (8-bit graded payloads), binds each graph (mean coefficients), pools "
                  "the readout per graph and applies the head. Spiking activity is the paper's measure: spikes per "
                  "boundary neuron per input step (every spike of the window over neurons x T). Biases travel "
                  "with the sample -- a clock channel from the input, relayed by one extra neuron per node at each "
                  "boundary, gates them -- so no neuron fires between samples; the clock neurons' spikes are in "
                  "the synaptic ops and energy, and in the activity in parentheses. Lava MSE is the deployed "
                  "fixed-point network on every test graph (graphs batched as disjoint unions, one Lava run "
                  "each).", ""]
    return "\n".join(lines)


def demo(cfg, out: Path, graphs: int = 2000, finetune_epochs: int = 20, log=print) -> dict:
    """``neurograph demo --model hvsgnn``: the A-GNN and the HVS-GNN fine-tuned from it, the HVS-GNN
    compiled (network.float.npz, network.npz) and run on Lava on every test graph (samples.npz), the
    two-row results table (results.md / results.json) written to `out`."""
    from neurograph.compile.artifact import AtomicFiles, save_network
    from neurograph.compile.export import export_hvsgnn
    from neurograph.compile.quantize import quantize_network
    from neurograph.compile.samples import save_samples
    from neurograph.models.hvsgnn import batch_edges
    from neurograph.regression import graph_samples, mechanics_regression
    from torch_geometric.loader import DataLoader
    begin = time.time()
    data = mechanics_regression(graphs, cfg.data.seed)
    log(f"[1/3] train the A-GNN ({cfg.train.epochs} epochs), then the HVS-GNN from it ({finetune_epochs} epochs) on "
        f"{len(data.train)} spring networks")
    _, a_gnn, a_scores = run_variant(cfg, data, "relu", 0.0, cfg.train.epochs, None, log)
    tuned = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, lr=cfg.train.lr / 3))
    hvs_cfg, hvs, hvs_scores = run_variant(tuned, data, cfg.model.boundaries, cfg.model.spiking_loss,
                                           finetune_epochs, a_gnn, log)
    log(f"[2/3] compile: export (BatchNorm folded) -> quantize; run on Lava on all {len(data.test)} test graphs")
    calibration = next(iter(DataLoader(data.train[:200], batch_size=200)))
    float_net = export_hvsgnn(hvs, (calibration.x, batch_edges(calibration)), hvs_cfg)
    fixed = quantize_network(float_net, cfg.quant.target_threshold, cfg.quant.headroom)
    with AtomicFiles() as files:
        save_network(float_net, out / "network.float.npz", files)
        save_network(fixed, out / "network.npz", files)
        save_samples(graph_samples(data.test), out / "samples.npz", files)
    density = relu_density(a_gnn, data.test)
    rows = [{"name": "A-GNN", "float": a_scores, "activity": _activity(a_gnn, a_scores)},
            {"name": "HVS-GNN", "float": hvs_scores, "activity": _activity(hvs, hvs_scores),
             "deployed": deploy_variant(hvs_cfg, hvs, data, 100, density, log)}]
    log("[3/3] report")
    meta = _meta(cfg, data, graphs, begin, f"neurograph demo --model hvsgnn --epochs {cfg.train.epochs}",
                 cfg.train.epochs, finetune_epochs, cfg.model.spiking_loss, density)
    (out / "results.md").write_text(table(rows, meta))
    (out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=_json))
    return {"rows": rows, "meta": meta}


def _meta(cfg, data, graphs: int, begin: float, command: str, epochs: int, finetune_epochs: int,
          spiking_loss: float, ann_density: List[float]) -> dict:
    import torch
    m = cfg.model
    return {"command": command,
            "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, torch {torch.__version__}",
            "date": time.strftime("%Y-%m-%d"), "minutes": (time.time() - begin) / 60, "graphs": graphs,
            "data_seed": cfg.data.seed,
            "split": f"{len(data.train)} / {len(data.val)} / {len(data.test)}",
            "hidden": m.hidden, "steps": m.num_steps, "window": m.num_steps + 2 * m.layers, "threshold": m.threshold,
            "leak": m.leak, "payload_bits": m.payload_bits, "surrogate": m.surrogate, "epochs": epochs,
            "finetune_epochs": finetune_epochs, "spiking_loss": spiking_loss, "seed": cfg.train.seed,
            "ann_density": ann_density}


def main(argv=None) -> int:
    import torch

    from neurograph.config import RunConfig
    from neurograph.regression import mechanics_regression

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="docs/results-hvsgnn.md")
    p.add_argument("--graphs", type=int, default=2000)
    p.add_argument("--data-seed", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=30, help="A-GNN epochs from scratch")
    p.add_argument("--finetune-epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--finetune-lr", type=float, default=1e-3)
    p.add_argument("--spiking-loss", type=float, default=0.5, help="beta_L of the spiking-loss row")
    p.add_argument("--graphs-per-run", type=int, default=100)
    p.add_argument("--no-lava", action="store_true", help="train and score the float models only")
    p.add_argument("--render", action="store_true", help="only rewrite --out from its .json (no training)")
    args = p.parse_args(argv)
    if args.render:
        recorded = json.loads(Path(str(args.out) + ".json").read_text())
        Path(args.out).write_text(table(recorded["rows"], recorded["meta"]))
        return 0
    torch.set_num_threads(1)
    begin = time.time()
    log = lambda s: print(s, flush=True)                      # noqa: E731
    data = mechanics_regression(args.graphs, args.data_seed)
    base = RunConfig().with_model("hvsgnn")
    base = dataclasses.replace(base, train=dataclasses.replace(base.train, seed=args.seed, lr=args.lr,
                                                                 weight_decay=0.0))
    rows, a_gnn = [], None
    for name, boundaries, beta, finetune in VARIANTS:
        beta = args.spiking_loss if beta is None else beta
        log(f"{name}")
        run_base = base if not finetune else dataclasses.replace(
            base, train=dataclasses.replace(base.train, lr=args.finetune_lr))
        cfg, model, scores = run_variant(run_base, data, boundaries, beta,
                                         args.finetune_epochs if finetune else args.epochs,
                                         a_gnn if finetune else None, log)
        if not finetune:
            a_gnn, density = model, relu_density(model, data.test)
        row = {"name": name, "boundaries": boundaries, "spiking_loss": beta, "float": scores,
               "activity": _activity(model, scores)}
        log(f"  test MSE {scores['mse']:.4f}, R^2 {scores['r2']:.3f}, activity {row['activity']}")
        if model.spiking and not args.no_lava:
            row["deployed"] = deploy_variant(cfg, model, data, args.graphs_per_run, density, log)
        rows.append(row)
    base = dataclasses.replace(base, data=dataclasses.replace(base.data, seed=args.data_seed))
    command = "python -m neurograph.experiments.hvsgnn " + " ".join(argv if argv is not None else sys.argv[1:])
    meta = _meta(base, data, args.graphs, begin, command, args.epochs, args.finetune_epochs, args.spiking_loss,
                 density)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table(rows, meta))
    Path(str(out) + ".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=_json))
    log(f"wrote {out} and {out}.json")
    return 0


def _activity(model, scores) -> float:
    """Spiking activity with ReLU boundaries counted as always sending (the model's own figure averages
    the spiking boundaries only)."""
    spiking = sum(b != "relu" for b in model.boundaries)
    return (scores["activity"] * spiking + (len(model.boundaries) - spiking)) / len(model.boundaries)


def _activity_text(row: dict, hidden: int) -> str:
    """The model's activity and, for a deployed SNN, with its clock neurons (one per node and boundary,
    firing on every input step) counted as boundary neurons."""
    text = fmt(row["activity"], percent=True)
    if row.get("deployed"):
        text += f" ({fmt((row['activity'] * hidden + 1) / (hidden + 1), percent=True)} with the clock)"
    return text


def _json(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.integer, np.floating)):
        return o.item()
    raise TypeError(type(o).__name__)


if __name__ == "__main__":
    sys.exit(main())
