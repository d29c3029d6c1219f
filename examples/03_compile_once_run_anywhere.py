"""Example 3: compile once, run on graphs the model never saw (inductive deployment).

What it shows: a GC-SNN trained on one graph of a family (a contextual stochastic block
model whose class prototypes are fixed by prototype_seed), compiled once to network.npz --
the program alone, no graph inside -- and that one file run on new graphs of the family,
of other sizes, on Lava and on the bit-exact reference. Each graph is a Sample (edges,
features, labels) bound to the network at run time; the script prints per-graph accuracy,
Lava-vs-reference spike agreement and what binding each graph costs the host.

    python examples/03_compile_once_run_anywhere.py            # 6 graphs of 500-2000 nodes, 100 epochs
    python examples/03_compile_once_run_anywhere.py --small    # 3 graphs of 150-300 nodes, 10 epochs (CI)
"""
import argparse
import dataclasses
import os
from pathlib import Path

import neurograph as ng

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--small", action="store_true", default=os.environ.get("NEUROGRAPH_EXAMPLES_SMALL") == "1")
parser.add_argument("--out", default="runs/example3")
args = parser.parse_args()
out = Path(args.out)

# Train on one graph of the family and compile once.
cfg = ng.run_config("gcsnn", "synthetic", prototype_seed=0, num_nodes=300 if args.small else 1000,
                    epochs=10 if args.small else 100, hidden=16 if args.small else 64)
trained = ng.train_model(cfg, out=out / "model.pt")
ng.compile_model(trained).save(out)                      # network.npz: no graph, input or labels inside

# New graphs of the same family (other seeds, other sizes), as samples.
sizes = [150, 300] if args.small else [500, 2000]
graphs = [ng.load_graph(dataclasses.replace(cfg.data, seed=100 + i, num_nodes=sizes[i % len(sizes)]))
          for i in range(3 if args.small else 6)]
samples = [ng.to_sample(trained, graph, name=f"unseen-{i}") for i, graph in enumerate(graphs)]
ng.save_samples(samples, out / "unseen.samples.npz")

# The same compiled file on every new graph: each sample runs with neuron state reset.
run = ng.run(out / "network.npz", out / "unseen.samples.npz", engine="lava", out=out / "unseen")
print(f"trained on {trained.graph.name} ({trained.graph.num_nodes} nodes): float test accuracy "
      f"{trained.accuracy['gcsnn']:.1%}")
print(f"{'graph':<10} {'nodes':>6} {'edges':>7} {'reference':>10} {'Lava':>7} {'agreement':>10} {'bind bytes':>11}")
for s in run.samples:
    print(f"{s['name']:<10} {s['nodes']:>6} {s['edges']:>7} {s['accuracy']['fixed_reference']:>10.1%} "
          f"{s['accuracy']['lava']:>7.1%} {s['run_spike_agreement']:>10.2%} {s['binding']['bytes']:>11,}")
print(f"all graphs: Lava test accuracy {run.accuracy['lava']:.1%}, spike agreement {run.agreement:.2%}")
