"""Static-graph results: models x datasets x seeds -> a Markdown table (mean +- std over seeds).

    python -m neurograph.experiments.static --datasets cora citeseer --seeds 0 1 2 --out docs/results-static.md
    python -m neurograph.experiments.static --datasets cora --depths 2 4 8 16 --no-deploy   # oversmoothing
    python -m neurograph.experiments.static --datasets cora --stfn-ablation

Spiking models are also deployed: export -> fold -> quantize -> Lava (fused) and the
reference, giving deployed accuracy, spike agreement, firing rate, synaptic ops and
the ANN/SNN energy ratio at 45 nm (dense-MAC convention, see docs/energy-model.md).
Models so far: GCN and GC-SNN (GA-SNN and GAT are not implemented yet).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

from neurograph.config import RunConfig
from neurograph.data import DatasetNotFoundError, load_graph
from neurograph.models import build_model
from neurograph.pipeline import baseline_config, compile_model
from neurograph.train import train_model

MODELS = ("gcn", "gcsnn")


def deploy(model, graph, cfg: RunConfig) -> dict:
    """Compile a trained spiking model and run it on Lava; the numbers a results table needs."""
    from neurograph.sim.counters import count_events
    from neurograph.sim.energy import energy_report
    from neurograph.sim.steps import simulate_network

    float_net, fixed = compile_model(model, graph, cfg)
    summary, deployed = simulate_network(fixed, float_net, engine="lava", progress=False)
    counts = count_events(fixed, deployed.spikes)
    energy = energy_report(fixed, counts, cfg.chip.name)
    spiking = [p for p in counts.populations if p.kind in ("if", "lif")]
    return {"deployed": summary["accuracy"]["lava"],
            "agreement": summary["fidelity"]["spike_agreement"]["all"],
            "firing_rate": sum(p.events for p in spiking) / sum(p.neurons * counts.steps for p in spiking),
            "synaptic_ops": sum(p.synaptic_ops for p in counts.projections),
            "ann_over_snn": energy["ratios"]["ann_over_snn_45nm"]}


def run_one(cfg: RunConfig, graph, with_deploy: bool) -> dict:
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model, graph)
    result = train_model(model, graph, cfg, progress=False)
    row = {"float": result.accuracy["test"], "train_s": result.seconds}
    if with_deploy and cfg.model.name == "gcsnn":
        row.update(deploy(model, graph, cfg))
    return row


def variants(model: str, base: RunConfig, stfn_ablation: bool):
    """(label, run configuration) for one model name; the GCN is the pipeline's baseline."""
    if model == "gcn":
        return [("GCN", baseline_config(base))]
    out = [("GC-SNN", base)]
    if stfn_ablation:
        out.append(("GC-SNN without STFN", dataclasses.replace(base, model=dataclasses.replace(base.model, stfn=False))))
    return out


def _mean_std(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    mean = statistics.mean(values)
    std = statistics.pstdev(values) if len(values) > 1 else 0.0
    return f"{100 * mean:.1f} ± {100 * std:.1f}"


def table(rows) -> str:
    groups = defaultdict(list)
    for r in rows:
        groups[(r["dataset"], r["label"], r["layers"])].append(r)
    lines = ["| dataset | model | layers | seeds | float acc. % | deployed on Lava % | spike agreement | "
             "firing rate | synaptic ops | ANN/SNN (45 nm) | train s |", "|" + "---|" * 11]
    for (dataset, label, layers), rs in groups.items():
        dep = [r for r in rs if "deployed" in r]
        deployed_cells = ["-"] * 4
        if dep:
            deployed_cells = [f"{100 * min(r['agreement'] for r in dep):.2f}% (min)",
                              f"{statistics.mean(r['firing_rate'] for r in dep):.3f}",
                              f"{statistics.mean(r['synaptic_ops'] for r in dep):,.0f}",
                              f"{statistics.mean(r['ann_over_snn'] for r in dep):.1f}x"]
        cells = [dataset, label, str(layers), str(len(rs)), _mean_std(r["float"] for r in rs),
                 _mean_std(r["deployed"] for r in dep), *deployed_cells,
                 f"{statistics.mean(r['train_s'] for r in rs):.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["cora", "citeseer", "pubmed", "actor"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--depths", nargs="+", type=int, default=[2], help="graph convolutions per model")
    parser.add_argument("--epochs", type=int, default=RunConfig().train.epochs)
    parser.add_argument("--stfn-ablation", action="store_true", help="also train GC-SNN without STFN")
    parser.add_argument("--no-deploy", action="store_true", help="float accuracy only (no Lava runs)")
    parser.add_argument("--out", default="docs/results-static.md")
    args = parser.parse_args(argv)

    rows, skipped = [], []
    started = time.strftime("%Y-%m-%d %H:%M")
    for dataset in args.datasets:
        base = RunConfig()
        base.data.name, base.train.epochs = dataset, args.epochs
        try:
            graph = load_graph(base.data)
        except DatasetNotFoundError as exc:
            skipped.append(f"{dataset}: {exc}")
            print(f"skipping {dataset}: {exc}", file=sys.stderr)
            continue
        for depth in args.depths:
            for model in args.models:
                for seed in args.seeds:
                    run = dataclasses.replace(base, model=dataclasses.replace(base.model, layers=depth),
                                              train=dataclasses.replace(base.train, seed=seed))
                    for label, cfg in variants(model, run, args.stfn_ablation):
                        row = run_one(cfg, graph, not args.no_deploy)
                        rows.append({"dataset": dataset, "label": label, "layers": depth, "seed": seed, **row})
                        print(f"{dataset} {label} layers={depth} seed={seed}: float {100 * row['float']:.1f}%"
                              + (f", Lava {100 * row['deployed']:.1f}%" if "deployed" in row else ""), flush=True)
    text = "\n".join([
        "# Static graph results", "",
        f"Command: `python -m neurograph.experiments.static {' '.join(argv if argv is not None else sys.argv[1:])}`",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"torch {torch.__version__}; started {started}.", "",
        table(rows), ""] + ([f"Skipped: {s}" for s in skipped] or []))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
