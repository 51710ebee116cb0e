"""Resource limits: oversize units and documents pass through unmatched and are reported, and
no input, however large or however well compressed, makes a run hold it all in memory.

The readers hold at most record_byte_limit(config) = max(4 x max_document_chars, 1 MiB)
bytes of one document; past that they read on to its end without keeping it and report a
bad record ("document larger than ..."), under the --on-error policy. A document under the
limit but over max_document_chars is passed through with at most two copies of it alive in
the reader and the writer (the pipeline's spill between its passes pickles it once more).
Peak memory is measured in a subprocess (ru_maxrss) over a warmed-up baseline; the bombs are
generated on the fly in a temporary directory. The gigabyte-sized cases are `make fuzz` only.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

import dedupe.io
import dedupe.prepare
from dedupe import Config, clean
from dedupe.io import InputError, read_inputs, record_byte_limit
from dedupe.model import Document
from dedupe.prepare import prepare

from .conftest import ROOT

MiB = 1 << 20

slow_only = pytest.mark.skipif(os.environ.get("DEDUPE_SLOW_TESTS") != "1",
                               reason="gigabyte memory test: run by `make fuzz` "
                                      "(DEDUPE_SLOW_TESTS=1)")


# --- units and documents over the limits --------------------------------------------------------


def test_unit_over_max_unit_chars_is_never_normalized_or_hashed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    long_line = "A very long line of running text, repeated. " * 30  # 1350 characters
    seen: list[str] = []
    real = dedupe.prepare.normalize_many

    def spy(texts: list[str], steps: tuple[str, ...]) -> list[str]:
        seen.extend(texts)
        return real(texts, steps)

    monkeypatch.setattr(dedupe.prepare, "normalize_many", spy)
    config = Config(max_unit_chars=1000, workers=1)
    p = prepare(Document(id="d", text=f"Short first line\n{long_line}"), config)
    assert list(p.matchable) == [True, False]
    assert p.keys[1] == "" and p.shingles(1).size == 0
    assert all(len(t) <= 1000 for t in seen) and long_line not in seen


def test_unit_over_max_unit_chars_passes_through_unmatched() -> None:
    long_line = "A very long line of running text, repeated. " * 30
    docs = [f"First story about the harbour.\n{long_line}",
            f"Second story about the frost in the valley.\n{long_line}"]
    matched = list(clean(docs, Config(max_unit_chars=10_000, workers=1)))
    assert long_line not in (matched[1].text or "")  # control: under the limit it is a copy
    results = list(clean(docs, Config(max_unit_chars=1000, workers=1)))
    assert [r.text for r in results] == docs
    assert all(not r.removals for r in results)


def test_document_over_max_document_chars_passes_through_unrepaired_and_audited() -> None:
    text = "The council met on Tuesday.\nitâ€™s the same council\n" * 40
    results = list(clean([text, text], Config(max_document_chars=1000, workers=1)))
    assert [r.text for r in results] == [text, text]  # not dropped as a copy, not repaired
    assert all(r.passed for r in results)
    (audit,) = results[1].removals
    assert audit.reason == "passed_oversize" and audit.text == ""
    assert audit.detail == f"document has {len(text)} characters"


def test_record_byte_limit() -> None:
    assert record_byte_limit(Config()) == 200_000_000
    assert record_byte_limit(Config(max_document_chars=10)) == MiB
    assert record_byte_limit(Config(max_document_chars=0)) == MiB


# --- the readers' limit, at small sizes (the limit and the read piece monkeypatched) ----------


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> int:
    """A 16-byte record limit and 5-byte read pieces: every boundary in a few bytes."""
    monkeypatch.setattr(dedupe.io, "_MIN_RECORD_BYTES", 16)
    monkeypatch.setattr(dedupe.io, "_PIECE", 5)
    return 16


def _read(path: Path, **options: Any) -> list[Document]:
    return list(read_inputs([str(path)], Config(max_document_chars=1, **options)))


def test_line_at_the_limit_is_read_and_one_byte_more_is_not(tmp_path: Path,
                                                             small_limits: int) -> None:
    src = tmp_path / "a.txt"
    src.write_bytes(b"x" * 16 + b"\r\n\n\n" + b"y" * 17 + b"\n\n\n" + b"z" * 16)
    docs = _read(src, on_error="skip")
    assert [d.text for d in docs] == ["x" * 16, "", "z" * 16]
    assert [d.id for d in docs] == [f"{src}:1", f"{src}:4", f"{src}:3"]  # ordinals go on
    assert docs[1].error == (f"{src}:4: document larger than 16 bytes "
                             "(4 x --max-document-chars): too large to read or pass through")
    with pytest.raises(InputError, match=r":4: document larger than 16 bytes"):
        _read(src)


def test_document_of_many_short_lines_is_limited_too(tmp_path: Path, small_limits: int) -> None:
    src = tmp_path / "a.txt"
    src.write_bytes(b"a\n" * 20 + b"\n\nlast\n")
    docs = _read(src, on_error="pass")
    assert [(d.text, d.error is not None) for d in docs] == [("", True), ("last", False)]
    with pytest.raises(InputError, match=r":1: document larger than 16 bytes"):
        _read(src)


def test_jsonl_record_over_the_limit(tmp_path: Path, small_limits: int) -> None:
    src = tmp_path / "a.jsonl"
    src.write_bytes(b'{"text": "a"}\n{"text": "much too long"}\n{"text": "b"}\n')
    docs = _read(src, on_error="skip")
    assert [(d.text, d.error is not None) for d in docs] == [("a", False), ("", True),
                                                            ("b", False)]
    assert docs[1].error is not None and docs[1].error.startswith(f"{src}:2: document larger")


def test_long_lines_are_read_in_pieces_whole(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines longer than a read piece (5 bytes here) come out exactly, CR/LF stripped."""
    monkeypatch.setattr(dedupe.io, "_PIECE", 5)
    src = tmp_path / "a.txt"
    lines = ["0123456789abcdef", "é" * 7, "short", "x" * 11 + "\r", "tail without newline"]
    src.write_bytes("\n".join(lines).encode())
    docs = list(read_inputs([str(src)], Config()))
    assert docs[0].text == "\n".join(line.rstrip("\r") for line in lines)


def test_many_lines_are_joined_in_blocks_with_the_same_text(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dedupe.io, "_JOIN_LINES", 3)
    src = tmp_path / "a.txt"
    body = ["l1", " ", "l2", "l3", "\t", "", "l4", "l5", "l6", "l7", " ", "l8"]
    src.write_text("\n".join(["", " ", *body, " ", "", "", "", "next", ""]), encoding="utf-8")
    docs = list(read_inputs([str(src)], Config(blank_lines=3)))
    assert [d.text for d in docs] == ["\n".join(body), "next"]
    sep = tmp_path / "b.txt"
    sep.write_text("\n".join(["a", *[" "] * 10, "b", *[""] * 7, "---", "c"]), encoding="utf-8")
    docs = list(read_inputs([str(sep)], Config(separator="---")))
    assert [d.text for d in docs] == ["\n".join(["a", *[" "] * 10, "b"]), "c"]


# --- peak memory, measured -------------------------------------------------------------------

_MEASURE = """
import json, resource, sys
from dedupe.config import Config
from dedupe.io import InputError
from dedupe.jobs import run_job

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

warm, out, jobs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
run_job([warm], out, Config(workers=1))  # imports, tables and kernels loaded: the baseline
baseline = peak()
for path, options in jobs:
    try:
        stats = run_job([path], out, Config(workers=1, **options))
        outcome = {"out": stats.documents_out, "skipped": stats.documents_skipped,
                   "passed": stats.documents_passed}
    except InputError as exc:
        outcome = {"error": str(exc)}
    print(json.dumps({"growth": peak() - baseline, **outcome}), flush=True)
"""


def measure(tmp_path: Path, jobs: list[tuple[Path, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Peak memory growth over a warm baseline after each job, in one fresh process. Jobs go
    from smallest to largest expected peak: ru_maxrss only rises, so each reading is an upper
    bound on that job's own peak."""
    warm = tmp_path / "warm.txt"
    warm.write_text("Warm up\nWARM UP\nthe tables and kernels once\n\n\nFollow us\n",
                    encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(warm), str(tmp_path / "out.txt"),
         json.dumps([(str(p), o) for p, o in jobs])],
        capture_output=True, cwd=ROOT, check=False, timeout=1800)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


def _pieces(total: int, piece: bytes) -> Iterator[bytes]:
    chunk = piece * max(1, MiB // len(piece))
    for _ in range(total // len(chunk)):
        yield chunk


def gzip_bomb(path: Path, total: int, piece: bytes = b"a") -> Path:
    """`total` bytes of `piece` repeated (no newline unless in `piece`), written streaming."""
    with gzip.open(path, "wb", compresslevel=6) as f:
        for chunk in _pieces(total, piece):
            f.write(chunk)
    return path


def zstd_bomb(path: Path, total: int, piece: bytes = b"a") -> Path:
    with path.open("wb") as raw, zstandard.ZstdCompressor(level=3).stream_writer(raw) as f:
        for chunk in _pieces(total, piece):
            f.write(chunk)
    return path


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(MiB):
            h.update(chunk)
    return h.hexdigest()


def test_bounded_memory_on_bombs_and_giant_lines(tmp_path: Path) -> None:
    """The default suite's version: a 256 MiB one-line gzip bomb and a 64 MiB many-line zstd
    bomb grow memory by well under their size; a 48 MiB line passed through costs < 3x
    (the reader and writer hold it at most twice; the pipeline's spill between its passes
    pickles it once more)."""
    line_bomb = gzip_bomb(tmp_path / "line.txt.gz", 256 * MiB)
    lines_bomb = zstd_bomb(tmp_path / "lines.txt.zst", 64 * MiB, b"ab\n")
    giant = tmp_path / "giant.txt"
    giant.write_bytes(b"word " * (48 * MiB // 5) + b"\n")
    small = {"max_document_chars": 100_000}  # record limit: 1 MiB
    bomb, lines, passed = measure(tmp_path, [
        (line_bomb, {**small, "on_error": "skip"}),
        (lines_bomb, small),
        (giant, {"max_document_chars": 20_000_000}),  # limit 80 MB: held, passed through
    ])
    assert bomb["skipped"] == 1 and bomb["growth"] < 64 * MiB, bomb
    assert "document larger than 1048576 bytes" in lines["error"]
    assert lines["growth"] < 64 * MiB, lines
    assert passed["passed"] == 1 and passed["growth"] < 3 * giant.stat().st_size, passed
    assert _digest(tmp_path / "out.txt") == _digest(giant)


@pytest.mark.slow
@slow_only
def test_bounded_memory_at_a_gigabyte(tmp_path: Path) -> None:
    """1 GiB gzip and zstd bombs of one line, a 200 MB line refused and passed through, a
    64 MiB bomb of short lines read to its end: growth stays near the record limit."""
    gz = gzip_bomb(tmp_path / "bomb.txt.gz", 1024 * MiB)
    zst = zstd_bomb(tmp_path / "bomb.txt.zst", 1024 * MiB)
    lines = gzip_bomb(tmp_path / "lines.txt.gz", 64 * MiB, b"ab\n")
    line = tmp_path / "line200.txt"
    with line.open("wb") as f:
        for chunk in _pieces(200 * MiB, b"word "):
            f.write(chunk)
        f.write(b"\n")
    small = {"max_document_chars": 1_000_000, "on_error": "skip"}  # record limit 4 MB
    results = measure(tmp_path, [
        (gz, small), (zst, small), (lines, small),
        (gz, {}),  # the default limit: 200 MB held, then refused
        (line, {}),
        (line, {"max_document_chars": 60_000_000}),  # 240 MB limit: passed through
    ])
    print(json.dumps(results, indent=1))
    for result in results[:3]:
        assert result["skipped"] == 1 and result["growth"] < 64 * MiB, result
    assert "document larger than 200000000 bytes" in results[3]["error"]
    assert results[3]["growth"] < 300 * MiB and results[4]["growth"] < 300 * MiB, results
    assert results[5]["passed"] == 1 and results[5]["growth"] < 3 * line.stat().st_size
    assert _digest(tmp_path / "out.txt") == _digest(line)
