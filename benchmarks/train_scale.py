"""Training at scale: epoch time and peak memory of GCN, GC-SNN and GA-SNN, full batch and sampled.

Each graph runs in its own subprocess (its models one after another, the peak memory
counter reset before each measurement): peak RSS on the CPU (/proc/self/status VmHWM,
which includes the graph itself), torch.cuda.max_memory_allocated on a GPU.

A full-batch epoch is one optimizer step on the whole graph ("train"), then the deployed-form
evaluation on the whole graph that the training loop runs every epoch ("eval"). A sampled epoch
is --batches optimizer steps of --batch-size seed nodes each (drawn from all nodes: the synthetic
graphs' own splits have 20 labelled nodes per class) on neighbour-sampled subgraphs; evaluation
is not part of it (on 2M nodes the full-graph pass alone does not fit the memory target).

    python benchmarks/train_scale.py                                  # cora, synthetic 20k / 200k / 2M
    python benchmarks/train_scale.py --graphs cora --modes full       # the Cora GC-SNN vs GCN check
    python benchmarks/train_scale.py --device cuda --out benchmarks/results/train_scale-gpu.json
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from table import print_table, write_json

GRAPHS = {
    "cora": {"name": "cora"},
    "synthetic-20k": {"name": "synthetic", "num_nodes": 20_000, "num_features": 64, "num_classes": 10, "avg_degree": 10.0},
    "synthetic-200k": {"name": "synthetic", "num_nodes": 200_000, "num_features": 64, "num_classes": 10, "avg_degree": 10.0},
    "synthetic-2M": {"name": "synthetic", "num_nodes": 2_000_000, "num_features": 64, "num_classes": 10, "avg_degree": 10.0},
}
# full batch is skipped where one CPU epoch would take minutes (run it with --full-on)
FULL_BATCH_CPU_LIMIT = 250_000


def rss_peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak(device) -> None:
    import torch
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")     # resets VmHWM to the current RSS
    except OSError:
        pass
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def peaks(device) -> dict:
    import torch
    out = {"peak_rss_mb": rss_peak_mb()}
    if device.type == "cuda":
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def sync(device) -> None:
    import torch
    if device.type == "cuda":
        torch.cuda.synchronize()


def measure(graph, model_name: str, mode: str, args, device) -> dict:
    import torch
    from neurograph.config import RunConfig
    from neurograph.models import build_model
    from neurograph.train import EpochRunner, make_optimizer

    cfg = RunConfig().with_model(model_name)
    cfg.train.device = str(device)
    if mode == "sampled":
        cfg.train.batch_size, cfg.train.fanout = args.batch_size, args.fanout
        seeds = torch.randperm(graph.num_nodes, generator=torch.Generator().manual_seed(0))
        train = torch.zeros(graph.num_nodes, dtype=torch.bool)
        train[seeds[:min(args.batches * args.batch_size, graph.num_nodes)]] = True
        graph = dataclasses.replace(graph, masks={**graph.masks, "train": train.to(device)})
    reset_peak(device)
    torch.manual_seed(0)
    model = build_model(cfg.model, graph).to(device)
    runner = EpochRunner(model, graph, cfg, make_optimizer(model, cfg))
    train_s, eval_s = [], []
    for epoch in range(args.warmup + args.epochs):
        sync(device)
        start = time.perf_counter()
        loss = float(runner.run(epoch))
        sync(device)
        mid = time.perf_counter()
        if mode == "full" and not args.no_eval:
            model.eval()
            with torch.no_grad():
                model.inference_logits(graph, cfg.train.input_seed)
            sync(device)
        end = time.perf_counter()
        if epoch >= args.warmup:
            train_s.append(mid - start)
            eval_s.append(end - mid)
    row = {"model": model_name, "mode": mode, "train_s": sorted(train_s)[len(train_s) // 2],
           "eval_s": sorted(eval_s)[len(eval_s) // 2] if mode == "full" and not args.no_eval else None,
           "optimizer_steps_per_epoch": runner.num_batches, "loss": loss, **peaks(device)}
    row["epoch_s"] = row["train_s"] + (row["eval_s"] or 0.0)
    if mode == "sampled":
        row.update(batch_size=args.batch_size, fanout=args.fanout, seed_nodes=int(graph.masks["train"].sum()))
    del model, runner
    return row


def run_graph(name: str, args) -> dict:
    import torch
    from neurograph.config import RunConfig
    from neurograph.data import load_graph
    from neurograph.train import graph_to, resolve_device

    torch.set_num_threads(args.threads or torch.get_num_threads())
    device = resolve_device(args.device)
    data = RunConfig().data
    for key, value in GRAPHS[name].items():
        setattr(data, key, value)
    start = time.perf_counter()
    graph = graph_to(load_graph(data), device)
    info = {"graph": name, "nodes": graph.num_nodes, "edges_with_self_loops": int(graph.edge_index.shape[1]),
            "features": graph.num_features, "load_s": time.perf_counter() - start,
            "load_peak_rss_mb": rss_peak_mb(), "rows": []}
    for mode in args.modes:
        if mode == "full" and device.type == "cpu" and graph.num_nodes > FULL_BATCH_CPU_LIMIT and name not in args.full_on:
            continue
        for model in args.models:
            row = measure(graph, model, mode, args, device)
            print(json.dumps({"graph": name, **row}), file=sys.stderr, flush=True)
            info["rows"].append(row)
    return info


def machine(device_name: str) -> dict:
    import torch
    from neurograph.train import resolve_device
    device = resolve_device(device_name)
    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "device": str(device),
            "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}
    try:
        info["cpu"] = next(l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                           if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--graphs", nargs="+", default=list(GRAPHS), choices=list(GRAPHS))
    p.add_argument("--models", nargs="+", default=["gcn", "gcsnn", "gasnn"])
    p.add_argument("--modes", nargs="+", default=["full", "sampled"], choices=["full", "sampled"])
    p.add_argument("--device", default="auto")
    p.add_argument("--epochs", type=int, default=5, help="timed epochs (median reported)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--batches", type=int, default=4, help="optimizer steps in a sampled epoch")
    p.add_argument("--fanout", default="10")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    p.add_argument("--no-eval", action="store_true", help="full batch: time the training step only")
    p.add_argument("--full-on", nargs="*", default=[], help="graphs to run full batch on the CPU even if large")
    p.add_argument("--out", default="benchmarks/results/train_scale.json")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(run_graph(args.child, args)))
        return
    results = []
    for name in args.graphs:
        argv = [a for a in sys.argv[1:]]
        proc = subprocess.run([sys.executable, __file__, *argv, "--child", name], capture_output=True, text=True)
        if proc.returncode:
            print(proc.stderr[-3000:], file=sys.stderr)
            results.append({"graph": name, "error": proc.stderr.strip().splitlines()[-1:]})
            continue
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    rows = []
    for r in results:
        if "error" in r:
            rows.append([r["graph"], "", "", "error: " + " ".join(r["error"]), "", "", "", ""])
            continue
        for row in r["rows"]:
            mem = f"{row['peak_rss_mb']:,.0f}" + (f" / {row['peak_gpu_mb']:,.0f}" if "peak_gpu_mb" in row else "")
            rows.append([r["graph"], f"{r['nodes']:,}", f"{r['edges_with_self_loops']:,}", row["model"],
                         row["mode"] + (f" ({row['optimizer_steps_per_epoch']}x{row['batch_size']}, fanout {row['fanout']})"
                                        if row["mode"] == "sampled" else ""),
                         f"{1e3 * row['train_s']:,.1f}",
                         "" if row["eval_s"] is None else f"{1e3 * row['eval_s']:,.1f}", mem])
    print_table(["graph", "nodes", "edges", "model", "mode", "train ms/epoch", "eval ms/epoch",
                 "peak MB (RSS" + (" / GPU)" if args.device != "cpu" and "cuda" in machine(args.device)["device"] else ")")],
                rows)
    ratio = {}
    for r in results:
        full = {row["model"]: row for row in r.get("rows", []) if row["mode"] == "full"}
        if "gcn" in full and "gcsnn" in full:
            ratio[r["graph"]] = {"gcsnn_over_gcn_epoch": full["gcsnn"]["epoch_s"] / full["gcn"]["epoch_s"],
                                 "gcsnn_over_gcn_train_step": full["gcsnn"]["train_s"] / full["gcn"]["train_s"]}
            print(f"{r['graph']}: GC-SNN / GCN epoch time {ratio[r['graph']]['gcsnn_over_gcn_epoch']:.2f}x "
                  f"(training step alone {ratio[r['graph']]['gcsnn_over_gcn_train_step']:.2f}x)")
    write_json({"command": " ".join([Path(sys.executable).name, "benchmarks/train_scale.py", *sys.argv[1:]]),
                "machine": machine(args.device), "settings": {k: v for k, v in vars(args).items() if k != "child"},
                "ratios": ratio, "graphs": results}, args.out)


if __name__ == "__main__":
    main()
