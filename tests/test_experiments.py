"""The results-table machinery, on a synthetic graph: seeds, depth sweep, STFN ablation, Lava deployment."""
import json

import pytest

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
    models = ("GCN", "GAT", "GC-SNN", "GC-SNN with STFN", "GA-SNN")     # GC-SNN runs without STFN by default
    assert labels == {(m, d) for m in models for d in ("2", "3")}
    for r in rows:
        if "SNN" in r[1]:
            assert r[9] == "100.00% (min)"            # every deployed SNN agrees with the reference
            assert float(r[12].replace(",", "")) > 0   # chip energy was counted
            # host calibration (once) exists only where something was frozen: STFN or attention
            assert (float(r[14]) > 0) == (r[1] in ("GA-SNN", "GC-SNN with STFN"))
        else:
            assert r[8] == "-"                        # ANNs are not deployed
        assert (r[7] != "-") == r[1].startswith("GA-SNN")   # live-attention accuracy only for GA-SNN
    assert "Skipped: pubmed" in text               # missing data is reported with its reason, not fatal

    # runs made separately merge into one table
    rows_json = json.loads((tmp_path / "results.md.json").read_text())
    assert len(rows_json[0]["rows"]) == 10
    merged = tmp_path / "merged.md"
    assert main(["--merge", str(tmp_path / "results.md.json"), "--out", str(merged)]) == 0
    assert merged.read_text().count("| synthetic") == 10
    with pytest.raises(ValueError, match="merge each run once"):       # a run merged twice is not 2 seeds
        main(["--merge", str(tmp_path / "results.md.json"), str(tmp_path / "results.md.json"),
              "--out", str(merged)])
