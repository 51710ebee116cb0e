"""A one-line progress report on stderr for long runs: documents, MB and MB/s, and an ETA.

Why it exists: a 10 GB corpus takes minutes; a silent terminal looks hung. The line is
rewritten in place (``\\r``) at most twice a second, only when stderr is a terminal (a log
file or a pipe gets nothing), and never with ``--quiet``. No dependency: one ``write`` per
update.

The pipeline reports to whichever meter is active (``current()``); the CLI activates one
around a run with ``reporting(...)``, so the library's signatures carry no progress argument
and library callers get no output unless they ask for it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import TextIO

_MB = 1e6


class Progress:
    """Counts documents and bytes of text through the two passes and draws the line.

    ``total_bytes``: the inputs' size when known (plain files), for the ETA of pass one; pass
    two's ETA comes from the document count pass one found.
    """

    def __init__(self, total_bytes: int | None = None, stream: TextIO | None = None,
                 interval: float = 0.5, clock: Callable[[], float] = time.monotonic) -> None:
        self.total_bytes = total_bytes
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.settle = 3.0  # seconds before pass one's ETA is shown
        self._clock = clock
        self._start = self._now()
        self._last_draw = -1e9
        self._width = 0
        self.phase = "reading"
        self.documents = 0
        self.bytes = 0
        self.written = 0
        self.total_documents: int | None = None
        self._pass_two_start = 0.0

    def _now(self) -> float:
        return self._clock()

    def advance(self, documents: int, nbytes: int) -> None:
        """Pass one has read and placed ``documents`` more documents of ``nbytes`` bytes."""
        self.documents += documents
        self.bytes += nbytes
        self._maybe_draw()

    def start_writing(self) -> None:
        """Pass one is over: from here on, ``wrote`` counts the documents written."""
        self.phase = "writing"
        self.total_documents = self.documents
        self._pass_two_start = self._now()
        self._maybe_draw(force=True)

    def wrote(self, documents: int = 1) -> None:
        self.written += documents
        self._maybe_draw()

    def line(self) -> str:
        """The current report, e.g. ``dedupe: 12,000 docs, 48.1 MB, 19.5 MB/s, ETA 0:21``."""
        elapsed = max(self._now() - self._start, 1e-9)
        mb = self.bytes / _MB
        rate = mb / elapsed
        text = (f"dedupe: {self.documents:,} docs, {mb:,.1f} MB, {rate:,.1f} MB/s, "
                f"{self.documents / elapsed:,.0f} docs/s")
        if self.phase == "reading":
            total = self.total_bytes
            if total and self.bytes <= total and rate > 0 and elapsed >= self.settle:
                text += f", ETA {_clock((total - self.bytes) / _MB / rate)}"  # after startup
        elif self.total_documents:
            spent = max(self._now() - self._pass_two_start, 1e-9)
            text += f"; writing {self.written / self.total_documents:.0%}"
            if self.written:
                left = self.total_documents - self.written
                text += f", ETA {_clock(spent / self.written * left)}"
        return text

    def _maybe_draw(self, force: bool = False) -> None:
        now = self._now()
        if not force and now - self._last_draw < self.interval:
            return
        self._last_draw = now
        text = self.line()
        pad = " " * max(self._width - len(text), 0)
        self._width = len(text)
        self.stream.write("\r" + text + pad)
        self.stream.flush()

    def close(self) -> None:
        """Erase the line (the summary that follows says it all)."""
        if self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


_CURRENT: ContextVar[Progress | None] = ContextVar("dedupe_progress", default=None)


def current() -> Progress | None:
    """The meter of the run in progress, if the caller asked for one."""
    return _CURRENT.get()


def wanted(flag: bool | None, quiet: bool, stream: TextIO | None = None) -> bool:
    """Whether to draw: ``--progress``/``--no-progress`` when given, else only on a terminal
    and never with ``--quiet``."""
    if flag is not None:
        return flag
    stream = stream if stream is not None else sys.stderr
    return not quiet and stream.isatty()


def input_size(paths: Sequence[str]) -> int | None:
    """Total size of the inputs when it says how much text there is: plain files only (stdin
    and compressed files give no ETA)."""
    total = 0
    for path in paths:
        if path == "-" or path.endswith((".gz", ".zst", ".parquet")):
            return None
        try:
            total += os.path.getsize(path)
        except OSError:
            return None
    return total


@contextlib.contextmanager
def reporting(enabled: bool, total_bytes: int | None = None,
              stream: TextIO | None = None) -> Iterator[Progress | None]:
    """Make a meter current for the duration of a run (no meter when not ``enabled``)."""
    meter = Progress(total_bytes, stream) if enabled else None
    token = _CURRENT.set(meter)
    try:
        yield meter
    finally:
        _CURRENT.reset(token)
        if meter is not None:
            meter.close()


def _clock(seconds: float) -> str:
    seconds = max(int(seconds + 0.5), 0)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
