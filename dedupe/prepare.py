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
from dedupe.containment import find_contained
from dedupe.fingerprint import shingle_sets, signatures
from dedupe.index import LongIndex, ShortIndex, band_keys, lsh_params
from dedupe.model import Document
from dedupe.normalize import normalize_many
from dedupe.repair import repair
from dedupe.segment import Span, split_lines, unit_spans, unit_text
from dedupe.verify import Verifier


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
    content_units: list[int] = field(default_factory=list)  # units in `content` (policy.py)
    contained: dict[int, tuple[int, float]] = field(default_factory=dict)  # containment.py
    passed: str | None = None  # why the document is written through unmatched

    def shingles(self, unit: int) -> np.ndarray:
        return self.hashes[self.offsets[unit] : self.offsets[unit + 1]]

    def position(self, unit: int) -> int:
        """Input line number (text input) or line index within the text field (records)."""
        first = self.spans[unit][0]
        return first if self.document.record is not None else self.document.line + first


def prepare(doc: Document, config: Config) -> Prepared:
    """Pass one for one document (``prepare_many`` does a batch the same way, faster)."""
    return prepare_many([doc], config)[0]


def prepare_many(docs: Sequence[Document], config: Config) -> list[Prepared]:
    """Pass one for a chunk of documents, in order.

    Repair and segmentation are per document; normalization, shingling, MinHash and band keys
    run once over the units of the whole chunk (each call has a fixed cost of ~15 µs, more
    than a short document's units take) and are sliced per document. Every stage is
    element-wise, so the values equal those of one document at a time.
    """
    out: list[Prepared] = []
    pending: list[tuple[Prepared, list[str], int]] = []  # document, its unit texts, first unit
    texts: list[str] = []
    for doc in docs:
        if doc.error is not None:
            out.append(Prepared(doc, doc.text, passed="bad_input"))
            continue
        if len(doc.text) > config.max_document_chars:
            out.append(Prepared(doc, doc.text, passed="oversize"))
            continue
        text, repairs = repair(doc.text, config.uncurl_quotes) if config.repair else (doc.text, ())
        lines = split_lines(text)
        spans = unit_spans(lines, config.unit)
        unit_texts = [unit_text(lines, span) for span in spans]
        prepared = Prepared(document=doc, text=text, repairs=repairs, lines=lines, spans=spans)
        out.append(prepared)
        pending.append((prepared, unit_texts, len(texts)))
        texts.extend(t if len(t) <= config.max_unit_chars else "" for t in unit_texts)
    if not pending:
        return out
    matchable = np.fromiter((len(t) <= config.max_unit_chars for _, ts, _ in pending for t in ts),
                            dtype=bool, count=len(texts))
    keys = normalize_many(texts, config.normalize_steps)
    short = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys)) < config.short_unit_chars
    hashes, offsets = shingle_sets(keys, config.shingle_size)
    sigs = signatures(hashes, offsets, config.num_perm, config.seed)
    unit_bands = band_keys(sigs, *lsh_params(config.unit_lsh_threshold, config.num_perm))
    involved = _local_candidates(pending, keys, matchable, short, unit_bands)
    unions: list[np.ndarray] = []
    with_content: list[Prepared] = []
    for p, unit_texts, start in pending:
        end = start + len(unit_texts)
        p.keys = keys[start:end]
        p.matchable = matchable[start:end]
        p.short = short[start:end]
        p.hashes = hashes[offsets[start] : offsets[end]]
        p.offsets = offsets[start : end + 1] - offsets[start]
        p.unit_bands = unit_bands[start:end]
        find_local_repeats(p, config, np.flatnonzero(involved[start:end]).tolist())
        if config.drop_contained:
            p.contained = find_contained(p, config)
        union = _content_fingerprint(p, sigs[start:end], unit_texts, config)
        if union is not None:
            unions.append(union)
            with_content.append(p)
    bands, rows = lsh_params(config.document_lsh_threshold, config.num_perm)
    for p in out:
        if p.passed is None:
            p.content_bands = np.zeros(bands, dtype=np.uint64)
    if unions:
        for p, doc_keys in zip(with_content, band_keys(np.stack(unions), bands, rows),
                               strict=True):
            p.content_bands = doc_keys
    return out


# Constants that tag a band key with its document and band (an odd multiplier each): equal
# (document, band, key) give equal tags, which is all _local_candidates needs.
_TAG_DOC = np.uint64(0xD6E8FEB86659FD93)
_TAG_BAND = np.uint64(0xA0761D6478BD642F)


def _local_candidates(pending: list[tuple[Prepared, list[str], int]], keys: list[str],
                      matchable: np.ndarray, short: np.ndarray,
                      unit_bands: np.ndarray) -> np.ndarray:
    """Units that could match, or be matched by, another unit of their own document.

    A superset of the units an in-document index lookup could pair: long units sharing a
    (band, key) with another long unit of the document, short units sharing an exact key or a
    ShortIndex block with another short unit. The rest are their own first copy, with no
    lookup at all; ``find_local_repeats`` runs the exact keep-first logic on this subset.
    """
    n = len(keys)
    involved = np.zeros(n, dtype=bool)
    doc_of = np.repeat(np.arange(len(pending), dtype=np.uint64),
                       [len(ts) for _, ts, _ in pending])
    nonempty = np.fromiter(map(bool, keys), dtype=bool, count=n)
    eligible = matchable & nonempty
    longs = np.flatnonzero(eligible & ~short)
    if longs.size > 1:
        width = unit_bands.shape[1]
        with np.errstate(over="ignore"):
            tags = (doc_of[longs, None] * _TAG_DOC
                    + np.arange(width, dtype=np.uint64)[None, :] * _TAG_BAND)
            flat = (unit_bands[longs] + tags).reshape(-1)
        order = np.argsort(flat, kind="stable")
        ordered = flat[order]
        same = ordered[1:] == ordered[:-1]
        mark = np.zeros(flat.size, dtype=bool)
        mark[order[1:][same]] = True
        mark[order[:-1][same]] = True
        involved[longs[mark.reshape(-1, width).any(axis=1)]] = True
    first_seen: dict[tuple[int, str], int] = {}
    for i in np.flatnonzero(eligible & short).tolist():
        doc = int(doc_of[i])
        for block in (keys[i], *ShortIndex._block_keys(keys[i])):
            other = first_seen.setdefault((doc, block), i)
            if other != i:
                involved[other] = involved[i] = True
    return involved


def find_local_repeats(p: Prepared, config: Config, units: list[int] | None = None) -> None:
    """Keep-first clustering of the document's own units: its repeated headlines, captions.

    ``units``: the only units that can take part (see ``_local_candidates``); the others are
    their own first copy. None runs every unit through the indexes (the plain path).
    """
    n = len(p.keys)
    p.local_first = list(range(n))
    p.local_similarity = [1.0] * n
    if units is not None and not units:
        return
    longs = LongIndex(config.unit_threshold)
    shorts = ShortIndex(config.short_unit_threshold)
    verifier = Verifier(config)  # the same test as across documents (policy.Decider)
    current = 0
    longs.verify = lambda _, leader, jaccard: verifier.long_units(
        p.keys[current], p.keys[leader], jaccard)  # type: ignore[call-overload]
    shorts.veto = verifier.vetoes
    # Fast path only: a unit whose key equals a leader's is that leader's copy, similarity 1
    # (what either index answers: identical key, identical shingle set, and no other leader
    # can share that set, or it would have joined the first).
    leaders: dict[str, int] | None = None if units is None else {}
    for i in range(n) if units is None else units:
        key = p.keys[i]
        if p.matchable[i] and key:
            if leaders is not None and key in leaders:
                p.local_first[i] = leaders[key]
                continue
            current = i
            match = shorts.find(key) if p.short[i] else longs.find(p.unit_bands[i], p.shingles(i))
            if match is None:
                if p.short[i]:
                    shorts.add(i, key)
                else:
                    longs.add(i, p.unit_bands[i], p.shingles(i))
                if leaders is not None:
                    leaders[key] = i
            else:
                p.local_first[i] = int(match.leader)  # type: ignore[call-overload]
                p.local_similarity[i] = match.similarity


def _content_fingerprint(p: Prepared, sigs: np.ndarray, texts: list[str],
                         config: Config) -> np.ndarray | None:
    """The document's fingerprint for near-duplicate search: the union of its content units.

    Content = first copies of units long enough never to be boilerplate, so that removing
    boilerplate or in-document repeats cannot change a document's similarity to another (this
    is what makes cleaning idempotent). A document of short lines only uses all its units.
    Sets ``p.content``; returns the union signature (band keys are computed per chunk), or
    None when the document has no content.
    """
    firsts = [i for i in range(len(texts)) if p.local_first[i] == i and p.matchable[i]]
    content = [i for i in firsts if len(texts[i]) > config.boilerplate_max_chars] or firsts
    p.content_units = content
    if not content:
        return None
    parts = [p.shingles(i) for i in content]
    if len(parts) > 1:  # sorted unique, as np.unique gives (but by sorting: several times faster)
        merged = np.concatenate(parts)
        merged.sort()
        keep = np.empty(merged.size, dtype=bool)
        keep[:1] = True
        np.not_equal(merged[1:], merged[:-1], out=keep[1:])
        p.content = merged[keep]
    else:
        p.content = parts[0]
    return sigs[content].min(axis=0)
