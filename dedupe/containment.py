"""Containment: a headline or caption repeated *inside* a longer line of the same document.

Scrapers glue a caption or the headline to the first paragraph ("Soldiers march ... (AP)
North Korea said Tuesday ..."), and the standalone line then repeats text the document keeps
anyway. Whole-unit similarity cannot see it (the paragraph is much longer), so a unit is
tested against the longer units of its document for containment:

1. candidates: the unit's shingles are mostly (``PREFILTER``) in the longer unit;
2. verification: the best-aligned window of the longer unit (rapidfuzz's
   ``partial_ratio_alignment``, widened to whole words) has an edit similarity of at least
   ``containment_threshold`` to the unit, and the word veto finds no differing facts;
3. the decision (policy.py, only with ``drop_contained``): the standalone copy goes, audited as
   ``repeated_in_document`` with a pointer to the longer unit and ``detail`` "contained in a
   longer unit". The longer unit is never touched: dedupe removes whole units only.

Off by default: a short line quoted inside a paragraph is not always a copy (a pull quote),
and removing a document's first line changes what a reader sees first. Cross-document
containment (datasketch's MinHashLSHEnsemble) is not done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rapidfuzz import fuzz

from dedupe.config import Config
from dedupe.fingerprint import containment
from dedupe.verify import vetoed

if TYPE_CHECKING:
    from dedupe.prepare import Prepared

#: A contained unit's match key is at least this long (shorter keys are found everywhere)...
MIN_CHARS = 20
#: ... and at most this long (a headline or caption, not a paragraph).
MAX_CHARS = 400
#: The longer unit must be this much longer than the contained one.
RATIO = 1.5
#: Share of the unit's shingles that must be in the longer unit before it is verified.
PREFILTER = 0.5
#: Pairs compared per document at most (a page of thousands of lines is not searched).
MAX_PAIRS = 4000


def _widen(text: str, start: int, end: int) -> str:
    """text[start:end] widened to whole words."""
    if start > 0 and text[start - 1] != " ":
        start = text.rfind(" ", 0, start) + 1
    if end < len(text) and text[end - 1] != " " and text[end] != " ":
        found = text.find(" ", end)
        end = len(text) if found < 0 else found
    return text[start:end].strip()


def contained_in(short: str, long: str, threshold: float, tolerance: float,
                 veto: bool = True) -> float | None:
    """Similarity of ``short`` to its best-aligned window in ``long``, or None when below
    ``threshold`` or when the window states other facts (the word veto)."""
    alignment = fuzz.partial_ratio_alignment(short, long, score_cutoff=threshold * 100.0)
    if alignment is None:
        return None
    window = _widen(long, alignment.dest_start, alignment.dest_end)
    if veto and vetoed(short, window, tolerance):
        return None
    return float(alignment.score) / 100.0


def find_contained(p: Prepared, config: Config) -> dict[int, tuple[int, float]]:
    """First copies of the document found inside a longer unit of it: unit -> (container,
    similarity). The container is the most similar one (ties: the first)."""
    keys = p.keys
    firsts = [i for i in range(len(keys)) if p.local_first[i] == i and p.matchable[i]]
    small = [i for i in firsts if MIN_CHARS <= len(keys[i]) <= MAX_CHARS]
    large = [j for j in firsts if keys[j]]
    out: dict[int, tuple[int, float]] = {}
    pairs = 0
    for i in small:
        best: tuple[int, float] | None = None
        for j in large:
            if len(keys[j]) < RATIO * len(keys[i]):
                continue
            pairs += 1
            if pairs > MAX_PAIRS:
                return out
            if containment(p.shingles(i), p.shingles(j)) < PREFILTER:
                continue
            sim = contained_in(keys[i], keys[j], config.containment_threshold,
                               config.word_tolerance, config.word_veto)
            if sim is not None and (best is None or sim > best[1]):
                best = (j, sim)
        if best is not None:
            out[i] = best
    return out


__all__ = ["contained_in", "find_contained"]
