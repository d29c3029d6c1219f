"""Progress bars on a terminal; a few plain lines when output goes to a file or a pipe.

On a terminal this is tqdm. When stderr is not a terminal (``make demo > log``,
CI), a redrawn bar would write hundreds of updates into the log, so a bar becomes
a :class:`LineProgress`: one line at most every ``NEUROGRAPH_PROGRESS_INTERVAL``
seconds (default 30) and one when it ends. ``NEUROGRAPH_PROGRESS`` overrides the
choice: ``bar`` (always tqdm), ``lines`` (always plain lines) or ``off`` (nothing).

tqdm's default lock is a multiprocessing RLock, and creating it fixes the
multiprocessing start method; Lava then fails to import with "context has
already been set" (it calls mp.set_start_method('fork') at import). Our bars
live in one process, so a threading lock is all they need.
"""
from __future__ import annotations

import os
import sys
import threading
import time

from tqdm import tqdm

tqdm.set_lock(threading.RLock())

MODES = ("bar", "lines", "off")


def progress_mode(stream=None) -> str:
    """'bar' on a terminal, else 'lines'; ``$NEUROGRAPH_PROGRESS`` (bar | lines | off) overrides."""
    mode = os.environ.get("NEUROGRAPH_PROGRESS", "").strip().lower()
    if mode in MODES:
        return mode
    stream = sys.stderr if stream is None else stream
    try:
        return "bar" if stream.isatty() else "lines"
    except (AttributeError, ValueError):      # closed or replaced streams
        return "lines"


class LineProgress:
    """The part of tqdm's interface our loops use, written as a few whole lines."""

    def __init__(self, iterable=None, total=None, desc: str = "", unit: str = "it", disable: bool = False,
                 interval: float = None, file=None, **_ignored):
        self.iterable, self.desc, self.unit, self.disable = iterable, desc, unit, disable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.n, self.postfix = total, 0, ""
        self.interval = float(os.environ.get("NEUROGRAPH_PROGRESS_INTERVAL", 30)) if interval is None else interval
        self.file = file
        self.start = self.last = time.perf_counter()
        self.closed = False

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __len__(self):
        return self.total or 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.perf_counter()
        if now - self.last >= self.interval and not (self.total and self.n >= self.total):
            self.last = now
            self._write()

    def set_postfix(self, ordered_dict=None, refresh: bool = True, **kwargs) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_description(self, desc: str = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._write()

    def _write(self) -> None:
        if self.disable:
            return
        of = f"/{self.total}" if self.total else ""
        tail = f", {self.postfix}" if self.postfix else ""
        print(f"{self.desc}: {self.n}{of} {self.unit} in {time.perf_counter() - self.start:.1f} s{tail}",
              file=self.file or sys.stderr, flush=True)


def progress_bar(iterable=None, **kwargs):
    """A tqdm bar on a terminal, else a :class:`LineProgress` (see the module docstring)."""
    mode = progress_mode(kwargs.get("file"))
    if mode == "bar":
        return tqdm(iterable, **kwargs)
    if mode == "off":
        kwargs["disable"] = True
    return LineProgress(iterable, **kwargs)
