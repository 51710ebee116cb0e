"""clean(): the stages wired into two passes.

Pass one prepares every document (repair, segment, normalize, fingerprint: per-document work,
spread over worker processes in order-preserving chunks) and places it against the documents
before it (``Decider.observe``, in this process, in input order). Each placed document then
waits on disk, in a temporary file, without its fingerprints: what stays in memory between
the passes is the decision state (the leaders' band keys and clusters; their shingle sets
spill to disk too, see ``dedupe.lsh``), which grows with the number of distinct units, not
with the text. Pass two, once every boilerplate count is known, reads the documents back,
decides and yields the results in input order. ``stream=True`` does both at once per document:
output starts immediately, at the price of boilerplate counts that see only the past.

Workers: ``config.workers`` processes (0 = every core) from a forkserver that has imported and
warmed up the per-document code once (``dedupe._worker``), so a worker starts in milliseconds
(``dedupe.pool``: a command-line job starts that server as it begins).
At most ``3 * workers`` chunks are in flight, which bounds memory whatever the input size.
What travels back from a worker is what the main process lacks: the document itself (and its
text, when repair left it unchanged) is not sent back. It travels through a file, not the pool's
result pipe: a worker killed in the middle of a megabyte-long send would leave a partial message
that the pool's reader waits on forever; the message through the pipe is now a few bytes, sent
by one atomic write, and a killed worker surfaces as BrokenProcessPool.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
import signal
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from itertools import chain, islice
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from dedupe import progress
from dedupe.config import Config
from dedupe.io import OutputError, as_documents, signals_deferred
from dedupe.model import Document, Result
from dedupe.policy import Decider, Placement
from dedupe.pool import context as forkserver_context
from dedupe.prepare import Prepared, prepare_many
from dedupe.segment import split_lines

if TYPE_CHECKING:
    from dedupe.store import IndexRun

_CHUNK_DOCS = 64
_CHUNK_CHARS = 1 << 20
#: Name prefix of a run's hand-off directory in the temp dir; the run's pid follows.
_HANDOFF = "dedupe-chunks-"


def clean(
    documents: Iterable[str | Mapping[str, Any] | Document],
    config: Config | None = None,
    *,
    stream: bool = False,
    index: IndexRun | None = None,
) -> Iterator[Result]:
    """Clean an iterable of documents (strings, dicts with a text field, or Documents).

    Yields one Result per input document, in input order: ``result.text`` is the clean text,
    or None when the document was dropped; ``result.removals`` says what was removed and why.
    ``index``: a run against a persistent index (dedupe.store): documents are decided against
    what it holds too, in one pass; ``index.commit()`` afterwards adds what this run kept.
    """
    config = config or Config()
    yield from clean_documents(as_documents(documents, config), config, stream=stream,
                               index=index)


def clean_documents(
    documents: Iterable[Document], config: Config, *, stream: bool = False,
    index: IndexRun | None = None,
) -> Iterator[Result]:
    """clean() for Documents already numbered in run order (what io.read_inputs yields)."""
    decider = Decider(config, index)
    meter = progress.current()
    prepared = prepare_all(documents, config)
    if index is not None:  # one pass, as one streaming run over the stored past and this batch
        index.stage(decider)
        prepared, stream = index.read_ahead(prepared), True
    if stream:
        for p in prepared:
            placement = decider.observe(p)
            if meter is not None:
                meter.advance(1, _size(p.document.text))
            yield decider.finalize(p, placement)
        return
    yield from decide_all(prepared, decider)


def decide_all(prepared: Iterable[Prepared], decider: Decider) -> Iterator[Result]:
    """The batch mode's decisions: observe every document in input order, then finalize
    each with the complete boilerplate counts. The records wait in a spill file meanwhile."""
    meter = progress.current()
    with _Spill() as spill:
        for p in prepared:
            spill.write(p, decider.observe(p))
            if meter is not None:
                meter.advance(1, _size(p.document.text))
        if meter is not None:
            meter.start_writing()
        for p, placement in spill.read():
            yield decider.finalize(p, placement)
            if meter is not None:
                meter.wrote()


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


# --- moving Prepared records in bulk ----------------------------------------------------------

#: Prepared's numpy fields. Pickled one by one they cost ~20 µs each way per document, more
#: than the rest of the record: records travel in chunks, each field as one array.
_ARRAY_FIELDS = tuple(
    f.name for f in dataclasses.fields(Prepared)
    if f.default_factory is not dataclasses.MISSING
    and isinstance(f.default_factory(), np.ndarray)
)
#: What observe() uses and finalize() does not: the fingerprints and the match keys, left out
#: of the records that wait between the passes. (A field finalize() reads must not be here.)
_FINGERPRINTS = frozenset({"hashes", "offsets", "unit_bands", "content", "content_bands"})
_NOT_SPILLED = frozenset({"keys"})


def without_fingerprints(p: Prepared) -> Prepared:
    """A copy of the record without what only observe() reads (fingerprints, match keys): all
    that finalize() needs, at a fraction of the size."""
    empty = {f.name: f.default_factory() for f in dataclasses.fields(Prepared)  # type: ignore[operator]
             if f.name in _FINGERPRINTS | _NOT_SPILLED}
    return dataclasses.replace(p, **empty)


@dataclass
class _Packed:
    """Prepared records whose array fields are concatenated per field (rows per record in
    ``rows``; -1: the record keeps its own, empty, array; None: the field was dropped)."""

    records: list[Prepared]
    arrays: dict[str, tuple[np.ndarray, list[int]] | None]


def _pack(records: list[Prepared], drop: frozenset[str] = frozenset()) -> _Packed:
    """Pack in place. ``lines`` equal to ``split_lines(text)`` (always, as prepare makes them)
    travel as None and are split again on arrival: a split costs less than a list of strings
    through pickle."""
    for p in records:
        if p.lines and p.lines == split_lines(p.text):
            p.lines = None  # type: ignore[assignment]
    arrays: dict[str, tuple[np.ndarray, list[int]] | None] = {}
    for name in _ARRAY_FIELDS:
        if name in drop:
            arrays[name] = None
            for p in records:
                setattr(p, name, None)
            continue
        values: list[np.ndarray] = [getattr(p, name) for p in records]
        full = [v for v in values if v.size]
        if not full or any(v.dtype != full[0].dtype or v.shape[1:] != full[0].shape[1:]
                           for v in full):
            arrays[name] = (np.zeros(0), [-1] * len(values))  # unusual: each keeps its own
            continue
        rows = [len(v) if v.size else -1 for v in values]
        arrays[name] = (np.concatenate(full), rows)
        for p, v in zip(records, values, strict=True):
            if v.size:
                setattr(p, name, None)
    return _Packed(records, arrays)


def _unpack(packed: _Packed, text: list[str] | None = None) -> list[Prepared]:
    """The records of a _Packed; ``text``: each record's text when it travelled without it."""
    defaults: dict[str, Callable[[], Any]] = {
        f.name: f.default_factory for f in dataclasses.fields(Prepared)  # type: ignore[misc]
        if f.name in _ARRAY_FIELDS}
    for i, p in enumerate(packed.records):
        if p.lines is None:
            p.lines = split_lines(p.text if text is None else text[i])
    for name, stored in packed.arrays.items():
        if stored is None:  # dropped: the field's empty default
            for p in packed.records:
                setattr(p, name, defaults[name]())
            continue
        data, rows = stored
        start = 0
        for p, n in zip(packed.records, rows, strict=True):
            if n >= 0:
                setattr(p, name, data[start : start + n])
                start += n
    return packed.records


# --- between the passes ------------------------------------------------------------------------


class _Spill:
    """Placed documents in an anonymous temporary file, read back once, in order.

    Records are the Prepared documents without their fingerprints (observe() has used them;
    finalize() does not) with their Placements, pickled a chunk at a time.
    """

    _CHUNK = 64

    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(  # noqa: SIM115 - closed by __exit__
            prefix="dedupe-pass-", buffering=1 << 20)
        self._chunks = 0
        self._records: list[Prepared] = []
        self._placements: list[Placement] = []

    def __enter__(self) -> _Spill:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._file.close()

    def write(self, p: Prepared, placement: Placement) -> None:
        for name in _NOT_SPILLED:
            setattr(p, name, [])
        self._records.append(p)
        self._placements.append(placement)
        if len(self._records) >= self._CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._records:
            record = (_pack(self._records, _FINGERPRINTS), self._placements)
            pickle.dump(record, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._chunks += 1
            self._records, self._placements = [], []

    def read(self) -> Iterator[tuple[Prepared, Placement]]:
        self._flush()
        self._file.flush()
        self._file.seek(0)
        for _ in range(self._chunks):  # one unpickler per dump: memo ids restart per dump
            packed, placements = pickle.load(self._file)
            yield from zip(_unpack(packed), placements, strict=True)


# --- pass one on every core --------------------------------------------------------------------


def worker_count(config: Config) -> int:
    return config.workers or os.cpu_count() or 1


def _chunks(documents: Iterable[Document]) -> Iterator[list[Document]]:
    """Order-preserving chunks of about a megabyte of text (or 64 documents)."""
    chunk: list[Document] = []
    size = 0
    for doc in documents:
        chunk.append(doc)
        size += len(doc.text)
        if len(chunk) >= _CHUNK_DOCS or size >= _CHUNK_CHARS:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def prepare_all(documents: Iterable[Document], config: Config) -> Iterator[Prepared]:
    """Pass one over all documents, on `config.workers` processes; output in input order.

    Small inputs (a single chunk) are prepared in this process: starting workers would cost
    more than the work.
    """
    chunks = _chunks(documents)
    head = list(islice(chunks, 2))
    workers = worker_count(config)
    if workers <= 1 or len(head) < 2:
        for chunk in chain(head, chunks):
            yield from prepare_many(chunk, config)
        return
    # ProcessPoolExecutor, not multiprocessing.Pool: a worker that dies (SIGKILL, the OOM
    # killer) raises BrokenProcessPool here instead of leaving the run waiting forever.
    pool = ProcessPoolExecutor(workers, mp_context=forkserver_context(),
                               initializer=_ignore_stop_signals)
    _sweep_handoffs()
    handoff = tempfile.TemporaryDirectory(prefix=f"{_HANDOFF}{os.getpid()}-")
    try:
        # At most a few chunks in flight: pool.map would read the whole input ahead.
        pending: deque[tuple[list[Document], Future[None], str]] = deque()
        for number, chunk in enumerate(chain(head, chunks)):
            path = os.path.join(handoff.name, f"{number}.pickle")
            # Ctrl-C waits while submit() starts a worker: interrupted there, the worker would
            # start untracked, after this process is gone, and fail with a traceback.
            with signals_deferred():
                future = pool.submit(prepare_shipped, chunk, config, path)
            pending.append((chunk, future, path))
            if len(pending) >= 3 * workers:
                yield from _unship(*pending.popleft())
        while pending:
            yield from _unship(*pending.popleft())
    except BaseException:  # a failure, Ctrl-C, or the consumer gone: stop now, don't drain
        _stop_workers(pool)
        raise
    finally:
        handoff.cleanup()
    pool.shutdown()


def _sweep_handoffs() -> None:
    """Remove the hand-off directories of runs that were killed (SIGKILL, the OOM killer:
    nothing of theirs ran to clean up). Each is named after its process; one whose process
    is gone is stale. Another user's, or a live process's, is left alone."""
    tmp = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(tmp) if n.startswith(_HANDOFF)]
    except OSError:
        return
    for name in names:
        pid = name[len(_HANDOFF):].split("-", 1)[0]
        path = os.path.join(tmp, name)
        try:
            if not pid.isdigit() or os.stat(path).st_uid != os.getuid():
                continue
            os.kill(int(pid), 0)  # raises when no such process
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # gone meanwhile, or a live process of someone else's
            continue


def _ignore_stop_signals() -> None:
    """Workers leave Ctrl-C and SIGTERM (sent to the whole process group by a terminal or a
    supervisor) to the main process, which stops them: one message, no worker tracebacks, and
    no race between the main process's handler and a worker's death."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel queued chunks and end the busy workers at once (shutdown alone would wait for
    them; there is no public way to terminate them before Python 3.14)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()  # SIGKILL: they ignore SIGTERM


_Shipped = tuple[_Packed, list[bool]]


def prepare_shipped(chunk: list[Document], config: Config, path: str) -> None:
    """prepare_many in a worker, packed into the file at ``path``, minus what the main process
    already has: the documents, and each text that repair left as it was (flagged True)."""
    out = prepare_many(chunk, config)
    same = [p.text is p.document.text for p in out]
    packed = _pack(out)
    for p, unchanged in zip(out, same, strict=True):
        p.document = _SHIPPED
        if unchanged:
            p.text = ""
    shipped: _Shipped = (packed, same)
    try:
        with open(path, "wb") as file:
            pickle.dump(shipped, file, protocol=pickle.HIGHEST_PROTOCOL)
    except OSError as exc:  # a full temporary directory: said as such, not as a bug
        raise OutputError(f"{path}: cannot write a temporary file: {exc.strerror or exc}"
                          ) from None


_SHIPPED = Document(id="", text="")


def _unship(chunk: list[Document], done: Future[None], path: str) -> Iterator[Prepared]:
    done.result()
    with open(path, "rb") as file:
        packed, same = pickle.load(file)
    os.unlink(path)
    texts = [doc.text if unchanged else p.text
             for doc, p, unchanged in zip(chunk, packed.records, same, strict=True)]
    for doc, p, unchanged in zip(chunk, _unpack(packed, texts), same, strict=True):
        p.document = doc
        if unchanged:
            p.text = doc.text
        yield p
