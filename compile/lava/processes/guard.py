"""Keep a model's exception from hanging the Lava runtime.

If run_spk raises, Lava 0.10's run() waits forever for the failed process (and
stop() hangs too; lava-fixed-point.md 4.4). So our models do their port I/O
unconditionally and run their arithmetic through :func:`guarded`: a failure is
written to the process's error file, the process keeps the time-step protocol
going with its last state, and the runner raises a clear error after stopping.
"""
import traceback


def guarded(model, compute) -> None:
    if getattr(model, "_failed", False):
        return
    try:
        compute()
    except Exception:
        model._failed = True
        with open(model.proc_params["error_path"], "w") as f:
            f.write(f"{model.proc_params.get('name', type(model).__name__)} failed at step {model.time_step}:\n")
            f.write(traceback.format_exc())
