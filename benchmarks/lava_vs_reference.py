"""Time Lava (fused lowering) against the reference executor on the same compiled network,
in one run. Prints a table and writes JSON.

    python benchmarks/lava_vs_reference.py                      # runs/demo/network.npz, or a quick Cora model
    python benchmarks/lava_vs_reference.py --network runs/x/network.npz --repeats 3
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
from neurograph.sim.lava_runner import run_on_lava
from neurograph.sim.reference import run_reference, spike_agreement


def quick_cora_network(out: Path) -> Path:
    """Train a short GC-SNN on Cora and compile it (only when no network is given)."""
    from neurograph.config import RunConfig
    from neurograph.pipeline import compile_checkpoint, train
    cfg = RunConfig()
    cfg.train.epochs = 20
    train(cfg, out / "model.pt", baseline=False, progress=False)
    return compile_checkpoint(out / "model.pt", out)["paths"]["fixed"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", default="runs/demo/network.npz")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/lava_vs_reference.json")
    args = parser.parse_args(argv)

    path = Path(args.network)
    if not path.is_file():
        print(f"{path} not found: training a 20-epoch GC-SNN on Cora to benchmark", file=sys.stderr)
        path = quick_cora_network(Path("runs/bench"))
    net = load_network(path)
    rows = []
    ref_times, lava_runs = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        ref = run_reference(net)
        ref_times.append(time.perf_counter() - start)
        lava = run_on_lava(net, "fused")
        lava_runs.append(lava.seconds)
        assert spike_agreement(ref, lava)["all"] == 1.0, "Lava and the reference disagree: a bug, not noise"
    steps = net.num_steps
    ref_s = statistics.median(ref_times)
    lava_total = statistics.median(r["build"] + r["run"] for r in lava_runs)
    lava_run = statistics.median(r["run"] for r in lava_runs)
    rows.append({"engine": "reference (numpy)", "seconds": ref_s, "ms_per_step": 1e3 * ref_s / steps})
    rows.append({"engine": "lava fused (build+compile+run)", "seconds": lava_total,
                 "ms_per_step": 1e3 * lava_run / steps})
    result = {
        "network": str(path), "nodes": net.input.shape[0], "input_features": net.input.shape[1],
        "steps": steps, "repeats": args.repeats, "rows": rows,
        "lava_over_reference": lava_total / ref_s,
        "peak_rss_mb_parent": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_mb_largest_child": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine()},
    }
    print(f"{net.input.shape[0]} nodes, {steps} steps, median of {args.repeats}; spikes identical in every run")
    print_table(("engine", "seconds", "ms/step"),
                [(r["engine"], f"{r['seconds']:.3f}", f"{r['ms_per_step']:.2f}") for r in rows])
    print(f"Lava / reference: {result['lava_over_reference']:.1f}x")
    write_json(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
