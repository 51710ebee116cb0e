"""The command as a user runs it: stdout carries data only, stderr the messages, exit codes."""

from __future__ import annotations

import errno
import json
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import dedupe.io
import dedupe.review
from dedupe.cli import app

from .conftest import FIXTURES, run_cli
from .test_io import bad_inputs

EXPECTED = (FIXTURES / "news_scrape.clean.txt").read_bytes()


def test_version_and_help() -> None:
    proc = run_cli(["--version"])
    assert proc.returncode == 0 and proc.stdout.startswith(b"dedupe ")
    proc = run_cli(["clean", "--help"])
    assert proc.returncode == 0
    for option in (b"--audit", b"--unit-threshold", b"--on-error", b"--boilerplate-min-docs"):
        assert option in proc.stdout


def test_summary_on_stderr_only(tmp_path: Path) -> None:
    proc = run_cli(["clean", "fixtures/news_scrape.txt"])
    assert proc.stdout == EXPECTED
    assert b"documents in 2, out 2" in proc.stderr
    assert b"dedupe:" not in proc.stdout
    quiet = run_cli(["clean", "-q", "fixtures/news_scrape.txt"])
    assert quiet.stderr == b"" and quiet.stdout == EXPECTED


def test_stats_file_has_version_and_config(tmp_path: Path) -> None:
    stats = tmp_path / "stats.json"
    proc = run_cli(["clean", "fixtures/news_scrape.noisy.txt", "--stats", str(stats), "-o",
                    str(tmp_path / "o.txt")])
    assert proc.returncode == 0, proc.stderr
    data = json.loads(stats.read_text(encoding="utf-8"))
    assert data["documents"] == {"in": 4, "out": 2, "dropped": 2, "skipped": 0, "passed": 0}
    assert data["accounting_ok"] is True
    assert data["config"]["unit_threshold"] == 0.7
    assert data["units"]["removed"]["boilerplate"] == 2
    assert data["repairs"]["documents"] >= 1


def test_bad_input_exit_1_one_line_no_traceback(tmp_path: Path) -> None:
    for name, (path, message) in bad_inputs(tmp_path).items():
        out = tmp_path / f"{name}.out"
        proc = run_cli(["clean", str(path), "-o", str(out)])
        err = proc.stderr.decode()
        assert proc.returncode == 1, (name, err)
        assert err.startswith("dedupe: error: ") and err.count("\n") == 1, (name, err)
        assert message in err and "Traceback" not in err, (name, err)
        assert proc.stdout == b"" and not out.exists(), name


def test_bad_usage_exit_2(tmp_path: Path) -> None:
    proc = run_cli(["clean", "fixtures/news_scrape.txt", "--unit-threshold", "1.5"])
    assert proc.returncode == 2 and b"unit_threshold" in proc.stderr
    proc = run_cli(["clean", "fixtures/news_scrape.txt", "--normalize", "casefold,bogus"])
    assert proc.returncode == 2 and b"bogus" in proc.stderr
    proc = run_cli(["clean", "--no-such-option"])
    assert proc.returncode == 2


def test_refuses_to_overwrite_input(tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_bytes((FIXTURES / "news_scrape.txt").read_bytes())
    proc = run_cli(["clean", str(src), "-o", str(src)])
    assert proc.returncode == 2 and b"overwrite an input" in proc.stderr
    assert src.read_bytes() == (FIXTURES / "news_scrape.txt").read_bytes()


def test_empty_input_is_success(tmp_path: Path) -> None:
    proc = run_cli(["clean", "-"], stdin=b"")
    assert proc.returncode == 0 and proc.stdout == b""
    empty = tmp_path / "e.jsonl"
    empty.write_bytes(b"")
    out = tmp_path / "o.jsonl"
    proc = run_cli(["clean", str(empty), "-o", str(out)])
    assert proc.returncode == 0 and out.read_bytes() == b""


def test_toml_config_and_preset(tmp_path: Path) -> None:
    cfg = tmp_path / "dedupe.toml"
    cfg.write_text('[dedupe]\npreset = "strict"\nboilerplate_min_docs = 3\n', encoding="utf-8")
    stats = tmp_path / "s.json"
    proc = run_cli(["clean", "fixtures/news_scrape.txt", "--config", str(cfg), "--stats",
                    str(stats), "-o", str(tmp_path / "o.txt")])
    assert proc.returncode == 0, proc.stderr
    config = json.loads(stats.read_text(encoding="utf-8"))["config"]
    assert config["boilerplate_min_docs"] == 3 and config["unit_threshold"] == 0.85
    bad = tmp_path / "bad.toml"
    bad.write_text("unit_treshold = 0.5\n", encoding="utf-8")
    proc = run_cli(["clean", "fixtures/news_scrape.txt", "--config", str(bad)])
    assert proc.returncode == 2 and b"unit_treshold" in proc.stderr


def test_skip_and_pass_are_audited(tmp_path: Path) -> None:
    src = tmp_path / "mixed.jsonl"
    src.write_text('{"id": "a", "text": "alpha line here"}\n{oops\n{"id": "b", "text": "beta"}\n',
                   encoding="utf-8")
    for policy, kept in (("skip", ["a", "b"]), ("pass", ["a", None, "b"])):
        out, audit = tmp_path / f"{policy}.jsonl", tmp_path / f"{policy}.audit.jsonl"
        proc = run_cli(["clean", str(src), "-o", str(out), "--audit", str(audit),
                        "--on-error", policy])
        assert proc.returncode == 0, proc.stderr
        lines = out.read_text(encoding="utf-8").splitlines()
        # pass writes the unreadable line through byte for byte
        assert [json.loads(x)["id"] if x != "{oops" else None for x in lines] == kept
        records = [json.loads(x) for x in audit.read_text(encoding="utf-8").splitlines()]
        assert [r["reason"] for r in records] == [f"{policy}ped_bad_input" if policy == "skip"
                                                  else "passed_bad_input"]
        assert "malformed JSON" in records[0]["detail"]


def test_broken_pipe_is_quiet() -> None:
    import subprocess
    import sys

    big = (FIXTURES / "news_scrape.txt").read_bytes() * 1
    cmd = f"{sys.executable} -m dedupe clean - | head -c 10"
    proc = subprocess.run(cmd, shell=True, input=big, capture_output=True, check=False)
    assert proc.returncode == 0
    assert b"Traceback" not in proc.stderr and b"BrokenPipe" not in proc.stderr


def test_review_to_a_missing_directory_exit_1_one_line_no_traceback(tmp_path: Path) -> None:
    page = tmp_path / "no" / "such" / "review.html"
    proc = run_cli(["review", "fixtures/news_scrape.txt", "-o", str(page), "--workers", "1"])
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert err.startswith("dedupe: error: ") and err.count("\n") == 1, err
    assert str(page) in err and "Traceback" not in err, err
    assert proc.stdout == b"" and not page.parent.exists()


def test_review_fails_as_clean_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk and a killed worker end `review` as they end `clean` (the same handler),
    in process: one line, exit 1, no traceback, no page."""
    page = tmp_path / "review.html"
    args = ["review", "fixtures/news_scrape.txt", "-o", str(page), "--workers", "1"]

    def fills_up(chunk: str) -> Iterator[bytes]:
        raise OSError(errno.ENOSPC, "No space left on device")

    def worker_killed(*args: Any, **kwargs: Any) -> Any:
        raise BrokenProcessPool("a child process terminated abruptly")

    for target, name, fake, message in (
            (dedupe.io, "_encoded", fills_up, f"{page}: cannot write: No space left on device"),
            (dedupe.review, "build_review", worker_killed, "a worker process died")):
        monkeypatch.setattr(target, name, fake)
        result = CliRunner().invoke(app, args)
        monkeypatch.undo()
        assert result.exit_code == 1, result.stderr
        assert result.stderr.startswith("dedupe: error: ") and result.stderr.count("\n") == 1
        assert message in result.stderr and "no review page was written" in result.stderr
        assert "Traceback" not in result.stderr and isinstance(result.exception, SystemExit)
        assert not page.exists() and list(tmp_path.iterdir()) == []
