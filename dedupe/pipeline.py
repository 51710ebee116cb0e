"""clean(): the stages wired into two passes.

Pass one prepares every document (repair, segment, normalize, fingerprint: per-document work,
spread over worker processes in order-preserving chunks) and places it against the documents
before it. Pass two, once every boilerplate count is known, decides and yields the results in
input order. ``stream=True`` does both at once per document: output starts immediately, at the
price of boilerplate counts that see only the past.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from itertools import islice
from multiprocessing.pool import AsyncResult
from typing import Any

from dedupe.config import Config
from dedupe.io import as_documents
from dedupe.model import Document, Result
from dedupe.policy import Decider
from dedupe.prepare import Prepared, prepare_many

_CHUNK_DOCS = 64
_CHUNK_CHARS = 1 << 20


def clean(
    documents: Iterable[str | Mapping[str, Any] | Document],
    config: Config | None = None,
    *,
    stream: bool = False,
) -> Iterator[Result]:
    """Clean an iterable of documents (strings, dicts with a text field, or Documents).

    Yields one Result per input document, in input order: ``result.text`` is the clean text,
    or None when the document was dropped; ``result.removals`` says what was removed and why.
    """
    config = config or Config()
    yield from clean_documents(as_documents(documents, config), config, stream=stream)


def clean_documents(
    documents: Iterable[Document], config: Config, *, stream: bool = False
) -> Iterator[Result]:
    """clean() for Documents already numbered in run order (what io.read_inputs yields)."""
    decider = Decider(config)
    prepared = prepare_all(documents, config)
    if stream:
        for p in prepared:
            yield decider.finalize(p, decider.observe(p))
        return
    placed = [(p, decider.observe(p)) for p in prepared]
    for p, placement in placed:
        yield decider.finalize(p, placement)


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
    work = partial(prepare_many, config=config)
    if workers <= 1 or len(head) < 2:
        for chunk in head:
            yield from work(chunk)
        for chunk in chunks:
            yield from work(chunk)
        return
    context = multiprocessing.get_context("forkserver")
    with context.Pool(workers) as pool:
        # At most a few chunks in flight: pool.imap would read the whole input ahead.
        pending: deque[AsyncResult[list[Prepared]]] = deque()
        for chunk in _chain(head, chunks):
            pending.append(pool.apply_async(work, (chunk,)))
            if len(pending) >= 3 * workers:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()


def _chain(head: list[list[Document]], rest: Iterator[list[Document]]) -> Iterator[list[Document]]:
    yield from head
    yield from rest
