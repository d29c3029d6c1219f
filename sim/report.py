"""The run report: one JSON for machines, one Markdown summary for people.

Every number in it is a counted event, a constant with its source (energy), a
measured time, or an accuracy computed from a readout; the JSON keeps the counts
next to the totals so anyone can recompute them.
"""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Dict, Optional

import numpy as np

from neurograph.compile.artifact import AtomicFiles
from neurograph.compile.graphs import RULES
from neurograph.compile.ir import Network


def build_report(net: Network, simulation: dict, counts: dict, energy: dict, mapping: Optional[dict] = None) -> dict:
    """Assemble the report from the compiled network, the simulation summary, counts and energy."""
    training = net.metadata.get("training", {})
    rules = sorted({RULES[p.rule].what for p in net.graph_projections})
    return {
        "config": net.metadata.get("config", {}),
        "dataset": ", ".join(dict.fromkeys(s["name"] for s in simulation["samples"][:3]))
        + (f" (+{len(simulation['samples']) - 3} more)" if len(simulation["samples"]) > 3 else ""),
        "trained_on": net.metadata.get("trained_on"),
        "made_from": simulation.get("made_from", {}),
        "network": {
            "populations": [{"name": p.name, "kind": p.kind, "features": p.features} for p in net.populations],
            "projections": [{"name": p.name, "kind": p.kind, "source": p.source, "target": p.target,
                             "exponent": p.exponent, "delay": p.delay, "feedback": net.is_feedback(p),
                             "rule": p.rule or None, "heads": p.heads if p.kind == "graph" else None,
                             "on_host": p.on_host}
                            for p in net.projections],
            "input_steps": net.input.num_steps, "run_steps": net.window_steps,
            "aggregation": "; ".join(rules),
            "quantization": net.metadata.get("quantization", {}),
        },
        "samples": simulation["samples"],
        "binding": simulation.get("binding", {}),
        "accuracy": {
            "float_models": training.get("accuracy", {}),          # torch, deployed inference form
            **simulation["accuracy"],                               # per engine, from readouts
        },
        "fidelity": simulation["fidelity"],
        "timing_s": simulation["seconds"],
        "counts": counts,
        "energy": energy,
        "mapping": mapping,
    }


def write_report(report: dict, out_dir, plots: Optional[Dict[str, bytes]] = None) -> Dict[str, Path]:
    """report.json, report.md and, with plots, a single-file report.html (plots embedded)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md"}
    markdown = render_markdown(report)
    # all files written to temporary names, then renamed together: never half-written, never a mix of runs
    with AtomicFiles() as files:
        files.write(paths["json"], lambda f: f.write(json.dumps(report, indent=2, default=_plain)), "w")
        files.write(paths["md"], lambda f: f.write(markdown), "w")
        if plots is not None:
            paths["html"] = out / "report.html"
            html_text = render_html(markdown, plots)
            files.write(paths["html"], lambda f: f.write(html_text), "w")
    return paths


def render_html(markdown: str, plots: Dict[str, bytes]) -> str:
    """The Markdown report as one self-contained HTML page, plots inlined as base64 PNGs."""
    body, table = [], []

    def flush_table():
        if table:
            rows = [[c.strip() for c in row.strip("|").split("|")] for row in table if not set(row) <= set("|-")]
            head = "".join(f"<th>{_inline(c)}</th>" for c in rows[0])
            cells = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush_table()
        if line.startswith("## "):
            body.append(f"<h2>{_inline(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{_inline(line[2:])}</h1>")
        elif line.startswith("- "):
            body.append(f"<li>{_inline(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    flush_table()
    body.append("<h2>Plots</h2>")
    for name, png in plots.items():
        data = base64.b64encode(png).decode()
        body.append(f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{html.escape(name)}</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f0f0f0}"
             "figure{display:inline-block;margin:0.5em}img{max-width:520px}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>neurograph report</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")


def _inline(text: str) -> str:
    parts = html.escape(text).split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


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
             f"per sample (pipeline delay included); neuron {model.get('neuron')}, STFN {model.get('stfn')}, "
             f"chip constants: {energy['chip']}; trained on {report.get('trained_on')}, "
             f"{len(report['samples'])} sample(s).",
             "", "## Accuracy (test split)", "", "| model | accuracy |", "|---|---|"]
    for name, value in acc.get("float_models", {}).items():
        lines.append(f"| {name} (float, PyTorch) | {_pct(value)} |")
    for name in ("float_ir_reference", "fixed_reference", "lava"):
        if name in acc:
            lines.append(f"| {name.replace('_', ' ')} | {_pct(acc[name])} |")
    lines += ["", "## Fidelity: Lava vs bit-exact reference, fixed point vs float", ""]
    if "spike_agreement" in fid:
        lines += [f"- spike agreement (every neuron, every step): **{_pct(fid['spike_agreement']['all'])}**",
                  f"- readout membrane potentials identical: **{fid['readout_identical']}**"]
    else:
        lines.append("- Lava was not run (reference engine only): no Lava-vs-reference agreement to show")
    lines += [f"- prediction agreement fixed point vs float IR: {_pct(fid.get('fixed_vs_float_prediction_agreement'))}",
              f"- saturation/wrap events (reference): {sum(fid.get('saturation', {}).values())}"]
    quant = fid.get("quantization")
    if quant:
        lines += ["", "## Quantization fidelity (fixed point vs float IR, reference executor)", "",
                  "Input-current error given the same presynaptic spikes, in units of the threshold "
                  "(the readout has none: float units).", "",
                  "| population | spike mismatch | worst step | current error RMS | max | signal RMS | "
                  "weight exp | aggregation exp | vth | saturation/wrap |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for name, layer in quant["layers"].items():
            sm, ce, pa = layer.get("spike_mismatch"), layer.get("current_error", {}), layer["parameters"]
            sat = sum(layer["saturation"].values())
            lines.append(f"| {name} | {_pct(sm['rate']) if sm else '-'} | {_pct(max(sm['per_step'])) if sm else '-'} | "
                         f"{ce.get('rms', float('nan')):.4f} | {ce.get('max', float('nan')):.4f} | "
                         f"{ce.get('signal_rms', float('nan')):.3f} | {pa['weight_exp']} | {pa['adjacency_exp']} | "
                         f"{pa['vth'] if pa['vth'] is not None else '-'} | {sat} |")
        lines += ["", "| layers in fixed point | test accuracy |", "|---|---|"]
        for swap in quant["accuracy_with_fixed_layers"]:
            layers = swap["fixed_layers"]
            label = "none (float IR)" if layers == [] else ("all (deployed)" if layers == "all" else ", ".join(layers))
            lines.append(f"| {label} | {_pct(swap['accuracy'])} |")
    lines += samples_section(report)
    lines += ["", "## Activity", "", "| population | kind | neurons | events | firing rate (per neuron-step) |",
              "|---|---|---|---|---|"]
    for p in report["counts"]["populations"]:
        lines.append(f"| {p['name']} | {p['kind']} | {p['neurons']:,} | {p['events']:,} | {p['firing_rate']:.4f} |")
    lines += ["", "| projection | kind | synapses | events in | synaptic ops |", "|---|---|---|---|---|"]
    for p in report["counts"]["projections"]:
        kind = p["kind"] + (" (graded)" if p["graded"] else "")
        lines.append(f"| {p['name']} | {kind} | {p['synapses']:,} | {p['events']:,} | {p['synaptic_ops']:,} |")
    lines += where_it_runs(report)
    lines += ["", f"## Energy ({energy['chip']})", "", "| term | where | count | pJ/event | energy | source |",
              "|---|---|---|---|---|---|"]
    for section in ("chip_energy", "snn_45nm", "snn_45nm_all_accumulates", "ann_45nm", "ann_45nm_sparse_input",
                    "fair_ann_45nm"):
        for name, t in energy[section]["terms"].items():
            lines.append(f"| {section}: {name} | {energy[section]['where']} | {t['count']:,} | {t['pj_per_event']} | "
                         f"{_pj(t['energy_pj'])} | {t['source']} |")
    for stage_name, stage in energy["host"]["stages"].items():
        for name, t in stage["terms"].items():
            lines.append(f"| host {stage_name} ({stage['when'].replace('_', ' ')}): {name} | on the host | "
                         f"{t['count']:,} | {t['pj_per_event']} | {_pj(t['energy_pj'])} | {t['source']} |")
    per_part = energy["chip_energy"].get("per_part_pj")
    if per_part:
        lines += ["", "| layer part | chip energy | share |", "|---|---|---|"]
        total = energy["chip_energy"]["total_pj"]
        for name, value in per_part.items():
            lines.append(f"| {name} | {_pj(value)} | {100 * value / total:.1f}% |")
    ratios, host = energy["ratios"], energy["with_host"]
    chip_total = energy["chip_energy"]["total_pj"]
    lines += ["", f"**Verdict: {energy['verdict']}.**", "",
              "| | energy | dense ANN / this | fair ANN / this | sparse-input ANN / this |", "|---|---|---|---|---|",
              f"| SNN on chip ({energy['chip']}, lower bound), host work included | {_pj(host['chip_pj'])} | "
              f"{_ratio(_div(energy['ann_45nm']['total_pj'], host['chip_pj']))} | "
              f"{_ratio(ratios['fair_ann_45nm_over_chip_with_host'])} | |",
              f"| SNN on chip ({energy['chip']}, lower bound), chip only | {_pj(chip_total)} | "
              f"{_ratio(ratios['ann_45nm_over_chip'])} | {_ratio(_div(energy['fair_ann_45nm']['total_pj'], chip_total))} | "
              f"{_ratio(ratios['sparse_ann_45nm_over_chip'])} |",
              f"| SNN at 45 nm, host work included | {_pj(host['snn_45nm_pj'])} | "
              f"{_ratio(ratios['ann_over_snn_45nm_with_host'])} | {_ratio(ratios['fair_ann_over_snn_45nm_with_host'])} | |",
              f"| SNN at 45 nm: binary ops as adds, graded ops as MACs, neuron updates as adds | "
              f"{_pj(energy['snn_45nm']['total_pj'])} | {_ratio(ratios['ann_over_snn_45nm'])} | "
              f"{_ratio(ratios['fair_ann_over_snn_45nm'])} | {_ratio(ratios['sparse_ann_over_snn_45nm'])} |",
              f"| SNN at 45 nm, every synaptic op an add (papers' convention) | "
              f"{_pj(energy['snn_45nm_all_accumulates']['total_pj'])} | "
              f"{_ratio(ratios['ann_over_snn_45nm_all_accumulates'])} | | |",
              f"| equivalent ANN at 45 nm, dense MACs | {_pj(energy['ann_45nm']['total_pj'])} | | | |",
              f"| fair ANN at 45 nm: nonzero inputs only, binary inputs as adds | "
              f"{_pj(energy['fair_ann_45nm']['total_pj'])} | | | |",
              f"| ANN at 45 nm, nonzero inputs only (as MACs) | {_pj(energy['ann_45nm_sparse_input']['total_pj'])} "
              f"| | | |", "",
              f"- host work in these totals: {_pj(host['host_pj'])} (per inference and per graph, priced ops)",
              f"- spike decisions (compares, no 45 nm constant): "
              f"{energy['snn_45nm']['unpriced']['spike_decisions_as_compares']:,}",
              f"- not modelled, and caveats: {'; '.join(energy['not_modelled'])}"]
    if report.get("frontier"):
        lines += frontier_lines(report["frontier"])
    mapping = report.get("mapping")
    if mapping:
        lines += mapping_lines(mapping)
    timing = report.get("timing_s", {})
    if timing:
        lines += ["", "## Time", ""] + [f"- {k}: {v:.2f} s" for k, v in timing.items()]
    return "\n".join(lines) + "\n"


def _point_name(r) -> str:
    return f"{r['coding']} T={r['T']}{' as current' if r['input_as_current'] else ''}"


def beats_fair_ann(rows) -> str:
    """Where, if anywhere, an SNN point of the frontier costs less than its fair ANN, and at what accuracy."""
    lines = []
    for key, name in (("snn_45nm_with_host_uj", "at 45 nm"), ("chip_with_host_uj", "on Loihi 1's minimum constants")):
        cheaper = [r for r in rows if r[key] < r["ann"]["fair_uj"]]
        if not cheaper:
            lines.append(f"Cheaper than the fair ANN {name}: none of these points.")
            continue
        close = [r for r in cheaper if r["accuracy"] >= r["ann"]["accuracy"] - 0.01]
        listed = ", ".join(f"{_point_name(r)} ({r[key]:,.2f} uJ, {100 * r['accuracy']:.1f}%)" for r in cheaper)
        lines.append(f"Cheaper than the fair ANN {name}: {listed}; "
                     + ("within 1 point of the ANN's accuracy: " + ", ".join(_point_name(r) for r in close)
                        if close else "none of them within 1 point of the ANN's accuracy, so the SNN buys its "
                                      "energy with accuracy") + ".")
    return " ".join(lines)


def frontier_lines(section: dict) -> list:
    """'Accuracy against energy': this run beside the frontier of its dataset and model."""
    run, a = section["this_run"], section["rows"][0]["ann"]
    lines = ["", f"## Accuracy against energy ({section['model']} on {section['dataset']}, from {section['source']})", "",
             "| point | test accuracy | chip + host (uJ) | 45 nm SNN + host (uJ) |", "|---|---|---|---|",
             f"| **this run** | {_pct(run['accuracy'])} | {run['chip_with_host_uj']:,.1f} | "
             f"{run['snn_45nm_with_host_uj']:,.2f} |"]
    lines += [f"| {_point_name(r)} | {_pct(r['accuracy'])} | {r['chip_with_host_uj']:,.1f} | "
              f"{r['snn_45nm_with_host_uj']:,.2f} |" for r in section["rows"]]
    lines += [f"| dense {a['name'].upper()} (45 nm) | {_pct(a['accuracy'])} | | {a['dense_uj']:,.1f} |",
              f"| fair {a['name'].upper()} (45 nm) | {_pct(a['accuracy'])} | | {a['fair_uj']:,.2f} |",
              "", beats_fair_ann(section["rows"])]
    return lines


def mapping_lines(mapping: dict) -> list:
    """The 'Chip mapping' section: cores and chips, the memory split, and (Loihi 2) weight sharing."""
    chip = mapping["chip"]
    state = (f"neuron state {mapping['state_memory_bits'] / 8 / 2**20:,.1f} MiB ({chip['state_bits_per_compartment']} "
             f"bits per compartment) in the same memory" if chip["state_bits_per_compartment"]
             else "neuron state in its own memory")
    lines = ["", f"## Chip mapping ({chip['name']})", "",
             f"Graph: {mapping.get('graph')}. **{mapping['cores']:,} cores on {mapping['chips']} chip(s)** "
             f"({chip['cores_per_chip']} cores per chip). Memory: synapses {mapping['synapse_memory_bits'] / 8 / 2**20:,.1f}"
             f" MiB at {chip['weight_bits']} + {chip['index_bits']} bits each (weight and target index, the index "
             f"sized as nengo-loihi does; its per-axon headers and 64-bit rounding are not counted), {state}. "
             f"Limits: {chip['source']}.", "",
             "| population | compartments | synapses in | cores | limited by | compartment use | memory use | "
             "output axons (where limited) |", "|---|---|---|---|---|---|---|---|"]
    for p in mapping["populations"]:
        lines.append(f"| {p['population']} | {p['compartments']:,} | {p['synapses']:,} | {p['cores']:,} | "
                     f"{p['limited_by']} | {_pct(p['compartment_utilisation'])} | {_pct(p['memory_utilisation'])} | "
                     f"{'-' if p['output_axons'] is None else format(p['output_axons'], ',')} |")
    if "with_weight_sharing" in mapping:
        shared, plain = mapping["with_weight_sharing"], mapping["without_weight_sharing"]
        lines += ["", f"- weight sharing (an assumption for Loihi 2: a dense transform shared by all nodes on a core "
                      f"stores W once per core, as convolutional connectivity does): **{plain['cores']:,} cores on "
                      f"{plain['chips']} chip(s) without, {shared['cores']:,} cores on {shared['chips']} chip(s) "
                      f"with it**"]
    if mapping.get("placement"):
        lines += ["", f"- placement, for per-message spike energy: {mapping['placement']}"]
    return lines


def where_it_runs(report: dict) -> list:
    """The 'what runs on the chip, what runs on the host' section, from the IR and the host energy."""
    net, host = report["network"], report["energy"]["host"]
    host_parts = {p["name"] for p in net["projections"] if p.get("on_host")} | \
        {p["target"] for p in net["projections"] if p.get("on_host") and p["kind"] == "dense"}
    chip_parts = [p["name"] for p in net["populations"] + net["projections"] if p["name"] not in host_parts]
    lines = ["", "## What runs on the chip, what runs on the host", "",
             f"- **chip**, every step: {', '.join(chip_parts)} (aggregation weights: "
             f"{net['aggregation']})",
             "", "| host stage | when | feeds | what | counted ops | unpriced ops | energy (45 nm) |",
             "|---|---|---|---|---|---|---|"]
    for name, stage in host["stages"].items():
        ops = ", ".join(f"{k} {t['count']:,}" for k, t in stage["terms"].items()) or "-"
        unpriced = ", ".join(f"{k} {v:,}" for k, v in stage["unpriced_ops"].items()) or "-"
        lines.append(f"| {name} | {stage['when'].replace('_', ' ')} | {', '.join(stage['feeds'])} | {stage['what']} | "
                     f"{ops} | {unpriced} | {_pj(stage['total_pj'])} |")
    binding = report.get("binding") or {}
    if binding:
        lines += ["", f"- host-to-chip transfer per new graph: {binding['bytes_per_graph']['mean']:,.0f} bytes on "
                      f"average (max {binding['bytes_per_graph']['max']:,}; {binding['synapses_per_graph']['mean']:,.0f} "
                      f"synapses), bound in {1000 * binding['seconds_per_graph']:.1f} ms on the host: "
                      f"{binding['what']}"]
    lines += ["", f"- host energy over the {host['samples']} sample(s): per inference {_pj(host['per_inference_pj'])}, "
                  f"per graph {_pj(host['per_graph_pj'])}, once {_pj(host['once_pj'])} (not included in the chip "
                  f"totals below)"]
    return lines


def samples_section(report: dict) -> list:
    """Per-sample accuracy and agreement, when a run covered more than one sample."""
    samples = report["samples"]
    if len(samples) < 2:
        return []
    lines = ["", f"## Samples ({len(samples)})", "", "| sample | nodes | edges | reference accuracy | Lava accuracy | "
             "readout identical | bytes to bind |", "|---|---|---|---|---|---|---|"]
    for s in samples:
        acc = s["accuracy"]
        lines.append(f"| {s['name']} | {s['nodes']:,} | {s['edges']:,} | {_pct(acc.get('fixed_reference'))} | "
                     f"{_pct(acc.get('lava'))} | {s.get('readout_identical', '-')} | {s['binding']['bytes']:,} |")
    return lines


def _ratio(x) -> str:
    return "n/a" if x is None else f"{x:.2f}x"


def _div(a, b):
    return a / b if a is not None and b else None


def compare_reports(a: dict, b: dict, names=("A", "B")) -> str:
    """Two runs side by side (e.g. Loihi 1 vs Loihi 2 constants, with and without STFN)."""
    def row(label, fa, fb):
        return f"| {label} | {fa} | {fb} |"
    acc = lambda r, k: _pct(r["accuracy"].get(k))
    lines = [f"| | {names[0]} | {names[1]} |", "|---|---|---|",
             row("dataset", a.get("dataset"), b.get("dataset")),
             row("model", a["config"].get("model", {}).get("name"), b["config"].get("model", {}).get("name")),
             row("chip constants", a["energy"]["chip"], b["energy"]["chip"]),
             row("accuracy on Lava", acc(a, "lava"), acc(b, "lava")),
             row("accuracy, fixed-point reference", acc(a, "fixed_reference"), acc(b, "fixed_reference")),
             row("spike agreement", _pct(a["fidelity"].get("spike_agreement", {}).get("all")),
                 _pct(b["fidelity"].get("spike_agreement", {}).get("all")))]
    for p_a in a["counts"]["populations"]:
        p_b = next((p for p in b["counts"]["populations"] if p["name"] == p_a["name"]), None)
        if p_b is not None:
            lines.append(row(f"firing rate {p_a['name']}", f"{p_a['firing_rate']:.4f}", f"{p_b['firing_rate']:.4f}"))
    syn = lambda r: sum(p["synaptic_ops"] for p in r["counts"]["projections"])
    lines += [row("synaptic ops", f"{syn(a):,}", f"{syn(b):,}"),
              row("chip energy", _pj(a["energy"]["chip_energy"]["total_pj"]), _pj(b["energy"]["chip_energy"]["total_pj"])),
              row("SNN energy, 45 nm", _pj(a["energy"]["snn_45nm"]["total_pj"]), _pj(b["energy"]["snn_45nm"]["total_pj"])),
              row("ANN energy, 45 nm", _pj(a["energy"]["ann_45nm"]["total_pj"]), _pj(b["energy"]["ann_45nm"]["total_pj"])),
              row("ANN / SNN (45 nm)", _ratio(a["energy"]["ratios"]["ann_over_snn_45nm"]),
                  _ratio(b["energy"]["ratios"]["ann_over_snn_45nm"]))]
    return "\n".join(lines) + "\n"
