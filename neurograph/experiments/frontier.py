"""Accuracy against energy: what trades one for the other in a deployed GC-SNN.

    python -m neurograph.experiments.frontier --out docs/frontier-cora.md

For each number of input steps T, a GC-SNN is trained (seed 0), compiled twice -- plain, and
with the constant input as a host-computed current -- and run on the bit-exact reference
(identical to Lava spike for spike, as the test suite and the demo check), then priced: chip
energy (Loihi 1, a pre-silicon lower bound) and the SNN at 45 nm, both with the host's work
included. The dense ANN and the cheapest fair ANN (nonzero inputs, binary inputs as adds) are
points on the same axes, the ANN's accuracy being its GCN's. Writes a Markdown table, its
JSON, and a figure.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path


def run(args) -> dict:
    from neurograph.config import RunConfig
    from neurograph.pipeline import compile_checkpoint, train
    from neurograph.sim.steps import report, simulate

    rows, ann = [], None
    with tempfile.TemporaryDirectory(prefix="neurograph-frontier-") as tmp:
        for steps in args.steps:
            cfg = RunConfig()
            cfg.data.name, cfg.model.num_steps, cfg.train.epochs = args.dataset, steps, args.epochs
            run_dir = Path(tmp) / f"T{steps}"
            training = train(cfg, run_dir / "model.pt", baseline=ann is None, progress=False)
            if ann is None:
                ann = {"accuracy": training["accuracy"]["gcn"]}
            for current in (False, True):
                out = run_dir / ("current" if current else "plain")
                compile_checkpoint(run_dir / "model.pt", out, input_as_current=current)
                simulate(out / "network.npz", out / "samples.npz", out, engine="reference", progress=False)
                energy = report(out, plots=False)["energy"]
                summary = json.loads((out / "simulation.json").read_text())
                rows.append({"T": steps, "input_as_current": current,
                             "accuracy": summary["accuracy"]["fixed_reference"],
                             "chip_with_host_uj": energy["with_host"]["chip_pj"] / 1e6,
                             "snn_45nm_with_host_uj": energy["with_host"]["snn_45nm_pj"] / 1e6,
                             "host_uj": energy["with_host"]["host_pj"] / 1e6})
                ann.update(dense_uj=energy["ann_45nm"]["total_pj"] / 1e6,
                           fair_uj=energy["fair_ann_45nm"]["total_pj"] / 1e6)
    return {"dataset": args.dataset, "epochs": args.epochs, "rows": rows, "ann": ann}


def plot(result, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, title in ((axes[0], "chip_with_host_uj", "Loihi 1 chip (lower bound) + host"),
                           (axes[1], "snn_45nm_with_host_uj", "45 nm + host")):
        for current, label, marker in ((False, "GC-SNN", "o"), (True, "GC-SNN, input as current", "s")):
            pts = [r for r in result["rows"] if r["input_as_current"] == current]
            ax.plot([r[key] for r in pts], [100 * r["accuracy"] for r in pts], marker=marker, label=label)
            for r in pts:
                ax.annotate(f"T={r['T']}", (r[key], 100 * r["accuracy"]), textcoords="offset points", xytext=(4, 4),
                            fontsize=8)
        a = result["ann"]
        ax.scatter([a["dense_uj"]], [100 * a["accuracy"]], marker="^", color="black", label="dense ANN (45 nm)")
        ax.scatter([a["fair_uj"]], [100 * a["accuracy"]], marker="*", s=120, color="red", label="fair ANN (45 nm)")
        ax.set(xscale="log", xlabel="energy per inference (uJ)", ylabel="test accuracy (%)", title=title)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.suptitle(f"Accuracy against energy, GC-SNN on {result['dataset']} (seed 0)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def render(result, figure: str) -> str:
    a = result["ann"]
    lines = [f"# Accuracy against energy: GC-SNN on {result['dataset']}", "",
             f"Command: `python -m neurograph.experiments.frontier {' '.join(sys.argv[1:])}`; seed 0, "
             f"{result['epochs']} epochs; {platform.machine()}, {os.cpu_count()} cores. Accuracy is the deployed "
             "fixed-point network's (bit-exact with Lava); energies include the host's work; the chip figure "
             "is a lower bound (Davies 2018 Table 2 minimum op energies, pre-silicon).", "",
             f"![frontier]({figure})", "",
             "| T | input as current | test accuracy | chip + host (uJ) | 45 nm SNN + host (uJ) | of which host (uJ) |",
             "|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['T']} | {'yes' if r['input_as_current'] else 'no'} | {100 * r['accuracy']:.1f}% | "
                     f"{r['chip_with_host_uj']:,.1f} | {r['snn_45nm_with_host_uj']:,.2f} | {r['host_uj']:,.2f} |")
    cheaper = [r for r in result["rows"] if r["snn_45nm_with_host_uj"] < a["fair_uj"]]
    both = [r for r in cheaper if r["accuracy"] >= a["accuracy"] - 0.01]
    lines += ["", f"ANN (GCN, same layers): {100 * a['accuracy']:.1f}%; dense 45 nm {a['dense_uj']:,.1f} uJ, "
                  f"cheapest fair ANN {a['fair_uj']:,.2f} uJ.", ""]
    chip_cheaper = [r for r in result["rows"] if r["chip_with_host_uj"] < a["fair_uj"]]
    chip_line = (" On the chip's (minimum) Loihi 1 constants every SNN point costs more than the fair ANN at 45 nm."
                 if not chip_cheaper else " On the chip's (minimum) Loihi 1 constants, cheaper than the fair ANN: "
                 + ", ".join(f"T={r['T']}{' as current' if r['input_as_current'] else ''}" for r in chip_cheaper) + ".")
    if not cheaper:
        lines.append("Cheaper than the fair ANN at 45 nm: none of these points." + chip_line)
    else:
        listed = ", ".join(f"T={r['T']}{' as current' if r['input_as_current'] else ''} "
                           f"({r['snn_45nm_with_host_uj']:.2f} uJ, {100 * r['accuracy']:.1f}%)" for r in cheaper)
        lines.append(f"Cheaper than the fair ANN at 45 nm: {listed}; "
                     + ("of these, within 1 point of the ANN's accuracy: "
                        + ", ".join(f"T={r['T']}" for r in both) if both else
                        "none of them is within 1 point of the ANN's accuracy, so the SNN buys its energy with "
                        "accuracy") + "." + chip_line)
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="cora")
    p.add_argument("--steps", type=int, nargs="+", default=[2, 4, 8])
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--out", default="docs/frontier-cora.md")
    args = p.parse_args(argv)
    result = run(args)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure = out.with_suffix(".png")
    plot(result, figure)
    out.write_text(render(result, figure.name))
    out.with_suffix(".md.json").write_text(json.dumps(result, indent=2))
    print(render(result, figure.name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
