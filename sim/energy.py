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

Not modelled: static/leakage power, host I/O (input encoding, reading results),
routing congestion and multi-hop spike energy (spikes are priced within a tile),
memory traffic of the ANN baseline.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Optional

from neurograph.compile.ir import Network
from neurograph.sim.counters import RunCounts

DAVIES_2018 = ("Davies et al., IEEE Micro 38(1):82-99, 2018, Table 2 "
               "(pre-silicon circuit simulation at 0.75 V, not measured on silicon)")
HOROWITZ_2014 = "Horowitz, ISSCC 2014, 45 nm CMOS at 0.9 V (quoted)"


@dataclass(frozen=True)
class Constant:
    value_pj: Optional[float]
    source: str
    note: str = ""


ENERGY_TABLES: Dict[str, Dict[str, Constant]] = {
    "loihi1": {
        "synaptic_op": Constant(23.6, DAVIES_2018, "synaptic spike operation (minimum)"),
        "neuron_update_active": Constant(81.0, DAVIES_2018, "neuron update, active"),
        "neuron_update_inactive": Constant(52.0, DAVIES_2018, "neuron update, inactive"),
        "spike": Constant(1.7, DAVIES_2018, "spike within a tile (hops not modelled)"),
    },
    "loihi2": {
        name: Constant(None, "no published per-operation energy for Loihi 2; supply a table with --energy-table")
        for name in ("synaptic_op", "neuron_update_active", "neuron_update_inactive", "spike")
    },
}
CMOS45 = {
    "fp32_mac": Constant(4.6, HOROWITZ_2014, "32-bit float multiply 3.7 pJ + add 0.9 pJ"),
    "fp32_add": Constant(0.9, HOROWITZ_2014, "32-bit float add (an SNN accumulate)"),
}


def load_energy_table(path) -> Dict[str, Constant]:
    """A user table: JSON {"synaptic_op": {"value_pj": .., "source": ..}, ...} with all four entries."""
    raw = json.loads(Path(path).read_text())
    needed = set(ENERGY_TABLES["loihi1"])
    missing = needed - set(raw)
    if missing:
        raise ValueError(f"energy table {path} lacks {sorted(missing)}; each needs value_pj and source")
    return {k: Constant(float(raw[k]["value_pj"]), str(raw[k]["source"]), str(raw[k].get("note", "")))
            for k in needed}


def ann_macs(net: Network) -> Dict[str, int]:
    """MACs of the equivalent ANN (same layers, dense real-valued activations), per projection.

    Feature transform: N * F_in * F_out. Aggregation: one MAC per edge per feature,
    over the same edges the SNN uses (so both sides count aggregation alike).
    """
    macs = {}
    for pr in net.projections:
        n, f_src = net.source_shape(pr.source)
        f_tgt = net.population(pr.target).shape[1]
        macs[pr.name] = n * f_src * f_tgt if pr.kind == "dense" else pr.weight.nnz * f_src
    return macs


def _term(count: int, constant: Constant) -> dict:
    energy = None if constant.value_pj is None else count * constant.value_pj
    return {"count": int(count), "pj_per_event": constant.value_pj, "energy_pj": energy,
            "source": constant.source, "note": constant.note}


def _chip_energy_per_part(net: Network, counts: RunCounts, table: Dict[str, Constant]) -> Dict[str, float]:
    """Chip energy by projection (its synaptic ops) and population (its updates and the events it sends).

    The input's spikes are sent by the host-side source; they are priced with the first projection."""
    parts = {p.name: p.synaptic_ops * table["synaptic_op"].value_pj for p in counts.projections}
    for p in counts.projections:
        if p.source == net.input.name:
            parts[p.name] += p.events * table["spike"].value_pj
    for p in counts.populations:
        parts[p.name] = (p.active_updates * table["neuron_update_active"].value_pj
                         + p.inactive_updates * table["neuron_update_inactive"].value_pj
                         + p.events * table["spike"].value_pj)
    return parts


def energy_report(net: Network, counts: RunCounts, chip: str = "loihi1",
                  table: Optional[Dict[str, Constant]] = None) -> dict:
    """Chip energy, the 45 nm SNN/ANN comparison and their ratios, every term with count and source."""
    table = table or ENERGY_TABLES[chip]
    synops = sum(p.synaptic_ops for p in counts.projections)
    active = sum(p.active_updates for p in counts.populations)
    inactive = sum(p.inactive_updates for p in counts.populations)
    events = sum(p.events for p in counts.populations) + sum(
        p.events for p in counts.projections if p.source == net.input.name)
    chip_terms = {
        "synaptic_ops": _term(synops, table["synaptic_op"]),
        "neuron_updates_active": _term(active, table["neuron_update_active"]),
        "neuron_updates_inactive": _term(inactive, table["neuron_update_inactive"]),
        "spikes": _term(events, table["spike"]),
    }
    chip_total = None if any(t["energy_pj"] is None for t in chip_terms.values()) else \
        sum(t["energy_pj"] for t in chip_terms.values())
    per_part = _chip_energy_per_part(net, counts, table) if chip_total is not None else None

    binary_ops = sum(p.synaptic_ops for p in counts.projections if not p.graded)
    graded_ops = sum(p.synaptic_ops for p in counts.projections if p.graded)
    snn_terms = {
        # a binary spike over a synapse adds the weight: an accumulate
        "binary_synaptic_ops_as_accumulates": _term(binary_ops, CMOS45["fp32_add"]),
        # a graded payload over a synapse multiplies the weight: a multiply-accumulate
        "graded_synaptic_ops_as_macs": _term(graded_ops, CMOS45["fp32_mac"]),
    }
    snn_total = sum(t["energy_pj"] for t in snn_terms.values())
    macs = ann_macs(net)
    ann_term = _term(sum(macs.values()), CMOS45["fp32_mac"])
    ann_total = ann_term["energy_pj"]
    return {
        "chip": chip,
        "chip_energy": {"terms": chip_terms, "total_pj": chip_total, "where": "on chip", "per_part_pj": per_part},
        "snn_45nm": {"terms": snn_terms, "total_pj": snn_total},
        "ann_45nm": {"terms": {"macs": ann_term}, "macs_per_projection": macs, "total_pj": ann_total,
                     "what": "equivalent ANN (GCN with the same layer sizes), dense MACs"},
        "ratios": {
            "ann_over_snn_45nm": ann_total / snn_total if snn_total else None,
            "ann_45nm_over_chip": ann_total / chip_total if chip_total else None,
        },
        "not_modelled": ["static/leakage power", "host I/O: input encoding and result read-out",
                         "routing: multi-hop spike energy and congestion", "ANN memory traffic"],
        "constants": {**{k: asdict(v) for k, v in table.items()}, **{k: asdict(v) for k, v in CMOS45.items()}},
    }
