"""Progress bars that do not touch multiprocessing.

tqdm's default lock is a multiprocessing RLock, and creating it fixes the
multiprocessing start method; Lava then fails to import with "context has
already been set" (it calls mp.set_start_method('fork') at import). Our bars
live in one process, so a threading lock is all they need.
"""
import threading

from tqdm import tqdm

tqdm.set_lock(threading.RLock())


def progress_bar(iterable=None, **kwargs) -> tqdm:
    return tqdm(iterable, **kwargs)
