"""Pictures of a run (matplotlib, PNG bytes): rasters, firing rates, energy breakdown.

Every plot is drawn from the same counts and rasters as the JSON report.
"""
from __future__ import annotations

import io
from typing import Dict

import numpy as np


def _figure(width=6.4, height=3.6):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt, plt.figure(figsize=(width, height), dpi=100)


def _png(plt, fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def spike_raster(name: str, spikes: np.ndarray, sample: int = 200, seed: int = 0) -> bytes:
    """Spikes of `sample` randomly chosen neurons of a population over the run."""
    steps = spikes.shape[0]
    flat = spikes.reshape(steps, -1)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(flat.shape[1], size=min(sample, flat.shape[1]), replace=False))
    t, n = np.nonzero(flat[:, chosen])
    plt, fig = _figure()
    ax = fig.add_subplot(111)
    ax.scatter(t + 1, n, s=4, marker="|", color="black")
    ax.set(xlabel="time step", ylabel=f"neuron (sample of {len(chosen)})", title=f"Spike raster: {name}",
           xlim=(0.5, steps + 0.5))
    return _png(plt, fig)


def firing_rate_histogram(name: str, spikes: np.ndarray) -> bytes:
    rates = spikes.reshape(spikes.shape[0], -1).mean(axis=0)
    plt, fig = _figure()
    ax = fig.add_subplot(111)
    ax.hist(rates, bins=np.linspace(0, 1, spikes.shape[0] + 2), color="tab:blue", edgecolor="white")
    ax.set(xlabel="firing rate (spikes per neuron per step)", ylabel="neurons", title=f"Firing rates: {name}")
    return _png(plt, fig)


def rate_over_time(populations: list) -> bytes:
    """Events per neuron at each step, one line per population (relays: nonzero payloads)."""
    plt, fig = _figure()
    ax = fig.add_subplot(111)
    for p in populations:
        if p["events"]:
            rate = np.asarray(p["events_per_step"]) / p["neurons"]
            ax.plot(np.arange(1, len(rate) + 1), rate, marker="o", label=f"{p['name']} ({p['kind']})")
    ax.set(xlabel="time step", ylabel="events per neuron", title="Activity over the time window")
    ax.legend(fontsize=8)
    return _png(plt, fig)


def _paired_bars(ax, left, left_label, right, right_label) -> None:
    """Two bars per category, side by side."""
    x = np.arange(len(left))
    ax.bar(x - 0.2, left, 0.4, label=left_label)
    ax.bar(x + 0.2, right, 0.4, label=right_label)


def energy_breakdown(energy: dict) -> bytes:
    """Chip energy per layer part next to the equivalent ANN's MAC energy per projection."""
    plt, fig = _figure(7.0, 3.8)
    ax = fig.add_subplot(111)
    parts = energy["chip_energy"].get("per_part_pj") or {}
    ann = {k: v * energy["ann_45nm"]["terms"]["macs"]["pj_per_event"]
           for k, v in energy["ann_45nm"]["macs_per_projection"].items()}
    names = list(dict.fromkeys(list(parts) + list(ann)))
    _paired_bars(ax, [parts.get(n, 0) / 1e6 for n in names], f"SNN on {energy['chip']} (counted)",
                 [ann.get(n, 0) / 1e6 for n in names], "equivalent ANN, 45 nm dense MACs")
    ax.set_xticks(np.arange(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set(ylabel="energy (uJ)", title="Energy by layer part")
    ax.legend(fontsize=8)
    return _png(plt, fig)


def core_utilisation(mapping: dict) -> bytes:
    """Cores per population and how full they are (compartments, synaptic memory)."""
    plt, fig = _figure(7.0, 3.8)
    ax = fig.add_subplot(111)
    pops = mapping["populations"]
    _paired_bars(ax, [p["compartment_utilisation"] for p in pops], "compartments used",
                 [p["memory_utilisation"] for p in pops], "memory used")
    ax.set_xticks(np.arange(len(pops)), [f"{p['population']}\n{p['cores']:,} cores" for p in pops], fontsize=8)
    ax.set(ylabel="fraction of the cores' capacity", ylim=(0, 1.05),
           title=f"Core utilisation on {mapping['chip']['name']}: {mapping['cores']:,} cores, {mapping['chips']} chip(s)")
    ax.legend(fontsize=8)
    return _png(plt, fig)


FRONTIER_PANELS = (("chip_with_host_uj", "Loihi 1 chip (lower bound) + host"), ("snn_45nm_with_host_uj", "45 nm + host"))


def frontier_axes(ax, rows: list, key: str, title: str) -> None:
    """Accuracy against energy on one axis: each coding and input form of the SNN as a line over T, the
    dense and fair ANN as points (rows as the frontier experiment writes them)."""
    for coding in dict.fromkeys(r["coding"] for r in rows):
        for current, marker in ((False, "o"), (True, "s")):
            pts = [r for r in rows if r["input_as_current"] == current and r["coding"] == coding]
            ax.plot([r[key] for r in pts], [100 * r["accuracy"] for r in pts], marker=marker,
                    label=f"SNN, {coding}{', input as current' if current else ''}")
            for r in pts:
                ax.annotate(f"T={r['T']}", (r[key], 100 * r["accuracy"]), textcoords="offset points", xytext=(4, 4),
                            fontsize=8)
    a = rows[0]["ann"]
    ax.scatter([a["dense_uj"]], [100 * a["accuracy"]], marker="^", color="black", label=f"dense {a['name'].upper()}")
    ax.scatter([a["fair_uj"]], [100 * a["accuracy"]], marker="*", s=120, color="red", label=f"fair {a['name'].upper()}")
    ax.set(xscale="log", xlabel="energy per inference (uJ)", ylabel="test accuracy (%)", title=title)
    ax.grid(alpha=0.3)


def frontier(section: dict) -> bytes:
    """This run's point on the accuracy-energy frontier of its dataset and model."""
    plt, fig = _figure(10.0, 4.0)
    run = section["this_run"]
    for i, (key, where) in enumerate(FRONTIER_PANELS):
        ax = fig.add_subplot(1, 2, i + 1)
        frontier_axes(ax, section["rows"], key, where)
        ax.scatter([run[key]], [100 * run["accuracy"]], marker="D", s=60, color="green", zorder=5, label="this run")
    ax.legend(fontsize=7, loc="lower right")
    return _png(plt, fig)


def all_plots(report: dict, spikes: Dict[str, np.ndarray]) -> Dict[str, bytes]:
    plots = {}
    for name, raster in spikes.items():
        plots[f"raster_{name}"] = spike_raster(name, raster)
        plots[f"rates_{name}"] = firing_rate_histogram(name, raster)
    plots["rate_over_time"] = rate_over_time(report["counts"]["populations"])
    if report["energy"]["chip_energy"].get("per_part_pj"):
        plots["energy_breakdown"] = energy_breakdown(report["energy"])
    if report.get("mapping"):
        plots["core_utilisation"] = core_utilisation(report["mapping"])
    if report.get("frontier"):
        plots["frontier"] = frontier(report["frontier"])
    return plots
