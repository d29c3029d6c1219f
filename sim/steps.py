"""The simulate and report steps, on files (no training code, no torch).

    network.npz (+ network.float.npz) --simulate--> simulation.json + spikes.npz
    network.npz + simulation.json + spikes.npz --report--> report.json + report.md + report.html
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Tuple

import numpy as np

from neurograph.compile.artifact import load_network
from neurograph.compile.ir import Network
from neurograph.compile.mapping import CHIP_LIMITS, map_network
from neurograph.sim.counters import count_events
from neurograph.sim.fidelity import fidelity_report
from neurograph.sim.energy import ENERGY_TABLES, energy_report, load_energy_table
from neurograph.sim.plots import all_plots
from neurograph.sim.reference import SimResult, run_reference, spike_agreement
from neurograph.sim.report import accuracy, build_report, write_report

ENGINES = ("lava", "reference")


def simulate_network(net: Network, float_net: Optional[Network] = None, engine: str = "lava",
                     lowering: str = "fused", progress: bool = True) -> Tuple[dict, SimResult]:
    """Run a compiled network on the reference and (engine='lava') on Lava; compare them spike for spike.

    Returns the summary (accuracies, fidelity, timings) and the deployed run's result.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    reference = run_reference(net)
    summary = {"engine": engine, "lowering": lowering if engine == "lava" else None,
               "accuracy": {"fixed_reference": accuracy(reference.readout, net)},
               "fidelity": {"saturation": reference.saturation},
               "seconds": {"reference_run": reference.seconds["run"]}}
    if float_net is not None:
        quantization = fidelity_report(float_net, net, reference)
        summary["accuracy"]["float_ir_reference"] = quantization["float_accuracy"]
        summary["fidelity"]["fixed_vs_float_prediction_agreement"] = quantization["prediction_agreement"]
        summary["fidelity"]["quantization"] = quantization
    deployed = reference
    if engine == "lava":
        from neurograph.sim.lava_runner import run_on_lava
        deployed = run_on_lava(net, lowering=lowering, progress=progress, chunk=max(1, net.num_steps // 20))
        summary["accuracy"]["lava"] = accuracy(deployed.readout, net)
        summary["fidelity"]["spike_agreement"] = spike_agreement(reference, deployed)
        summary["fidelity"]["readout_identical"] = bool(np.array_equal(reference.readout, deployed.readout))
        summary["seconds"].update({f"lava_{k}": v for k, v in deployed.seconds.items()})
        summary["seconds"]["lava_per_step"] = deployed.seconds["run"] / net.num_steps
    return summary, deployed


def simulate(network_path, out_dir, engine: str = "lava", lowering: str = "fused", progress: bool = True) -> dict:
    """File form of :func:`simulate_network`: network.npz (+ network.float.npz) -> simulation.json + spikes.npz."""
    network_path, out = Path(network_path), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    float_path = network_path.with_name(network_path.name.replace(".npz", ".float.npz"))
    float_net = load_network(float_path) if float_path.is_file() else None
    summary, deployed = simulate_network(load_network(network_path), float_net, engine, lowering, progress)
    _save_result(deployed, out / "spikes.npz")
    (out / "simulation.json").write_text(json.dumps(summary, indent=2))
    return summary


def _save_result(result: SimResult, path: Path) -> None:
    arrays = {f"spikes.{k}": np.packbits(v, axis=-1) for k, v in result.spikes.items()}
    np.savez_compressed(path, readout=result.readout, engine=np.array(result.engine), **arrays)


def load_spikes(path, net) -> dict:
    with np.load(path) as z:
        return {k[len("spikes."):]: np.unpackbits(z[k], axis=-1, count=net.population(k[len("spikes."):]).shape[1])
                .astype(bool) for k in z.files if k.startswith("spikes.")}


def report(run_dir, chip: str = "loihi1", energy_table: Optional[str] = None, network_path=None,
           plots: bool = True) -> dict:
    """Count events in the simulated run, price them, and write report.json / .md / .html (with plots)."""
    run_dir = Path(run_dir)
    net = load_network(network_path or run_dir / "network.npz")
    simulation = json.loads((run_dir / "simulation.json").read_text())
    spikes = load_spikes(run_dir / "spikes.npz", net)
    counts = count_events(net, spikes)
    if chip not in ENERGY_TABLES and energy_table is None:
        raise ValueError(f"unknown chip {chip!r}; choose one of {sorted(ENERGY_TABLES)} or pass an energy table")
    table = load_energy_table(energy_table) if energy_table else None
    mapping = map_network(net, chip).to_dict() if chip in CHIP_LIMITS else None
    energy = energy_report(net, counts, chip, table, table_name=f"{Path(energy_table).name}" if table else None)
    result = build_report(net, simulation, counts.to_dict(), energy, mapping)
    write_report(result, run_dir, plots=all_plots(result, spikes) if plots else None)
    return result
