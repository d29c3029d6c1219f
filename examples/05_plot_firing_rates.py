"""Example 5: read a report.json and plot firing rates per layer with matplotlib.

What it shows: report.json is plain JSON -- every count the energy figures come from is
in it. counts.populations lists each population (layer part) with its kind, neurons,
events, firing_rate (events per neuron per step) and events_per_step; this script plots
the mean rate per layer and the rate over the run's steps, and saves a PNG.

    python examples/05_plot_firing_rates.py runs/demo/report.json     # any report (make demo writes one)
    python examples/05_plot_firing_rates.py --small                    # makes a small report first (CI)
"""
import argparse
import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")                  # write files; no display needed
import matplotlib.pyplot as plt  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("report", nargs="?", default="runs/demo/report.json")
parser.add_argument("--small", action="store_true", default=os.environ.get("NEUROGRAPH_EXAMPLES_SMALL") == "1")
parser.add_argument("--out", default="runs/example5")
args = parser.parse_args()

report_path = Path(args.report)
if args.small:             # a small run to read: 300-node synthetic graph, 5 epochs, reference engine
    import neurograph as ng
    cfg = ng.run_config("gcsnn", "synthetic", num_nodes=300, epochs=5, hidden=16)
    compiled = ng.compile_model(ng.train_model(cfg, progress=False))
    ng.report(ng.run(compiled.fixed_net, compiled.sample, out=args.out), plots=False)
    report_path = Path(args.out) / "report.json"

report = json.loads(report_path.read_text())
populations = report["counts"]["populations"]
steps = report["network"]["run_steps"]

fig, (bars, lines) = plt.subplots(1, 2, figsize=(11, 4))
names = [p["name"] for p in populations]
rates = [p["firing_rate"] for p in populations]
colours = {"relay": "tab:orange", "if": "tab:blue", "lif": "tab:blue", "integrator": "tab:grey"}
bars.bar(names, rates, color=[colours.get(p["kind"], "tab:green") for p in populations])
bars.set_ylabel("events per neuron per step")
bars.set_title("mean firing rate per layer (relays: graded payloads)")
for p in populations:
    per_step = [e / p["neurons"] for e in p["events_per_step"]]
    lines.plot(range(len(per_step)), per_step, label=f"{p['name']} ({p['kind']})")
lines.set_xlabel(f"step (samples back to back, {steps} steps each)")
lines.set_ylabel("events per neuron")
lines.set_title("firing rate over the run")
lines.legend()
fig.suptitle(f"{report['config']['model']['name']} on {report['dataset']}")
fig.tight_layout()

png = Path(args.out) / "firing_rates.png"
png.parent.mkdir(parents=True, exist_ok=True)
fig.savefig(png, dpi=100)
for p in populations:
    print(f"{p['name']:<10} {p['kind']:<11} {p['neurons']:>8,} neurons  firing rate {p['firing_rate']:.4f}")
print(f"wrote {png}")
