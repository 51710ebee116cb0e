"""Imported by the pool's forkserver before it forks any worker (see dedupe.pool).

Importing the per-document code and running it once on a tiny document loads ftfy, the
normalization tables (~1 s to build) and the numba kernels (~0.5 s to load) in the server, so
every worker forked from it starts warm instead of paying that again.
"""

from __future__ import annotations

import signal


def _warm_up() -> None:
    from dedupe.config import Config
    from dedupe.model import Document
    from dedupe.prepare import prepare_many

    prepare_many([Document(id="warm-up", text="Warm Up\nWARM UP\nthe tables and kernels once, "
                                              "before the workers are forked")], Config())


# The server ignores Ctrl-C from here on, as it does anyway once its preload is done: a Ctrl-C
# at the start of a job reaches the whole process group, and the job's own process reports it
# once (a KeyboardInterrupt in the middle of the imports below would print a traceback).
signal.signal(signal.SIGINT, signal.SIG_IGN)
_warm_up()
