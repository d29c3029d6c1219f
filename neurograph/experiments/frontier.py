"""Accuracy against energy: what trades one for the other in a deployed graph SNN.

    python -m neurograph.experiments.frontier --datasets cora citeseer --models gcsnn gasnn --out docs/frontier.md

For each dataset, model, spike coding and number of input steps T, the model is trained (seed
0), compiled twice -- plain, and with the constant input as a host-computed current -- and run
on the bit-exact reference (identical to Lava spike for spike, as the test suite and the demo
check), then priced: chip energy (Loihi 1, a pre-silicon lower bound, spikes priced per message
and hop on the mapping's placement) and the SNN at 45 nm, both with the host's work included.
The dense ANN and the cheapest fair ANN (nonzero inputs, binary inputs as adds) of each model
(GCN for GC-SNN, GAT for GA-SNN) are points on the same axes, at their own test accuracy.

Trained checkpoints and simulated runs are kept under --work-dir and reused: the input as
current and the chip's pricing change no training, so repricing reruns only the report.
Where a dataset's features are binary, every coding gives the same input raster (checked with
the deployed encoder), so the codings after the first are not trained again: the table says so.
Writes a Markdown table, its JSON, and one figure per dataset.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

LABELS = {"gcsnn": "GC-SNN", "gasnn": "GA-SNN"}


def _same_raster_for_every_coding(dataset: str, codings, steps: int) -> bool:
    """Whether the deployed encoder gives one raster for every coding of `dataset`'s features."""
    import numpy as np
    from neurograph.config import DataConfig
    from neurograph.data import load_graph
    from neurograph.encoding import encode
    x = load_graph(DataConfig(name=dataset)).x.numpy()
    first = encode(x, steps, seed=0, coding=codings[0])
    return all(np.array_equal(first, encode(x, steps, seed=0, coding=c)) for c in codings[1:])


def _setting(args, dataset: str, model: str, coding: str, steps: int, ann_name: str, first: bool) -> list:
    """The frontier rows of one trained model: plain and input as current, each simulated once
    (kept in the work dir) and priced now."""
    from neurograph.config import RunConfig
    from neurograph.pipeline import compile_checkpoint, load_checkpoint, train
    from neurograph.sim.steps import report, simulate

    cfg = RunConfig().with_model(model)
    cfg.data.name, cfg.model.num_steps, cfg.model.coding, cfg.train.epochs = dataset, steps, coding, args.epochs
    run_dir = Path(args.work_dir) / f"{dataset}-{model}-{coding}-T{steps}-e{args.epochs}"
    checkpoint = run_dir / "model.pt"
    if not checkpoint.is_file():
        train(cfg, checkpoint, baseline=first, progress=False)     # the ANN baseline once per dataset and model
    accuracy = load_checkpoint(checkpoint)["training"]["accuracy"]
    rows = []
    for current in (False, True):
        out = run_dir / ("current" if current else "plain")
        if not (out / "simulation.json").is_file():
            compile_checkpoint(checkpoint, out, input_as_current=current)
            simulate(out / "network.npz", out / "samples.npz", out, engine="reference", progress=False)
        energy = report(out, plots=False)["energy"]
        summary = json.loads((out / "simulation.json").read_text())
        rows.append({"dataset": dataset, "model": model, "coding": coding, "T": steps, "input_as_current": current,
                     "accuracy": summary["accuracy"]["fixed_reference"],
                     "chip_with_host_uj": energy["with_host"]["chip_pj"] / 1e6,
                     "snn_45nm_with_host_uj": energy["with_host"]["snn_45nm_pj"] / 1e6,
                     "host_uj": energy["with_host"]["host_pj"] / 1e6,
                     "ann": {"name": ann_name, "accuracy": accuracy.get(ann_name),
                             "dense_uj": energy["ann_45nm"]["total_pj"] / 1e6,
                             "fair_uj": energy["fair_ann_45nm"]["total_pj"] / 1e6}})
    return rows


def run(args) -> dict:
    from neurograph.pipeline import BASELINES

    rows, same_raster = [], {}
    for dataset in args.datasets:
        same_raster[dataset] = _same_raster_for_every_coding(dataset, args.codings, max(args.steps))
        codings = args.codings[:1] if same_raster[dataset] else args.codings
        for model in args.models:
            ann_name = BASELINES[model][0]
            for coding in codings:
                for steps in args.steps:
                    first = coding == codings[0] and steps == args.steps[0]
                    rows += _setting(args, dataset, model, coding, steps, ann_name, first)
    anns = {}
    for r in rows:          # the ANN's accuracy is recorded by the first setting's training
        ann = anns.setdefault((r["dataset"], r["model"]), dict(r["ann"]))
        ann["accuracy"] = ann["accuracy"] if ann["accuracy"] is not None else r["ann"]["accuracy"]
    for r in rows:
        r["ann"] = anns[(r["dataset"], r["model"])]
    return {"epochs": args.epochs, "codings": args.codings, "same_raster_for_every_coding": same_raster,
            "rows": rows}


def plot(result, dataset: str, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from neurograph.sim.plots import FRONTIER_PANELS, frontier_axes
    models = list(dict.fromkeys(r["model"] for r in result["rows"] if r["dataset"] == dataset))
    fig, axes = plt.subplots(len(models), 2, figsize=(10, 4 * len(models)), squeeze=False)
    for row_axes, model in zip(axes, models):
        rows = [r for r in result["rows"] if r["dataset"] == dataset and r["model"] == model]
        for ax, (key, where) in zip(row_axes, FRONTIER_PANELS):
            frontier_axes(ax, rows, key, f"{LABELS[model]}: {where}")
        row_axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Accuracy against energy on {dataset} (seed 0)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def render(result, figures) -> str:
    from neurograph.sim.report import beats_fair_ann
    lines = ["# Accuracy against energy: GC-SNN and GA-SNN", "",
             f"Command: `python -m neurograph.experiments.frontier {' '.join(sys.argv[1:])}`; seed 0, "
             f"{result['epochs']} epochs; {platform.machine()}, {os.cpu_count()} cores. Accuracy is the deployed "
             "fixed-point network's (bit-exact with Lava); energies include the host's work; the chip figure "
             "is a lower bound (Davies 2018 Table 2 minimum op energies, pre-silicon; spikes priced per "
             "message and hop, docs/energy-model.md).", ""]
    for dataset, figure in figures.items():
        ds_rows = [r for r in result["rows"] if r["dataset"] == dataset]
        lines += [f"## {dataset}", "", f"![frontier on {dataset}]({figure})", ""]
        if result["same_raster_for_every_coding"][dataset]:
            lines += [f"{dataset}'s features are binary: every coding ({', '.join(result['codings'])}) gives the "
                      f"same input raster (checked with the deployed encoder), so coding trades nothing here and "
                      f"only {result['codings'][0]} is run.", ""]
        for model in dict.fromkeys(r["model"] for r in ds_rows):
            rows = [r for r in ds_rows if r["model"] == model]
            a = rows[0]["ann"]
            lines += [f"### {LABELS[model]}", "",
                      "| coding | T | input as current | test accuracy | chip + host (uJ) | 45 nm SNN + host (uJ) "
                      "| of which host (uJ) |", "|---|---|---|---|---|---|---|"]
            lines += [f"| {r['coding']} | {r['T']} | {'yes' if r['input_as_current'] else 'no'} | "
                      f"{100 * r['accuracy']:.1f}% | {r['chip_with_host_uj']:,.1f} | "
                      f"{r['snn_45nm_with_host_uj']:,.2f} | {r['host_uj']:,.2f} |" for r in rows]
            lines += ["", f"ANN ({a['name'].upper()}, same layers): {100 * a['accuracy']:.1f}%; dense 45 nm "
                          f"{a['dense_uj']:,.1f} uJ, cheapest fair ANN {a['fair_uj']:,.2f} uJ.", "",
                      beats_fair_ann(rows), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["cora", "citeseer"])
    p.add_argument("--models", nargs="+", default=list(LABELS), choices=list(LABELS))
    p.add_argument("--steps", type=int, nargs="+", default=[2, 4, 8])
    p.add_argument("--codings", nargs="+", default=["bernoulli", "deterministic"])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--work-dir", default="runs/frontier", help="checkpoints and simulated runs, reused")
    p.add_argument("--out", default="docs/frontier.md")
    args = p.parse_args(argv)
    result = run(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figures = {}
    for dataset in args.datasets:
        figure = out.with_name(f"{out.stem}-{dataset}.png")
        plot(result, dataset, figure)
        figures[dataset] = figure.name
    out.write_text(render(result, figures))
    out.with_suffix(".md.json").write_text(json.dumps(result, indent=2))
    print(out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
