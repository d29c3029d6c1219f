"""Hostile and damaged inputs: every file the tool reads, every option it takes, every place it writes.

Families (the note counts the cases): damaged network files, damaged sample files,
damaged checkpoints, run directories that do not belong together, options out of range,
energy tables, damaged datasets, and output locations that are read-only or full. Each
case must end in a one-line error (exit 2 for a user's mistake, 1 for a disk failure)
-- never a traceback, a crash or a half-written file.
"""
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neurograph.compile.artifact import ArtifactError, file_hash, load_network, save_network
from neurograph.compile.samples import save_samples
from test_streams import feedback_network, snapshots


def cli(*args, cwd=None, limit_file_bytes=None):
    """Run `python -m neurograph` and return (exit code, stderr lines that are not progress bars or warnings)."""
    def limit():
        if limit_file_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_bytes, limit_file_bytes))
    done = subprocess.run([sys.executable, "-m", "neurograph", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, preexec_fn=limit, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    lines = [line for line in done.stderr.splitlines()
             if line.strip() and not line.startswith(("Lava (", "train ")) and "warn" not in line.lower()]
    return done.returncode, lines


def one_line_error(code, lines, expected_code=2, match=""):
    assert code == expected_code, lines
    assert len(lines) == 1 and "Traceback" not in lines[0] and match in lines[0], lines


@pytest.fixture
def run_dir(tmp_path):
    save_network(feedback_network(), tmp_path / "network.npz")
    save_samples(snapshots(count=2), tmp_path / "samples.npz")
    return tmp_path


# ---- damaged network files -----------------------------------------------------------------
def _rewrite(path, edit):
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays["header"].tobytes())
    edit(header, arrays)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


NETWORK_DAMAGE = {
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:300]), "not a readable"),
    "random bytes": (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4000)), "not a readable"),
    "empty": (lambda p: p.write_bytes(b""), "not a readable"),
    "unknown kind": (lambda p: _rewrite(p, lambda h, a: h["populations"][1].update(kind="resonator")), "unknown kind"),
    "nan threshold": (lambda p: _rewrite(p, lambda h, a: h["populations"][1].update(threshold=float("nan"))),
                      "threshold"),
    "negative features": (lambda p: _rewrite(p, lambda h, a: h["populations"][0].update(features=-3)), "feature"),
    "weight shape": (lambda p: _rewrite(p, lambda h, a: a.update({"proj0.weight": np.zeros((2, 2), int)})),
                     "dense weight must have shape"),
    "mantissa out of range": (lambda p: _rewrite(p, lambda h, a: a["proj0.weight"].__setitem__((0, 0), 999)),
                              "8-bit synapse format"),
    "string weights": (lambda p: _rewrite(p, lambda h, a: a.update({"proj0.weight": np.array([["a"]])})),
                       "not one neurograph writes"),
    "dangling projection": (lambda p: _rewrite(p, lambda h, a: h["projections"][0].update(source="ghost")),
                            "source must be"),
    "missing header field": (lambda p: _rewrite(p, lambda h, a: h.pop("populations")), "incomplete"),
    "old version": (lambda p: _rewrite(p, lambda h, a: h.update(version=3)), "recompile"),
}


@pytest.mark.parametrize("damage", list(NETWORK_DAMAGE))
def test_damaged_network_file_is_named(run_dir, damage):
    edit, match = NETWORK_DAMAGE[damage]
    edit(run_dir / "network.npz")
    with pytest.raises(ArtifactError, match=match):
        load_network(run_dir / "network.npz")


@pytest.mark.slow
def test_damaged_network_on_the_command_line(run_dir):
    NETWORK_DAMAGE["weight shape"][0](run_dir / "network.npz")
    one_line_error(*cli("simulate", run_dir / "network.npz", "--engine", "reference", "--out", run_dir / "o"),
                   match="dense weight must have shape")


# ---- checkpoints, run directories --------------------------------------------------------
@pytest.mark.parametrize("content", [b"", b"not a checkpoint", b"\x80\x04K\x01."])   # the last: a pickled 1
def test_damaged_checkpoint(tmp_path, content):
    from neurograph.pipeline import CheckpointError, load_checkpoint
    (tmp_path / "model.pt").write_bytes(content)
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "model.pt")


@pytest.mark.slow
def test_report_refuses_a_simulation_of_another_network(run_dir):
    code, lines = cli("simulate", run_dir / "network.npz", "--engine", "reference", "--out", run_dir)
    assert code == 0, lines
    other = feedback_network()
    other.population("lif1").threshold = 41
    save_network(other, run_dir / "network.npz")
    one_line_error(*cli("report", run_dir), match="another network")


def test_report_refuses_a_damaged_simulation_summary(run_dir):
    from neurograph.sim.steps import report
    (run_dir / "simulation.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not a simulation summary"):
        report(run_dir)


# ---- options and energy tables -----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("args, match", [
    (["train", "--hidden", "0"], "--hidden"), (["train", "--epochs", "-1"], "--epochs"),
    (["train", "--leak", "0.5"], "--leak"), (["train", "--dropout", "nan"], "--dropout"),
    (["train", "--heads", "3"], "--heads"), (["train", "--lr", "0"], "--lr"),
    (["train", "--dataset", "nosuch", "--epochs", "1"], "unknown dataset"),
    (["demo", "--chip", "loihi9"], "invalid choice"),
    (["simulate", "nowhere.npz", "--out", "o"], "does not exist"),
    (["report"], "give a run directory")])
def test_options_out_of_range_end_in_one_line(tmp_path, args, match):
    code, lines = cli(*args, cwd=tmp_path)
    assert code == 2 and "Traceback" not in "\n".join(lines) and any(match in line for line in lines), lines


TABLE = {k: {"value_pj": 1.0, "source": "test"} for k in
         ("synaptic_op", "neuron_update_active", "neuron_update_inactive", "spike")}


@pytest.mark.parametrize("edit, match", [
    (lambda t: t["spike"].update(value_pj=-1.0), "positive finite"),
    (lambda t: t["spike"].update(value_pj=float("nan")), "positive finite"),
    (lambda t: t["spike"].update(value_pj="1"), "positive finite"),
    (lambda t: t["spike"].update(source=""), "source"),
    (lambda t: t.pop("synaptic_op"), "lacks"),
    (lambda t: t.update(spike=3), "positive finite")])
def test_energy_table_schema(tmp_path, edit, match):
    from neurograph.sim.energy import load_energy_table
    table = json.loads(json.dumps(TABLE))
    edit(table)
    (tmp_path / "t.json").write_text(json.dumps(table))
    with pytest.raises(ValueError, match=match):
        load_energy_table(tmp_path / "t.json")


# ---- datasets ----------------------------------------------------------------------------
def test_damaged_dataset_is_named_and_never_masked_by_the_cache(tmp_path):
    from neurograph.config import DataConfig
    from neurograph.data import DatasetError, load_graph
    from neurograph.data.planetoid import raw_dir
    source = raw_dir("cora", None)
    if not source.is_dir():
        pytest.skip(f"Cora raw files not found in {source}")
    root = tmp_path / "data"
    shutil.copytree(source, root / "Planetoid" / "Cora" / "raw")
    cfg = DataConfig(name="cora", root=str(root), cache=str(tmp_path / "cache"))
    assert load_graph(cfg).num_nodes == 2708                      # warm cache
    target = root / "Planetoid" / "Cora" / "raw" / "ind.cora.graph"
    good = target.read_bytes()
    target.write_bytes(bytes(len(good)))                          # same size, damaged
    with pytest.raises(DatasetError, match=str(root)):
        load_graph(cfg)
    target.write_bytes(good)                                      # restored: loads again
    assert load_graph(cfg).num_nodes == 2708


# ---- where the tool writes ----------------------------------------------------------------
@pytest.mark.slow
def test_full_disk_leaves_the_previous_results_whole(run_dir):
    out = run_dir / "out"
    code, lines = cli("simulate", run_dir / "network.npz", "--engine", "reference", "--out", out)
    assert code == 0, lines
    before = {p.name: file_hash(p) for p in out.iterdir()}
    code, lines = cli("simulate", run_dir / "network.npz", "--engine", "reference", "--out", out,
                      limit_file_bytes=2000)
    one_line_error(code, lines, expected_code=1, match="nothing half-written")
    assert {p.name: file_hash(p) for p in out.iterdir()} == before          # old files intact, no temporaries


def _read_only(folder: Path):
    """Make `folder` unwritable even for root (which ignores permission bits): chattr +i; returns an undo."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return lambda: folder.chmod(0o700)
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
        pytest.skip("running as root without chattr: cannot make a folder read-only")
    return lambda: subprocess.run(["chattr", "-i", str(folder)])


@pytest.mark.slow
def test_read_only_output_folder_is_refused_and_left_as_it_was(run_dir):
    out = run_dir / "ro"
    assert cli("simulate", run_dir / "network.npz", "--engine", "reference", "--out", out)[0] == 0
    before = {p.name: file_hash(p) for p in out.iterdir()}
    undo = _read_only(out)
    try:
        one_line_error(*cli("simulate", run_dir / "network.npz", "--engine", "reference", "--out", out),
                       match="cannot write")
        one_line_error(*cli("report", out), match="cannot write")
    finally:
        undo()
    assert {p.name: file_hash(p) for p in out.iterdir()} == before


@pytest.mark.slow
def test_report_refuses_spikes_of_another_simulation(run_dir):
    first, second = run_dir / "a", run_dir / "b"
    for out in (first, second):
        assert cli("simulate", run_dir / "network.npz", "--engine", "reference", "--out", out)[0] == 0
    save_samples(snapshots(count=1), run_dir / "samples.npz")     # b is simulated from other samples
    assert cli("simulate", run_dir / "network.npz", "--engine", "reference", "--out", second)[0] == 0
    shutil.copy(second / "spikes.npz", first / "spikes.npz")
    one_line_error(*cli("report", first), match="different simulations")


@pytest.mark.slow
def test_damaged_spike_file_and_report_json(run_dir):
    out = run_dir / "out"
    assert cli("simulate", run_dir / "network.npz", "--engine", "reference", "--out", out)[0] == 0
    spikes = (out / "spikes.npz").read_bytes()
    (out / "spikes.npz").write_bytes(spikes[: len(spikes) // 2])
    one_line_error(*cli("report", out), match="not a readable spike file")
    (out / "spikes.npz").write_bytes(spikes)
    assert cli("report", out)[0] == 0
    (out / "report.json").write_text('{"energy": ')
    one_line_error(*cli("report", "--compare", out, out))


def test_random_bytes_as_a_sample_file(tmp_path):
    from neurograph.compile.samples import SampleError, load_samples
    (tmp_path / "s.npz").write_bytes(np.random.default_rng(1).bytes(5000))
    with pytest.raises(SampleError, match="not a readable sample file"):
        load_samples(tmp_path / "s.npz")


@pytest.mark.slow
def test_output_path_through_a_file(run_dir):
    (run_dir / "afile").write_text("x")
    one_line_error(*cli("simulate", run_dir / "network.npz", "--engine", "reference", "--out", run_dir / "afile" / "o"),
                   match="cannot write")


def test_crafted_checkpoints_are_refused(tmp_path):
    import torch
    from neurograph.config import RunConfig
    from neurograph.pipeline import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointError, restore_model
    cfg = RunConfig()
    cfg.data.name = "synthetic"
    good = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "config": cfg.to_dict(),
            "state_dict": {"convs.0.lin.weight": torch.zeros(3, 3)}, "training": {}}
    with pytest.raises(CheckpointError, match="weights do not fit"):
        restore_model(good)
    bad_config = {**good, "config": {**cfg.to_dict(), "model": {**cfg.to_dict()["model"], "hidden": -4}}}
    with pytest.raises(CheckpointError, match="--hidden"):
        restore_model(bad_config)


@pytest.mark.slow
def test_sigterm_during_training_leaves_no_checkpoint(tmp_path):
    import signal
    import time
    proc = subprocess.Popen([sys.executable, "-m", "neurograph", "train", "--dataset", "synthetic", "--epochs", "5000",
                             "--no-baseline", "--out", str(tmp_path / "model.pt")], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    time.sleep(8)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143 and "terminated" in err and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_a_small_file_claiming_a_huge_array_is_refused_before_decompressing(run_dir):
    import zipfile
    path = run_dir / "network.npz"
    with zipfile.ZipFile(path, "a") as z:       # an .npy header claiming 2**40 elements, with no data behind it
        header = {"descr": "<f8", "fortran_order": False, "shape": (1 << 20, 1 << 20)}
        buffer = __import__("io").BytesIO()
        np.lib.format.write_array_header_1_0(buffer, header)
        z.writestr("proj0.weight.npy", buffer.getvalue())
    with pytest.raises(ArtifactError, match=r"shape \(1048576, 1048576\)\) is not one neurograph writes"):
        load_network(path)
