"""Inductive deployment: train once, compile once, run the one network on graphs it never saw.

    python -m neurograph.experiments.inductive --out docs/results-inductive.md

For each model, a GC-SNN / GA-SNN (and GC-SNN with STFN) is trained on one graph of a
contextual-SBM family (shared class prototypes, ``prototype_seed``), compiled once to
``network.npz``, and that file -- no graph, input or labels inside -- runs on
``--graphs`` new graphs of the family (other seeds, other sizes) on Lava and on the
bit-exact reference. Per graph: the float model's accuracy (PyTorch, deployed form),
the reference's and Lava's, spike agreement, and what binding the graph costs. GA-SNN's
attention is computed per graph by its host stage; STFN keeps the statistics frozen on
the training graph (as batch norm keeps its running statistics).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from neurograph.config import DataConfig, RunConfig
from neurograph.data import load_graph

VARIANTS = {"gcsnn": ("gcsnn", {}), "gcsnn-stfn": ("gcsnn", {"stfn": True}), "gasnn": ("gasnn", {})}


def family(num_nodes: int, seed: int) -> DataConfig:
    return DataConfig(name="synthetic", num_nodes=num_nodes, seed=seed, prototype_seed=0, num_features=32,
                      num_classes=4, avg_degree=6.0, homophily=0.8)


def run_variant(variant: str, args, workdir: Path) -> dict:
    from neurograph.pipeline import compile_checkpoint, graph_samples, load_checkpoint, restore_model, train
    from neurograph.sim.steps import simulate

    name, overrides = VARIANTS[variant]
    cfg = RunConfig().with_model(name)
    cfg.model = dataclasses.replace(cfg.model, **overrides)
    cfg.data = family(args.train_nodes, 0)
    cfg.train = dataclasses.replace(cfg.train, epochs=args.epochs, seed=args.seed)
    out = workdir / variant
    start = time.perf_counter()
    training = train(cfg, out / "model.pt", baseline=False, progress=False)
    compile_checkpoint(out / "model.pt", out)
    configs = [family(args.sizes[i % len(args.sizes)], 100 + i) for i in range(args.graphs)]
    graph_samples(out / "model.pt", configs, out / "unseen.samples.npz")
    summary = simulate(out / "network.npz", out / "unseen.samples.npz", out / "unseen", engine="lava", progress=False)
    model, _, cfg = restore_model(load_checkpoint(out / "model.pt"))
    rows = []
    for data_cfg, entry in zip(configs, summary["samples"]):
        graph = load_graph(data_cfg)
        model.eval()
        with torch.no_grad():
            logits = model.inference_logits(graph, cfg.train.input_seed, calibrate_stfn=False)
        mask = graph.masks["test"]
        float_acc = float((logits.argmax(dim=1)[mask] == graph.y[mask]).float().mean())
        rows.append({"graph": entry["name"], "nodes": entry["nodes"], "edges": entry["edges"],
                     "float": float_acc, "reference": entry["accuracy"]["fixed_reference"],
                     "lava": entry["accuracy"]["lava"], "spike_agreement": entry["run_spike_agreement"],
                     "readout_identical": entry["readout_identical"], "bind_bytes": entry["binding"]["bytes"],
                     "bind_ms": 1000 * entry["binding"]["seconds"]})
    return {"variant": variant, "train_graph": training and cfg.data.name, "train_nodes": args.train_nodes,
            "train_test_accuracy": training["accuracy"][name], "rows": rows, "seconds": time.perf_counter() - start,
            "lava_seconds": summary["seconds"].get("lava_total")}


def render(results, args) -> str:
    lines = ["# Inductive deployment: one compiled network, graphs it never saw", "",
             f"Command: `python -m neurograph.experiments.inductive {' '.join(sys.argv[1:])}`", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"torch {torch.__version__}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}.", "",
             f"Training graph: contextual SBM, {args.train_nodes} nodes, seed 0, class prototypes from "
             f"prototype_seed 0 (32 features, 4 classes, average degree 6, homophily 0.8), {args.epochs} epochs. "
             f"Unseen graphs: seeds 100..{99 + args.graphs}, sizes {args.sizes} in turn, same prototypes. "
             "Each variant is compiled once; its network.npz holds no graph, input or labels. Accuracy on each "
             "graph's test split (up to 1000 nodes).", ""]
    lines += ["| variant | graphs | mean float acc | mean reference acc | mean Lava acc | min Lava acc | "
              "spike agreement (all graphs) | readouts identical | bind bytes (mean) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        rows = r["rows"]
        mean = lambda k: 100 * statistics.mean(x[k] for x in rows)
        lines.append(f"| {r['variant']} | {len(rows)} | {mean('float'):.2f} | {mean('reference'):.2f} | "
                     f"{mean('lava'):.2f} | {100 * min(x['lava'] for x in rows):.2f} | "
                     f"{100 * min(x['spike_agreement'] for x in rows):.2f}% (min) | "
                     f"{all(x['readout_identical'] for x in rows)} | {statistics.mean(x['bind_bytes'] for x in rows):,.0f} |")
    for r in results:
        lines += ["", f"## {r['variant']} (test accuracy on its training graph: {100 * r['train_test_accuracy']:.2f}%)", "",
                  "| graph | nodes | edges | float | reference | Lava | spike agreement | readout identical | "
                  "bind bytes | bind ms |", "|---|---|---|---|---|---|---|---|---|---|"]
        for x in r["rows"]:
            lines.append(f"| {x['graph']} | {x['nodes']:,} | {x['edges']:,} | {100 * x['float']:.2f} | "
                         f"{100 * x['reference']:.2f} | {100 * x['lava']:.2f} | {100 * x['spike_agreement']:.2f}% | "
                         f"{x['readout_identical']} | {x['bind_bytes']:,} | {x['bind_ms']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--graphs", type=int, default=24)
    p.add_argument("--sizes", type=int, nargs="+", default=[200, 500, 1000, 2000])
    p.add_argument("--train-nodes", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="docs/results-inductive.md")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="neurograph-inductive-") as tmp:
        results = [run_variant(v, args, Path(tmp)) for v in args.variants]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results, args))
    out.with_suffix(".md.json").write_text(json.dumps(results, indent=2))
    print(render(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
