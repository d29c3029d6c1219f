"""Memory against the number of time steps: simulate (Lava + reference + counts) and report on Cora at T = 8, 64, 300.

A GC-SNN is trained briefly and compiled once (memory does not depend on accuracy);
its input window is then set to each T (same weights, longer input), and
`neurograph simulate` + `report` run in a fresh subprocess per T, so each row's
peak RSS is its own: the main process (reference, counters, report) and the
largest Lava process. Working memory is one step's state; what grows with T is
only the recorded spikes (bit-packed) and the per-step count lists.

    python benchmarks/memory.py                       # T = 8 64 300, writes benchmarks/results/memory.json
    python benchmarks/memory.py --steps 8 64 --epochs 5
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from table import print_table, write_json


def prepare(workdir: Path, epochs: int) -> Path:
    from neurograph.config import RunConfig
    from neurograph.pipeline import compile_checkpoint, train
    cfg = RunConfig()
    cfg.train.epochs = epochs
    train(cfg, workdir / "model.pt", baseline=False, progress=False)
    compile_checkpoint(workdir / "model.pt", workdir)
    return workdir / "network.npz"


def run_one(workdir: Path, steps: int) -> dict:
    """In a fresh process: set the input window to `steps`, simulate on Lava and the reference, report."""
    from neurograph.compile.artifact import load_network, save_network
    from neurograph.sim.steps import report, simulate
    out = workdir / f"T{steps}"
    for name in ("network.npz", "network.float.npz"):
        net = load_network(workdir / name)
        net.input.num_steps = steps
        save_network(net, out / name)
    start = time.perf_counter()
    summary = simulate(out / "network.npz", workdir / "samples.npz", out, engine="lava", progress=False)
    simulated = time.perf_counter() - start
    report(out, plots=True)
    main_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"T": steps, "run_steps": steps + 4, "peak_rss_main_mb": main_kb / 1024,
            "peak_rss_largest_lava_process_mb": child_kb / 1024, "peak_rss_sum_mb": (main_kb + child_kb) / 1024,
            "spike_agreement": summary["fidelity"]["spike_agreement"]["all"],
            "readout_identical": summary["fidelity"]["readout_identical"],
            "lava_accuracy": summary["accuracy"]["lava"], "simulate_s": simulated,
            "lava_ms_per_step": 1000 * summary["seconds"]["lava_per_step"]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, nargs="+", default=[8, 64, 300])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--out", default="benchmarks/results/memory.json")
    p.add_argument("--worker", nargs=2, metavar=("WORKDIR", "T"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(run_one(Path(args.worker[0]), int(args.worker[1]))))
        return 0
    rows = []
    with tempfile.TemporaryDirectory(prefix="neurograph-memory-") as tmp:
        prepare(Path(tmp), args.epochs)
        for steps in args.steps:
            done = subprocess.run([sys.executable, __file__, "--worker", tmp, str(steps)], check=True,
                                  capture_output=True, text=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print_table(["T", "run steps", "peak RSS main MB", "largest Lava process MB", "sum MB", "agreement",
                 "readouts identical", "Lava accuracy", "simulate s", "Lava ms/step"],
                [[r["T"], r["run_steps"], f"{r['peak_rss_main_mb']:.0f}", f"{r['peak_rss_largest_lava_process_mb']:.0f}",
                  f"{r['peak_rss_sum_mb']:.0f}", f"{100 * r['spike_agreement']:.2f}%", r["readout_identical"],
                  f"{100 * r['lava_accuracy']:.2f}%", f"{r['simulate_s']:.1f}", f"{r['lava_ms_per_step']:.1f}"]
                 for r in rows])
    write_json({"benchmark": "memory vs time steps, Cora GC-SNN (hidden 64), simulate + report",
                "command": "python benchmarks/memory.py " + " ".join(argv or sys.argv[1:]),
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                            "python": platform.python_version()},
                "training_epochs": args.epochs, "rows": rows}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
