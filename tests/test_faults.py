"""Faults, tested like a database: every run ends with the complete output or none of it, a
clear message and the documented exit code, and no temporary file left behind.

Bad input under each --on-error policy, a reader failing midway, a full disk, a violated
accounting check, Ctrl-C and SIGTERM sent to a live run, a worker process killed, a reader
closing the pipe. Most runs are in-process (typer's CliRunner, the same code path as the
command); the signal and process tests run the real `python -m dedupe` in a subprocess.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zstandard
from typer.testing import CliRunner, Result

import dedupe.io
from dedupe.cli import app
from dedupe.io import OutputError, OutputSet
from dedupe.model import Stats

from .conftest import ROOT

#: Longer variants: part of `make fuzz` (DEDUPE_SLOW_TESTS=1), not of the default suite.
slow_only = pytest.mark.skipif(os.environ.get("DEDUPE_SLOW_TESTS") != "1",
                               reason="slow fault test: run by `make fuzz` (DEDUPE_SLOW_TESTS=1)")


# --- helpers ---------------------------------------------------------------------------------


def cli(args: list[str], stdin: bytes | None = None) -> Result:
    """The command in-process: same code as `dedupe`, without a second of interpreter start."""
    return CliRunner().invoke(app, args, input=stdin)


def leftovers(*dirs: Path) -> list[str]:
    """Temporary files OutputSet would leave beside its targets."""
    return sorted(p.name for d in dirs for p in d.iterdir() if p.name.endswith(".tmp"))


def summary_counts(stderr: str) -> dict[str, int]:
    match = re.search(r"documents in (\d+), out (\d+), dropped (\d+), skipped (\d+), "
                      r"passed through (\d+)", stderr)
    assert match, stderr
    return dict(zip(["in", "out", "dropped", "skipped", "passed"],
                    map(int, match.groups()), strict=True))


def audit_of(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    data.decode("utf-8")  # the audit is valid UTF-8 whatever the input held
    return [json.loads(line) for line in data.splitlines()]


def corpus_text(docs: int, seed: int = 1) -> str:
    """Distinct documents of prose-like lines (plus some boilerplate), for runs of some size."""
    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9)))
             for _ in range(3000)]
    out = []
    for d in range(docs):
        lines = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 15)))
                 for _ in range(rng.randint(3, 12))]
        if d % 3 == 0:
            lines.append("Follow us on Facebook")
        out.append("\n".join(lines))
    return "\n\n\n".join(out) + "\n"


# --- bad input, under each --on-error policy ---------------------------------------------------

GOOD_TEXT = "The harbour road flooded at dawn and four thousand homes lost power.\n"
GOOD_JSONL = (json.dumps({"id": "g1", "text": "The harbour road flooded at dawn."}) + "\n"
              + json.dumps({"id": "g2", "text": "Farmers say the frost took the blossoms."})
              + "\n")
GOOD_JSONL_TEXTS = ["The harbour road flooded at dawn.", "Farmers say the frost took the blossoms."]


@dataclass(frozen=True)
class Bad:
    """One kind of bad input: how to make it, what the error says, what `pass` can write."""

    name: str
    suffix: str  # of the bad input (decides its format)
    content: bytes | None  # None: made by `make` instead
    message: str  # in the one-line error, after the file name
    passed: bytes | None = None  # what on_error=pass writes through (None: nothing readable)
    make: Callable[[Path], None] | None = None

    def create(self, directory: Path) -> Path:
        path = directory / f"{self.name}{self.suffix}"
        if self.make is not None:
            self.make(path)
        elif self.content is not None:
            path.write_bytes(self.content)
        return path


def _make_dir(path: Path) -> None:
    path.mkdir()


def _truncated(compress: Callable[[bytes], bytes], cut: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        data = "\n\n\n".join(f"Document {i} says something of its own, number {i}."
                             for i in range(300)).encode()
        path.write_bytes(compress(data)[:-cut])
    return make


BAD = [
    Bad("invalid_utf8", ".txt", b"bad \xff byte in this line\nand a second line\n",
        ":1: invalid utf-8 at byte 4", passed=b"bad \xff byte in this line\nand a second line"),
    Bad("malformed_json", ".jsonl", GOOD_JSONL.encode() + b'{"text": "no end\n',
        ":3: malformed JSON (Unterminated string", passed=b'{"text": "no end'),
    Bad("missing_field", ".jsonl", b'{"body": "x"}\n' + GOOD_JSONL.encode(),
        ":1: record has no 'text' field", passed=b'{"body": "x"}'),
    Bad("non_string_text", ".jsonl", GOOD_JSONL.encode() + b'{"text": ["a", "b"]}\n',
        ":3: field 'text' is list, not a string", passed=b'{"text": ["a", "b"]}'),
    Bad("not_an_object", ".jsonl", b"[1, 2]\n", ":1: JSON value is list, not an object",
        passed=b"[1, 2]"),
    Bad("nested_too_deeply", ".jsonl", b"[" * 100_000 + b"\n", ":1: malformed JSON (nested too",
        passed=b"[" * 100_000),
    Bad("huge_integer", ".jsonl", b'{"text": "x", "n": ' + b"7" * 5000 + b"}\n",
        ":1: unreadable JSON value", passed=b'{"text": "x", "n": ' + b"7" * 5000 + b"}"),
    Bad("binary", ".txt", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00", ":1: looks like a binary file"),
    Bad("truncated_gzip", ".txt.gz", None, "truncated or corrupt compressed data",
        make=_truncated(gzip.compress, 30)),
    Bad("truncated_zstd", ".txt.zst", None, "truncated or corrupt compressed data",
        make=_truncated(zstandard.compress, 10)),
    Bad("missing", ".txt", None, ": no such file"),
    Bad("directory", "", None, ": is a directory", make=_make_dir),
]


def _good_input(tmp_path: Path, bad: Bad) -> Path:
    """A good input of the bad one's format, read first, so the output is never empty."""
    if bad.suffix == ".jsonl":
        path = tmp_path / "good.jsonl"
        path.write_text(GOOD_JSONL, encoding="utf-8")
    else:
        path = tmp_path / "good.txt"
        path.write_text(GOOD_TEXT, encoding="utf-8")
    return path


def _run_bad(tmp_path: Path, bad: Bad, policy: str) -> tuple[Result, Path, Path, Path]:
    good, path = _good_input(tmp_path, bad), bad.create(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / ("out.jsonl" if bad.suffix == ".jsonl" else "out.txt")
    audit = out_dir / "audit.jsonl"
    out.write_bytes(b"previous run's output\n")
    result = cli(["clean", str(good), str(path), "-o", str(out), "--audit", str(audit),
                  "--on-error", policy, "--workers", "1"])
    return result, path, out, audit


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_bad_input_fail_is_one_line_exit_1_and_no_output(tmp_path: Path, bad: Bad) -> None:
    result, path, out, audit = _run_bad(tmp_path, bad, "fail")
    assert result.exit_code == 1, result.stderr
    assert result.stderr.startswith(f"dedupe: error: {path}"), result.stderr
    assert bad.message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert out.read_bytes() == b"previous run's output\n"  # untouched
    assert not audit.exists() and leftovers(out.parent) == []


def _kept(out: Path) -> list[str]:
    """Kept texts of a text or JSONL output, in order (passed-through lines as they are)."""
    data = out.read_bytes().decode("utf-8", "surrogateescape")
    if out.suffix == ".jsonl":
        texts = []
        for line in data.splitlines():
            try:
                texts.append(json.loads(line)["text"])
            except (ValueError, KeyError, TypeError):
                texts.append(line)
        return texts
    return [d.strip("\n") for d in data.split("\n\n\n") if d.strip("\n")]


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_bad_input_skip_is_audited_counted_and_left_out(tmp_path: Path, bad: Bad) -> None:
    result, path, out, audit = _run_bad(tmp_path, bad, "skip")
    assert result.exit_code == 0, result.stderr
    records = audit_of(audit)
    skipped = [r for r in records if r["reason"] == "skipped_bad_input"]
    assert len(skipped) == 1 and bad.message in skipped[0]["detail"], records
    assert skipped[0]["source"] == str(path) and skipped[0]["detail"].startswith(str(path))
    assert summary_counts(result.stderr)["skipped"] == 1
    good = GOOD_JSONL_TEXTS if bad.suffix == ".jsonl" else [GOOD_TEXT.strip()]
    kept = _kept(out)
    assert kept[: len(good)] == good
    if bad.name.startswith("truncated"):  # what was read before the fault may be kept
        assert all(t.startswith("Document ") for t in kept[len(good):])
    else:
        assert kept == good
    assert leftovers(out.parent) == []


@pytest.mark.parametrize("bad", BAD, ids=[b.name for b in BAD])
def test_bad_input_pass_writes_it_through_byte_for_byte(tmp_path: Path, bad: Bad) -> None:
    result, _, out, audit = _run_bad(tmp_path, bad, "pass")
    assert result.exit_code == 0, result.stderr
    records = audit_of(audit)
    counts = summary_counts(result.stderr)
    if bad.passed is None:  # nothing readable: skipped, and the audit says why
        bad_records = [r for r in records if r["reason"] == "skipped_bad_input"]
        assert len(bad_records) == 1 and "nothing readable to pass through" in \
            bad_records[0]["detail"]
        assert counts["skipped"] == 1 and counts["passed"] == 0
    else:
        bad_records = [r for r in records if r["reason"] == "passed_bad_input"]
        assert len(bad_records) == 1
        assert counts["passed"] == 1 and counts["skipped"] == 0
        data = out.read_bytes()
        assert data.count(bad.passed) == 1
        if bad.suffix == ".jsonl":  # the unreadable line, a line of its own
            assert bad.passed in data.split(b"\n")
    assert bad.message in bad_records[0]["detail"]
    assert counts["in"] == counts["out"] + counts["dropped"] + counts["skipped"]
    assert leftovers(out.parent) == []


def test_encoding_errors_replace_reads_bad_bytes_as_u_fffd(tmp_path: Path) -> None:
    src = tmp_path / "latin.txt"
    src.write_bytes(b"caf\xe9 au lait on the corner of the square\n")
    out = tmp_path / "out.txt"
    result = cli(["clean", str(src), "-o", str(out), "--encoding-errors", "replace"])
    assert result.exit_code == 0, result.stderr
    assert out.read_text(encoding="utf-8") == "caf\ufffd au lait on the corner of the square\n"
    assert summary_counts(result.stderr) == {"in": 1, "out": 1, "dropped": 0, "skipped": 0,
                                             "passed": 0}
    result = cli(["clean", str(src), "-o", str(out), "--encoding", "latin-1"])
    assert out.read_text(encoding="utf-8") == "café au lait on the corner of the square\n"


def test_unknown_encoding_is_bad_usage(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_text("hello\n", encoding="utf-8")
    result = cli(["clean", str(src), "--encoding", "no-such-codec"])
    assert result.exit_code == 2 and "unknown encoding 'no-such-codec'" in result.stderr


def test_unreadable_file_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission denied, simulated: tests run as root here, where chmod 000 is no barrier."""
    src = tmp_path / "secret.txt"
    src.write_text("text\n", encoding="utf-8")

    def denied(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if Path(path) == src:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(dedupe.io, "open", denied, raising=False)
    result = cli(["clean", str(src), "-o", str(tmp_path / "o.txt")])
    assert result.exit_code == 1
    assert result.stderr == f"dedupe: error: {src}: permission denied\n"
    result = cli(["clean", str(src), "-o", str(tmp_path / "o.txt"), "--on-error", "skip"])
    assert result.exit_code == 0 and summary_counts(result.stderr)["skipped"] == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway; "
                    "test_unreadable_file_names_it simulates the denial instead")
def test_chmod_000_file_is_bad_input(tmp_path: Path) -> None:
    src = tmp_path / "secret.txt"
    src.write_text("text\n", encoding="utf-8")
    src.chmod(0)
    result = cli(["clean", str(src)])
    assert result.exit_code == 1 and "permission denied" in result.stderr


def test_empty_inputs_succeed_with_empty_output(tmp_path: Path) -> None:
    for name, data in (("e.txt", b""), ("blank.txt", b"\n \n\n"), ("e.jsonl", b""),
                       ("e.txt.gz", gzip.compress(b"")), ("e.txt.zst", zstandard.compress(b""))):
        src, out, audit = tmp_path / name, tmp_path / f"o-{name}.txt", tmp_path / f"a-{name}.json"
        src.write_bytes(data)
        result = cli(["clean", str(src), "-o", str(out), "--audit", str(audit)])
        assert result.exit_code == 0, (name, result.stderr)
        assert out.read_bytes() == b"" and audit.read_bytes() == b"", name
        assert "documents in 0, out 0" in result.stderr and ": ok" in result.stderr


# --- accounting ------------------------------------------------------------------------------


def test_summary_prints_the_accounting_line(tmp_path: Path) -> None:
    src = tmp_path / "mixed.jsonl"
    src.write_text(GOOD_JSONL + GOOD_JSONL + "{oops\n", encoding="utf-8")
    result = cli(["clean", str(src), "-o", str(tmp_path / "o.jsonl"), "--on-error", "skip"])
    assert result.exit_code == 0
    assert "accounting: read 5 = written 2 + dropped 2 + skipped 1: ok" in result.stderr


def test_accounting_violation_exits_3_loudly_with_no_output(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = Stats.count_result

    def loses_one(self: Stats, result: Any) -> None:  # a bug: the second document vanishes
        original(self, result)
        if self.documents_in == 2:
            self.documents_out -= 1

    monkeypatch.setattr(Stats, "count_result", loses_one)
    src = tmp_path / "in.jsonl"
    src.write_text(GOOD_JSONL, encoding="utf-8")
    out, audit, stats = tmp_path / "o.jsonl", tmp_path / "a.jsonl", tmp_path / "s.json"
    out.write_text("previous\n", encoding="utf-8")
    result = cli(["clean", str(src), "-o", str(out), "--audit", str(audit), "--stats",
                  str(stats)])
    assert result.exit_code == 3
    assert result.stderr.startswith("dedupe: error: accounting violated: read 2 != written 1")
    assert "a bug in dedupe" in result.stderr
    assert out.read_text(encoding="utf-8") == "previous\n"
    assert not audit.exists() and not stats.exists() and leftovers(tmp_path) == []


def test_unexpected_exception_is_exit_3_with_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr("dedupe.pipeline.clean_documents", broken)
    src = tmp_path / "in.txt"
    src.write_text(GOOD_TEXT, encoding="utf-8")
    result = cli(["clean", str(src), "-o", str(tmp_path / "o.txt")])
    assert result.exit_code == 3
    assert "Traceback" in result.stderr and "ZeroDivisionError" in result.stderr
    assert "internal error: ZeroDivisionError: simulated bug" in result.stderr
    assert not (tmp_path / "o.txt").exists() and leftovers(tmp_path) == []


# --- the output: atomic, never over an input, failures reported -------------------------------


class _FailingStream(io.RawIOBase):
    """A file that reads `good` bytes, then fails like a dying disk."""

    def __init__(self, data: bytes, good: int) -> None:
        self._data, self._pos, self._good = data, 0, good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._good:
            raise OSError(errno.EIO, "Input/output error")
        n = min(len(buffer), self._good - self._pos, 4096)
        buffer[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n


def test_reader_failing_midway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "disk.txt"
    text = corpus_text(200)
    src.write_text(text, encoding="utf-8")
    data = text.encode()
    real_open = dedupe.io.open_binary
    monkeypatch.setattr(dedupe.io, "open_binary", lambda path: io.BufferedReader(
        _FailingStream(data, len(data) // 2)) if path == str(src) else real_open(path))
    out, audit = tmp_path / "o.txt", tmp_path / "a.jsonl"
    result = cli(["clean", str(src), "-o", str(out), "--audit", str(audit)])
    assert result.exit_code == 1
    assert re.fullmatch(rf"dedupe: error: {re.escape(str(src))}:\d+: read failed: "
                        r"\[Errno 5\] Input/output error\n", result.stderr), result.stderr
    assert not out.exists() and not audit.exists() and leftovers(tmp_path) == []
    result = cli(["clean", str(src), "-o", str(out), "--audit", str(audit), "--on-error",
                  "skip"])
    assert result.exit_code == 0
    kept = out.read_text(encoding="utf-8")
    assert kept and len(kept) < len(text)  # what came before the fault, and not more
    skipped = [r for r in audit_of(audit) if r["reason"] == "skipped_bad_input"]
    assert len(skipped) == 1 and "read failed" in skipped[0]["detail"]


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.decode().strip()}); "
                    "test_disk_full_simulated covers the same path")


def test_disk_full_on_a_real_small_filesystem(tmp_path: Path) -> None:
    full = tmp_path / "full"
    _mount_tmpfs(full, "64k")
    try:
        src = tmp_path / "in.txt"
        src.write_text(corpus_text(400), encoding="utf-8")  # about 200 kB of output
        out = full / "out.txt"
        out.write_text("previous\n", encoding="utf-8")
        result = cli(["clean", str(src), "-o", str(out), "--audit", str(full / "a.jsonl")])
        assert result.exit_code == 1, result.stderr
        assert result.stderr == (f"dedupe: error: {out}: cannot write: No space left on device;"
                                 " no output file was written\n")
        assert out.read_text(encoding="utf-8") == "previous\n"
        assert sorted(p.name for p in full.iterdir()) == ["out.txt"]
    finally:
        subprocess.run(["umount", str(full)], check=False)


def test_disk_full_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC while writing, and at the final fsync (where delayed allocation reports it)."""
    src = tmp_path / "in.txt"
    src.write_text(corpus_text(50), encoding="utf-8")
    out, audit = tmp_path / "o.txt", tmp_path / "a.jsonl"
    real_encoded = dedupe.io._encoded
    calls = 0

    def fills_up(chunk: str) -> Iterator[bytes]:
        nonlocal calls
        calls += 1
        if calls > 20:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_encoded(chunk)

    monkeypatch.setattr(dedupe.io, "_encoded", fills_up)
    result = cli(["clean", str(src), "-o", str(out), "--audit", str(audit)])
    assert result.exit_code == 1 and "No space left on device" in result.stderr
    assert not out.exists() and not audit.exists() and leftovers(tmp_path) == []
    monkeypatch.setattr(dedupe.io, "_encoded", real_encoded)

    def fsync_fails(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(dedupe.io.os, "fsync", fsync_fails)
    result = cli(["clean", str(src), "-o", str(out), "--audit", str(audit)])
    assert result.exit_code == 1 and "cannot write: No space left on device" in result.stderr
    assert not out.exists() and not audit.exists() and leftovers(tmp_path) == []


def test_missing_output_directory_is_exit_1(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text(GOOD_TEXT, encoding="utf-8")
    result = cli(["clean", str(src), "-o", str(tmp_path / "no" / "such" / "out.txt")])
    assert result.exit_code == 1
    assert "out.txt: cannot create: No such file or directory" in result.stderr


def test_never_writes_over_an_input(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text(GOOD_TEXT, encoding="utf-8")
    (tmp_path / "link.txt").symlink_to(src)
    os.link(src, tmp_path / "hard.txt")
    for target in ("in.txt", "link.txt", "hard.txt"):
        result = cli(["clean", str(src), "-o", str(tmp_path / target)])
        assert result.exit_code == 2 and "would overwrite an input" in result.stderr, target
        result = cli(["clean", str(src), "--audit", str(tmp_path / target)])
        assert result.exit_code == 2, target
    assert src.read_text(encoding="utf-8") == GOOD_TEXT
    result = cli(["clean", str(src), "-o", str(tmp_path)])
    assert result.exit_code == 2 and "is a directory" in result.stderr


def test_outputs_get_ordinary_permissions(tmp_path: Path) -> None:
    """Not mkstemp's 0600: the next step of a pipeline may run as another user."""
    src = tmp_path / "in.txt"
    src.write_text(GOOD_TEXT, encoding="utf-8")
    mask = os.umask(0o022)
    try:
        result = cli(["clean", str(src), "-o", str(tmp_path / "o.txt"), "--audit",
                      str(tmp_path / "a.jsonl.gz")])
    finally:
        os.umask(mask)
    assert result.exit_code == 0
    assert (tmp_path / "o.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "a.jsonl.gz").stat().st_mode & 0o777 == 0o644


def test_commit_is_all_or_nothing_around_ctrl_c(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C before the renames: none renamed; during them: all renamed, then it takes effect."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a", encoding="utf-8")

    def staged() -> OutputSet:
        outputs = OutputSet()
        outputs.open(str(a))("new a")
        outputs.open(str(b))("new b")
        return outputs

    outputs = staged()
    real_fsync, real_replace = os.fsync, os.replace

    def interrupted_fsync(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(dedupe.io.os, "fsync", interrupted_fsync)
    with pytest.raises(KeyboardInterrupt):
        outputs.commit()
    assert a.read_text(encoding="utf-8") == "old a" and not b.exists()
    assert leftovers(tmp_path) == []

    monkeypatch.setattr(dedupe.io.os, "fsync", real_fsync)
    outputs = staged()
    renamed: list[str] = []

    def replace_then_ctrl_c(src: str, dst: str) -> None:
        real_replace(src, dst)
        renamed.append(dst)
        if len(renamed) == 1:
            signal.raise_signal(signal.SIGINT)  # the handler would raise right here

    monkeypatch.setattr(dedupe.io.os, "replace", replace_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        outputs.commit()
    assert renamed == [str(a), str(b)]
    assert a.read_text(encoding="utf-8") == "new a" and b.read_text(encoding="utf-8") == "new b"
    assert leftovers(tmp_path) == []


def test_write_failure_is_an_output_error(tmp_path: Path) -> None:
    outputs = OutputSet()
    with pytest.raises(OutputError, match="cannot create"):
        outputs.open(str(tmp_path / "missing" / "x.txt"))
    outputs.abort()


# --- signals, killed workers, closed pipes: the real command in a subprocess -------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _workers(pid: int) -> list[int]:
    """The pool's workers: children of the forkserver, itself a child of the run."""
    return [grandchild for child in _children(pid) for grandchild in _children(child)]


def _wait_for(condition: Callable[[], object], what: str,
              proc: subprocess.Popen[bytes] | None = None, limit: float = 120) -> Any:
    """Poll until `condition` holds; with `proc`, that run must still be going (the input is
    sized for several seconds of work). `limit` only catches a hang: nothing is timed."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the run ended (rc {proc.returncode}) before {what}: "
                        f"{proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.02)
    if proc is not None:
        proc.kill()
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def big_input(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few MB of text: several seconds of work, and many chunks for the worker pool."""
    path = tmp_path_factory.mktemp("big") / "big.txt"
    path.write_text(corpus_text(8000), encoding="utf-8")
    return path


def _start(big_input: Path, out_dir: Path, *extra: str,
           session: bool = False) -> tuple[subprocess.Popen[bytes], Path]:
    out = out_dir / "out.txt"
    out.write_text("previous\n", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedupe", "clean", str(big_input), "-o", str(out), "--audit",
         str(out_dir / "audit.jsonl"), "--stats", str(out_dir / "stats.json"), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, start_new_session=session)
    _wait_for(lambda: leftovers(out_dir), "the run to start writing", proc)
    return proc, out


def _assert_nothing_written(out: Path) -> None:
    assert out.read_text(encoding="utf-8") == "previous\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.txt"]  # no audit, stats, tmp


@pytest.mark.parametrize(("signum", "code", "message", "workers"), [
    (signal.SIGINT, 130, "dedupe: interrupted; no output file was written\n", "2"),
    (signal.SIGTERM, 143, "dedupe: terminated; no output file was written\n", "1"),
])
def test_signal_mid_run_leaves_no_output(big_input: Path, tmp_path: Path, signum: int,
                                         code: int, message: str, workers: str) -> None:
    proc, out = _start(big_input, tmp_path, "--workers", workers)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err.decode()
    assert err.decode() == message
    _assert_nothing_written(out)


@pytest.mark.slow
@slow_only
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_signal_to_the_process_group(big_input: Path, tmp_path: Path, signum: int,
                                     workers: str) -> None:
    """Ctrl-C in a terminal signals every process of the group, workers included: still one
    message, no worker tracebacks."""
    proc, out = _start(big_input, tmp_path, "--workers", workers, session=True)
    if workers == "2":
        _wait_for(lambda: _workers(proc.pid), "the workers to start", proc)
    os.killpg(proc.pid, signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err.decode()
    assert err.decode().count("\n") == 1 and "Traceback" not in err.decode(), err.decode()
    _assert_nothing_written(out)


def test_killed_worker_fails_cleanly_instead_of_hanging(big_input: Path, tmp_path: Path) -> None:
    proc, out = _start(big_input, tmp_path, "--workers", "2")
    workers = _wait_for(lambda: _workers(proc.pid), "the workers to start", proc)
    helpers = _children(proc.pid)  # the forkserver and the resource tracker
    os.kill(workers[0], signal.SIGKILL)
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the run hung after a worker was killed")
    assert proc.returncode == 1, err.decode()
    assert err.decode() == ("dedupe: error: a worker process died (killed, or out of memory); "
                            "no output file was written\n")
    _assert_nothing_written(out)
    _wait_for(lambda: not any(Path(f"/proc/{p}").exists() for p in [*workers, *helpers]),
              "the worker processes to end")


def test_closed_stdout_mid_write_ends_quietly(tmp_path: Path) -> None:
    """`dedupe clean big | head`: the pipe breaks while megabytes are still to be written."""
    src = tmp_path / "big.txt"
    # Documents over --max-document-chars pass through unprocessed: megabytes of output fast.
    src.write_text(corpus_text(3000), encoding="utf-8")
    audit = tmp_path / "audit.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedupe", "clean", str(src), "--max-document-chars", "10",
         "--audit", str(audit)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None and proc.stderr is not None
    head = proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert len(head) == 100 and src.stat().st_size > 1_000_000
    assert proc.returncode == 0, err.decode()
    assert err == b""
    assert not audit.exists() and leftovers(tmp_path) == []


@pytest.mark.slow
@slow_only
def test_closed_stdout_with_stream_and_workers(tmp_path: Path, big_input: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "dedupe", "clean", str(big_input), "--stream", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None
    proc.stdout.read(10)
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and err == b"", err.decode()
