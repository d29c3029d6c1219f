"""The whole path on files: train -> compile -> simulate (Lava) -> report, via the CLI."""
import json

import pytest

from neurograph.cli import main
from neurograph.data.planetoid import default_data_root
from neurograph.sim.energy import ENERGY_TABLES

pytestmark = [pytest.mark.slow, pytest.mark.lava, pytest.mark.usefixtures("no_leaked_processes")]

CORA_RAW = default_data_root() / "Planetoid" / "Cora" / "raw"


def check_run(out, chance, model="gcsnn"):
    report = json.loads((out / "report.json").read_text())
    acc, fid = report["accuracy"], report["fidelity"]
    assert fid["spike_agreement"]["all"] == 1.0 and fid["readout_identical"] is True
    assert acc["lava"] == acc["fixed_reference"]
    assert acc["lava"] > chance + 0.2
    assert abs(acc["lava"] - acc["float_ir_reference"]) <= 0.03
    expected = {"gcsnn": {"gcsnn", "gcn"}, "gasnn": {"gasnn", "gat", "gasnn live attention"}}[model]
    assert set(acc["float_models"]) == expected
    # totals are recomputable from the counts and the named constants
    terms = report["energy"]["chip_energy"]["terms"]
    counts = report["counts"]
    assert terms["synaptic_ops"]["count"] == sum(p["synaptic_ops"] for p in counts["projections"])
    table = ENERGY_TABLES["loihi1"]
    assert report["energy"]["chip_energy"]["total_pj"] == pytest.approx(
        terms["synaptic_ops"]["count"] * table["synaptic_op"].value_pj
        + terms["neuron_updates_active"]["count"] * table["neuron_update_active"].value_pj
        + terms["neuron_updates_inactive"]["count"] * table["neuron_update_inactive"].value_pj
        + terms["spike_messages"]["count"] * table["spike"].value_pj
        + terms["hops_east_west"]["count"] * table["spike_hop_east_west"].value_pj
        + terms["hops_north_south"]["count"] * table["spike_hop_north_south"].value_pj)
    assert report["config"]["model"]["name"] == model            # the run's configuration travels along
    md = (out / "report.md").read_text()
    assert "spike agreement" in md and "Davies et al." in md and "Horowitz" in md
    aggregation = {"gcsnn": "GCN-normalized adjacency", "gasnn": "attention coefficients computed per graph"}[model]
    assert aggregation in md and "| decide_class | per inference | readout |" in md
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") >= 4 and "<table>" in page and "raster_" in page
    return report


def test_demo_on_synthetic_graph(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["demo", "--dataset", "synthetic", "--epochs", "25", "--hidden", "16", "--out", str(out)]) == 0
    report = check_run(out, chance=0.25)
    printed = capsys.readouterr().out
    assert "Lava vs reference spike agreement  100.00%" in printed
    assert report["network"]["run_steps"] == report["network"]["input_steps"] + 4


def test_separate_steps_and_reference_engine(tmp_path, capsys):
    ckpt = tmp_path / "model.pt"
    assert main(["train", "--dataset", "synthetic", "--prototype-seed", "0", "--epochs", "5", "--hidden", "8",
                 "--no-baseline", "--out", str(ckpt)]) == 0
    assert main(["compile", str(ckpt), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "samples.npz").is_file()                 # the training graph, as the network's sample
    assert main(["simulate", str(tmp_path / "network.npz"), "--out", str(tmp_path), "--engine", "reference"]) == 0
    # the same compiled network on two new graphs of another size, each its own run
    new = tmp_path / "new.samples.npz"
    assert main(["samples", str(ckpt), "--dataset", "synthetic", "--seeds", "1", "2", "--num-nodes", "150",
                 "--out", str(new)]) == 0
    assert main(["simulate", str(tmp_path / "network.npz"), "--samples", str(new), "--out", str(tmp_path / "new"),
                 "--engine", "reference"]) == 0
    simulation = json.loads((tmp_path / "new" / "simulation.json").read_text())
    assert [(s["run"], s["nodes"]) for s in simulation["samples"]] == [(0, 150), (1, 150)]
    assert all(0.0 <= s["accuracy"]["fixed_reference"] <= 1.0 for s in simulation["samples"])
    assert main(["report", str(tmp_path), "--chip", "loihi2"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["energy"]["chip"] == "loihi2" and report["energy"]["chip_energy"]["total_pj"] is None
    other = tmp_path / "loihi1"
    other.mkdir()
    for name in ("network.npz", "simulation.json", "spikes.npz"):
        (other / name).write_bytes((tmp_path / name).read_bytes())
    assert main(["report", str(other)]) == 0
    assert main(["report", "--compare", str(tmp_path), str(other)]) == 0
    table = capsys.readouterr().out
    assert "| chip constants | loihi2 | loihi1 |" in table and "n/a" in table


@pytest.mark.skipif(not CORA_RAW.is_dir(), reason=f"Cora raw files not found at {CORA_RAW}")
def test_cora_deploys_spike_for_spike(tmp_path):
    out = tmp_path / "cora"
    assert main(["demo", "--dataset", "cora", "--epochs", "12", "--out", str(out)]) == 0
    report = check_run(out, chance=1 / 7)
    assert report["dataset"] == "cora"


def test_cli_errors_are_one_clear_line(tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "missing.npz"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["compile", str(bad), "--out", str(tmp_path)]) == 2
    assert "not a readable checkpoint" in capsys.readouterr().err
    assert main(["train", "--dataset", "cora", "--data-root", str(tmp_path), "--out", str(tmp_path / "m.pt")]) == 2
    assert "Cora raw files not found" in capsys.readouterr().err


def test_lif_without_stfn_and_three_layers_deploys(tmp_path):
    out = tmp_path / "lif"
    assert main(["demo", "--dataset", "synthetic", "--epochs", "20", "--hidden", "16", "--layers", "3",
                 "--neuron", "lif", "--leak", "0.125", "--no-stfn", "--coding", "deterministic",
                 "--out", str(out)]) == 0
    report = check_run(out, chance=0.25)
    assert [p["name"] for p in report["network"]["populations"]] == \
        ["relay1", "lif1", "relay2", "lif2", "relay3", "readout"]
    assert report["network"]["run_steps"] == report["network"]["input_steps"] + 6


def test_multi_head_gasnn_deploys_spike_for_spike(tmp_path):
    out = tmp_path / "gasnn"
    assert main(["demo", "--model", "gasnn", "--dataset", "synthetic", "--epochs", "20", "--hidden", "16",
                 "--heads", "2", "--out", str(out)]) == 0
    report = check_run(out, chance=0.25, model="gasnn")
    assert [p["heads"] for p in report["network"]["projections"]] == [None, 2, None, 1]   # the output layer: 1
    assert "| attention | per graph |" in (out / "report.md").read_text()


@pytest.mark.slow
def test_hvsgnn_demo_deploys_graded_spikes_on_every_test_graph(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NEUROGRAPH_CACHE", str(tmp_path / "cache"))       # the generated graphs are cached here
    out = tmp_path / "hvs"
    assert main(["demo", "--model", "hvsgnn", "--graphs", "40", "--epochs", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Lava vs reference: spikes 100.00% agree, payloads identical" in printed
    result = json.loads((out / "results.json").read_text())
    hvs = result["rows"][1]["deployed"]
    assert hvs["readouts_identical"] and hvs["payloads_identical"] and hvs["spike_agreement"] == 1.0
    # every one of the 6 test graphs ran; the graded ops are counted apart from binary ones
    assert result["meta"]["split"] == "28 / 6 / 6" and hvs["synaptic_ops_per_graph"]["graded"] > 0
    assert (out / "network.npz").is_file() and (out / "samples.npz").is_file()
    assert "| HVS-GNN |" in (out / "results.md").read_text()
    # the artifacts are the program: `simulate` on them gives the demo's deployed error
    assert main(["simulate", str(out / "network.npz"), "--out", str(out / "sim"), "--engine", "reference"]) == 0
    simulation = json.loads((out / "sim" / "simulation.json").read_text())
    assert simulation["regression"]["graphs"] == 6
    assert simulation["regression"]["mse"] == pytest.approx(hvs["deployed_mse"], rel=1e-12)
