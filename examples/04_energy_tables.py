"""Example 4: energy with your own measured table, and Loihi 1 vs Loihi 2 side by side.

What it shows: one simulated run priced three ways. Loihi 1 uses the published per-event
energies (Davies et al. 2018, pre-silicon); Loihi 2 has no published per-op energies, so
its report has counts and no chip energy; your own table (a JSON file of pJ per event
with a source for each) replaces the chip constants. The chip energy is counts x
constants, so the script recomputes your table's total by hand from count(run).

    python examples/04_energy_tables.py            # Cora, 100 epochs
    python examples/04_energy_tables.py --small    # a 300-node synthetic graph, 5 epochs (CI)

The table below is made up for the example: put your measured figures and their source.
"""
import argparse
import json
import os
from pathlib import Path

import neurograph as ng

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--small", action="store_true", default=os.environ.get("NEUROGRAPH_EXAMPLES_SMALL") == "1")
parser.add_argument("--out", default="runs/example4")
args = parser.parse_args()
out = Path(args.out)

cfg = ng.run_config("gcsnn", "synthetic" if args.small else "cora", num_nodes=300,
                    epochs=5 if args.small else 100, hidden=16 if args.small else 64)
compiled = ng.compile_model(ng.train_model(cfg, out=out / "model.pt"))
run = ng.run(compiled.fixed_net, compiled.sample, engine="lava", float_network=compiled.float_net, out=out)

# Your table: every chip event kind, pJ per event, and where the figure comes from.
my_table = {"synaptic_op": {"value_pj": 12.0, "source": "example values: replace with your measurement"},
            "neuron_update_active": {"value_pj": 40.0, "source": "example values"},
            "neuron_update_inactive": {"value_pj": 25.0, "source": "example values"},
            "spike": {"value_pj": 1.5, "source": "example values"},
            # optional: without hop energies, hops between cores are counted and left unpriced
            "spike_hop_east_west": {"value_pj": 1.5, "source": "example values"},
            "spike_hop_north_south": {"value_pj": 2.0, "source": "example values"}}
(out / "my_energy_table.json").write_text(json.dumps(my_table, indent=2))

# report() writes report.json/.md/.html into the run directory each time (the last one stays).
loihi1 = ng.report(run, chip="loihi1")
loihi2 = ng.report(run, chip="loihi2")
mine = ng.report(run, energy_table=out / "my_energy_table.json")
print(ng.compare(loihi1, loihi2, names=("Loihi 1", "Loihi 2")))

# Counts x constants, by hand, for your table.
c = ng.count(run)
active = sum(p["active_updates"] for p in c["populations"])
inactive = sum(p["inactive_updates"] for p in c["populations"])
# spikes are priced per message (one per destination core of an event) and per hop on the chip mapping's
# placement; the report counts both by replaying the run's spikes on the mapping
traffic = {k: t["count"] for k, t in mine["energy"]["chip_energy"]["terms"].items()}
by_hand = (c["synaptic_ops"] * my_table["synaptic_op"]["value_pj"]
           + active * my_table["neuron_update_active"]["value_pj"]
           + inactive * my_table["neuron_update_inactive"]["value_pj"]
           + traffic["spike_messages"] * my_table["spike"]["value_pj"]
           + traffic["hops_east_west"] * my_table["spike_hop_east_west"]["value_pj"]
           + traffic["hops_north_south"] * my_table["spike_hop_north_south"]["value_pj"])
mine_pj, loihi1_pj = mine["energy"]["chip_energy"]["total_pj"], loihi1["energy"]["chip_energy"]["total_pj"]
print(f"chip energy, Loihi 1 constants: {loihi1_pj / 1e6:.3f} uJ")
print(f"chip energy, Loihi 2:           n/a (no published constants; the report has the counts)")
assert loihi2["energy"]["chip_energy"]["total_pj"] is None
print(f"chip energy, your table:        {mine_pj / 1e6:.3f} uJ "
      f"({mine_pj / loihi1_pj:.2f}x Loihi 1); by hand from the counts: {by_hand / 1e6:.3f} uJ "
      f"({'matches' if abs(by_hand - mine_pj) <= 1e-9 * mine_pj else 'DIFFERS'})")
print(f"equivalent ANN at 45 nm: {mine['energy']['ann_45nm']['total_pj'] / 1e6:.3f} uJ")
