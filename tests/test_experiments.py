"""The results-table machinery, on a synthetic graph: seeds, depth sweep, STFN ablation, Lava deployment."""
import json

import pytest

from neurograph.config import RunConfig
from neurograph.experiments.static import main

pytestmark = [pytest.mark.slow, pytest.mark.lava, pytest.mark.usefixtures("no_leaked_processes")]


def test_results_table_on_synthetic(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROGRAPH_DATA", str(tmp_path / "no-datasets-here"))     # pubmed is then missing
    out = tmp_path / "results.md"
    assert main(["--datasets", "synthetic", "pubmed", "--seeds", "0", "--epochs", "3",
                 "--depths", "2", "3", "--stfn-ablation", "--out", str(out)]) == 0
    text = out.read_text()
    rows = [line.split(" | ") for line in text.splitlines() if line.startswith("| synthetic")]
    labels = {(r[1], r[2]) for r in rows}
    ablation = "GC-SNN without STFN" if RunConfig.for_model("gcsnn").model.stfn else "GC-SNN with STFN"
    models = ("GCN", "GAT", "GC-SNN", ablation, "GA-SNN")
    assert labels == {(m, d) for m in models for d in ("2", "3")}
    for r in rows:
        if "SNN" in r[1]:
            assert r[7] == "100.00% (min)"            # every deployed SNN agrees with the reference
            assert float(r[10].replace(",", "")) > 0   # chip energy was counted
        else:
            assert r[6] == "-"                        # ANNs are not deployed
        assert (r[5] != "-") == r[1].startswith("GA-SNN")   # live-attention accuracy only for GA-SNN
    assert "Skipped: pubmed" in text               # missing data is reported with its reason, not fatal

    # runs made separately merge into one table
    rows_json = json.loads((tmp_path / "results.md.json").read_text())
    assert len(rows_json[0]["rows"]) == 10
    merged = tmp_path / "merged.md"
    assert main(["--merge", str(tmp_path / "results.md.json"), str(tmp_path / "results.md.json"),
                 "--out", str(merged)]) == 0
    merged_rows = [line.split(" | ") for line in merged.read_text().splitlines() if line.startswith("| synthetic")]
    assert len(merged_rows) == 10 and all(r[3] == "2" for r in merged_rows)   # each row now has 2 seeds
