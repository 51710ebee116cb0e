"""dedupe.pool: the workers' server starts early only for a job that will need it."""

from __future__ import annotations

import multiprocessing.forkserver
from pathlib import Path

from dedupe import pool


def test_the_server_starts_early_for_a_large_input_only(tmp_path: Path) -> None:
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    small.write_text("x" * 1000, encoding="utf-8")
    large.write_bytes(b"x" * pool.EARLY_BYTES)
    assert not pool.start_early([str(small)], 2)
    assert not pool.start_early([str(large)], 1)  # one worker: prepared in this process
    assert not pool.start_early(["-"], 2)  # standard input: size unknown
    assert not pool.start_early([str(tmp_path / "missing")], 2)  # the job says so itself
    assert pool.start_early([str(small), str(large)], 2)
    server = multiprocessing.forkserver._forkserver  # type: ignore[attr-defined]
    assert server._forkserver_pid is not None and server._preload_modules == pool.PRELOAD
