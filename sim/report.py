"""The run report: one JSON for machines, one Markdown summary for people.

Every number in it is a counted event, a constant with its source (energy), a
measured time, or an accuracy computed from a readout; the JSON keeps the counts
next to the totals so anyone can recompute them.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from neurograph.compile.ir import Network


def accuracy(readout: np.ndarray, net: Network, split: str = "test") -> Optional[float]:
    if net.task is None:
        return None
    mask = net.task.masks[split]
    return float((np.asarray(readout).argmax(axis=1)[mask] == net.task.labels[mask]).mean())


def build_report(net: Network, simulation: dict, counts: dict, energy: dict) -> dict:
    """Assemble the report from the compiled network, the simulation summary, counts and energy."""
    training = net.metadata.get("training", {})
    return {
        "config": net.metadata.get("config", {}),
        "dataset": net.metadata.get("dataset"),
        "network": {
            "populations": [{"name": p.name, "kind": p.kind, "shape": list(p.shape)} for p in net.populations],
            "projections": [{"name": p.name, "kind": p.kind, "source": p.source, "target": p.target,
                             "exponent": p.exponent, "delay": p.delay} for p in net.projections],
            "input_steps": net.input.num_steps, "run_steps": net.num_steps,
            "quantization": net.metadata.get("quantization", {}),
        },
        "accuracy": {
            "float_models": training.get("accuracy", {}),          # torch, deployed inference form
            **simulation["accuracy"],                               # per engine, from readouts
        },
        "fidelity": simulation["fidelity"],
        "timing_s": simulation["seconds"],
        "counts": counts,
        "energy": energy,
    }


def write_report(report: dict, out_dir) -> Dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md"}
    paths["json"].write_text(json.dumps(report, indent=2, default=_plain))
    paths["md"].write_text(render_markdown(report))
    return paths


def _plain(o):
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o).__name__)


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _pj(x) -> str:
    if x is None:
        return "n/a (no published constant)"
    for unit, div in (("mJ", 1e9), ("uJ", 1e6), ("nJ", 1e3)):
        if abs(x) >= div:
            return f"{x / div:.3f} {unit}"
    return f"{x:.1f} pJ"


def render_markdown(report: dict) -> str:
    acc, fid, energy = report["accuracy"], report["fidelity"], report["energy"]
    cfg = report.get("config", {})
    model = cfg.get("model", {})
    lines = [f"# neurograph report: {model.get('name', '?')} on {report.get('dataset')}",
             "",
             f"T = {report['network']['input_steps']} input steps, {report['network']['run_steps']} run steps "
             f"(pipeline delay included); neuron {model.get('neuron')}, STFN {model.get('stfn')}, "
             f"chip constants: {energy['chip']}.",
             "", "## Accuracy (test split)", "", "| model | accuracy |", "|---|---|"]
    for name, value in acc.get("float_models", {}).items():
        lines.append(f"| {name} (float, PyTorch) | {_pct(value)} |")
    for name in ("float_ir_reference", "fixed_reference", "lava"):
        if name in acc:
            lines.append(f"| {name.replace('_', ' ')} | {_pct(acc[name])} |")
    lines += ["", "## Fidelity: Lava vs bit-exact reference", "",
              f"- spike agreement (every neuron, every step): **{_pct(fid.get('spike_agreement', {}).get('all'))}**",
              f"- readout membrane potentials identical: **{fid.get('readout_identical')}**",
              f"- prediction agreement fixed point vs float IR: {_pct(fid.get('fixed_vs_float_prediction_agreement'))}",
              f"- saturation/wrap events (reference): {sum(fid.get('saturation', {}).values())}"]
    lines += ["", "## Activity", "", "| population | kind | neurons | events | firing rate (per neuron-step) |",
              "|---|---|---|---|---|"]
    for p in report["counts"]["populations"]:
        lines.append(f"| {p['name']} | {p['kind']} | {p['neurons']:,} | {p['events']:,} | {p['firing_rate']:.4f} |")
    lines += ["", "| projection | kind | synapses | events in | synaptic ops |", "|---|---|---|---|---|"]
    for p in report["counts"]["projections"]:
        kind = p["kind"] + (" (graded)" if p["graded"] else "")
        lines.append(f"| {p['name']} | {kind} | {p['synapses']:,} | {p['events']:,} | {p['synaptic_ops']:,} |")
    lines += ["", f"## Energy ({energy['chip']})", "", "| term | count | pJ/event | energy | source |",
              "|---|---|---|---|---|"]
    for section in ("chip_energy", "snn_45nm", "ann_45nm"):
        for name, t in energy[section]["terms"].items():
            lines.append(f"| {section}: {name} | {t['count']:,} | {t['pj_per_event']} | {_pj(t['energy_pj'])} | "
                         f"{t['source']} |")
    ratios = energy["ratios"]
    lines += ["", f"- chip total ({energy['chip']}): **{_pj(energy['chip_energy']['total_pj'])}**",
              f"- SNN at 45 nm (binary ops as adds, graded ops as MACs): **{_pj(energy['snn_45nm']['total_pj'])}**",
              f"- equivalent ANN at 45 nm (dense MACs): **{_pj(energy['ann_45nm']['total_pj'])}**",
              f"- ANN / SNN (45 nm): **{_ratio(ratios['ann_over_snn_45nm'])}**;  ANN (45 nm) / chip: "
              f"**{_ratio(ratios['ann_45nm_over_chip'])}**",
              f"- not modelled: {', '.join(energy['not_modelled'])}"]
    timing = report.get("timing_s", {})
    if timing:
        lines += ["", "## Time", ""] + [f"- {k}: {v:.2f} s" for k, v in timing.items()]
    return "\n".join(lines) + "\n"


def _ratio(x) -> str:
    return "n/a" if x is None else f"{x:.2f}x"
