"""Pass one, per document: repair, segment, normalize, fingerprint, find in-document repeats.

Everything here depends on one document only, so it runs in worker processes, in
order-preserving chunks. The global decisions (which document or unit is a copy of one in
another document) are policy.py's, in the main process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dedupe.config import Config
from dedupe.fingerprint import shingle_sets, signatures
from dedupe.index import LongIndex, ShortIndex, band_keys, lsh_params
from dedupe.model import Document
from dedupe.normalize import normalize_many
from dedupe.repair import repair
from dedupe.segment import Span, split_lines, unit_spans, unit_text


@dataclass
class Prepared:
    """A document after pass one: its repaired text, units, match keys and fingerprints."""

    document: Document
    text: str  # repaired text (what is written out, minus removed units)
    repairs: tuple[tuple[str, str], ...] = ()
    lines: list[str] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # normalized match key per unit
    matchable: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # not oversize
    short: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    unit_bands: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.uint64))
    local_first: list[int] = field(default_factory=list)  # first in-document copy of each unit
    local_similarity: list[float] = field(default_factory=list)
    content: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))  # doc shingles
    content_bands: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    passed: str | None = None  # why the document is written through unmatched

    def shingles(self, unit: int) -> np.ndarray:
        return self.hashes[self.offsets[unit] : self.offsets[unit + 1]]

    def position(self, unit: int) -> int:
        """Input line number (text input) or line index within the text field (records)."""
        first = self.spans[unit][0]
        return first if self.document.record is not None else self.document.line + first


def prepare(doc: Document, config: Config) -> Prepared:
    """Pass one for one document."""
    if doc.error is not None:
        return Prepared(doc, doc.text, passed="bad_input")
    if len(doc.text) > config.max_document_chars:
        return Prepared(doc, doc.text, passed="oversize")
    text, repairs = repair(doc.text, config.uncurl_quotes) if config.repair else (doc.text, ())
    lines = split_lines(text)
    spans = unit_spans(lines, config.unit)
    texts = [unit_text(lines, span) for span in spans]
    matchable = np.array([len(t) <= config.max_unit_chars for t in texts], dtype=bool)
    keys = normalize_many([t if ok else "" for t, ok in zip(texts, matchable, strict=True)],
                          config.normalize_steps)
    short = np.array([len(k) < config.short_unit_chars for k in keys], dtype=bool)
    hashes, offsets = shingle_sets(keys, config.shingle_size)
    sigs = signatures(hashes, offsets, config.num_perm, config.seed)
    bands, rows = lsh_params(config.unit_threshold, config.num_perm)
    prepared = Prepared(
        document=doc, text=text, repairs=repairs, lines=lines, spans=spans, keys=keys,
        matchable=matchable, short=short, hashes=hashes, offsets=offsets,
        unit_bands=band_keys(sigs, bands, rows),
    )
    _find_local_repeats(prepared, config)
    _content_fingerprint(prepared, sigs, texts, config)
    return prepared


def prepare_many(docs: Sequence[Document], config: Config) -> list[Prepared]:
    return [prepare(doc, config) for doc in docs]


def _find_local_repeats(p: Prepared, config: Config) -> None:
    """Keep-first clustering of the document's own units: its repeated headlines, captions."""
    longs = LongIndex(config.unit_threshold)
    shorts = ShortIndex(config.short_unit_threshold)
    for i, key in enumerate(p.keys):
        first, sim = i, 1.0
        if p.matchable[i] and key:
            match = shorts.find(key) if p.short[i] else longs.find(p.unit_bands[i], p.shingles(i))
            if match is None:
                if p.short[i]:
                    shorts.add(i, key)
                else:
                    longs.add(i, p.unit_bands[i], p.shingles(i))
            else:
                first, sim = int(match.leader), match.similarity  # type: ignore[call-overload]
        p.local_first.append(first)
        p.local_similarity.append(sim)


def _content_fingerprint(p: Prepared, sigs: np.ndarray, texts: list[str], config: Config) -> None:
    """The document's fingerprint for near-duplicate search: the union of its content units.

    Content = first copies of units long enough never to be boilerplate, so that removing
    boilerplate or in-document repeats cannot change a document's similarity to another (this
    is what makes cleaning idempotent). A document of short lines only uses all its units.
    """
    firsts = [i for i in range(len(texts)) if p.local_first[i] == i and p.matchable[i]]
    content = [i for i in firsts if len(texts[i]) > config.boilerplate_max_chars] or firsts
    bands, rows = lsh_params(config.document_threshold, config.num_perm)
    if not content:
        p.content_bands = np.zeros(bands, dtype=np.uint64)
        return
    parts = [p.shingles(i) for i in content]
    p.content = np.unique(np.concatenate(parts)) if len(parts) > 1 else parts[0]
    union = sigs[content].min(axis=0, keepdims=True)
    p.content_bands = band_keys(union, bands, rows)[0]
