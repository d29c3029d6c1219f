"""Time Lava (fused lowering) against the reference executor on the same compiled network,
in one run. Prints a table and writes JSON.

    python benchmarks/lava_vs_reference.py                      # runs/demo/network.npz, or a quick Cora model
    python benchmarks/lava_vs_reference.py --network runs/x/network.npz --repeats 3
    python benchmarks/lava_vs_reference.py --network runs/tiny/network.npz --dataset synthetic --epochs 2 --repeats 1

The network runs on the first sample of --samples (default: samples.npz beside the network, which
`neurograph compile` writes: the training graph).
"""
from __future__ import annotations

import argparse
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

from table import print_table, write_json

from neurograph.compile.artifact import load_network
from neurograph.compile.samples import load_samples
from neurograph.sim.lava_runner import run_on_lava
from neurograph.sim.reference import prepare, run_reference, spike_agreement


DEFAULT_NETWORK = "runs/demo/network.npz"


def quick_network(out: Path, dataset: str = "cora", epochs: int = 20) -> Path:
    """Train a short GC-SNN (Cora by default) and compile it (only when no network is given)."""
    from neurograph.config import RunConfig
    from neurograph.pipeline import compile_checkpoint, train
    cfg = RunConfig()
    cfg.data.name, cfg.train.epochs = dataset, epochs
    train(cfg, out / "model.pt", baseline=False, progress=False)
    return compile_checkpoint(out / "model.pt", out)["paths"]["fixed"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default=DEFAULT_NETWORK)
    parser.add_argument("--samples", default=None, help="sample file (default: samples.npz beside the network)")
    parser.add_argument("--dataset", default="cora", help="when the network is missing: the dataset to train on")
    parser.add_argument("--epochs", type=int, default=20, help="when the network is missing: training epochs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/lava_vs_reference.json")
    args = parser.parse_args(argv)

    path = Path(args.network)
    if not path.is_file():
        print(f"{path} not found: training a {args.epochs}-epoch GC-SNN on {args.dataset} to benchmark",
              file=sys.stderr)
        path = quick_network(Path("runs/bench") if args.network == DEFAULT_NETWORK else path.parent,
                             args.dataset, args.epochs)
    net = load_network(path)
    samples_path = Path(args.samples) if args.samples else path.with_name("samples.npz")
    windows = prepare(net, load_samples(samples_path)[:1])
    rows = []
    ref_times, lava_runs = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ref = run_reference(net, windows)
        ref_times.append(time.perf_counter() - start)
        lava = run_on_lava(net, windows, "fused")
        lava_runs.append(lava.seconds)
        assert spike_agreement(ref, lava)["all"] == 1.0, "Lava and the reference disagree: a bug, not noise"
    steps = net.window_steps * len(windows)
    nodes = windows[0].binding.num_nodes
    ref_s = statistics.median(ref_times)
    lava_total = statistics.median(r["build"] + r["run"] for r in lava_runs)
    lava_run = statistics.median(r["run"] for r in lava_runs)
    rows.append({"engine": "reference (numpy)", "seconds": ref_s, "ms_per_step": 1e3 * ref_s / steps})
    rows.append({"engine": "lava fused (build+compile+run)", "seconds": lava_total,
                 "ms_per_step": 1e3 * lava_run / steps})
    result = {
        "network": str(path), "samples": str(samples_path), "graph": windows[0].sample.name, "nodes": nodes,
        "edges": windows[0].sample.num_edges, "input_features": net.input.features,
        "steps": steps, "repeats": args.repeats, "rows": rows,
        "lava_over_reference": lava_total / ref_s,
        "peak_rss_mb_parent": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_mb_largest_child": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine()},
    }
    print(f"{nodes} nodes, {steps} steps, median of {args.repeats}; spikes identical in every run")
    print_table(("engine", "seconds", "ms/step"),
                [(r["engine"], f"{r['seconds']:.3f}", f"{r['ms_per_step']:.2f}") for r in rows])
    print(f"Lava / reference: {result['lava_over_reference']:.1f}x")
    write_json(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
