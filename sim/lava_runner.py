"""Run a fixed-point network on Lava's CPU simulator (it stands in for the chip).

Builds the process graph for a sequence of windows with
:func:`neurograph.compile.lava.lower.lower_to_lava`, runs it with
``Loihi2SimCfg(select_tag="fixed_pt")``, and always stops the runtime -- also when
a model raised, where Lava's own ``stop()`` would hang (lava-fixed-point.md, 4.4),
so we end its actors ourselves.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import List

import numpy as np

from neurograph.compile.ir import Network
from neurograph.sim.reference import SimResult, Window


class LavaRunError(RuntimeError):
    """The Lava run failed; its processes have been terminated."""


def _start_runtime(proc, run_cfg) -> None:
    """Compile and start Lava's processes with SIGINT and SIGTERM only recorded, so the children
    (forked) inherit a handler that does nothing else: a Ctrl-C or a SIGTERM to the process group
    acts only in this process, which then stops them in order -- model processes killed, the
    shared-memory manager shut down (it unlinks its segments) -- with no traceback from every
    child. A signal that arrives while they start is delivered once they have started (ignoring
    it would let a Ctrl-C during start-up go unheard and the run go on)."""
    received = []
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        proc.create_runtime(run_cfg=run_cfg)
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if received:
        signal.raise_signal(received[0])          # this process's own handler: stop what was started


def _scratch_dir() -> str:
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return tempfile.mkdtemp(prefix="neurograph-lava-", dir=base)


def _force_stop(runtime) -> None:
    """End a runtime whose stop() would hang because a model process already died."""
    infrastructure = getattr(runtime, "_messaging_infrastructure", None)
    for actor in getattr(infrastructure, "actors", []) or []:
        try:
            if actor.is_alive():
                actor.kill()             # SIGTERM only records in them (see _start_runtime)
                # Lava's SystemProcess.join() takes no timeout: use multiprocessing's own
                multiprocessing.Process.join(actor, 5)
        except ValueError:   # already closed
            pass
    for part in (getattr(infrastructure, "_smm", None), getattr(runtime, "_watchdog_manager", None)):
        try:
            if part is not None:
                part.shutdown() if hasattr(part, "shutdown") else part.stop()
        except Exception:
            pass


def run_on_lava(net: Network, windows: List[Window], lowering: str = "fused", progress: bool = False,
                chunk: int = 0) -> SimResult:
    """Run `windows` back to back (state carried) on Lava; spike rasters (bit-packed) and readouts.

    `chunk` > 0 runs that many steps per run() call (for a progress bar); 0 runs all at once.
    """
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    from neurograph.compile.lava.lower import lower_to_lava

    workdir = _scratch_dir()
    seconds = {}
    try:
        start = time.perf_counter()
        built = lower_to_lava(net, windows, workdir, lowering)
        seconds["build"] = time.perf_counter() - start
        proc, steps = built.any_process, built.num_steps
        run_cfg = Loihi2SimCfg(select_tag="fixed_pt")
        chunks = [steps] if chunk <= 0 else [min(chunk, steps - s) for s in range(0, steps, chunk)]
        bar = None
        if progress:
            from neurograph.progress import progress_bar
            bar = progress_bar(total=steps, desc=f"Lava ({lowering})", unit="step", leave=False)
        start = time.perf_counter()
        try:
            _start_runtime(proc, run_cfg)
            for k in chunks:
                proc.run(condition=RunSteps(num_steps=k, blocking=True), run_cfg=run_cfg)
                if bar is not None:
                    bar.update(k)
        except BaseException as exc:
            if getattr(proc, "_runtime", None) is not None:
                _force_stop(proc.runtime)
            if not isinstance(exc, Exception):     # Ctrl-C, a termination signal: stopped, pass it on
                raise
            raise LavaRunError(f"the Lava run failed ({type(exc).__name__}: {exc}); its processes were "
                               f"terminated. Lava logs a stock model's traceback only at INFO level.") from exc
        finally:
            if bar is not None:
                bar.close()
        seconds["run"] = time.perf_counter() - start
        proc.stop()
        failures = sorted(Path(built.workdir).glob("error-*.txt"))
        if failures:
            raise LavaRunError("a process model failed during the Lava run (the run was completed with its "
                               "state frozen and stopped):\n" + "\n".join(f.read_text() for f in failures))
        spikes = {name: np.load(path) for name, path in built.spike_files.items()}
        readouts = list(np.load(built.readout_file))
        seconds["total"] = seconds["build"] + seconds["run"]
        payloads = {name: np.load(path) for name, path in built.payload_files.items()}
        return SimResult(engine=f"lava-{lowering}", window=net.window_steps, spikes=spikes,
                         features={name: net.population(name).features for name in spikes}, readouts=readouts,
                         payloads=payloads, seconds=seconds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
