"""The same output for any number of workers; records survive the trips between processes
and between the two passes unchanged."""

from __future__ import annotations

import dataclasses
import os
import pickle
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest

from benchmarks.corpus import Generator
from dedupe import Config, clean
from dedupe.io import OutputError
from dedupe.model import Document, Result
from dedupe.pipeline import (
    _CHUNK_DOCS,
    _FINGERPRINTS,
    _NOT_SPILLED,
    _pack,
    _unpack,
    _unship,
    prepare_shipped,
)
from dedupe.prepare import Prepared, prepare_many


def _records(n: int, seed: int = 3) -> list[dict[str, str]]:
    gen = Generator(seed=seed)
    return [gen.document() for _ in range(n)]


def _outcome(results: list[Result]) -> list[tuple[object, ...]]:
    return [(r.document.id, r.text, r.removals, r.repairs, r.passed, r.units) for r in results]


@pytest.mark.parametrize("stream", [False, True], ids=["batch", "stream"])
def test_workers_do_not_change_the_output(stream: bool) -> None:
    docs = _records(2 * _CHUNK_DOCS + 10)  # three chunks: the pool is really used
    docs.insert(7, {"id": "big", "text": "word " * 30_000})  # oversize: passed through
    config = Config(group_field="host", max_document_chars=100_000)
    one = list(clean(docs, config.replace(workers=1), stream=stream))
    two = list(clean(docs, config.replace(workers=2), stream=stream))
    assert _outcome(one) == _outcome(two)
    assert sum(len(r.removals) for r in one) > 100  # the corpus exercises every policy


def _documents(n: int) -> list[Document]:
    docs = [Document(id=str(i), text=r["text"], ordinal=i) for i, r in enumerate(_records(n))]
    docs += [Document(id="empty", text="", ordinal=n),
             Document(id="bad", text="raw", ordinal=n + 1, error="malformed JSON")]
    return docs


def _fields(p: Prepared) -> dict[str, object]:
    return {f.name: getattr(p, f.name) for f in dataclasses.fields(Prepared)}


def _assert_same(a: Prepared, b: Prepared, skip: frozenset[str] = frozenset()) -> None:
    for name, x in _fields(a).items():
        if name in skip:
            continue
        y = getattr(b, name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), name
        else:
            assert x == y, name


def test_shipping_from_a_worker_keeps_every_field(tmp_path: Path) -> None:
    docs = _documents(70)
    config = Config()
    expected = prepare_many(docs, config)
    path = str(tmp_path / "chunk.pickle")
    prepare_shipped(docs, config, path)
    done: Future[None] = Future()
    done.set_result(None)
    for p, e in zip(_unship(docs, done, path), expected, strict=True):
        _assert_same(p, e)
    assert not os.path.exists(path)  # the hand-off file is gone once read


def test_a_hand_off_file_that_cannot_be_written_is_an_output_error(tmp_path: Path) -> None:
    path = str(tmp_path / "missing" / "chunk.pickle")
    with pytest.raises(OutputError, match="cannot write a temporary file"):
        prepare_shipped(_documents(3), Config(), path)


def test_spilled_records_keep_what_finalize_reads() -> None:
    docs = _documents(70)
    config = Config()
    expected = prepare_many(docs, config)
    records = prepare_many(docs, config)
    for p in records:
        for name in _NOT_SPILLED:
            setattr(p, name, [])
    back = _unpack(pickle.loads(pickle.dumps(_pack(records, _FINGERPRINTS))))
    for p, e in zip(back, expected, strict=True):
        _assert_same(p, e, skip=_FINGERPRINTS | _NOT_SPILLED)
        assert p.hashes.size == 0 and p.unit_bands.size == 0  # fingerprints are not kept


def test_a_killed_runs_hand_off_directory_is_swept(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A run killed with SIGKILL leaves its hand-off directory; the next run removes it, and
    leaves alone the directory of a run whose process is alive."""
    import subprocess
    import sys
    import tempfile

    from dedupe.pipeline import _HANDOFF, prepare_all

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = tmp_path / f"{_HANDOFF}{gone.pid}-abc"
    live = tmp_path / f"{_HANDOFF}{os.getpid()}-def"
    for d in (stale, live):
        d.mkdir()
        (d / "0.pickle").write_bytes(b"partial")
    docs = [Document(id=str(i), text=r["text"], ordinal=i) for i, r in enumerate(_records(140))]
    assert len(list(prepare_all(docs, Config(workers=2)))) == 140
    assert not stale.exists()
    assert live.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(_HANDOFF)] == [live.name]
