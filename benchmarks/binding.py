"""What a new graph costs: binding it on the host, and getting it into the running Lava network.

A GC-SNN trained on one graph of a CSBM family (a few epochs: this measures the toolchain)
runs on `--graphs` new graphs of `--nodes` nodes two ways:

* reset: each graph is its own Lava run -- the graph processes are rebuilt, compiled and
  started per graph (what `simulate` does by default);
* stream: all graphs in one Lava run, each window's graph bound to the synapses by a
  per-window schedule inside our processes (what `simulate --carry` does).

Per graph: host binding time (rule + quantization + range proof), bytes written to the
chip's synaptic memory, and Lava wall time per graph for each way.

    python benchmarks/binding.py                     # 10 graphs of 1,000 nodes
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from table import print_table, write_json


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--graphs", type=int, default=10)
    p.add_argument("--nodes", type=int, default=1000)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--out", default="benchmarks/results/binding.json")
    args = p.parse_args(argv)

    from neurograph.compile.artifact import load_network
    from neurograph.compile.samples import load_samples
    from neurograph.config import DataConfig, RunConfig
    from neurograph.pipeline import compile_checkpoint, graph_samples, train
    from neurograph.sim.lava_runner import run_on_lava
    from neurograph.sim.reference import prepare, run_reference

    family = dict(name="synthetic", num_nodes=args.nodes, prototype_seed=0)
    with tempfile.TemporaryDirectory(prefix="neurograph-binding-") as tmp:
        tmp = Path(tmp)
        cfg = RunConfig()
        cfg.data = DataConfig(**family, seed=0)
        cfg.train.epochs = args.epochs
        train(cfg, tmp / "model.pt", baseline=False, progress=False)
        compile_checkpoint(tmp / "model.pt", tmp)
        graph_samples(tmp / "model.pt", [DataConfig(**family, seed=200 + i) for i in range(args.graphs)],
                      tmp / "new.samples.npz")
        net, samples = load_network(tmp / "network.npz"), load_samples(tmp / "new.samples.npz")

    start = time.perf_counter()
    windows = prepare(net, samples)
    bind_s = (time.perf_counter() - start) / len(windows)
    start = time.perf_counter()
    reset = [run_on_lava(net, [w]) for w in windows]
    reset_s = (time.perf_counter() - start) / len(windows)
    start = time.perf_counter()
    stream = run_on_lava(net, windows)
    stream_s = (time.perf_counter() - start) / len(windows)
    reference = run_reference(net, windows)
    reset_exact = all(r.readouts[0].tobytes() == run_reference(net, [w]).readouts[0].tobytes()
                      for r, w in zip(reset, windows))
    stream_exact = all(a.tobytes() == b.tobytes() for a, b in zip(reference.readouts, stream.readouts))
    bytes_per_graph = sum(w.binding.cost["bytes"] for w in windows) / len(windows)
    steps = net.window_steps
    row = {"graphs": len(windows), "nodes": args.nodes, "window_steps": steps,
           "bind_ms_per_graph": 1000 * bind_s, "bytes_per_graph": bytes_per_graph,
           "lava_reset_s_per_graph": reset_s, "lava_reset_build_s_per_graph":
               sum(r.seconds["build"] for r in reset) / len(reset),
           "lava_stream_s_per_graph": stream_s, "stream_readouts_equal_reference": stream_exact,
           "reset_readouts_equal_reference": reset_exact}
    print_table(["graphs", "nodes", "steps per graph", "host bind ms/graph", "bytes/graph", "Lava s/graph (reset: rebuild)",
                 "of which build", "Lava s/graph (one stream, schedule)", "exact (reset, stream)"],
                [[row["graphs"], row["nodes"], steps, f"{row['bind_ms_per_graph']:.1f}", f"{bytes_per_graph:,.0f}",
                  f"{reset_s:.2f}", f"{row['lava_reset_build_s_per_graph']:.2f}", f"{stream_s:.2f}",
                  f"{reset_exact}, {stream_exact}"]])
    write_json({"benchmark": "cost of a new graph: host binding and Lava rebuild vs in-run schedule",
                "command": "python benchmarks/binding.py " + " ".join(argv or sys.argv[1:]),
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count()}, "rows": [row]}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
