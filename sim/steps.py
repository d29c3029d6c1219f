"""The simulate and report steps, on files (no training code, no torch).

    network.npz (+ network.float.npz) + samples.npz --simulate--> simulation.json + spikes.npz
    network.npz + samples.npz + simulation.json + spikes.npz --report--> report.json + report.md + report.html

One compiled network, many samples: each sample runs with state reset (its own
run) or all run as one sequence with state carried (``carry``). Every output names
the sha256 of the network and sample files it was made from, and ``report``
refuses inputs that do not belong together.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from neurograph.compile.artifact import AtomicFiles, ArtifactError, file_hash, load_network, read_npz, savez_to
from neurograph.compile.ir import Network, host_work
from neurograph.compile.mapping import CHIP_LIMITS, Placement, map_network
from neurograph.compile.samples import Sample, load_samples
from neurograph.sim.counters import EventCounter, MessageCounter, RunCounts, TrafficCounts, count_events, merge_counts
from neurograph.sim.energy import ENERGY_TABLES, energy_report, load_energy_table
from neurograph.sim.fidelity import fidelity_report
from neurograph.sim.plots import all_plots
from neurograph.sim.reference import SimResult, prepare, run_reference, sequences, spike_matches
from neurograph.sim.report import build_report, write_report
from neurograph.sim.scoring import correct_and_total, graph_predictions, pooled_accuracy

ENGINES = ("lava", "reference")


def graph_stats(net: Network, window) -> dict:
    """What the energy model needs of one sample's graph."""
    s = window.sample
    return {"name": s.name, "num_nodes": s.num_nodes, "edges": s.num_edges,
            "input_nonzero": int(np.count_nonzero(s.features)) if s.features is not None else int(s.spikes.any(0).sum()),
            "input_binary": bool(s.features is not None and np.all(s.features[s.features != 0] == 1.0)),
            "graph_nnz": {pr: [int(m.nnz) for m in ms] for pr, ms in window.binding.matrices.items()}}


def simulate_samples(net: Network, samples: Sequence[Sample], float_net: Optional[Network] = None,
                     engine: str = "lava", lowering: str = "fused", carry: bool = False,
                     progress: bool = True) -> Tuple[dict, List[SimResult], RunCounts]:
    """Run `samples` on the reference and (engine='lava') on Lava; compare them spike for spike.

    Returns the summary (accuracy per sample and pooled, fidelity, binding cost, timings), the
    deployed runs and the events counted from the deployed runs' spikes."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    windows = prepare(net, samples)
    runs = sequences(windows, carry)
    float_runs = sequences(prepare(float_net, samples), carry) if float_net is not None else None
    per_sample, deployed_runs, counts, squared_errors = [], [], [], []
    equal = total = 0
    per_pop: dict = {}
    identical, identical_payloads, saturation, seconds, quantization = True, True, {}, {"reference_run": 0.0}, None
    scores = {"fixed_reference": [], "lava": [], "float_ir_reference": []}
    float_agree = []
    for i, seq in enumerate(runs):
        counter = EventCounter(net, seq[0].binding.num_nodes)
        reference = run_reference(net, seq, observers=[counter])
        seconds["reference_run"] += reference.seconds["run"]
        for k, v in reference.saturation.items():
            saturation[k] = saturation.get(k, 0) + v
        deployed, run_counts = reference, counter.counts
        if engine == "lava":
            from neurograph.sim.lava_runner import run_on_lava
            deployed = run_on_lava(net, seq, lowering=lowering, progress=progress,
                                   chunk=max(1, len(seq) * net.window_steps // 20))
            for k, v in deployed.seconds.items():
                seconds[f"lava_{k}"] = seconds.get(f"lava_{k}", 0.0) + v
            same_readouts = all(np.array_equal(a, b) for a, b in zip(reference.readouts, deployed.readouts))
            matches = spike_matches(reference, deployed)
            for name, (eq, size) in matches.items():
                e0, t0 = per_pop.get(name, (0, 0))
                per_pop[name] = (e0 + eq, t0 + size)
            run_equal, run_total = sum(e for e, _ in matches.values()), sum(t for _, t in matches.values())
            equal, total = equal + run_equal, total + run_total
            agree_all = run_equal == run_total
            same_payloads = all(np.array_equal(v, deployed.payloads.get(k)) for k, v in reference.payloads.items())
            identical_payloads = identical_payloads and same_payloads
            identical = identical and same_readouts
            if not (agree_all and same_readouts and same_payloads):       # count what Lava actually did
                run_counts = count_events(net, seq, deployed.spikes)
        if float_runs is not None:
            float_seq = float_runs[i]
            if i == 0:
                quantization, float_run = fidelity_report(float_net, float_seq, net, seq, reference)
            else:
                float_run = run_reference(float_net, float_seq, record=False)
            for a, b, w in zip(float_run.readouts, reference.readouts, float_seq):
                scores["float_ir_reference"].append(correct_and_total(a, w.sample))
                float_agree.append((int((a.argmax(axis=1) == b.argmax(axis=1)).sum()), len(a)))   # pooled over nodes
        deployed_runs.append(deployed)
        counts.append(run_counts)
        for k, win in enumerate(seq):
            ref_score = correct_and_total(reference.readouts[k], win.sample)
            scores["fixed_reference"].append(ref_score)
            entry = {"name": win.sample.name, "run": i, "nodes": win.sample.num_nodes, "edges": win.sample.num_edges,
                     "binding": {k2: v for k2, v in win.binding.cost.items() if k2 != "what"},
                     "accuracy": {"fixed_reference": _ratio(ref_score)}}
            if win.sample.targets is not None:       # graph-level regression: the host's pooling and head
                error = graph_predictions(net, deployed.readouts[k], win.sample) - win.sample.targets
                squared_errors.append(error ** 2)
                entry["mse"] = float(np.mean(error ** 2))
            if engine == "lava":
                lava_score = correct_and_total(deployed.readouts[k], win.sample)
                scores["lava"].append(lava_score)
                entry["accuracy"]["lava"] = _ratio(lava_score)
                entry["readout_identical"] = bool(np.array_equal(reference.readouts[k], deployed.readouts[k]))
                entry["run_spike_agreement"] = run_equal / run_total if run_total else 1.0
            per_sample.append(entry)
    summary = {"engine": engine, "lowering": lowering if engine == "lava" else None, "carry": carry,
               "samples": per_sample,
               "accuracy": {k: pooled_accuracy(v) for k, v in scores.items() if v},
               "fidelity": {"saturation": saturation}, "seconds": seconds,
               "binding": _binding_summary(windows),
               "graphs": [graph_stats(net, w) for w in windows],
               "host_work": [host_work(net, w.sample) for w in windows]}
    if squared_errors:
        errors = np.concatenate(squared_errors)
        summary["regression"] = {"mse": float(errors.mean()), "graphs": int(errors.shape[0]),
                                 "what": f"mean squared error of the {engine} deployment's predictions (host pooling "
                                         f"and head on the readout) over every graph of every sample"}
    if engine == "lava":
        summary["fidelity"]["spike_agreement"] = {**{k: e / t if t else 1.0 for k, (e, t) in per_pop.items()},
                                                  "all": equal / total if total else 1.0}
        summary["fidelity"]["readout_identical"] = identical
        summary["fidelity"]["payloads_identical"] = identical_payloads     # graded kinds with their own process
        summary["seconds"]["lava_per_step"] = seconds["lava_run"] / sum(len(s) for s in runs) / net.window_steps
    if quantization is not None:
        summary["fidelity"]["quantization"] = quantization
        summary["fidelity"]["fixed_vs_float_prediction_agreement"] = pooled_accuracy(float_agree)
    return summary, deployed_runs, merge_counts(counts)


def _ratio(score) -> Optional[float]:
    correct, total = score
    return correct / total if total else None


def _binding_summary(windows) -> dict:
    costs = [w.binding.cost for w in windows]
    return {"what": costs[0]["what"] if costs else "",
            "bytes_per_graph": {"mean": float(np.mean([c["bytes"] for c in costs])),
                                "max": int(max(c["bytes"] for c in costs))},
            "synapses_per_graph": {"mean": float(np.mean([c["synapses"] for c in costs])),
                                   "max": int(max(c["synapses"] for c in costs))},
            "seconds_per_graph": float(np.mean([c["seconds"] for c in costs])),
            "graphs": len(costs)}


def simulate(network_path, samples_path, out_dir, engine: str = "lava", lowering: str = "fused",
             carry: bool = False, progress: bool = True) -> dict:
    """File form of :func:`simulate_samples`: network.npz (+ network.float.npz) + a sample file ->
    simulation.json + spikes.npz, each naming the sha256 of the files it was made from."""
    network_path, samples_path, out = Path(network_path), Path(samples_path), Path(out_dir)
    float_path = network_path.with_name(network_path.name.replace(".npz", ".float.npz"))
    net, samples = load_network(network_path), load_samples(samples_path)
    float_net = load_network(float_path) if float_path.is_file() and float_path != network_path else None
    summary, runs, counts = simulate_samples(net, samples, float_net, engine, lowering, carry, progress)
    import uuid
    provenance = {"network": str(network_path.resolve()), "network_sha256": file_hash(network_path),
                  "samples": str(samples_path.resolve()), "samples_sha256": file_hash(samples_path),
                  "engine": engine, "lowering": lowering, "carry": carry,
                  "run_id": uuid.uuid4().hex}        # pairs this simulation.json with its spikes.npz
    summary = {"made_from": provenance, **summary, "counts": counts.to_dict()}
    arrays = {"made_from": np.frombuffer(json.dumps(provenance).encode(), dtype=np.uint8)}
    for i, run in enumerate(runs):
        arrays[f"run{i}.readouts"] = np.stack(run.readouts)
        arrays.update({f"run{i}.spikes.{k}": v for k, v in run.spikes.items()})
    with AtomicFiles() as files:          # both or neither: never a new spike file beside an old summary
        files.write(out / "spikes.npz", savez_to(arrays), "wb")
        files.write(out / "simulation.json", lambda f: f.write(json.dumps(summary, indent=2)), "w")
    return summary


def load_run_spikes(path, net: Network, made_from: dict, run: int = 0, unpack: bool = True) -> dict:
    """One run's spike rasters, bool (steps, N, F) or as stored, bit-packed along F (`unpack` False), from
    spikes.npz -- refused unless it was written by the same simulation (`made_from`) and its rasters fit
    the network."""
    import zipfile
    prefix = f"run{run}.spikes."
    try:
        arrays = read_npz(path, {"made_from"} | {f"{prefix}{p.name}" for p in net.populations})
        written_from = json.loads(arrays.pop("made_from").tobytes())
        packed = {k[len(prefix):]: v for k, v in arrays.items()}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is not a readable spike file ({type(exc).__name__}); simulate again") from exc
    if written_from != made_from:
        raise ArtifactError(f"{path} and simulation.json come from different simulations; simulate again")
    spikes = {}
    for name, raster in packed.items():
        pop = next((p for p in net.populations if p.name == name), None)
        if pop is None or raster.dtype != np.uint8 or raster.ndim != 3 or raster.shape[2] != (pop.features + 7) // 8:
            raise ArtifactError(f"{path}: raster {name!r} does not fit the network; simulate again")
        spikes[name] = np.unpackbits(raster, axis=-1, count=pop.features).astype(bool) if unpack else raster
    return spikes


def report(run_dir, chip: str = "loihi1", energy_table: Optional[str] = None, network_path=None,
           plots: bool = True, frontier=None) -> dict:
    """Price a simulated run's events and write report.json / .md / .html (with plots).

    The network is the one the simulation recorded (or `network_path`); refuses a network, or a
    spike file, that the simulation was not made from. `frontier` (a frontier experiment's JSON, e.g.
    docs/frontier.md.json) puts this run beside the accuracy-energy frontier of its dataset and model."""
    run_dir = Path(run_dir)
    sim_path = run_dir / "simulation.json"
    if not sim_path.is_file():
        raise ArtifactError(f"{sim_path} does not exist; run `neurograph simulate` into {run_dir} first")
    try:
        simulation = json.loads(sim_path.read_text())
        made_from = simulation["made_from"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{sim_path} is not a simulation summary ({type(exc).__name__}); simulate again") from exc
    # the network it was simulated from (as recorded), unless another is given
    network_path = Path(network_path or made_from.get("network") or run_dir / "network.npz")
    net = load_network(network_path)
    if file_hash(network_path) != made_from.get("network_sha256"):
        raise ArtifactError(f"{sim_path} was simulated from another network than {network_path} (sha256 differs); "
                            f"simulate this network again, or pass the network it was made from")
    if chip not in ENERGY_TABLES and energy_table is None:
        raise ValueError(f"unknown chip {chip!r}; choose one of {sorted(ENERGY_TABLES)} or pass an energy table")
    table = load_energy_table(energy_table) if energy_table else None
    counts = _counts_from_dict(simulation["counts"])
    mapping = traffic = None
    if chip in CHIP_LIMITS:
        samples_path = Path(made_from["samples"])
        if samples_path.is_file() and file_hash(samples_path) == made_from.get("samples_sha256"):
            windows = prepare(net, load_samples(samples_path))
            first = windows[0]
            placed = map_network(net, first.binding, chip)
            mapping = placed.to_dict()
            mapping["graph"] = first.sample.name
            for shared in (True, False) if chip == "loihi2" else ():   # an assumption about Loihi 2: both shown
                alternative = map_network(net, first.binding, chip, share_weights=shared)
                mapping["with_weight_sharing" if shared else "without_weight_sharing"] = \
                    {"cores": alternative.cores, "chips": alternative.chips}
            traffic = count_traffic(net, windows, run_dir / "spikes.npz", made_from, placed)
            mapping["placement"] = traffic.placement
    energy = energy_report(net, counts, simulation["graphs"], simulation["host_work"], chip, table,
                           table_name=f"{Path(energy_table).name}" if table else None, traffic=traffic)
    result = build_report(net, simulation, counts.to_dict(), energy, mapping)
    if frontier is not None:
        result["frontier"] = frontier_section(frontier, result)
    spikes = load_run_spikes(run_dir / "spikes.npz", net, made_from) if plots else None
    write_report(result, run_dir, plots=all_plots(result, spikes) if plots else None)
    return result


def frontier_section(path, result: dict) -> Optional[dict]:
    """The frontier rows of this run's dataset and model, and this run as a point beside them (None
    when the frontier has no rows for them)."""
    path = Path(path)
    try:
        rows = json.loads(path.read_text())["rows"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{path} is not a frontier file ({type(exc).__name__}); write one with "
                            f"`python -m neurograph.experiments.frontier`") from exc
    dataset, model = (result["config"].get(part, {}).get("name") for part in ("data", "model"))
    rows = [r for r in rows if r["dataset"] == dataset and r["model"] == model]
    if not rows:
        return None
    with_host = result["energy"]["with_host"]
    this_run = {"accuracy": result["accuracy"]["fixed_reference"],
                "chip_with_host_uj": with_host["chip_pj"] / 1e6 if with_host["chip_pj"] is not None else None,
                "snn_45nm_with_host_uj": with_host["snn_45nm_pj"] / 1e6}
    if this_run["chip_with_host_uj"] is None:          # no chip energies for this chip: nothing to place
        return None
    return {"source": path.name, "dataset": dataset, "model": model, "rows": rows, "this_run": this_run}


def count_traffic(net: Network, windows, spikes_path, made_from: dict, first_mapping) -> TrafficCounts:
    """The spike messages and hops of every run in spikes.npz, replayed on the reference with the
    recorded spikes; each sample's graph is mapped (the first sample's as `first_mapping`) and placed."""
    chip = first_mapping.chip
    mappings = {id(windows[0].binding): first_mapping}

    def routes_for(binding):
        mapping = mappings.get(id(binding)) or map_network(net, binding, limits=chip)
        return Placement(mapping).routes(net, binding)

    counter = MessageCounter(routes_for, Placement.DESCRIPTION.format(cores=chip.cores_per_chip,
                                                                      columns=chip.mesh_columns))
    for i, run in enumerate(sequences(windows, made_from.get("carry", False))):
        run_reference(net, run, given=load_run_spikes(spikes_path, net, made_from, i, unpack=False), observers=[counter],
                      record=False)
    return counter.counts


def _counts_from_dict(d: dict) -> RunCounts:
    from neurograph.sim.counters import PopulationCounts, ProjectionCounts
    return RunCounts(d["steps"], d["input_spikes"], [ProjectionCounts(**p) for p in d["projections"]],
                     [PopulationCounts(**{k: v for k, v in p.items() if k != "firing_rate"}) for p in d["populations"]],
                     d.get("host_ops", {}))
