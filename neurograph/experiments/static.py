"""Static-graph results: models x datasets x seeds -> a Markdown table (mean +- std over seeds).

    python -m neurograph.experiments.static --datasets cora citeseer pubmed --seeds 0 1 2 --stfn-ablation \
        --attention-ablation
    python -m neurograph.experiments.static --datasets cora --models gcn gcsnn --depths 2 4 8 16 --no-deploy
    python -m neurograph.experiments.static --merge a.json b.json --out docs/results-static.md

Models: GCN, GAT (ANN baselines, the layer sizes of the spiking models), GC-SNN and
GA-SNN. Spiking models are also deployed: export -> fold -> quantize -> Lava (fused)
and the bit-exact reference, giving deployed accuracy, spike agreement, firing rate,
synaptic ops, chip energy (Loihi 1 constants) and the ANN/SNN energy ratio at 45 nm.
GA-SNN is deployed with frozen attention; its float accuracy with per-step ("live")
attention is shown too, so the table says what freezing costs. Every run also writes
its rows as JSON beside the table, so runs made in parallel can be merged.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
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
from neurograph.models import SPIKING, build_model
from neurograph.pipeline import BASELINES, baseline_config, compile_model, live_attention_accuracy
from neurograph.train import train_model

MODELS = ("gcn", "gat", "gcsnn", "gasnn")
LABELS = {"gcn": "GCN", "gat": "GAT", "gcsnn": "GC-SNN", "gasnn": "GA-SNN"}


def deploy(model, graph, cfg: RunConfig) -> dict:
    """Compile a trained spiking model, run its training graph (as a sample) on Lava and the reference;
    the numbers a results table needs."""
    from neurograph.compile.kinds import get_kind
    from neurograph.sim.energy import energy_report
    from neurograph.sim.steps import simulate_samples

    folded, fixed, sample = compile_model(model, graph, cfg)
    summary, _, counts = simulate_samples(fixed, [sample], folded, engine="lava", progress=False)
    energy = energy_report(fixed, counts, summary["graphs"], summary["host_work"], cfg.chip.name)
    spiking = [p for p in counts.populations if get_kind(p.kind).spiking]
    return {"deployed": summary["accuracy"]["lava"],
            "agreement": summary["fidelity"]["spike_agreement"]["all"],
            "firing_rate": sum(p.events for p in spiking) / sum(p.neurons * counts.steps for p in spiking),
            "synaptic_ops": sum(p.synaptic_ops for p in counts.projections),
            "chip_uj": energy["chip_energy"]["total_pj"] / 1e6,
            "snn_45nm_uj": energy["snn_45nm"]["total_pj"] / 1e6,
            "host_per_graph_uj": energy["host"]["per_graph_pj"] / 1e6,
            "ann_over_snn": energy["ratios"]["ann_over_snn_45nm"],
            "ann_over_snn_papers": energy["ratios"]["ann_over_snn_45nm_all_accumulates"]}


def run_one(cfg: RunConfig, graph, with_deploy: bool) -> dict:
    """Train one model (seed cfg.train.seed) and, if asked and spiking, deploy it: one table row."""
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg.model, graph)
    result = train_model(model, graph, cfg, progress=False)
    row = {"float": result.accuracy["test"], "val": result.accuracy["val"], "best_epoch": result.best_epoch,
           "train_s": result.seconds}
    if hasattr(model, "live_attention_logits"):
        row["live_attention"] = live_attention_accuracy(model, graph, cfg)
    if with_deploy and cfg.model.name in SPIKING:
        row.update(deploy(model, graph, cfg))
    return row


def variants(model: str, base: RunConfig, stfn_ablation: bool, init: str = "default", dropout=None,
             attention_ablation: bool = False):
    """(label, run configuration) for one model name, with the model's own settings (or the given
    init and dropout for spiking models, named in the label); an ANN baseline is the pipeline's
    baseline of its spiking counterpart."""
    spiking = {ann: snn for snn, (ann, _) in BASELINES.items()}.get(model, model)
    cfg = base.with_model(spiking)
    if model != spiking:
        return [(LABELS[model], baseline_config(cfg))]
    changed = {"init": init} if init != "default" else {}
    if dropout is not None:
        changed["dropout"] = dropout
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **changed))
    suffix = f" ({', '.join(f'{k} {v}' for k, v in changed.items())})" if changed else ""
    out = [(LABELS[model] + suffix, cfg)]
    if stfn_ablation and model == "gcsnn":      # the paper's ablation: GC-SNN with and without STFN
        flipped = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, stfn=not cfg.model.stfn))
        out.append((f"{LABELS[model]} {'with' if flipped.model.stfn else 'without'} STFN{suffix}", flipped))
    if attention_ablation and model == "gasnn":  # attention scores from running spike rates vs single steps
        other = {"running": "step", "step": "running"}[cfg.model.attention_scores_from]
        flipped = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, attention_scores_from=other))
        out.append((f"{LABELS[model]} with {other} attention scores{suffix}", flipped))
    return out


def _mean_std(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    mean = statistics.mean(values)
    std = statistics.pstdev(values) if len(values) > 1 else 0.0
    return f"{100 * mean:.1f} ± {100 * std:.1f}"


def _mean(rows, key, fmt) -> str:
    values = [r[key] for r in rows if r.get(key) is not None]
    return format(statistics.mean(values), fmt) if values else "-"


COLUMNS = ("dataset", "model", "layers", "hidden", "epochs", "seeds", "float acc. %", "GA-SNN live attention %",
           "deployed on Lava %", "spike agreement", "firing rate", "synaptic ops", "chip energy (Loihi 1) µJ", "SNN 45 nm µJ",
           "host per graph µJ", "ANN/SNN 45 nm", "ANN/SNN papers' convention", "train s")
GROUP = ("dataset", "label", "layers", "hidden", "epochs")      # rows that differ only in their seed


def table(rows) -> str:
    groups = defaultdict(list)
    for r in rows:
        group = groups[tuple(r[k] for k in GROUP)]
        if any(other["seed"] == r["seed"] for other in group):
            raise ValueError(f"two rows for {dict(zip(GROUP, (r[k] for k in GROUP)))} with seed {r['seed']}: "
                             f"merge each run once")
        group.append(r)
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for key, rs in groups.items():
        dep = [r for r in rs if "deployed" in r]
        agreement = f"{100 * min(r['agreement'] for r in dep):.2f}% (min)" if dep else "-"
        cells = [str(k) for k in key] + [
            str(len(rs)), _mean_std(r["float"] for r in rs),
            _mean_std(r.get("live_attention") for r in rs), _mean_std(r["deployed"] for r in dep), agreement,
            _mean(dep, "firing_rate", ".3f"), _mean(dep, "synaptic_ops", ",.0f"), _mean(dep, "chip_uj", ",.1f"),
            _mean(dep, "snn_45nm_uj", ",.1f"), _mean(dep, "host_per_graph_uj", ",.1f"), _mean(dep, "ann_over_snn", ".1f"),
            _mean(dep, "ann_over_snn_papers", ".1f"), _mean(rs, "train_s", ".0f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render(runs) -> str:
    """The Markdown page for one or more runs ({"command", "machine", "started", "rows", "skipped"})."""
    rows = [r for run in runs for r in run["rows"]]
    skipped = sorted({s for run in runs for s in run["skipped"]})
    lines = ["# Static graph results", ""]
    for run in runs:
        lines += [f"- `{run['command']}` on {run['machine']}, started {run['started']}, took {run['minutes']:.0f} min"]
    lines += ["", table(rows), ""] + [f"Skipped: {s}" for s in skipped]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["cora", "citeseer", "pubmed", "actor"])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--depths", nargs="+", type=int, default=[2], help="graph layers per model")
    parser.add_argument("--hidden", type=int, default=RunConfig().model.hidden)
    parser.add_argument("--epochs", type=int, default=RunConfig().train.epochs)
    parser.add_argument("--device", default=RunConfig().train.device,
                        help="training device: auto (the GPU when there is one) | cpu | cuda (default: %(default)s)")
    parser.add_argument("--stfn-ablation", action="store_true", help="also train GC-SNN with STFN switched")
    parser.add_argument("--attention-ablation", action="store_true",
                        help="also train GA-SNN with its other attention scores (per step vs running mean)")
    parser.add_argument("--init", default="default", choices=["default", "balanced"],
                        help="spiking models' weight initialization (balanced: for deep networks)")
    parser.add_argument("--dropout", type=float, default=None, help="spiking models' window dropout "
                        "(default: each model's own)")
    parser.add_argument("--no-deploy", action="store_true", help="float accuracy only (no Lava runs)")
    parser.add_argument("--merge", nargs="+", metavar="JSON", help="only merge earlier runs' JSON into one table")
    parser.add_argument("--out", default="docs/results-static.md", help="Markdown table; rows go to <out>.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.merge:
        runs = [run for path in args.merge for run in json.loads(Path(path).read_text())]
        out.write_text(render(runs))
        print(out.read_text())
        return 0

    command = "python -m neurograph.experiments.static " + " ".join(argv if argv is not None else sys.argv[1:])
    run = {"command": command, "started": time.strftime("%Y-%m-%d %H:%M"), "rows": [], "skipped": [],
           "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
                      f"torch {torch.__version__}, {torch.get_num_threads()} torch threads"}
    start = time.perf_counter()
    for dataset in args.datasets:
        base = RunConfig()
        base.data.name, base.train.epochs, base.model.hidden = dataset, args.epochs, args.hidden
        base.train.device = args.device
        try:
            graph = load_graph(base.data)
        except DatasetNotFoundError as exc:
            run["skipped"].append(f"{dataset}: {exc}")
            print(f"skipping {dataset}: {exc}", file=sys.stderr)
            continue
        for depth in args.depths:
            for model in args.models:
                for seed in args.seeds:
                    seeded = dataclasses.replace(base, model=dataclasses.replace(base.model, layers=depth),
                                                 train=dataclasses.replace(base.train, seed=seed))
                    for label, cfg in variants(model, seeded, args.stfn_ablation, args.init, args.dropout,
                                                 args.attention_ablation):
                        row = run_one(cfg, graph, not args.no_deploy)
                        run["rows"].append({"dataset": dataset, "label": label, "layers": depth, "seed": seed,
                                            "hidden": args.hidden, "epochs": args.epochs, **row})
                        print(f"{dataset} {label} layers={depth} seed={seed}: float {100 * row['float']:.1f}%"
                              + (f", Lava {100 * row['deployed']:.1f}%" if "deployed" in row else ""), flush=True)
    run["minutes"] = (time.perf_counter() - start) / 60
    Path(f"{out}.json").write_text(json.dumps([run], indent=1))
    out.write_text(render([run]))
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
