"""Run a fixed-point network on Lava's CPU simulator (it stands in for the chip).

Builds the process graph with :func:`neurograph.compile.lava.lower_to_lava`, runs
``num_steps`` steps with ``Loihi2SimCfg(select_tag="fixed_pt")``, and always
stops the runtime -- also when a model raised, where Lava's own ``stop()`` would
hang (lava-fixed-point.md, 4.4), so we end its actors ourselves.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from neurograph.compile.ir import Network
from neurograph.sim.reference import SimResult


class LavaRunError(RuntimeError):
    """The Lava run failed; its processes have been terminated."""


def _scratch_dir() -> str:
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return tempfile.mkdtemp(prefix="neurograph-lava-", dir=base)


def _force_stop(runtime) -> None:
    """End a runtime whose stop() would hang because a model process already died."""
    infrastructure = getattr(runtime, "_messaging_infrastructure", None)
    for actor in getattr(infrastructure, "actors", []) or []:
        try:
            if actor.is_alive():
                actor.terminate()
                actor.join(timeout=5)
        except ValueError:   # already closed
            pass
    smm = getattr(infrastructure, "_smm", None)
    if smm is not None:
        try:
            smm.shutdown()
        except Exception:
            pass
    watchdog = getattr(runtime, "_watchdog_manager", None)
    if watchdog is not None:
        try:
            watchdog.stop()
        except Exception:
            pass


def run_on_lava(net: Network, lowering: str = "fused", progress: bool = False, chunk: int = 0) -> SimResult:
    """Run `net` on Lava; returns spike rasters of every spiking population and the readout.

    `chunk` > 0 runs that many steps per run() call (for a progress bar); 0 runs all at once.
    """
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    from neurograph.compile.lava.lower import lower_to_lava

    workdir = _scratch_dir()
    seconds = {}
    try:
        start = time.perf_counter()
        built = lower_to_lava(net, workdir, lowering)
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
            for k in chunks:
                proc.run(condition=RunSteps(num_steps=k, blocking=True), run_cfg=run_cfg)
                if bar is not None:
                    bar.update(k)
        except BaseException as exc:
            _force_stop(proc.runtime)
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
        spikes = {}
        for name, path in built.spike_files.items():
            packed = np.load(path)
            n_features = net.population(name).shape[1]
            spikes[name] = np.unpackbits(packed, axis=-1, count=n_features).astype(bool)
        readout = np.load(built.readout_file)
        seconds["total"] = seconds["build"] + seconds["run"]
        return SimResult(engine=f"lava-{lowering}", spikes=spikes, readout=readout, seconds=seconds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
