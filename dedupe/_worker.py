"""Imported by the pool's forkserver before it forks any worker (see pipeline.prepare_all).

Importing the per-document code and running it once on a tiny document loads ftfy, the
normalization tables (~1 s to build) and the numba kernels (~0.5 s to load) in the server, so
every worker forked from it starts warm instead of paying that again.
"""

from __future__ import annotations

from dedupe.config import Config
from dedupe.model import Document
from dedupe.prepare import prepare_many

prepare_many([Document(id="warm-up", text="Warm Up\nWARM UP\nthe tables and kernels once, "
                                          "before the workers are forked")], Config())
