"""Ctrl-C and SIGTERM during a real Lava run: the command ends quickly with 130 / 143 and leaves no
Lava process, no shared-memory segment and no scratch directory behind."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from neurograph.compile.artifact import save_network
from neurograph.compile.samples import save_samples
from test_streams import feedback_network, snapshots

SHM = Path("/dev/shm")


def _shm_entries():
    return {p.name for p in SHM.iterdir() if p.name.startswith(("psm_", "neurograph-lava-"))} if SHM.is_dir() else set()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.mark.slow
@pytest.mark.lava
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_lava_run_leaves_nothing_behind(tmp_path, signum, code):
    net = feedback_network()
    net.input.num_steps = 40000                # long enough (minutes) to be interrupted inside the Lava run
    save_network(net, tmp_path / "network.npz")
    save_samples(snapshots(count=1), tmp_path / "samples.npz")
    before = _shm_entries()
    # a terminal's foreground job hears Ctrl-C; a job a script starts in the background inherits an ignored
    # SIGINT (which Python then keeps ignoring), so the child gets the default disposition
    proc = subprocess.Popen([sys.executable, "-m", "neurograph", "simulate", str(tmp_path / "network.npz"),
                             "--out", str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and not any(n.startswith("neurograph-lava-") for n in _shm_entries() - before):
        time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
    time.sleep(1.5)                             # inside run(): processes started, steps going
    os.killpg(proc.pid, signum)                 # as a terminal's Ctrl-C does: the whole process group
    start = time.time()
    try:
        _, err = proc.communicate(timeout=30)
    finally:                                    # a run that did not stop must not outlive the test
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert time.time() - start < 15
    assert proc.returncode == code, err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("Lava (")]   # progress bar
    assert len(lines) == 1 and lines[0].startswith("neurograph simulate: ") and "Traceback" not in err, err
    gone_by = time.time() + 10                  # dead children reparented to init are reaped within seconds
    while _group_alive(proc.pid) and time.time() < gone_by:
        time.sleep(0.2)
    assert not _group_alive(proc.pid), "Lava processes outlived the command"
    assert _shm_entries() - before == set()
    assert not (tmp_path / "out" / "simulation.json").exists()


def test_a_signal_while_lava_starts_is_delivered_once_it_has_started():
    # the children are forked with a handler that only records; a Ctrl-C in those seconds must not be lost
    from neurograph.sim.lava_runner import _start_runtime
    during = []

    class Starting:
        def create_runtime(self, run_cfg):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)                         # the handler runs here, as in a slow start-up
            during.append(signal.getsignal(signal.SIGINT))

    before = signal.signal(signal.SIGINT, signal.default_int_handler)    # as in a foreground process
    try:
        with pytest.raises(KeyboardInterrupt):
            _start_runtime(Starting(), None)
        assert during and during[0] is not signal.default_int_handler   # what the children inherit
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)
