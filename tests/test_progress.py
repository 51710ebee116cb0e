"""The progress line: what it says, when it is drawn, and that it never reaches stdout."""

from __future__ import annotations

import io
from pathlib import Path

from dedupe import progress

from .conftest import FIXTURES, run_cli


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_line_reports_rate_and_eta_after_startup() -> None:
    clock, out = Clock(), io.StringIO()
    meter = progress.Progress(total_bytes=10_000_000, stream=out, clock=clock)
    clock.now = 1.0
    meter.advance(100, 1_000_000)
    assert "ETA" not in meter.line()  # the first seconds' rate says little
    clock.now = 4.0
    meter.advance(300, 3_000_000)
    line = meter.line()
    assert "400 docs" in line and "4.0 MB" in line and "1.0 MB/s" in line
    assert "ETA 0:06" in line  # 6 MB left at 1 MB/s
    meter.start_writing()
    clock.now = 5.0
    meter.wrote(200)
    assert "writing 50%" in meter.line() and "ETA 0:01" in meter.line()


def test_draws_at_most_every_interval_and_erases_itself() -> None:
    clock, out = Clock(), io.StringIO()
    meter = progress.Progress(stream=out, clock=clock, interval=0.5)
    for i in range(10):
        clock.now = i * 0.1
        meter.advance(1, 10)
    assert out.getvalue().count("\r") == 2  # at 0.0 and 0.5
    meter.close()
    assert out.getvalue().endswith("\r")


def test_wanted_and_input_size(tmp_path: Path) -> None:
    tty, pipe = io.StringIO(), io.StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    assert progress.wanted(None, quiet=False, stream=tty)
    assert not progress.wanted(None, quiet=True, stream=tty)
    assert not progress.wanted(None, quiet=False, stream=pipe)
    assert progress.wanted(True, quiet=True, stream=pipe)
    a, b = tmp_path / "a.txt", tmp_path / "b.jsonl"
    a.write_text("x" * 10)
    b.write_text("y" * 5)
    assert progress.input_size([str(a), str(b)]) == 15
    assert progress.input_size([str(a), "-"]) is None
    assert progress.input_size([str(a), "c.jsonl.gz"]) is None


def test_reporting_makes_a_meter_current_only_inside() -> None:
    with progress.reporting(True, 100, stream=io.StringIO()) as meter:
        assert progress.current() is meter
    assert progress.current() is None
    with progress.reporting(False) as meter:
        assert meter is None and progress.current() is None


def test_cli_progress_goes_to_stderr_only_when_asked() -> None:
    src = str(FIXTURES / "news_scrape.noisy.txt")
    plain = run_cli(["clean", src])
    shown = run_cli(["clean", src, "--progress"])
    assert shown.returncode == 0 and shown.stdout == plain.stdout
    assert b"\rdedupe: " in shown.stderr and b"docs" in shown.stderr
    assert b"\r" not in plain.stderr  # stderr is not a terminal here: off by default
    quiet = run_cli(["clean", src, "--no-progress", "-q"])
    assert quiet.stderr == b""
