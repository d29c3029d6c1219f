"""Example 1: the whole path on Cora with the Python API.

What it shows: train a GC-SNN (and its GCN baseline), compile it to Loihi fixed point,
run it on Lava's CPU simulator next to the bit-exact reference, and write the energy
report -- the steps of `make demo`, as calls you can put in your own script.

    python examples/01_cora_whole_path.py                 # 200 epochs, as the demo (about a minute)
    python examples/01_cora_whole_path.py --small         # 5 epochs, hidden 16 (what CI runs)

Outputs: model.pt, network.npz, samples.npz, simulation.json, report.json/.md/.html in --out.
"""
import argparse
import os

import neurograph as ng

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--small", action="store_true", default=os.environ.get("NEUROGRAPH_EXAMPLES_SMALL") == "1")
parser.add_argument("--out", default="runs/example1")
args = parser.parse_args()

cfg = ng.run_config("gcsnn", "cora", epochs=5 if args.small else 200, hidden=16 if args.small else 64)
trained = ng.train_model(cfg, out=f"{args.out}/model.pt", baseline=not args.small)    # float PyTorch training
compiled = ng.compile_model(trained)                      # export -> fold -> quantize: Networks + the graph as a Sample
run = ng.run(compiled.fixed_net, compiled.sample, engine="lava",                     # Lava and the reference
             float_network=compiled.float_net, out=args.out)
report = ng.report(run, chip="loihi1")                    # report.json / .md / .html in --out

for name, accuracy in trained.accuracy.items():
    print(f"{name} float test accuracy:        {accuracy:.1%}")
print(f"deployed on Lava test accuracy:    {run.accuracy['lava']:.1%}")
print(f"Lava vs reference spike agreement: {run.agreement:.2%}")
print(f"synaptic ops: {ng.count(run)['synaptic_ops']:,}; chip energy (Loihi 1): "
      f"{report['energy']['chip_energy']['total_pj'] / 1e6:.2f} uJ; "
      f"ANN/SNN energy at 45 nm: {report['energy']['ratios']['ann_over_snn_45nm']:.2f}x")
print(f"report: {args.out}/report.html")
