"""Static-graph results: models x datasets x seeds -> a Markdown table (mean +- std over seeds).

    python -m neurograph.experiments.static --datasets cora citeseer pubmed --seeds 0 1 2 --stfn-ablation \
        --attention-ablation
    python -m neurograph.experiments.static --datasets cora --models gcn gcsnn --depths 2 4 8 16 --no-deploy
    python -m neurograph.experiments.static --merge a.json b.json --out docs/results-static.md
    python -m neurograph.experiments.static --datasets cora --models gcsnn gasnn --input-as-current

Each row's training numbers and deployed runs are kept under --work-dir; a rerun reuses them and
only prices again. Merged, a later run replaces an earlier one's rows of the same model, settings,
seed and energy model (its float accuracy must be the same); rows priced by the current energy
model also fill an energy table (docs/energy-model.md), and older rows keep their accuracy lines.

Models: GCN, GAT (ANN baselines, the layer sizes of the spiking models), GC-SNN and
GA-SNN. Spiking models are also deployed: export -> fold -> quantize -> Lava (fused)
and the bit-exact reference, giving deployed accuracy, spike agreement, firing rate,
synaptic ops, chip energy (Loihi 1 constants, a lower bound), the SNN at 45 nm, the host's work, and
the ratios against the dense and the cheapest fair ANN with the host's work included.
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
from typing import Optional

import torch

from neurograph.config import RunConfig
from neurograph.data import DatasetNotFoundError, load_graph
from neurograph.models import SPIKING, build_model
from neurograph.pipeline import BASELINES, baseline_config, compile_model, live_attention_accuracy
from neurograph.train import train_model

MODELS = ("gcn", "gat", "gcsnn", "gasnn")
LABELS = {"gcn": "GCN", "gat": "GAT", "gcsnn": "GC-SNN", "gasnn": "GA-SNN"}


# Rows priced by an earlier energy model keep their accuracy lines but stay out of the energy table.
ENERGY_MODEL = "messages-v1"       # spikes priced per message and hop on the mapping (docs/energy-model.md)


def deploy(model, graph, cfg: RunConfig, run_dir: Path) -> dict:
    """Compile a trained spiking model, run its training graph (as a sample) on Lava and the reference
    into `run_dir` (kept: a rerun only reprices it), and price it: the numbers a results table needs."""
    from neurograph.pipeline import write_compiled
    from neurograph.sim.steps import simulate
    if not (run_dir / "simulation.json").is_file():
        write_compiled(*compile_model(model, graph, cfg), run_dir)
        simulate(run_dir / "network.npz", run_dir / "samples.npz", run_dir, engine="lava", progress=False)
    return priced(run_dir)


def priced(run_dir: Path) -> dict:
    """A deployed run's table numbers, priced by the current energy model."""
    from neurograph.compile.kinds import get_kind
    from neurograph.sim.steps import report
    result = report(run_dir, plots=False)
    energy, counts = result["energy"], result["counts"]
    spiking = [p for p in counts["populations"] if get_kind(p["kind"]).spiking]
    ratios, with_host = energy["ratios"], energy["with_host"]
    return {"deployed": result["accuracy"]["lava"],
            "agreement": result["fidelity"]["spike_agreement"]["all"],
            "firing_rate": sum(p["events"] for p in spiking) / sum(p["neurons"] * counts["steps"] for p in spiking),
            "synaptic_ops": sum(p["synaptic_ops"] for p in counts["projections"] if not p["on_host"]),
            "energy_model": ENERGY_MODEL,
            "chip_uj": energy["chip_energy"]["total_pj"] / 1e6,
            "snn_45nm_uj": energy["snn_45nm"]["total_pj"] / 1e6,
            "host_uj": with_host["host_pj"] / 1e6,
            "chip_with_host_uj": with_host["chip_pj"] / 1e6,
            "snn_45nm_with_host_uj": with_host["snn_45nm_pj"] / 1e6,
            "ann_over_snn_with_host": ratios["ann_over_snn_45nm_with_host"],
            "fair_ann_over_snn_with_host": ratios["fair_ann_over_snn_45nm_with_host"],
            "fair_ann_over_chip_with_host": ratios["fair_ann_45nm_over_chip_with_host"],
            "ann_over_snn_papers": ratios["ann_over_snn_45nm_all_accumulates"]}


def run_one(cfg: RunConfig, graph, with_deploy: bool, run_dir: Optional[Path] = None,
            input_as_current: bool = False) -> list:
    """Train one model (seed cfg.train.seed) and, if asked and spiking, deploy it: its table rows as
    (label suffix, row) -- the plain deployment, and with `input_as_current` a second row deployed with
    the input as a current.

    The training's numbers and the deployed runs are kept in `run_dir`; a rerun reuses them and only
    prices again. Without a `run_dir` (training only, e.g. a sweep) nothing is kept."""
    deploying = with_deploy and cfg.model.name in SPIKING
    if deploying and run_dir is None:
        raise ValueError("deploying a model needs a run_dir to keep its compiled and simulated runs in")
    deployments = [("", False)] + ([(", input as current", True)] if deploying and input_as_current else [])
    trained_path = run_dir / "trained.json" if run_dir is not None else None
    done = trained_path is not None and trained_path.is_file() and (not deploying or all(
        (run_dir / _deployment(current) / "simulation.json").is_file() for _, current in deployments))
    if done:
        trained = json.loads(trained_path.read_text())
    else:
        torch.manual_seed(cfg.train.seed)
        model = build_model(cfg.model, graph)
        result = train_model(model, graph, cfg, progress=False)
        trained = {"float": result.accuracy["test"], "val": result.accuracy["val"], "best_epoch": result.best_epoch,
                   "train_s": result.seconds}
        if hasattr(model, "live_attention_logits"):
            trained["live_attention"] = live_attention_accuracy(model, graph, cfg)
    rows = []
    for suffix, current in deployments:
        row = dict(trained)
        if deploying:
            target = run_dir / _deployment(current)
            if done:
                row.update(priced(target))
            else:
                as_deployed = dataclasses.replace(cfg, quant=dataclasses.replace(cfg.quant, input_as_current=current))
                row.update(deploy(model, graph, as_deployed, target))
        rows.append((suffix, row))
    if trained_path is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        trained_path.write_text(json.dumps(trained))
    return rows


def _deployment(input_as_current: bool) -> str:
    return "current" if input_as_current else "plain"


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
           "deployed on Lava %", "spike agreement", "firing rate", "train s")
ENERGY_COLUMNS = ("dataset", "model", "layers", "seeds", "float acc. %", "deployed on Lava %",
                  "synaptic ops on chip", "chip (Loihi 1, lower bound) µJ", "SNN 45 nm µJ", "host µJ", "chip + host µJ", "SNN 45 nm + host µJ",
                  "dense ANN / SNN + host (45 nm)", "fair ANN / SNN + host (45 nm)", "fair ANN / chip + host",
                  "ANN/SNN papers' convention")
GROUP = ("dataset", "label", "layers", "hidden", "epochs")      # rows that differ only in their seed


def _groups(rows) -> dict:
    groups = defaultdict(list)
    for r in rows:
        group = groups[tuple(r[k] for k in GROUP)]
        if any(other["seed"] == r["seed"] for other in group):
            raise ValueError(f"two rows for {dict(zip(GROUP, (r[k] for k in GROUP)))} with seed {r['seed']}: "
                             f"merge each run once")
        group.append(r)
    return groups


def table(rows) -> str:
    """Accuracy and deployment: one line per model and settings, mean over seeds."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for key, rs in _groups(rows).items():
        dep = [r for r in rs if "deployed" in r]
        agreement = f"{100 * min(r['agreement'] for r in dep):.2f}% (min)" if dep else "-"
        cells = [str(k) for k in key] + [
            str(len(rs)), _mean_std(r["float"] for r in rs),
            _mean_std(r.get("live_attention") for r in rs), _mean_std(r["deployed"] for r in dep), agreement,
            _mean(dep, "firing_rate", ".3f"), _mean(rs, "train_s", ".0f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def energy_table(rows) -> str:
    """Energy per inference of the rows priced by the current energy model, mean over seeds."""
    lines = ["| " + " | ".join(ENERGY_COLUMNS) + " |", "|" + "---|" * len(ENERGY_COLUMNS)]
    for (dataset, label, layers, *_), rs in _groups(rows).items():
        cells = [dataset, label, str(layers), str(len(rs)), _mean_std(r["float"] for r in rs),
                 _mean_std(r["deployed"] for r in rs),
                 _mean(rs, "synaptic_ops", ",.0f"), _mean(rs, "chip_uj", ",.1f"), _mean(rs, "snn_45nm_uj", ",.1f"),
                 _mean(rs, "host_uj", ",.1f"), _mean(rs, "chip_with_host_uj", ",.1f"),
                 _mean(rs, "snn_45nm_with_host_uj", ",.1f"), _mean(rs, "ann_over_snn_with_host", ".1f"),
                 _mean(rs, "fair_ann_over_snn_with_host", ".2f"), _mean(rs, "fair_ann_over_chip_with_host", ".3f"),
                 _mean(rs, "ann_over_snn_papers", ".1f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def merged_rows(runs) -> list:
    """The rows of `runs`, a later run's row replacing an earlier one of the same group, seed and energy
    model (a rerun that prices again); a replacement whose float accuracy differs is refused: reruns
    must not change it. Rows priced by another energy model stay apart."""
    rows = {}
    for run in runs:
        for r in run["rows"]:
            key = tuple(r[k] for k in GROUP) + (r["seed"], r.get("energy_model"))
            if key in rows and rows[key]["float"] != r["float"]:
                raise ValueError(f"{dict(zip(GROUP + ('seed',), key))}: the rerun's float accuracy {r['float']} "
                                 f"differs from {rows[key]['float']}; a rerun must reproduce the training")
            rows[key] = r
    return list(rows.values())


def render(runs, merged_by: str = "") -> str:
    """The Markdown page for one or more runs ({"command", "machine", "started", "rows", "skipped"}),
    with the merge command that made it (`merged_by`) if any."""
    rows = merged_rows(runs)
    priced = [r for r in rows if r.get("energy_model") == ENERGY_MODEL]
    # each model and seed once in the accuracy table: an earlier run's row where there is one (its accuracy
    # stays as published), else the priced run's
    seed_key = lambda r: tuple(r[k] for k in GROUP) + (r["seed"],)
    earlier = {seed_key(r) for r in rows if r.get("energy_model") != ENERGY_MODEL}
    accuracy_rows = [r for r in rows if r.get("energy_model") != ENERGY_MODEL or seed_key(r) not in earlier]
    skipped = sorted({s for run in runs for s in run["skipped"]})
    lines = ["# Static graph results", ""] + ([f"Merged by `{merged_by}` from:", ""] if merged_by else [])
    for run in runs:
        lines += [f"- `{run['command']}` on {run['machine']}, started {run['started']}, took {run['minutes']:.0f} min"]
    lines += ["", table(accuracy_rows), ""]
    if priced:
        lines += ["## Energy per inference", "",
                  "Runs priced by the current energy model (its rows' accuracy is their own run's). Energies are "
                  "per inference over the training graph; \"host\" is the host's work per inference and per graph "
                  "(encoding, graph binding or GA-SNN's attention pass, the decision, and with the input as a "
                  "current its first graph convolution). The chip's figure is a lower bound (Davies 2018 Table 2 "
                  "minimum op energies, pre-silicon), spikes priced per message and hop on a stated placement "
                  "(docs/energy-model.md). The fair ANN: nonzero inputs only, binary inputs as adds, same edges; "
                  "a ratio below 1 means the ANN costs less.", "", energy_table(priced), ""]
    lines += [f"Skipped: {s}" for s in skipped]
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
    parser.add_argument("--input-as-current", action="store_true",
                        help="also deploy each spiking model with its constant input as a host-computed current")
    parser.add_argument("--work-dir", default="runs/static", help="each row's training numbers and deployed runs, "
                        "reused by a rerun, which then only prices again (default: %(default)s)")
    parser.add_argument("--merge", nargs="+", metavar="JSON", help="only merge earlier runs' JSON into one table")
    parser.add_argument("--out", default="docs/results-static.md", help="Markdown table; rows go to <out>.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.merge:
        runs = [run for path in args.merge for run in json.loads(Path(path).read_text())]
        out.write_text(render(runs, "python -m neurograph.experiments.static " + " ".join(
            argv if argv is not None else sys.argv[1:])))
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
                        run_dir = Path(args.work_dir) / (f"{dataset}-{label}-L{depth}-h{args.hidden}-e{args.epochs}"
                                                         f"-s{seed}").replace(" ", "_")
                        for suffix, row in run_one(cfg, graph, not args.no_deploy, run_dir, args.input_as_current):
                            name = label + suffix
                            run["rows"].append({"dataset": dataset, "label": name, "layers": depth, "seed": seed,
                                                "hidden": args.hidden, "epochs": args.epochs, **row})
                            print(f"{dataset} {name} layers={depth} seed={seed}: float {100 * row['float']:.1f}%"
                                  + (f", Lava {100 * row['deployed']:.1f}%" if "deployed" in row else ""), flush=True)
    run["minutes"] = (time.perf_counter() - start) / 60
    Path(f"{out}.json").write_text(json.dumps([run], indent=1))
    out.write_text(render([run]))
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
