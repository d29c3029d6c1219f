"""Energy from counted events and published per-event constants, each with its source.

energy = sum over event kinds of (count x constant). Tables (see
../shared/notes/energy-and-chip-constants.md for how sure each figure is):

* ``loihi1``: Davies et al., "Loihi: A Neuromorphic Manycore Processor with On-Chip
  Learning", IEEE Micro 38(1), 2018, Table 2 -- PRE-SILICON circuit simulation
  figures (0.75 V), not silicon measurements.
* ``cmos45``: Horowitz, "Computing's energy problem", ISSCC 2014, 45 nm, 0.9 V
  (as quoted in secondary tables) -- the convention of graph-SNN papers:
  ANN = MACs x (3.7 + 0.9) pJ, SNN = accumulates x 0.9 pJ.
* ``loihi2``: no per-operation energies are published; it has none, so only
  counts are reported. A user with measured figures passes a JSON table.

What is not modelled is listed in every report (``not_modelled``) and in
docs/energy-model.md.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional

from neurograph.compile.ir import Network, head_slices
from neurograph.compile.kinds import get_kind
from neurograph.sim.counters import RunCounts, TrafficCounts

DAVIES_2018 = ("Davies et al., IEEE Micro 38(1):82-99, 2018, Table 2 "
               "(pre-silicon circuit simulation at 0.75 V, not measured on silicon)")
HOROWITZ_2014 = "Horowitz, ISSCC 2014, 45 nm CMOS at 0.9 V (quoted)"


@dataclass(frozen=True)
class Constant:
    value_pj: Optional[float]
    source: str
    note: str = ""


CHIP_EVENTS = ("synaptic_op", "neuron_update_active", "neuron_update_inactive", "spike")   # priced on chip
HOP_EVENTS = ("spike_hop_east_west", "spike_hop_north_south")        # optional in a user's table

ENERGY_TABLES: Dict[str, Dict[str, Constant]] = {
    "loihi1": {
        "synaptic_op": Constant(23.6, DAVIES_2018, "synaptic spike operation (minimum)"),
        "neuron_update_active": Constant(81.0, DAVIES_2018, "neuron update, active"),
        "neuron_update_inactive": Constant(52.0, DAVIES_2018, "neuron update, inactive"),
        "spike": Constant(1.7, DAVIES_2018, "spike within a tile: every message, same core or not"),
        "spike_hop_east_west": Constant(3.0, DAVIES_2018, "per tile hop, east-west"),
        # 4.0 pJ as Table 2 reads in the sources that quote the table itself; one secondary source has 4.2.
        # The lower figure keeps the chip total a lower bound.
        "spike_hop_north_south": Constant(4.0, DAVIES_2018, "per tile hop, north-south (Table 2; 4.2 in one "
                                                            "secondary source)"),
    },
    "loihi2": {
        name: Constant(None, "no published per-operation energy for Loihi 2; supply a table with --energy-table")
        for name in CHIP_EVENTS + HOP_EVENTS
    },
}
CMOS45 = {
    "fp32_mac": Constant(4.6, HOROWITZ_2014, "32-bit float multiply 3.7 pJ + add 0.9 pJ"),
    "fp32_add": Constant(0.9, HOROWITZ_2014, "32-bit float add (an SNN accumulate)"),
    "fp32_mult": Constant(3.7, HOROWITZ_2014, "32-bit float multiply"),
    "int32_add": Constant(0.1, HOROWITZ_2014, "32-bit integer add"),
    "int32_mult": Constant(3.1, HOROWITZ_2014, "32-bit integer multiply"),
    "int8_add": Constant(0.03, HOROWITZ_2014, "8-bit integer add (widely quoted, e.g. SpikingJelly; not re-read)"),
    "int8_mult": Constant(0.2, HOROWITZ_2014, "8-bit integer multiply (widely quoted; not re-read)"),
}


def load_energy_table(path) -> Dict[str, Constant]:
    """A user table: JSON {"synaptic_op": {"value_pj": .., "source": ..}, ...} with every chip event kind,
    and optionally the hop energies (``spike_hop_east_west``, ``spike_hop_north_south``; without them hops
    are counted and left unpriced).

    Each entry needs a positive, finite value_pj and a non-empty source string; anything else is a
    ValueError naming the entry and the fix."""
    import math
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"energy table {path} is not readable JSON ({type(exc).__name__}); see "
                         f"docs/energy-model.md for the format") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"energy table {path} must be a JSON object of event kind -> {{value_pj, source}}")
    missing = set(CHIP_EVENTS) - set(raw)
    if missing:
        raise ValueError(f"energy table {path} lacks {sorted(missing)}; each needs value_pj and source")
    table = {}
    for k in [k for k in CHIP_EVENTS + HOP_EVENTS if k in raw]:
        entry = raw[k]
        value = entry.get("value_pj") if isinstance(entry, dict) else None
        source = entry.get("source") if isinstance(entry, dict) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"energy table {path}: {k}.value_pj must be a positive finite number of pJ, got {value!r}")
        if not isinstance(source, str) or not source.strip():
            raise ValueError(f"energy table {path}: {k}.source must name where the figure comes from")
        table[k] = Constant(float(value), source, str(entry.get("note", "")))
    for k in HOP_EVENTS:
        table.setdefault(k, Constant(None, f"not in energy table {Path(path).name}"))
    return table


def ann_macs(net: Network, graphs: List[dict], sparse_input: bool = False) -> Dict[str, int]:
    """MACs of the equivalent ANN (same layers, real-valued activations), per projection, summed
    over the samples' graphs (`graphs`: each sample's num_nodes, input_nonzero and, per graph
    projection, the nonzero coefficients of each head).

    Feature transform: N * F_in * F_out (dense convention), or with `sparse_input`
    nnz(X) * F_out for the projection reading the input features (only nonzero
    inputs cost work; hidden ANN activations are counted dense, their sparsity is
    unknown without running the ANN). Aggregation: one MAC per edge per feature,
    over the same edges the SNN uses, so both sides count aggregation alike. For a GA-SNN
    the ANN is a GAT, whose attention scores add 2 * N * F MACs per layer (its exp and
    softmax per edge have no 45 nm constant and are not priced).
    """
    macs: Dict[str, int] = {}
    attention = net.metadata.get("aggregation") == "attention"
    for g in graphs:
        n = g["num_nodes"]
        for pr in net.projections:
            f_src, f_tgt = net.model_features(pr.source), net.model_features(pr.target)
            if pr.kind == "graph":
                nnz = g["graph_nnz"][pr.name]
                add = {pr.name: sum(k * (s.stop - s.start) for k, s in zip(nnz, head_slices(f_src, len(nnz))))}
                if attention:
                    add[f"{pr.name}.attention_scores"] = 2 * n * f_src
            elif sparse_input and pr.source == net.input.name:
                add = {pr.name: int(g["input_nonzero"]) * f_tgt}
            else:
                add = {pr.name: n * f_src * f_tgt}
            for k, v in add.items():
                macs[k] = macs.get(k, 0) + int(v)
    return macs


def fair_ann_terms(net: Network, graphs: List[dict], hidden_density: Optional[Dict[str, float]] = None
                   ) -> Dict[str, dict]:
    """The cheapest fair ANN: the same layers and edges, only nonzero input features cost work, and
    where a graph's input features are binary its first feature transform is adds (x * w with x = 1
    is w), not multiply-accumulates. Hidden activations are dense unless their sparsity was measured:
    `hidden_density` maps a population to the fraction of the ANN's activations at its place that are
    nonzero (e.g. a trained ANN's ReLU outputs), and the feature transforms reading it skip the zeros."""
    sparse = ann_macs(net, graphs, sparse_input=True)
    for pr in net.projections:
        if pr.kind == "dense" and pr.source in (hidden_density or {}):
            sparse[pr.name] = round(sparse[pr.name] * hidden_density[pr.source])
    first = [pr.name for pr in net.projections if pr.kind == "dense" and pr.source == net.input.name]
    binary_adds = sum(int(g["input_nonzero"]) * net.model_features(pr.target)
                      for g in graphs if g.get("input_binary") for pr in net.projections if pr.name in first)
    macs = sum(sparse.values()) - binary_adds
    return {"input_transform_as_adds": _term(binary_adds, CMOS45["fp32_add"]),
            "macs": _term(macs, CMOS45["fp32_mac"])}


def _term(count: int, constant: Constant) -> dict:
    energy = None if constant.value_pj is None else count * constant.value_pj
    return {"count": int(count), "pj_per_event": constant.value_pj, "energy_pj": energy,
            "source": constant.source, "note": constant.note}


def _chip_energy_per_part(net: Network, counts: RunCounts, table: Dict[str, Constant],
                          traffic: Optional[TrafficCounts]) -> Dict[str, float]:
    """Chip energy by projection (its synaptic ops), population (its updates and the spikes it sends)
    and the input (its spikes entering the chip from the host-side source)."""
    parts = {p.name: p.synaptic_ops * table["synaptic_op"].value_pj for p in counts.chip_projections}
    sent = {p.name: p.events * table["spike"].value_pj for p in counts.chip_populations}
    sent[net.input.name] = counts.input_spikes * table["spike"].value_pj
    if traffic is not None:
        sent = {name: _traffic_pj(traffic, table, name) for name in sent}
    parts[net.input.name] = sent[net.input.name]
    for p in counts.chip_populations:
        parts[p.name] = (p.active_updates * table["neuron_update_active"].value_pj
                         + p.inactive_updates * table["neuron_update_inactive"].value_pj + sent[p.name])
    return parts


def _traffic_pj(traffic: TrafficCounts, table: Dict[str, Constant], source: str) -> float:
    """The spike energy of one source's messages: each within a tile, plus its priced hops."""
    pj = traffic.messages.get(source, 0) * table["spike"].value_pj
    for counted, kind in ((traffic.hops_east_west, "spike_hop_east_west"),
                          (traffic.hops_north_south, "spike_hop_north_south")):
        if table[kind].value_pj is not None:
            pj += counted.get(source, 0) * table[kind].value_pj
    return pj


def host_energy(net: Network, work: List[Dict[str, dict]], host_ops: Optional[Dict[str, int]] = None) -> dict:
    """The host stages' counted operations over all samples (`work`: one
    :func:`~neurograph.compile.ir.host_work` per sample), priced like the chip's comparison at 45 nm.

    Operations without a published 45 nm constant (random draws, compares, exp,
    divide) are counted and listed as unpriced, never guessed."""
    stages, totals = {}, {"per_inference": 0.0, "per_graph": 0.0, "once": 0.0}
    if host_ops:          # the input's first graph convolution, computed once per sample (input as current)
        terms = {kind: _term(count, CMOS45[kind]) for kind, count in host_ops.items() if count}
        stages["input_current"] = {"when": "per_inference", "terms": terms, "unpriced_ops": {},
                                   "feeds": [pr.name for pr in net.projections if pr.on_host],
                                   "what": "the constant input's feature transform (adds, binary input) and "
                                           "aggregation (MACs), once per sample instead of every step on chip",
                                   "total_pj": sum(t["energy_pj"] for t in terms.values())}
        totals["per_inference"] += stages["input_current"]["total_pj"]
    for stage in net.host:
        ops: Dict[str, int] = {}
        for sample_work in work:
            for kind, count in sample_work[stage.name]["ops"].items():
                ops[kind] = ops.get(kind, 0) + int(count)
        terms = {kind: _term(count, CMOS45[kind]) for kind, count in ops.items() if kind in CMOS45 and count}
        total = sum(t["energy_pj"] for t in terms.values())
        stages[stage.name] = {"when": stage.when, "feeds": list(stage.feeds), "what": stage.what, "terms": terms,
                              "unpriced_ops": {k: int(v) for k, v in ops.items() if k not in CMOS45 and v},
                              "total_pj": total}
        totals[stage.when] += total
    return {"where": "on the host (priced at 45 nm)", "stages": stages, "samples": len(work),
            "per_inference_pj": totals["per_inference"], "per_graph_pj": totals["per_graph"],
            "once_pj": totals["once"]}


def verdict(snn_with_host: float, fair_ann: float, chip_with_host: Optional[float]) -> str:
    """One plain sentence: does the SNN beat the cheapest fair ANN once the host's work is in?"""
    def side(total, name):
        if total is None:
            return f"{name}: no chip energies for this chip"
        if total < fair_ann:
            return f"{name} ({total / 1e6:,.2f} uJ) costs {fair_ann / total:.2f}x less than the fair ANN"
        return f"the fair ANN ({fair_ann / 1e6:,.2f} uJ) costs {total / fair_ann:.2f}x less than {name} " \
               f"({total / 1e6:,.2f} uJ): the ANN wins"
    return "; ".join([side(snn_with_host, "the SNN at 45 nm with host work"),
                      side(chip_with_host, "the SNN on chip (lower bound) with host work")])


def energy_report(net: Network, counts: RunCounts, graphs: List[dict], work: List[Dict[str, dict]],
                  chip: str = "loihi1", table: Optional[Dict[str, Constant]] = None,
                  table_name: Optional[str] = None, traffic: Optional[TrafficCounts] = None,
                  hidden_density: Optional[Dict[str, float]] = None) -> dict:
    """Chip energy, the 45 nm SNN/ANN comparison and their ratios, every term with count and source.

    `hidden_density`: the measured density of the ANN's hidden activations, for the fair ANN
    (:func:`fair_ann_terms`); without it they are counted dense, and the report says so.

    `table` (with a `table_name` for the report) replaces the chip's constants, e.g. measured ones.
    `traffic` (the run's messages and hops on a placed mapping) prices each spike per message and
    hop; without it (no mapping for the run) each event is priced once, within a tile.
    """
    label = table_name or chip
    table = table or ENERGY_TABLES[chip]
    synops = sum(p.synaptic_ops for p in counts.chip_projections)
    active = sum(p.active_updates for p in counts.chip_populations)
    inactive = sum(p.inactive_updates for p in counts.chip_populations)
    events = sum(p.events for p in counts.chip_populations) + counts.input_spikes   # input spikes enter once
    chip_terms = {
        "synaptic_ops": _term(synops, table["synaptic_op"]),
        "neuron_updates_active": _term(active, table["neuron_update_active"]),
        "neuron_updates_inactive": _term(inactive, table["neuron_update_inactive"]),
    }
    if traffic is None:
        chip_terms["spikes"] = _term(events, table["spike"])
    else:
        chip_terms.update({
            "spike_messages": _term(sum(traffic.messages.values()), table["spike"]),
            "hops_east_west": _term(sum(traffic.hops_east_west.values()), table["spike_hop_east_west"]),
            "hops_north_south": _term(sum(traffic.hops_north_south.values()), table["spike_hop_north_south"])})
    unpriced_hops = [k for k in ("hops_east_west", "hops_north_south")
                     if k in chip_terms and chip_terms[k]["energy_pj"] is None]
    priced = {k: t for k, t in chip_terms.items() if k not in unpriced_hops}
    chip_total = None if any(t["energy_pj"] is None for t in priced.values()) else \
        sum(t["energy_pj"] for t in priced.values())
    per_part = _chip_energy_per_part(net, counts, table, traffic) if chip_total is not None else None

    binary_ops = sum(p.synaptic_ops for p in counts.chip_projections if not p.graded)
    graded_ops = sum(p.synaptic_ops for p in counts.chip_projections if p.graded)
    # compartments that integrate (a relay only forwards its sum, which the synaptic ops already count)
    neurons = [p for p in counts.chip_populations if not get_kind(p.kind).forwards_input]
    snn_terms = {
        # a binary spike over a synapse adds the weight: an accumulate
        "binary_synaptic_ops_as_accumulates": _term(binary_ops, CMOS45["fp32_add"]),
        # a graded payload over a synapse multiplies the weight: a multiply-accumulate
        "graded_synaptic_ops_as_macs": _term(graded_ops, CMOS45["fp32_mac"]),
        # a compartment that received input or has a bias adds it to its potential
        "neuron_updates_as_adds": _term(sum(p.active_updates for p in neurons), CMOS45["fp32_add"]),
    }
    snn_total = sum(t["energy_pj"] for t in snn_terms.values())
    # every spiking compartment compares its potential with the threshold every step: no 45 nm constant
    spike_decisions = sum(p.active_updates + p.inactive_updates for p in neurons if get_kind(p.kind).spiking)
    # the papers' convention: every synaptic op an accumulate, graded or not
    papers_term = _term(binary_ops + graded_ops, CMOS45["fp32_add"])
    macs = ann_macs(net, graphs)
    ann_term = _term(sum(macs.values()), CMOS45["fp32_mac"])
    ann_total = ann_term["energy_pj"]
    sparse_macs = ann_macs(net, graphs, sparse_input=True)
    sparse_term = _term(sum(sparse_macs.values()), CMOS45["fp32_mac"])
    fair_terms = fair_ann_terms(net, graphs, hidden_density)
    fair_total = sum(t["energy_pj"] for t in fair_terms.values())
    host = host_energy(net, work, counts.host_ops)
    host_per_run = host["per_inference_pj"] + host["per_graph_pj"]      # what each of these samples cost the host
    snn_with_host = snn_total + host_per_run
    chip_with_host = None if chip_total is None else chip_total + host_per_run
    caveats = ["static/leakage power", "host-chip I/O transfers",
               "host operations without a 45 nm constant (counted, listed as unpriced)",
               "routing congestion, and chip-to-chip links (priced as tile hops)" if traffic is not None else
               "routing: spikes priced once per event within a tile (no mapping of this run's graph)",
               "ANN memory traffic"] + ([] if hidden_density else ["sparsity of the ANN's hidden activations"])
    if chip == "loihi1" and table_name is None and graded_ops:
        caveats.append("graded payloads are a Loihi 2 feature: on Loihi 1 constants each graded synaptic op is "
                       "priced as a binary one (23.6 pJ) and each relay compartment as a neuron update")
    if unpriced_hops and chip_total is not None:
        caveats.append(f"{' and '.join(unpriced_hops)} counted, not priced: the energy table has no hop energies")
    host_kinds = {k for stage in host["stages"].values() for k in stage["terms"]}
    used = {**{k: table[k] for k in CHIP_EVENTS + (HOP_EVENTS if traffic is not None else ())}, "fp32_add": CMOS45["fp32_add"], "fp32_mac": CMOS45["fp32_mac"],
            **{k: CMOS45[k] for k in sorted(host_kinds)}}
    return {
        "chip": label,
        "chip_energy": {"terms": chip_terms, "total_pj": chip_total, "per_part_pj": per_part,
                        "placement": traffic.placement if traffic is not None else None,
                        "where": "on chip: a lower bound (Davies 2018 Table 2 minimum per-op energies, pre-silicon)"
                        if table_name is None and chip == "loihi1" else "on chip"},
        "snn_45nm": {"terms": snn_terms, "total_pj": snn_total,
                     "unpriced": {"spike_decisions_as_compares": spike_decisions},
                     "where": "on chip (the chip's synaptic ops and neuron updates priced at 45 nm, for comparison)"},
        "with_host": {"host_pj": host_per_run, "snn_45nm_pj": snn_with_host, "chip_pj": chip_with_host,
                      "what": "SNN totals plus the host's priced work for these samples (per inference and "
                              "per graph: encoding, graph binding or attention, the decision)"},
        "snn_45nm_all_accumulates": {"terms": {"synaptic_ops_as_accumulates": papers_term},
                                     "total_pj": papers_term["energy_pj"],
                                     "what": "graph-SNN papers' convention: every synaptic op priced as an add",
                                     "where": "on chip (priced at 45 nm, for comparison)"},
        "ann_45nm": {"terms": {"macs": ann_term}, "macs_per_projection": macs, "total_pj": ann_total,
                     "what": "equivalent ANN: the baseline (same layer sizes), dense MACs",
                     "where": "ANN on a 45 nm processor (comparison)"},
        "ann_45nm_sparse_input": {"terms": {"macs": sparse_term}, "macs_per_projection": sparse_macs,
                                  "total_pj": sparse_term["energy_pj"],
                                  "what": "same ANN, only nonzero input features cost MACs",
                                  "where": "ANN on a 45 nm processor (comparison)"},
        "fair_ann_45nm": {"terms": fair_terms, "total_pj": fair_total,
                          "what": "the cheapest fair ANN: nonzero inputs only, binary inputs as adds, same edges"
                                  + (", hidden activations at their measured density "
                                     f"({', '.join(f'{k} {v:.3f}' for k, v in hidden_density.items())})"
                                     if hidden_density else ""),
                          "where": "ANN on a 45 nm processor (comparison)"},
        "host": host,
        "ratios": {
            "ann_over_snn_45nm": ann_total / snn_total if snn_total else None,
            "ann_over_snn_45nm_all_accumulates": ann_total / papers_term["energy_pj"]
            if papers_term["energy_pj"] else None,
            "sparse_ann_over_snn_45nm": sparse_term["energy_pj"] / snn_total if snn_total else None,
            "ann_45nm_over_chip": ann_total / chip_total if chip_total else None,
            "sparse_ann_45nm_over_chip": sparse_term["energy_pj"] / chip_total if chip_total else None,
            "fair_ann_over_snn_45nm": fair_total / snn_total if snn_total else None,
            "ann_over_snn_45nm_with_host": ann_total / snn_with_host if snn_with_host else None,
            "fair_ann_over_snn_45nm_with_host": fair_total / snn_with_host if snn_with_host else None,
            "fair_ann_45nm_over_chip_with_host": fair_total / chip_with_host if chip_with_host else None,
        },
        "verdict": verdict(snn_with_host, fair_total, chip_with_host),
        "not_modelled": caveats,
        "constants": {k: asdict(v) for k, v in used.items()},      # exactly those the totals use
    }
