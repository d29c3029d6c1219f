"""The results-table machinery, on a synthetic graph: seeds, depth sweep, STFN ablation, Lava deployment."""
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
    assert labels == {(m, d) for m in ("GCN", "GC-SNN", "GC-SNN without STFN") for d in ("2", "3")}
    for r in rows:
        if r[1].startswith("GC-SNN"):
            assert r[6] == "100.00% (min)"            # every deployed SNN agrees with the reference
        else:
            assert r[5] == "-"                        # ANNs are not deployed
    assert "Skipped: pubmed" in text               # missing data is reported with its reason, not fatal
