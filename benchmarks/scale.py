"""Scale: compile and run GC-SNN or GA-SNN on Lava for large graphs; compile time, Lava time per step, peak memory.

Each graph runs in its own subprocess so peak memory is its own. The model is
trained for only a couple of epochs: this measures the toolchain, not accuracy.

    python benchmarks/scale.py                      # dblp, synthetic-20k, synthetic-100k
    python benchmarks/scale.py --graphs synthetic-20k --epochs 1
    python benchmarks/scale.py --model gasnn --graphs dblp
    python benchmarks/scale.py --graphs synthetic-tiny --epochs 1      # a check that it runs (seconds)

Each run deploys the compiled network on its training graph (the samples.npz compile writes).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from table import print_table, write_json

GRAPHS = {
    "dblp": {"name": "dblp"},
    "synthetic-20k": {"name": "synthetic", "num_nodes": 20_000, "num_features": 128, "num_classes": 10},
    "synthetic-100k": {"name": "synthetic", "num_nodes": 100_000, "num_features": 128, "num_classes": 10},
    "synthetic-tiny": {"name": "synthetic", "num_nodes": 300, "num_features": 16, "num_classes": 3},
}
DEFAULT_GRAPHS = ["dblp", "synthetic-20k", "synthetic-100k"]


def run_one(graph: str, model: str, epochs: int, workdir: Path) -> dict:
    from neurograph.compile.artifact import load_network
    from neurograph.compile.samples import load_samples
    from neurograph.config import RunConfig
    from neurograph.pipeline import compile_checkpoint, train
    from neurograph.sim.lava_runner import run_on_lava
    from neurograph.sim.reference import prepare, run_reference, spike_agreement

    cfg = RunConfig().with_model(model)
    for key, value in GRAPHS[graph].items():
        setattr(cfg.data, key, value)
    cfg.train.epochs = epochs
    out = workdir / f"{model}-{graph}"
    start = time.perf_counter()
    train(cfg, out / "model.pt", baseline=False, progress=False)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    compile_checkpoint(out / "model.pt", out)
    compile_s = time.perf_counter() - start
    net = load_network(out / "network.npz")
    start = time.perf_counter()
    windows = prepare(net, load_samples(out / "samples.npz"))      # the training graph, bound to the network
    bind_s = time.perf_counter() - start
    start = time.perf_counter()
    ref = run_reference(net, windows)
    ref_s = time.perf_counter() - start
    lava = run_on_lava(net, windows, "fused")
    sample = windows[0].sample
    return {
        "graph": graph, "model": model, "nodes": sample.num_nodes,
        "edges_with_self_loops": int(sample.num_edges + sample.num_nodes),   # samples hold no self loops
        "input_features": net.input.features, "hidden": cfg.model.hidden, "steps": net.window_steps,
        "train_s": train_s, "compile_s": compile_s, "bind_s": bind_s, "reference_s": ref_s,
        "lava_build_s": lava.seconds["build"], "lava_run_s": lava.seconds["run"],
        "lava_ms_per_step": 1e3 * lava.seconds["run"] / net.window_steps,
        "spike_agreement": spike_agreement(ref, lava)["all"],
        "peak_rss_mb_main": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_rss_mb_largest_lava_process": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "network_file_mb": (out / "network.npz").stat().st_size / 2 ** 20,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--graphs", nargs="+", default=DEFAULT_GRAPHS, choices=list(GRAPHS))
    parser.add_argument("--model", default="gcsnn", choices=["gcsnn", "gasnn"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workdir", default="runs/scale")
    parser.add_argument("--out", default="benchmarks/results/scale.json")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.model, args.epochs, Path(args.workdir))))
        return 0
    rows = []
    for graph in args.graphs:
        done = subprocess.run([sys.executable, __file__, "--one", graph, "--model", args.model,
                               "--epochs", str(args.epochs), "--workdir", args.workdir], capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{graph}: failed\n{done.stderr[-3000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{args.model} {graph}: {r['nodes']:,} nodes, {r['edges_with_self_loops']:,} edges, compile {r['compile_s']:.1f} s, "
              f"Lava {r['lava_ms_per_step']:.0f} ms/step, agreement {100 * r['spike_agreement']:.2f}%, "
              f"peak RSS {r['peak_rss_mb_main']:.0f} MB (+{r['peak_rss_mb_largest_lava_process']:.0f} MB)", flush=True)
    print_table(("model", "graph", "nodes", "edges", "compile s", "Lava ms/step", "reference s", "agreement", "peak MB main",
                 "peak MB Lava proc"),
                [(r["model"], r["graph"], f"{r['nodes']:,}", f"{r['edges_with_self_loops']:,}", f"{r['compile_s']:.1f}",
                  f"{r['lava_ms_per_step']:.0f}", f"{r['reference_s']:.1f}", f"{100 * r['spike_agreement']:.2f}%",
                  f"{r['peak_rss_mb_main']:.0f}", f"{r['peak_rss_mb_largest_lava_process']:.0f}") for r in rows])
    write_json(rows, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
