"""The examples run as a user runs them (a subprocess, --small data) and say what they should;
the Python API imports light; logs are quiet when output is not a terminal."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from neurograph.data.planetoid import default_data_root

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CORA_RAW = default_data_root() / "Planetoid" / "Cora" / "raw"


def run_example(name, *args, timeout=600):
    """Run examples/<name> with --small; its stdout. Asserts a clean exit and a quiet stderr: no
    warning, and progress as a few plain lines (stderr is a pipe here, not a terminal)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", "NEUROGRAPH_PROGRESS")}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run([sys.executable, str(EXAMPLES / name), "--small", *map(str, args)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "Warning" not in proc.stderr, proc.stderr
    assert len(proc.stderr.splitlines()) <= 12, proc.stderr
    return proc.stdout


def percent(pattern, text):
    match = re.search(pattern + r"\s*([\d.]+)%", text)
    assert match, f"{pattern!r} not in output:\n{text}"
    return float(match.group(1))


def test_every_example_has_a_test_and_a_comment_block():
    names = sorted(p.name for p in EXAMPLES.glob("*.py"))
    assert len(names) == 5
    source = Path(__file__).read_text()
    for name in names:
        assert f'"{name}"' in source, f"{name} has no test"
        text = (EXAMPLES / name).read_text()
        assert text.startswith('"""Example') and "What it shows" in text and "--small" in text


@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.skipif(not CORA_RAW.is_dir(), reason=f"Cora raw files not found at {CORA_RAW}")
def test_example1_whole_path_on_cora(tmp_path):
    out = run_example("01_cora_whole_path.py", "--out", tmp_path)
    assert percent("Lava vs reference spike agreement:", out) == 100.0
    assert 30.0 <= percent("deployed on Lava test accuracy:", out) <= 100.0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["dataset"] == "cora" and report["fidelity"]["readout_identical"] is True
    assert (tmp_path / "report.html").is_file() and (tmp_path / "network.npz").is_file()


def test_example2_own_model_compiles_and_an_unexpressible_layer_is_refused():
    out = run_example("02_bring_your_own_model.py")
    assert percent("prediction agreement, chip \\(fixed point\\) vs your PyTorch model:", out) >= 90.0
    assert "refused as expected -- ExportError" in out
    assert "convs[1] (SAGEConv): the IR cannot express this layer" in out


@pytest.mark.slow
@pytest.mark.lava
def test_example3_one_network_on_new_graphs(tmp_path):
    out = run_example("03_compile_once_run_anywhere.py", "--out", tmp_path)
    rows = [line.split() for line in out.splitlines() if line.startswith("unseen-")]
    assert len(rows) == 3
    assert {row[1] for row in rows} == {"150", "300"}                  # other sizes than the training graph
    assert all(row[5] == "100.00%" for row in rows)                    # per-graph Lava vs reference agreement
    assert all(row[3] == row[4] for row in rows)                       # reference and Lava accuracy equal
    assert percent("spike agreement", out.splitlines()[-1]) == 100.0
    assert 50.0 <= percent("Lava test accuracy", out) <= 100.0        # 4 classes: chance is 25%


@pytest.mark.slow
@pytest.mark.lava
def test_example4_energy_tables(tmp_path):
    out = run_example("04_energy_tables.py", "--out", tmp_path)
    assert "| | Loihi 1 | Loihi 2 |" in out and "n/a (no published constant)" in out
    assert "(matches)" in out
    mine = float(re.search(r"your table:\s+([\d.]+) uJ \(([\d.]+)x Loihi 1\)", out).group(2))
    assert 0.3 < mine < 0.7                          # the example table is about half of Loihi 1's constants
    table = json.loads((tmp_path / "my_energy_table.json").read_text())
    report = json.loads((tmp_path / "report.json").read_text())  # the last report: the user's table
    assert report["energy"]["constants"]["synaptic_op"]["value_pj"] == table["synaptic_op"]["value_pj"]


def test_example5_plots_firing_rates_from_report_json(tmp_path):
    out = run_example("05_plot_firing_rates.py", "--out", tmp_path)
    png = tmp_path / "firing_rates.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    rates = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\w+)\s.*firing rate ([\d.]+)$", out, re.M)}
    assert set(rates) == {"relay1", "if1", "relay2", "readout"}
    assert all(0.0 <= r <= 1.0 for r in rates.values()) and rates["if1"] > 0


# ---- the API itself ------------------------------------------------------------------------------
def test_import_neurograph_is_light_and_api_names_resolve():
    code = ("import sys, neurograph as ng; assert 'torch' not in sys.modules and 'lava' not in sys.modules; "
            "import neurograph.train, neurograph.config; from neurograph import train_model, run_config, Sample; "
            "assert callable(train_model) and callable(ng.train_model) and callable(run_config); "
            "assert set(ng.__all__) <= set(dir(ng)); print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
    assert "Warning" not in proc.stderr


def test_api_names_do_not_shadow_submodules():
    import neurograph
    submodules = {p.stem for p in (ROOT / "neurograph").iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()}
    submodules |= {"compile", "sim"}
    assert not set(neurograph._API) & submodules


def test_run_config_settings_by_name():
    import neurograph as ng
    cfg = ng.run_config("gasnn", "synthetic", epochs=3, hidden=16, num_nodes=50, train_seed=4, data_seed=5)
    assert (cfg.model.name, cfg.model.heads, cfg.train.epochs, cfg.model.hidden) == ("gasnn", 4, 3, 16)
    assert (cfg.data.name, cfg.data.num_nodes, cfg.train.seed, cfg.data.seed) == ("synthetic", 50, 4, 5)
    with pytest.raises(ValueError, match="ambiguous: say data_seed or train_seed"):
        ng.run_config(seed=1)
    with pytest.raises(ValueError, match="unknown setting 'epoch'"):
        ng.run_config(epoch=1)


def test_export_check_names_what_it_cannot_express():
    import torch
    from torch import nn

    import neurograph as ng
    from neurograph.models.gcsnn import GCSNN
    cfg = ng.run_config("gcsnn", hidden=8)
    model = GCSNN(cfg.model, 10, 6, 3)
    ng.check_exportable(model)
    with pytest.raises(ng.ExportError, match="cannot export Linear"):
        ng.check_exportable(nn.Linear(3, 3))

    class WithHead(GCSNN):
        def __init__(self, *a):
            super().__init__(*a)
            self.head = nn.Linear(3, 3)

    with pytest.raises(ng.ExportError, match=r"cannot express head \(Linear\)"):
        ng.check_exportable(WithHead(cfg.model, 10, 6, 3))

    class OwnForward(GCSNN):
        def forward(self, spikes, edge_index, edge_weight):
            return torch.relu(super().forward(spikes, edge_index, edge_weight))

    with pytest.raises(ng.ExportError, match="overrides forward"):
        ng.check_exportable(OwnForward(cfg.model, 10, 6, 3))
    with pytest.raises(ValueError, match="report\\(\\) prices a run's files"):
        ng.report(ng.Run(summary={}, counts={}))


def test_progress_is_a_few_lines_off_a_terminal(capsys, monkeypatch):
    from neurograph.progress import LineProgress, progress_bar, progress_mode
    monkeypatch.delenv("NEUROGRAPH_PROGRESS", raising=False)
    monkeypatch.delenv("NEUROGRAPH_PROGRESS_INTERVAL", raising=False)
    assert progress_mode() == "lines"              # pytest's captured stderr is not a terminal
    bar = progress_bar(range(500), desc="train", unit="epoch")
    assert isinstance(bar, LineProgress)
    for _ in bar:
        bar.set_postfix(loss="0.5")
    lava = progress_bar(total=24, desc="Lava", unit="step", leave=False)
    lava.update(12)
    lava.update(12)
    lava.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("train: 500/500 epoch in ") and lines[0].endswith("loss=0.5")
    assert lines[1].startswith("Lava: 24/24 step in ")
    monkeypatch.setenv("NEUROGRAPH_PROGRESS_INTERVAL", "0")       # a line per update, and one at the end
    list(progress_bar(range(3), desc="t"))
    assert [line.split(" in ")[0] for line in capsys.readouterr().err.splitlines()] == ["t: 1/3 it", "t: 2/3 it",
                                                                                        "t: 3/3 it"]
    monkeypatch.setenv("NEUROGRAPH_PROGRESS", "off")
    list(progress_bar(range(3), desc="silent"))
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("NEUROGRAPH_PROGRESS", "bar")
    assert progress_mode() == "bar"
