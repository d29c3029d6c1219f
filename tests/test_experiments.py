"""The results-table machinery, on a synthetic graph: seeds, depth sweep, STFN ablation, attention-score ablation, Lava deployment."""
import json

import pytest

from neurograph.experiments.static import main

pytestmark = [pytest.mark.slow, pytest.mark.lava, pytest.mark.usefixtures("no_leaked_processes")]


def test_results_table_on_synthetic(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROGRAPH_DATA", str(tmp_path / "no-datasets-here"))     # pubmed is then missing
    out = tmp_path / "results.md"
    assert main(["--datasets", "synthetic", "pubmed", "--seeds", "0", "--epochs", "3",
                 "--depths", "2", "3", "--stfn-ablation", "--attention-ablation", "--work-dir", str(tmp_path / "work"),
                 "--out", str(out)]) == 0
    text = out.read_text()
    accuracy_part, energy_part = text.split("## Energy per inference")
    rows = [line.split(" | ") for line in accuracy_part.splitlines() if line.startswith("| synthetic")]
    labels = {(r[1], r[2]) for r in rows}
    # GC-SNN runs without STFN by default, GA-SNN with running-mean attention scores
    models = ("GCN", "GAT", "GC-SNN", "GC-SNN with STFN", "GA-SNN", "GA-SNN with step attention scores")
    assert labels == {(m, d) for m in models for d in ("2", "3")}
    for r in rows:
        if "SNN" in r[1]:
            assert r[9] == "100.00% (min)"            # every deployed SNN agrees with the reference
        else:
            assert r[8] == "-"                        # ANNs are not deployed
        assert (r[7] != "-") == r[1].startswith("GA-SNN")   # live-attention accuracy only for GA-SNN
    priced = [line.split(" | ") for line in energy_part.splitlines() if line.startswith("| synthetic")]
    assert {(r[1], r[2]) for r in priced} == {(m, d) for m in models if "SNN" in m for d in ("2", "3")}
    host = {}
    for r in priced:
        assert float(r[7].replace(",", "")) > 0       # chip energy was counted
        # the host's work per inference and graph: encoding, the decision and GCN normalization (GC-SNN)
        # or the attention pass (GA-SNN)
        host[(r[1], r[2])] = float(r[9].replace(",", ""))      # µJ to 0.1: GC-SNN's rounds to 0
    for depth in ("2", "3"):   # a float pass over T + S steps costs more than normalizing the edges once
        assert host[("GA-SNN", depth)] > host[("GC-SNN", depth)]
    assert "Skipped: pubmed" in text               # missing data is reported with its reason, not fatal

    # runs made separately merge into one table
    rows_json = json.loads((tmp_path / "results.md.json").read_text())
    assert len(rows_json[0]["rows"]) == 12
    assert all(r["host_uj"] > 0 for r in rows_json[0]["rows"] if "SNN" in r["label"])
    merged = tmp_path / "merged.md"
    assert main(["--merge", str(tmp_path / "results.md.json"), "--out", str(merged)]) == 0
    assert merged.read_text().count("| synthetic") == 12 + 8      # accuracy rows, and the SNNs' energy rows
    # a later run replaces an earlier one's rows of the same seed (a rerun: not 2 seeds) ...
    assert main(["--merge", str(tmp_path / "results.md.json"), str(tmp_path / "results.md.json"),
                 "--out", str(merged)]) == 0
    assert merged.read_text().count("| synthetic") == 12 + 8 and "| 1 | " in merged.read_text()
    # ... but only if it reproduces the training: a changed float accuracy is refused
    changed = json.loads((tmp_path / "results.md.json").read_text())
    changed[0]["rows"][0]["float"] += 0.01
    (tmp_path / "changed.json").write_text(json.dumps(changed))
    with pytest.raises(ValueError, match="a rerun must reproduce the training"):
        main(["--merge", str(tmp_path / "results.md.json"), str(tmp_path / "changed.json"), "--out", str(merged)])
    # a rerun reuses each row's training and deployed runs: same rows, priced again
    assert main(["--datasets", "synthetic", "--models", "gcsnn", "--seeds", "0", "--epochs", "3", "--depths", "2",
                 "--work-dir", str(tmp_path / "work"), "--out", str(tmp_path / "again.md")]) == 0
    again = json.loads((tmp_path / "again.md.json").read_text())[0]["rows"]
    first = [r for r in rows_json[0]["rows"] if r["label"] == "GC-SNN" and r["layers"] == 2]
    assert again == first


def test_sweep_applies_typed_settings_and_reports_validation_and_test(tmp_path):
    from neurograph.config import RunConfig
    from neurograph.experiments.sweep import apply_settings, main as sweep
    cfg = apply_settings(RunConfig().with_model("gasnn"), ["heads=2", "dropout=0.5", "stfn=true", "epochs=3"])
    assert (cfg.model.heads, cfg.model.dropout, cfg.model.stfn, cfg.train.epochs) == (2, 0.5, True, 3)
    assert cfg.model.attention_dropout == 0.6                 # the model's own settings stay
    with pytest.raises(ValueError, match="ModelConfig or TrainConfig field"):
        apply_settings(cfg, ["headz=2"])
    out = tmp_path / "sweep.jsonl"
    assert sweep(["--dataset", "synthetic", "--set", "heads=2", "epochs=2", "--seeds", "0", "1",
                  "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["config"]["model"]["heads"] == 2 and [r["seed"] for r in result["rows"]] == [0, 1]
    assert result["val"] == pytest.approx(sum(r["val"] for r in result["rows"]) / 2)
    assert result["test"] == pytest.approx(sum(r["float"] for r in result["rows"]) / 2)
    assert all(0.0 <= r["float"] <= 1.0 and "live_attention" in r for r in result["rows"])


@pytest.mark.slow
def test_frontier_writes_table_figure_and_rows(tmp_path):
    from neurograph.data.planetoid import raw_dir
    from neurograph.experiments.frontier import main
    if not raw_dir("cora", None).is_dir():
        pytest.skip("Cora raw files not found")
    args = ["--datasets", "cora", "--models", "gcsnn", "--steps", "2", "--epochs", "2",
            "--work-dir", str(tmp_path / "work"), "--out", str(tmp_path / "f.md")]
    assert main(args) == 0
    result = json.loads((tmp_path / "f.md.json").read_text())
    rows = result["rows"]
    # Cora's features are binary: both codings give one raster, so only the first is trained
    assert result["same_raster_for_every_coding"] == {"cora": True}
    assert [(r["coding"], r["T"], r["input_as_current"]) for r in rows] == [("bernoulli", 2, False),
                                                                            ("bernoulli", 2, True)]
    assert rows[0]["accuracy"] == rows[1]["accuracy"]                  # the current changes no spike
    assert rows[1]["chip_with_host_uj"] < rows[0]["chip_with_host_uj"]
    assert rows[0]["ann"]["name"] == "gcn" and 0 < rows[0]["ann"]["accuracy"] <= 1
    assert (tmp_path / "f-cora.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a rerun reuses the checkpoint and the simulations, and prices them again to the same rows
    checkpoint = next((tmp_path / "work").glob("*/model.pt"))
    stamp = checkpoint.stat().st_mtime_ns
    assert main(args) == 0
    assert checkpoint.stat().st_mtime_ns == stamp
    assert json.loads((tmp_path / "f.md.json").read_text())["rows"] == rows
