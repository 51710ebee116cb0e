"""The worker pool's forkserver: what it preloads, and starting it before it is needed.

Pass one runs on worker processes forked from a forkserver that has imported and warmed up the
per-document code (``dedupe._worker``: ftfy, the normalization tables, the numba kernels), so
that each worker starts in milliseconds. Booting that server takes about a second. Started
when the first chunk is submitted, that second is spent waiting; started when a job begins, it
boots on another core while this process imports the same code and opens the inputs.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import os
from collections.abc import Sequence

#: Modules the forkserver imports before it forks workers ('__main__' is its own default).
PRELOAD = ["__main__", "dedupe._worker"]
#: Inputs smaller than this may not need workers at all (a chunk is up to 64 documents or a
#: megabyte of text, and one chunk is prepared in this process): no early start for them.
EARLY_BYTES = 1 << 20


def context() -> multiprocessing.context.ForkServerContext:
    """The forkserver context, with the preload set."""
    forkserver = multiprocessing.get_context("forkserver")
    forkserver.set_forkserver_preload(PRELOAD)
    return forkserver


def start_early(inputs: Sequence[str], workers: int) -> bool:
    """Start the forkserver now if the job will likely use ``workers`` (> 1) processes: its
    input files hold at least ``EARLY_BYTES`` (standard input, of unknown size, waits).
    Returns whether it did (it returns at once: the server boots in the background)."""
    if workers <= 1 or not inputs or "-" in inputs:
        return False
    try:
        size = sum(os.stat(path).st_size for path in inputs)
    except OSError:  # the job reports a missing or unreadable input itself
        return False
    if size < EARLY_BYTES:
        return False
    context()
    multiprocessing.forkserver.ensure_running()
    return True
