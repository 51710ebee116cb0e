"""Verification of candidate pairs: is this unit really a copy of that one?

Candidates come from the LSH band keys (long units) or the short-key blocks; this module
decides. Two tests, both on match keys (``normalize``):

* **similarity**: the larger of the shingle Jaccard (fast, but a few typos on both copies
  drag it well below 0.7) and the edit similarity (rapidfuzz's normalized Indel similarity,
  which degrades gently: about 0.94 for two copies with 3 typos per 100 characters each);
* **the word veto** (``differing_facts``): two texts can be 90% alike and still state different
  facts ("Police arrest man in Leeds after stabbing" / "Police arrest woman in York after
  robbery", a league-table row a week later). The words of the two keys are aligned; each
  stretch where one text has other words than the other is *noise* when its two sides are
  within a few edits of each other (typos, OCR slips, a word split by hyphenation: "gov ernment"
  vs "government"), and a *fact* otherwise. Words only one text has (a "REPORT:" prefix, an
  added sentence) are not facts: the similarity threshold weighs them. Folded digits ("0") and
  one- and two-letter words are never facts: the digits of prose are folded on purpose (a
  dateline "Updated 10:32" is the same line at 11:05), and short words carry too little to
  judge. Figures that normalization kept (table rows) are facts whenever they differ.

``vetoed`` says no when the facts weigh too much for the text's length: any differing figure;
in a short text (under ``SHORT_FACT_CHARS`` characters) one differing word; in a longer one
differing words that make up at least ``FACT_SHARE`` of its characters. So a template sentence
with a new month in it is another sentence, while a long paragraph or a whole article with a
corrected word is still a copy. (A caption whose photo credit changed, "(AP)" to "(Reuters)",
is another line by this rule: the credit is a fact.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz.distance import OSA, Indel

from dedupe.config import Config

#: Extra word tolerance when units are matched as parts of two documents (Verifier.vetoes).
LENIENCY = 0.15
#: Remembered veto answers at most (then forgotten all at once: memory stays bounded).
_VETO_MEMO = 1 << 16
#: Below this many characters, one differing word is enough to tell two texts apart.
SHORT_FACT_CHARS = 60
#: Above it, the differing words must make up this share of the text's characters.
FACT_SHARE = 0.02

_NONZERO_DIGIT = re.compile(r"[1-9]")
#: Letters an OCR engine reads for digits; inside a number they are taken as the digit.
_OCR_DIGITS = str.maketrans("lioszb", "110528")


def edit_similarity(a: str, b: str, cutoff: float = 0.0) -> float:
    """Normalized Indel similarity in [0, 1] (rapidfuzz's ``fuzz.ratio`` / 100); below
    ``cutoff`` the answer is 0.0 (rapidfuzz stops early)."""
    return float(Indel.normalized_similarity(a, b, score_cutoff=cutoff))


#: Character classes of ``char_histograms`` (code point modulo this): 32 bytes a text.
HISTOGRAM_BINS = 32


def char_histograms(texts: Sequence[str]) -> np.ndarray:
    """Each text's character counts in ``HISTOGRAM_BINS`` classes (code point modulo the
    number of classes, counts saturating at 255), one uint8 row per text: what
    ``edit_similarity_bounds`` compares. Made in bulk, one numpy pass over all the texts."""
    n = len(texts)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    slots = np.repeat(np.arange(n, dtype=np.int64) * HISTOGRAM_BINS, lengths)
    slots += codes & (HISTOGRAM_BINS - 1)
    counts = np.bincount(slots, minlength=n * HISTOGRAM_BINS)
    return np.minimum(counts, 255).astype(np.uint8).reshape(n, HISTOGRAM_BINS)


def edit_similarity_bounds(hist_a: np.ndarray, len_a: np.ndarray, hist_b: np.ndarray,
                           len_b: np.ndarray) -> np.ndarray:
    """For each row pair, a number no lower than the pair's ``edit_similarity``.

    Why it holds: an insertion or a deletion changes one character count by one, so the Indel
    distance is at least the L1 distance of the two texts' character counts; merging counts
    into classes and capping them at 255 can only shrink that distance. The similarity is
    ``1 - distance / (len_a + len_b)``. Unrelated lines of similar length differ in their
    letters enough to fall below an edit threshold of 0.9 here (~95% of the candidates that
    reach rapidfuzz at the default settings), at a fraction of the cost of aligning them.
    """
    l1 = np.abs(hist_a.astype(np.int16) - hist_b.astype(np.int16)).sum(axis=1)
    total = np.asarray(len_a, dtype=np.int64) + np.asarray(len_b, dtype=np.int64)
    return np.where(total > 0, 1.0 - l1 / np.maximum(total, 1), 1.0)


@dataclass(frozen=True)
class Facts:
    """How two texts differ beyond noise: stretches of different words, and figures."""

    stretches: int  # separate stretches of words that differ by more than noise
    chars: int  # their size (the longer side of each, spaces excluded)
    figures: bool  # a kept (unfolded) figure differs


def _figures(words: list[str]) -> str:
    """The digits of the words that are numbers (mostly digits: "1234", "70th"), in order.

    A digit inside a word ("parad2", "wor1d", "9n") is a typo or an OCR slip, not a figure.
    """
    out = []
    for w in words:
        digits = sum(c.isdigit() for c in w)
        if not digits or 2 * digits < len(w):
            continue
        if digits < len(w):
            w = w.translate(_OCR_DIGITS)  # "1l" is "11" as an OCR engine read it
            digits = sum(c.isdigit() for c in w)
        if digits == len(w) or digits >= 2:
            out.append("".join(c for c in w if c.isdigit()))
    return " ".join(out)


def _is_fact_free(words: list[str]) -> bool:
    """Folded numbers and one- or two-letter words: never a fact on their own."""
    return all(len(w) <= 2 or not w.strip("0") for w in words)


def _stretches(a: str, b: str) -> list[tuple[str, str]]:
    """The stretches of words where two texts differ: (words of a, words of b) pairs.

    The texts are aligned character by character with their spaces removed, so that a word a
    typo split ("gov ernment") or a space lost ("talks now" -> "talksnow") aligns with itself,
    and a damaged word stays in front of its clean self (aligning whole words pairs up the
    wrong "and"s once a few words are damaged). Words whose characters align are linked;
    words touched by the same difference are linked; each linked group that holds a difference
    is one stretch. A stretch with words on one side only is an insertion.
    """
    wa, wb = a.split(), b.split()
    ia = [k for k, w in enumerate(wa) for _ in w]
    ib = [len(wa) + k for k, w in enumerate(wb) for _ in w]
    parent = list(range(len(wa) + len(wb)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(x: int, y: int) -> None:
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)

    dirty: set[int] = set()
    previous: list[int] = []  # the nodes of the difference just before (none: an equal run)
    for op in Indel.opcodes("".join(wa), "".join(wb)):
        s1, s2, d1, d2 = op.src_start, op.src_end, op.dest_start, op.dest_end
        if op.tag == "equal":
            previous = []
            last = (-1, -1)
            for x, y in zip(ia[s1:s2], ib[d1:d2], strict=True):
                if (x, y) != last:
                    union(x, y)
                    last = (x, y)
            continue
        touched = set(ia[s1:s2]) | set(ib[d1:d2])
        for index, at, empty in ((ia, s1, s1 == s2), (ib, d1, d1 == d2)):
            if empty and 0 < at < len(index) and index[at - 1] == index[at]:
                touched.add(index[at])  # an insertion point inside a word
        nodes = sorted(touched) + previous  # a deletion next to an insertion: a substitution
        for node in nodes[1:]:
            union(nodes[0], node)
        dirty.update(nodes)
        previous = nodes[:1]
    groups: dict[int, list[int]] = {}
    for node in sorted(dirty):
        groups.setdefault(find(node), [])
    for node in range(len(parent)):
        root = find(node)
        if root in groups:
            groups[root].append(node)
    out = []
    for members in groups.values():
        left = " ".join(wa[k] for k in members if k < len(wa))
        right = " ".join(wb[k - len(wa)] for k in members if k >= len(wa))
        out.append((left, right))
    return out


#: What OCR engines and typists confuse, folded away before two spellings are compared
#: (multi-letter confusions first): "ii"/"u", "rn"/"m", "cl"/"d", "vv"/"w", "ri"/"n", "li"/"h",
#: then "1"/"i"/"l", "0"/"o", "5"/"s", "c"/"e".
_OCR_PAIRS = (("ii", "u"), ("rn", "m"), ("cl", "d"), ("vv", "w"), ("ri", "n"), ("li", "h"))
_OCR_LETTERS = str.maketrans("1i05c", "llose")


def _ocr_fold(text: str) -> str:
    for src, dst in _OCR_PAIRS:
        text = text.replace(src, dst)
    return text.translate(_OCR_LETTERS)


def _close(a: str, b: str, tolerance: float) -> bool:
    """Two spellings within ``floor(tolerance * length)`` edits (at least one, and two from
    four letters on: a word with a typo in each copy), OCR slips folded."""
    longest = max(len(a), len(b))
    allowed = max(1 if longest < 4 else 2, int(tolerance * longest))
    return OSA.distance(a, b) <= allowed or OSA.distance(_ocr_fold(a), _ocr_fold(b)) <= allowed


#: Words that state a fact and look like typos of each other ("june"/"july",
#: "tuesday"/"thursday", "september"/"december"): two different ones are never noise.
_CALENDAR = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
             "january", "february", "march", "april", "may", "june", "july", "august",
             "september", "october", "november", "december")


def _calendar_word(word: str) -> str | None:
    """The calendar word this word is (within one edit), if exactly one."""
    near = {c for c in _CALENDAR if abs(len(c) - len(word)) <= 1 and OSA.distance(c, word) <= 1}
    return near.pop() if len(near) == 1 else None


def _is_noise(left: list[str], right: list[str], tolerance: float) -> bool:
    """Whether two stretches of words are one text with typos, plus perhaps whole words that
    only one side has (an insertion the character alignment glued to a neighbour)."""
    day_a, day_b = _calendar_word("".join(left)), _calendar_word("".join(right))
    if day_a and day_b and day_a != day_b:
        return False
    if _close("".join(left), "".join(right), tolerance):
        return True
    longer, shorter = (left, right) if len(left) > len(right) else (right, left)
    target = "".join(shorter)
    return any(OSA.distance("".join(longer[i:j]), target) <= int(tolerance * len(target))
               for i in range(len(longer)) for j in range(i + 1, len(longer) + 1)
               if (i, j) != (0, len(longer)))


def differing_facts(a: str, b: str, tolerance: float) -> Facts:
    """Classify every stretch of words where two match keys differ (see ``_stretches``).

    Only substitutions can be facts: words one text has and the other lacks (a "REPORT:"
    prefix, a sentence added at the end) are weighed by the similarity threshold instead.

    A stretch is noise when its two sides, with spaces removed, are within
    ``floor(tolerance * length)`` edits of each other (at least 1, and 2 from four letters on;
    length: the longer side; an edit is an insertion, deletion, substitution or swap of
    neighbours: OSA distance), directly or once common OCR confusions are folded.
    """
    stretches = chars = 0
    figures = False
    for left_text, right_text in _stretches(a, b):
        left, right = left_text.split(), right_text.split()
        while left and right and left[0] == right[0]:  # words the alignment took along
            left, right = left[1:], right[1:]
        while left and right and left[-1] == right[-1]:
            left, right = left[:-1], right[:-1]
        if not left or not right:
            continue  # words added or left out: the similarity threshold weighs those
        na, nb = _figures(left), _figures(right)
        if na and nb and na != nb and _NONZERO_DIGIT.search(na) and _NONZERO_DIGIT.search(nb):
            figures = True
            continue
        if _is_fact_free(left) and _is_fact_free(right):
            continue
        if _is_noise(left, right, tolerance):
            continue
        stretches += 1
        chars += max(sum(map(len, left)), sum(map(len, right)))
    return Facts(stretches, chars, figures)


def vetoed(a: str, b: str, tolerance: float) -> bool:
    """True when two similar match keys state different facts (see the module docstring)."""
    if a == b:
        return False
    facts = differing_facts(a, b, tolerance)
    if facts.figures:
        return True
    if not facts.stretches:
        return False
    length = max(len(a), len(b))
    return length < SHORT_FACT_CHARS or facts.chars >= FACT_SHARE * length


class Verifier:
    """The match test of one configuration: similarity first, then the word veto."""

    def __init__(self, config: Config) -> None:
        self.jaccard_threshold = config.unit_threshold
        self.edit_threshold = config.unit_edit_threshold
        self.veto = config.word_veto
        self.tolerance = config.word_tolerance
        #: vetoed() answers by (a, b, tolerance): a corpus asks about the same pairs again and
        #: again (a boilerplate line against its leader: ~7 calls per distinct pair).
        self._vetoed: dict[tuple[str, str, float], bool] = {}

    def long_units(self, a: str, b: str, jaccard: float) -> float | None:
        """Similarity of two long units' match keys, or None when they do not match.

        They match when the shingle Jaccard reaches ``unit_threshold`` or the edit similarity
        reaches ``unit_edit_threshold``, and the veto finds no differing facts. The similarity
        is the larger of the two measures.
        """
        by_shingles = jaccard >= self.jaccard_threshold
        edit = edit_similarity(a, b, 0.0 if by_shingles else self.edit_threshold)
        if not by_shingles and edit < self.edit_threshold:
            return None
        if self.vetoes(a, b):
            return None
        return max(jaccard, edit)

    def vetoes(self, a: str, b: str, lenient: bool = False) -> bool:
        """The veto alone (short units, already similar by edit similarity).

        ``lenient``: for units compared as parts of two documents, where one unit's doubt
        weighs little against the others': spellings may differ by ``LENIENCY`` more.
        """
        if not self.veto or a == b:
            return False
        tolerance = min(0.6, self.tolerance + LENIENCY) if lenient else self.tolerance
        key = (a, b, tolerance)
        answer = self._vetoed.get(key)
        if answer is None:
            if len(self._vetoed) >= _VETO_MEMO:
                self._vetoed.clear()
            answer = self._vetoed[key] = vetoed(a, b, tolerance)
        return answer


__all__ = ["FACT_SHARE", "HISTOGRAM_BINS", "LENIENCY", "SHORT_FACT_CHARS", "Facts", "Verifier",
           "char_histograms", "differing_facts", "edit_similarity", "edit_similarity_bounds",
           "vetoed"]
