"""Dy-SIGN results: implicit differentiation vs the BPTT baseline on a dynamic graph -> a Markdown table.

    python -m neurograph.experiments.dysign --dataset dblp --ratios 0.4 0.6 0.8 --seeds 0 1 2 3 4
    python -m neurograph.experiments.dysign --dataset synthetic --num-nodes 2000 --epochs 20 --out docs/x.md

Per training ratio and seed, both gradients train the same network (neurograph.dynamic_train)
and are scored by Macro/Micro-F1 on the test nodes in their deployed form (the whole graph,
every snapshot); training memory is the bytes autograd keeps for the largest batch, time is
per training epoch. The first seed's Dy-SIGN at the first ratio is deployed: exported,
quantized and run on Lava (fused) and the bit-exact reference as one stream of all snapshots
with the membranes carried, giving the deployed F1, spike agreement and energy per snapshot.
Rows are also written as JSON beside the table.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from neurograph.config import RunConfig

PAPER = {   # DBLP, Tables 1-2 of the paper: Macro-F1 and Micro-F1 at 40 / 60 / 80 % training
    "implicit": {"macro": (70.94, 72.07, 74.67), "micro": (71.90, 72.61, 74.96)},
    "bptt": {"macro": (70.88, 71.98, 74.64), "micro": (71.98, 72.35, 74.86)},     # SpikeNet
}
LABELS = {"implicit": "Dy-SIGN (implicit)", "bptt": "BPTT baseline (SpikeNet-style)"}


def deploy(model, graph, cfg: RunConfig) -> dict:
    """Export, quantize and run every snapshot on Lava and the reference as one carried stream."""
    from neurograph.compile.export import dysign_logits, dysign_representations, dysign_samples, export_network
    from neurograph.compile.fold import fold_scales
    from neurograph.compile.quantize import quantize_network
    from neurograph.data.dynamic import f1_scores
    from neurograph.data.dynamic_loader import full_batch
    from neurograph.sim.energy import energy_report
    from neurograph.sim.steps import simulate_samples

    start = time.perf_counter()
    folded = fold_scales(export_network(model, graph, cfg))
    fixed = quantize_network(folded, cfg.quant.target_threshold, cfg.quant.headroom)
    samples = dysign_samples(graph)
    summary, runs, counts = simulate_samples(fixed, samples, engine="lava", carry=True, progress=False)
    pred = dysign_logits(model, fixed, runs[0].readouts).argmax(axis=1)
    expected = model.inference_logits(full_batch(graph), cfg.train.input_seed).argmax(dim=1).numpy()
    test, train = graph.masks["test"], graph.masks["train"]
    # the host's classifier fitted again, to the deployed network's own readouts of the training nodes (the
    # whole graph runs on the chip, training nodes included): fixed point moves spikes, and the classifier
    # fitted to the float model's rates reads the moved ones less well
    reps = dysign_representations(model, fixed, runs[0].readouts)
    on_chip = copy.deepcopy(model)
    on_chip.fit_classifier(reps[:, torch.as_tensor(train)], torch.as_tensor(graph.y[train]))
    with torch.no_grad():
        pred_refit = on_chip.classify(reps).argmax(dim=1).numpy()
    energy = energy_report(fixed, counts, summary["graphs"], summary["host_work"], cfg.chip.name)
    steps = graph.num_snapshots
    return {"deployed": f1_scores(pred[test], graph.y[test]),
            "deployed_classifier_refit": f1_scores(pred_refit[test], graph.y[test]),
            "agreement": summary["fidelity"]["spike_agreement"]["all"],
            "predictions_equal_pytorch": float(np.mean(pred == expected)),
            "chip_uj_per_snapshot": energy["chip_energy"]["total_pj"] / 1e6 / steps,
            "host_uj_per_snapshot": (energy["host"]["per_inference_pj"] + energy["host"]["per_graph_pj"]) / 1e6 / steps,
            "seconds": time.perf_counter() - start}


def demo(cfg: RunConfig, out: Path) -> dict:
    """The whole path for one run: train Dy-SIGN, compile it, run every snapshot on Lava with the state
    carried; writes network.npz, samples.npz and summary.json to `out` and returns the summary."""
    from neurograph.compile.artifact import atomic_write_text, save_network
    from neurograph.compile.export import dysign_samples, export_network
    from neurograph.compile.fold import fold_scales
    from neurograph.compile.quantize import quantize_network
    from neurograph.compile.samples import save_samples
    from neurograph.data.dynamic import load_dynamic
    from neurograph.dynamic_train import train_dynamic
    from neurograph.models import build_model
    graph = load_dynamic(cfg.data)
    print(f"[1/3] train Dy-SIGN ({cfg.model.gradient} gradients) on {graph.name}: {graph.num_nodes} nodes, "
          f"{graph.num_snapshots} snapshots")
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model, graph)
    trained = train_dynamic(model, graph, cfg)
    print("[2/3] compile: export -> quantize to Loihi fixed point")
    fixed = quantize_network(fold_scales(export_network(model, graph, cfg)), cfg.quant.target_threshold,
                             cfg.quant.headroom)
    save_network(fixed, out / "network.npz")
    save_samples(dysign_samples(graph), out / "samples.npz")
    print(f"[3/3] run the {graph.num_snapshots} snapshots as one stream on Lava and the reference, state carried")
    deployed = deploy(model, graph, cfg)
    summary = {"config": cfg.to_dict(), "float": trained.f1, "best_epoch": trained.best_epoch,
               "seconds_per_epoch": trained.seconds_per_epoch, "autograd_mb": trained.autograd_bytes / 1e6,
               "deployed": deployed}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=1))
    return summary


def run(cfg: RunConfig, ratios, seeds, with_deploy: bool = True, progress: bool = True,
        gradients=("implicit", "bptt")) -> list:
    from neurograph.data.dynamic import load_dynamic
    from neurograph.dynamic_train import train_dynamic
    from neurograph.models import build_model
    rows = []
    for ratio in ratios:
        for seed in seeds:
            for gradient in gradients:
                c = RunConfig.from_dict(cfg.to_dict())
                c.data.train_ratio, c.data.seed, c.train.seed, c.model.gradient = ratio, seed, seed, gradient
                c.check()
                graph = load_dynamic(c.data)
                torch.manual_seed(seed)
                model = build_model(c.model, graph)
                result = train_dynamic(model, graph, c, progress=progress)
                row = {"ratio": ratio, "seed": seed, "gradient": gradient, "dataset": graph.name,
                       "test": result.f1["test"], "val": result.f1["val"], "best_epoch": result.best_epoch,
                       "seconds_per_epoch": result.seconds_per_epoch, "autograd_mb": result.autograd_bytes / 1e6}
                if with_deploy and gradient == "implicit" and ratio == ratios[0] and seed == seeds[0]:
                    row["deploy"] = deploy(model, graph, c)
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def memory_by_graph_size(cfg: RunConfig, sizes, batch_size: int) -> list:
    """Autograd bytes of one training batch of `batch_size` targets on evolving block models of `sizes`
    nodes (DBLP's 27 snapshots): bounded by the batch, not the graph."""
    from neurograph.data.dynamic import make_evolving_sbm
    from neurograph.data.dynamic_loader import DynamicNeighborSampler
    from neurograph.dynamic_train import autograd_bytes
    from neurograph.models import build_model
    rows = []
    for n in sizes:
        graph = make_evolving_sbm(n, 10, 27, 128, avg_degree=10.7, seed=0)        # DBLP's shape, n nodes
        batch = DynamicNeighborSampler(graph, (5, 2)).sample(torch.arange(batch_size), torch.Generator().manual_seed(0))
        for gradient in ("implicit", "bptt"):
            c = RunConfig.from_dict(cfg.to_dict())
            c.model.gradient = gradient
            torch.manual_seed(0)
            model = build_model(c.model, graph)
            start = time.perf_counter()
            size = autograd_bytes(lambda: model.train_logits(batch, 0, 0).sum())
            rows.append({"nodes": n, "edges": int(graph.pairs.shape[1]), "batch_nodes": batch.num_nodes,
                         "gradient": gradient, "autograd_mb": size / 1e6, "seconds": time.perf_counter() - start})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def render_scale(rows: list, batch_size: int) -> str:
    lines = ["", f"## Training memory against graph size (one batch of {batch_size} targets, 27 snapshots, "
                 f"[5, 2] sampling, evolving block models with DBLP's degree and classes)", "",
             "| nodes | undirected edges | nodes in the batch | gradient | autograd memory (MB) |", "|---|---|---|---|---|"]
    lines += [f"| {r['nodes']:,} | {r['edges']:,} | {r['batch_nodes']:,} | {r['gradient']} | {r['autograd_mb']:,.0f} |"
              for r in rows]
    return "\n".join(lines) + "\n"


def _mean_std(values) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def render(rows: list, cfg: RunConfig, command, dataset: str) -> str:
    """The Markdown table; `command`: the command that made the rows, or a list of them (merged runs)."""
    ratios = sorted({r["ratio"] for r in rows})
    seeds = sorted({r["seed"] for r in rows})
    m, t = cfg.model, cfg.train
    on_dblp = dataset == "dblp"
    lines = [f"# Dy-SIGN on {dataset}: implicit differentiation vs BPTT", "",
             ("Command: " if isinstance(command, str) else "Commands (one table from several runs): ")
             + "; ".join(f"`{c}`" for c in ([command] if isinstance(command, str) else command)) + "  ",
             f"Machine: {platform.processor() or platform.machine()}, "
             f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)", "",
             f"Settings: hidden {m.hidden}, {m.layers} layers, K = {m.num_steps} latency steps per snapshot "
             f"(window {m.num_steps + 2 * m.layers} steps), lambda = {1 - m.leak:g}, {m.coding} input coding, "
             f"{m.init} init, "
             f"{t.epochs} epoch{'s' if t.epochs != 1 else ''}, lr {t.lr:g}, batch {t.batch_size} targets, fanout {t.fanout} (outward), "
             f"seeds {seeds}"
             + ("" if not on_dblp else "; DeepWalk features fitted per seed" if cfg.data.feature_seed is None
                else f"; DeepWalk features fitted once with seed {cfg.data.feature_seed}, the seeds varying the split "
                     f"and the training")
             + "; test Macro/Micro-F1 (%) of the deployed form on the whole graph, the epoch chosen "
             f"by validation Macro-F1.", "",
             "| model | train ratio | seeds | Macro-F1 | Micro-F1 | paper Macro-F1 (DBLP) | paper Micro-F1 (DBLP) | "
             "autograd memory (MB) | s / epoch |", "|---|---|---|---|---|---|---|---|---|"]
    for gradient in ("implicit", "bptt"):
        for ratio in ratios:
            sel = [r for r in rows if r["gradient"] == gradient and r["ratio"] == ratio]
            if not sel:
                continue
            k = {0.4: 0, 0.6: 1, 0.8: 2}.get(ratio) if on_dblp else None
            paper = ["-", "-"] if k is None else [f"{PAPER[gradient][kind][k]:.2f}" for kind in ("macro", "micro")]
            lines.append(f"| {LABELS[gradient]} | {ratio:.0%} | {len(sel)} | {_mean_std([r['test']['macro_f1'] for r in sel])} | "
                         f"{_mean_std([r['test']['micro_f1'] for r in sel])} | "
                         f"{paper[0]} | {paper[1]} | "
                         f"{statistics.mean(r['autograd_mb'] for r in sel):,.0f} | "
                         f"{statistics.mean(r['seconds_per_epoch'] for r in sel):,.1f} |")
    deployed = [r for r in rows if "deploy" in r]
    for r in deployed:
        d = r["deploy"]
        lines += ["", f"Deployed (Dy-SIGN, {r['ratio']:.0%}, seed {r['seed']}): all {dataset} snapshots as one stream "
                      f"on Lava (fused lowering, fixed point) with the membranes carried: test Macro-F1 "
                      f"{d['deployed']['macro_f1']:.2f}, Micro-F1 {d['deployed']['micro_f1']:.2f} "
                      f"(PyTorch float: {r['test']['macro_f1']:.2f} / {r['test']['micro_f1']:.2f}); "
                      + (f"with the host's classifier fitted again to the deployed network's readouts of the training "
                         f"nodes: {d['deployed_classifier_refit']['macro_f1']:.2f} / "
                         f"{d['deployed_classifier_refit']['micro_f1']:.2f}; " if "deployed_classifier_refit" in d else "")
                      + f"spike agreement "
                      f"with the bit-exact reference {d['agreement']:.6f}; predictions equal to PyTorch's on "
                      f"{d['predictions_equal_pytorch']:.2%} of the nodes; energy per snapshot on chip "
                      f"{d['chip_uj_per_snapshot']:,.1f} uJ (Loihi 1 constants) plus host "
                      f"{d['host_uj_per_snapshot']:,.1f} uJ (encoding, graph binding, classifier; 45 nm)."]
    implicit = [r["autograd_mb"] for r in rows if r["gradient"] == "implicit"]
    bptt = [r["autograd_mb"] for r in rows if r["gradient"] == "bptt"]
    if implicit and bptt:
        lines += ["", f"Training memory of Dy-SIGN over BPTT at the same model size: "
                      f"{statistics.mean(implicit) / statistics.mean(bptt):.2f}x (bytes autograd keeps for the "
                      f"largest batch)."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    d = RunConfig().with_model("dysign")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="dblp", help="dblp | synthetic (default: %(default)s)")
    p.add_argument("--ratios", type=float, nargs="+", default=[0.4, 0.6, 0.8])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--epochs", type=int, default=d.train.epochs)
    p.add_argument("--lr", type=float, default=d.train.lr)
    p.add_argument("--hidden", type=int, default=d.model.hidden)
    p.add_argument("--steps", type=int, default=d.model.num_steps, help="K latency steps per snapshot")
    p.add_argument("--coding", default=d.model.coding, choices=["bernoulli", "deterministic", "graded"],
                   help="input coding: bernoulli spikes (the paper's) or 8-bit graded payloads (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=d.train.batch_size)
    p.add_argument("--init", default=d.model.init, choices=["default", "balanced"],
                   help="weight init; 'balanced' scales each layer's input current to the threshold (default: %(default)s)")
    p.add_argument("--num-nodes", type=int, default=d.data.num_nodes, help="synthetic graph's nodes")
    p.add_argument("--snapshots", type=int, default=d.data.num_snapshots, help="synthetic graph's snapshots")
    p.add_argument("--feature-seed", type=int, default=None,
                   help="dblp: fit the DeepWalk features once with this seed for every seed (default: each seed "
                        "its own)")
    p.add_argument("--gradients", nargs="+", default=["implicit", "bptt"], choices=["implicit", "bptt"],
                   help="which trainings to run (default: both)")
    p.add_argument("--no-deploy", action="store_true")
    p.add_argument("--scale", type=int, nargs="*", default=[],
                   help="also measure one batch's training memory on evolving block models of these node counts")
    p.add_argument("--merge", nargs="+", default=[], metavar="JSON",
                   help="train nothing: one table from the rows of earlier runs' JSON files (runs split across "
                        "processes)")
    p.add_argument("--out", default="docs/results-dysign.md")
    a = p.parse_args(argv)
    command = "python -m neurograph.experiments.dysign " + " ".join(sys.argv[1:] if argv is None else argv)
    if a.merge:
        return merge(a.merge, Path(a.out), command)
    cfg = d
    cfg.data.name, cfg.data.num_nodes, cfg.data.num_snapshots = a.dataset, a.num_nodes, a.snapshots
    cfg.data.feature_seed = a.feature_seed
    cfg.train.epochs, cfg.train.lr, cfg.train.batch_size = a.epochs, a.lr, a.batch_size
    cfg.model.hidden, cfg.model.num_steps, cfg.model.init, cfg.model.coding = a.hidden, a.steps, a.init, a.coding
    cfg.check()
    rows = run(cfg, a.ratios, a.seeds, not a.no_deploy, gradients=a.gradients)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    scale = memory_by_graph_size(cfg, a.scale, a.batch_size) if a.scale else []
    out.write_text(render(rows, cfg, command, a.dataset) + (render_scale(scale, a.batch_size) if scale else ""))
    Path(str(out) + ".json").write_text(json.dumps({"config": cfg.to_dict(), "command": command, "rows": rows,
                                                    "scale": scale}, indent=1))
    print(f"wrote {out}")
    return 0


def merge(files, out: Path, command: str) -> int:
    """One table from several runs' JSON (same dataset and model settings; the first file's config is shown)."""
    runs = [json.loads(Path(f).read_text()) for f in files]
    cfg = RunConfig.from_dict(runs[0]["config"])
    rows = [row for run in runs for row in run["rows"]]
    datasets = {row["dataset"] for row in rows}
    if len(datasets) != 1:
        raise SystemExit(f"--merge: the files hold rows of several datasets {sorted(datasets)}; merge one at a time")
    runs_of = [(row["gradient"], row["ratio"], row["seed"]) for row in rows]
    twice = sorted({key for key in runs_of if runs_of.count(key) > 1})
    if twice:
        raise SystemExit(f"--merge: (gradient, ratio, seed) {twice} appear in more than one row; pass each run's "
                         f"file once")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(rows, cfg, [run.get("command", "?") for run in runs] + [command], datasets.pop()))
    Path(str(out) + ".json").write_text(json.dumps({"config": cfg.to_dict(), "command": command, "merged": files,
                                                    "rows": rows, "scale": []}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
