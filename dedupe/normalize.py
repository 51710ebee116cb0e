"""Match keys: the typo-tolerant form of a unit's text that shingling and hashing see.

A match key is never written out; it only decides what counts as "the same text". Each step
in ``NORMALIZE_STEPS`` removes one kind of variation that scrapers and re-publishers introduce
without changing what the text says:

``nfkc``          compatibility forms: ligatures (ﬁ), full-width (ＡＢＣ), superscripts.
``casefold``      case ("NORTH KOREA" == "North Korea").
``strip_accents`` diacritics of Latin/Greek/Cyrillic (and the optional vowel points of Hebrew
                  and Arabic); marks that are part of a letter in Indic, Thai, kana ... are kept.
``confusables``   look-alike letters of other scripts (Cyrillic "о", Greek "ο") -> Latin "o".
``punctuation``   every punctuation or symbol character (Unicode P* and S*) becomes a space, so
                  quote, dash, bullet and ellipsis variants all vanish the same way.
``dehyphenate``   "gov-\\nernment" -> "government" (line-end hyphenation, multi-line units).
``digits``        every digit -> "0" ("Updated 10:32" == "Updated 09:15"), except on tabular
                  lines, whose rows differ only in their figures (see ``is_tabular``).
``whitespace``    invisible format characters (zero-width space, soft hyphen, BOM ...) removed;
                  runs of white space (newlines, NBSP ...) -> one space; trimmed.

Effective order. ``NORMALIZE_STEPS`` is the reporting order; the steps run in the order
NORMALIZE_STEPS gives except for three deliberate moves, each of which keeps the result of the
canonical intent and makes the whole normalization idempotent:

* ``dehyphenate`` runs first: it needs the hyphen and the line break that ``punctuation`` and
  ``whitespace`` would otherwise destroy before it sees them.
* The invisible-character removal of ``whitespace`` runs right after it, before ``nfkc``:
  deleting a zero-width character can bring two characters together that Unicode composes
  (Hangul jamo, Indic vowel signs), so composition must see the text without them.
* ``digits`` runs before ``punctuation`` (the two map disjoint characters, so the order does not
  change the characters they produce), because the tabular decision needs the column structure
  that punctuation and whitespace destroy.

Speed: everything is whole-string C work (``str.translate`` with tables built once,
``unicodedata.normalize``, compiled regular expressions). Mostly-ASCII text only pays for
Unicode normalization around its non-ASCII characters; long non-ASCII strings are translated
through a NumPy lookup table. ``normalize_many`` batches many short units into one string.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Sequence

import numpy as np

from dedupe.config import NORMALIZE_STEPS

__all__ = [
    "STEP_FUNCTIONS",
    "is_tabular",
    "normalize",
    "normalize_many",
    "normalizer",
    "step_casefold",
    "step_confusables",
    "step_dehyphenate",
    "step_digits",
    "step_nfkc",
    "step_punctuation",
    "step_strip_accents",
    "step_whitespace",
]

# ----------------------------------------------------------------------------------------------
# Character classes (built once per process from the running Python's Unicode database)
# ----------------------------------------------------------------------------------------------

#: Characters that end a line: the set ``str.splitlines`` uses, plus NUL, which
#: ``normalize_many`` uses to separate the texts of a batch (no step creates or removes it).
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\x00"
_SEP = "\x00"

#: Blocks whose combining marks are optional diacritics (accents, Hebrew points, Arabic
#: harakat, variation selectors). Marks elsewhere (Devanagari vowel signs, Thai vowels, kana
#: voicing marks ...) are part of the letter and stay.
_STRIPPED_MARK_BLOCKS = (
    (0x0300, 0x036F),  # Combining Diacritical Marks
    (0x0483, 0x0489),  # Cyrillic combining marks (titlo ...)
    (0x0591, 0x05C7),  # Hebrew cantillation and points
    (0x0610, 0x061A),  # Arabic marks
    (0x064B, 0x065F),  # Arabic harakat
    (0x0670, 0x0670),  # Arabic superscript alef
    (0x06D6, 0x06ED),  # Arabic Quranic marks
    (0x0898, 0x08FF),  # Arabic Extended-A/B marks
    (0x1AB0, 0x1AFF),  # Combining Diacritical Marks Extended
    (0x1DC0, 0x1DFF),  # Combining Diacritical Marks Supplement
    (0x20D0, 0x20FF),  # Combining Marks for Symbols
    (0xFE00, 0xFE0F),  # Variation selectors
    (0xFE20, 0xFE2F),  # Combining Half Marks
    (0xE0100, 0xE01EF),  # Variation selectors supplement
)


class _Classes:
    """Code points by role, from one pass over the Unicode database (~0.4 s, once)."""

    def __init__(self) -> None:
        self.punct: list[int] = []  # P* and S*
        self.digits: list[int] = []  # Nd
        self.space: list[int] = []  # str.isspace (what str.split() splits on)
        self.invisible: list[int] = []  # Cf: zero-width space/joiners, BOM, soft hyphen ...
        self.marks: list[int] = []  # Mn/Me inside _STRIPPED_MARK_BLOCKS
        category = unicodedata.category
        for cp in range(0x110000):
            ch = chr(cp)
            cat = category(ch)
            first = cat[0]
            if first in "PS":
                self.punct.append(cp)
            elif cat == "Nd":
                self.digits.append(cp)
            elif cat == "Cf":
                self.invisible.append(cp)
            if ch.isspace():
                self.space.append(cp)
        for lo, hi in _STRIPPED_MARK_BLOCKS:
            for cp in range(lo, hi + 1):
                if category(chr(cp)) in ("Mn", "Me"):
                    self.marks.append(cp)


@functools.cache
def _classes() -> _Classes:
    return _Classes()


# ----------------------------------------------------------------------------------------------
# Translation tables: str.translate for short or ASCII strings, a NumPy lookup for long ones
# ----------------------------------------------------------------------------------------------

#: Strings at least this long (and not ASCII) are translated through NumPy instead of
#: ``str.translate``, whose non-ASCII path does a dict lookup per character (~18 MB/s).
_NUMPY_MIN_CHARS = 4096
_DELETE = np.uint32(0xFFFFFFFF)


class _Table:
    """A one-to-one (or delete) character mapping that is applied fast to any string."""

    def __init__(self, mapping: dict[int, str | None]) -> None:
        for value in mapping.values():
            if value is not None and len(value) != 1:
                raise ValueError("a _Table maps one character to one character or deletes it")
        self.mapping = mapping
        self.touches_ascii = any(cp < 128 for cp in mapping)
        self._lut: np.ndarray | None = None
        self._deletes = any(value is None for value in mapping.values())

    def __bool__(self) -> bool:
        return bool(self.mapping)

    def lut(self) -> np.ndarray:
        if self._lut is None:
            lut = np.arange(0x110000, dtype=np.uint32)
            for cp, value in self.mapping.items():
                lut[cp] = _DELETE if value is None else ord(value)
            self._lut = lut
        return self._lut

    def __call__(self, text: str) -> str:
        if not self.mapping:
            return text
        if text.isascii():
            return text.translate(self.mapping) if self.touches_ascii else text
        if len(text) < _NUMPY_MIN_CHARS:
            return text.translate(self.mapping)
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        out = self.lut()[codes]
        if self._deletes:
            out = out[out != _DELETE]
        return out.astype("<u4", copy=False).tobytes().decode("utf-32-le", "surrogatepass")


@functools.cache
def _invisible_table() -> _Table:
    return _Table(dict.fromkeys(_classes().invisible))


@functools.cache
def _marks_table() -> _Table:
    return _Table(dict.fromkeys(_classes().marks))


@functools.cache
def _punct_map() -> dict[int, str | None]:
    return dict.fromkeys(_classes().punct, " ")


@functools.cache
def _digit_map() -> dict[int, str | None]:
    return dict.fromkeys(_classes().digits, "0")


@functools.cache
def _space_map() -> dict[int, str | None]:
    return dict.fromkeys(_classes().space, " ")


@functools.cache
def _ascii_lower_map() -> dict[int, str | None]:
    return {cp: chr(cp + 32) for cp in range(ord("A"), ord("Z") + 1)}


@functools.cache
def _table(*parts: str) -> _Table:
    """A _Table merging named character maps (the maps never share a key)."""
    sources: dict[str, Callable[[], dict[int, str | None]]] = {
        "punct": _punct_map,
        "digits": _digit_map,
        "space": _space_map,
        "lower": _ascii_lower_map,
        "punct_nonascii": lambda: {
            k: _JOINER_VARIANTS.get(chr(k), v) for k, v in _punct_map().items() if k >= 128
        },
        "confusables_fold": lambda: dict(_confusable_map(True)),
        "confusables_keep": lambda: dict(_confusable_map(False)),
    }
    merged: dict[int, str | None] = {}
    for part in parts:
        merged.update(sources[part]())
    return _Table(merged)


# ----------------------------------------------------------------------------------------------
# Confusables
# ----------------------------------------------------------------------------------------------

#: Scripts whose characters are never folded: Latin is the target; Common/Inherited hold
#: symbols and marks (punctuation/strip_accents handle those), e.g. "|" and "×".
_UNFOLDED_SCRIPTS = frozenset({"LATIN", "COMMON", "INHERITED", "Unknown"})


@functools.cache
def _confusable_map(fold_case: bool) -> dict[int, str]:
    """Single non-Latin letters/digits -> the ASCII letter/digit they are confusable with.

    Source: Unicode's confusables data as shipped by ``confusable_homoglyphs``. Rules:

    * only a single code point of a non-Latin, non-Common script, mapping to exactly one
      ASCII letter (for a letter) or ASCII digit (for a digit), case-insensitively; sequences,
      multi-character prototypes and ambiguous entries are skipped;
    * letter -> digit entries (Cyrillic "З" ~ "3", "б" ~ "6") are skipped: those are ordinary
      letters of their language, and turning them into digits would then fold them to "0";
    * ASCII is never folded to ASCII ("l"/"1"/"I", "O"/"0", "rn"/"m"): such folds would merge
      different real words and numbers; one OCR slip costs only a few shingles, which the fuzzy
      match tolerates;
    * ``fold_case`` (casefold is on): targets are casefolded, and the lowercase of an uppercase
      look-alike maps where the uppercase does (Cyrillic "Т" ~ "T", so "т" -> "t"), unless
      the lowercase letter has a look-alike of its own; that makes "NАТО" spelled with Cyrillic
      А/Т match "NATO" after casefolding. Without ``fold_case`` the target takes the key's case.
    """
    from confusable_homoglyphs import categories, confusables

    out: dict[int, str] = {}
    uppercase: list[tuple[str, str]] = []
    data: dict[str, list[dict[str, str]]] = confusables.confusables_data
    for key, entries in data.items():
        if len(key) != 1 or key.isascii() or categories.alias(key) in _UNFOLDED_SCRIPTS:
            continue
        cat = unicodedata.category(key)
        targets = {e["c"] for e in entries if len(e["c"]) == 1 and e["c"].isascii()}
        if cat[0] == "L":
            targets = {t.casefold() for t in targets if t.isalpha()}
        elif cat == "Nd":
            targets = {t for t in targets if t.isdigit()}
        else:
            continue
        if len(targets) != 1:
            continue
        target = targets.pop()
        if fold_case and key.isupper():
            uppercase.append((key, target))
        if not fold_case and key.isupper():
            target = "I" if target == "l" else target.upper()  # Unicode's prototype of I is l
        out[ord(key)] = target
    if fold_case:
        for key, target in uppercase:
            lower = key.casefold()
            if len(lower) == 1 and not lower.isascii() and ord(lower) not in out:
                out[ord(lower)] = target
    return out


# ----------------------------------------------------------------------------------------------
# Tabular lines
# ----------------------------------------------------------------------------------------------

#: Separators inside one number ("10:32", "1,234.5", "2024-03-05", "2019–2024", "1/3"), and
#: the non-ASCII variants, which the pipeline folds to their ASCII form before it decides.
_JOINERS = ".,:/'-"
_JOINER_VARIANTS = {
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-", "\ufe58": "-", "\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'",
    "\u00b4": "'", "\u2044": "/", "\u2215": "/", "\u2236": ":", "\u066b": ".", "\u066c": ",",
}
_JOIN = "[" + re.escape(_JOINERS + "".join(_JOINER_VARIANTS)) + "]"
_NUMBER = rf"(?<!\d)(?<!\d{_JOIN})\d+(?:{_JOIN}\d+)*(?!{_JOIN}?\d)"
#: Two numbers on one line with no letter between them: a run of figures.
_GAP = rf"[^\w{re.escape(_LINE_BREAKS)}]+"
_FIGURES = rf"{_NUMBER}{_GAP}\d"
_FIGURES_RE = re.compile(_FIGURES)
_LB = re.escape(_LINE_BREAKS)
_TABULAR_LINE_RE = re.compile(rf"(?:\A|(?<=[{_LB}]))[^{_LB}]*?{_FIGURES}[^{_LB}]*")
_LINE_SPLIT_RE = re.compile(rf"([{_LB}])")


def is_tabular(text: str) -> bool:
    """A line that looks like a table row / list of figures, whose digits must be kept.

    True when two numbers follow each other with nothing but spaces, punctuation or symbols
    between them ("| 2019 | 1,234 | 5.6 |", "83.2  357,022", "+1 555 123 4567", "9, 2018").
    A single number among words ("Updated 10:32", "Page 2 of 5", "3 comments") is not: its
    digits are the varying counter or timestamp that boilerplate detection must ignore.

    Deliberately permissive: wrongly keeping digits only misses a fold, while wrongly folding
    them makes distinct table rows identical and drops real data. The test is local (two
    adjacent numbers), so it gives the same answer on the normalized text, where punctuation is
    gone and lines are joined: that is what keeps normalization idempotent.
    """
    return _FIGURES_RE.search(text) is not None


# ----------------------------------------------------------------------------------------------
# The steps as plain functions (the reference semantics; the pipeline fuses them)
# ----------------------------------------------------------------------------------------------

_HYPHENS = "-\u00ad\u2010\u2011"
_DEHYPHEN_RE = re.compile(rf"(?<=[^\W\d_])[{_HYPHENS}][ \t]*\r?\n[ \t]*(?=[^\W\d_])")


def step_nfkc(text: str) -> str:
    """Fold compatibility characters (ligatures, full-width forms, superscripts)."""
    return unicodedata.normalize("NFKC", text)


def step_casefold(text: str) -> str:
    """Case-insensitive matching (full case folding: "ß" -> "ss")."""
    return text.casefold()


def step_strip_accents(text: str) -> str:
    """Drop optional diacritics: decompose, delete the marks of _STRIPPED_MARK_BLOCKS, recompose."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", _marks_table()(unicodedata.normalize("NFD", text)))


def step_confusables(text: str, fold_case: bool = True) -> str:
    """Fold look-alike letters of other scripts to Latin ("Nоrth" with Cyrillic о -> "North")."""
    return text.translate(_confusable_map(fold_case))


def step_punctuation(text: str) -> str:
    """Every punctuation/symbol character becomes a space: quote, dash, bullet variants vanish."""
    return _table("punct")(text)


def step_dehyphenate(text: str) -> str:
    """Join words hyphenated at a line end ("gov-\\nernment" -> "government")."""
    return _DEHYPHEN_RE.sub("", text) if "\n" in text else text


def step_digits(text: str) -> str:
    """Every digit -> "0", except on tabular lines (decided line by line, see is_tabular)."""
    fold = _table("digits")
    parts = _LINE_SPLIT_RE.split(text)
    return "".join(part if is_tabular(part) else fold(part) for part in parts)


def step_whitespace(text: str) -> str:
    """Delete invisible format characters; runs of white space -> one space; trim."""
    return " ".join(_invisible_table()(text).split())


#: Name -> step function, in reporting order (``NORMALIZE_STEPS``).
STEP_FUNCTIONS: dict[str, Callable[[str], str]] = {
    "nfkc": step_nfkc,
    "casefold": step_casefold,
    "strip_accents": step_strip_accents,
    "confusables": step_confusables,
    "punctuation": step_punctuation,
    "dehyphenate": step_dehyphenate,
    "digits": step_digits,
    "whitespace": step_whitespace,
}
assert tuple(STEP_FUNCTIONS) == NORMALIZE_STEPS


# ----------------------------------------------------------------------------------------------
# The fused pipeline
# ----------------------------------------------------------------------------------------------

#: A run of non-ASCII characters with the character before it (a combining mark composes with
#: it). ASCII characters never compose with what precedes them, so Unicode normalization of a
#: text equals normalization of these pieces alone, the ASCII between them left as is.
_PIECE_RE = re.compile(r"[\x01-\x7f]?[^\x00-\x7f]+")

#: Texts whose non-ASCII bytes are below this share are normalized piece by piece.
_SPARSE_SHARE = 0.15
_SHORT_CHARS = 64

#: normalize_many joins texts into strings of about this many characters.
_BATCH_CHARS = 1 << 20


class _Pipeline:
    """The match-key function for one set of steps; called per text or per batch."""

    def __init__(self, steps: tuple[str, ...]) -> None:
        on = set(steps)
        self.steps = steps
        self.dehyphenate = "dehyphenate" in on
        self.invisible = "whitespace" in on
        self.nfkc = "nfkc" in on
        self.casefold = "casefold" in on
        self.strip_accents = "strip_accents" in on
        self.whitespace = "whitespace" in on
        # Character maps applied to non-ASCII text only, right after the Unicode steps:
        # confusables, and non-ASCII punctuation (early, so mostly-ASCII text becomes ASCII).
        early: list[str] = []
        if "confusables" in on:
            early.append("confusables_fold" if self.casefold else "confusables_keep")
        if "punctuation" in on:
            early.append("punct_nonascii")
        self.early = _table(*early)
        self.unicode_work = (
            self.invisible or self.nfkc or self.casefold or self.strip_accents or bool(self.early)
        )
        # Character maps applied to the whole text last: ASCII case (deferred from casefold),
        # punctuation, white space -> " " (collapsed afterwards), and digits.
        late: list[str] = []
        if self.casefold:
            late.append("lower")
        if "punctuation" in on:
            late.append("punct")
        if self.whitespace:
            late.append("space")
        self.keep_digits = _table(*late)
        self.digits = "digits" in on
        self.fold_digits = _table(*late, "digits") if self.digits else self.keep_digits

    # -- the Unicode steps, on a whole string ------------------------------------------------
    def _unicode(self, text: str) -> str:
        if self.invisible:
            text = _invisible_table()(text)
        if self.nfkc:
            text = unicodedata.normalize("NFKC", text)
        if self.casefold:
            text = text.casefold()
        if self.strip_accents:
            text = step_strip_accents(text)
        return self.early(text)

    def _unicode_piece(self, match: re.Match[str]) -> str:
        return self._unicode(match.group())

    def _unicode_sparse_aware(self, text: str) -> str:
        if len(text) >= _SHORT_CHARS:
            extra = len(text.encode("utf-8", "surrogatepass")) - len(text)
            if extra < _SPARSE_SHARE * len(text):
                return _PIECE_RE.sub(self._unicode_piece, text)
        return self._unicode(text)

    # -- digits, punctuation, white space ------------------------------------------------------
    def _late(self, text: str) -> str:
        if not self.digits:
            return self.keep_digits(text)
        fold, keep = self.fold_digits, self.keep_digits
        out: list[str] = []
        pos = 0
        for match in _TABULAR_LINE_RE.finditer(text):
            start, end = match.span()
            if start > pos:
                out.append(fold(text[pos:start]))
            out.append(keep(match.group()))
            pos = end
        if not out:
            return fold(text)
        if pos < len(text):
            out.append(fold(text[pos:]))
        return "".join(out)

    def run(self, text: str, batch: bool = False) -> str:
        if self.dehyphenate and "\n" in text:
            text = _DEHYPHEN_RE.sub("", text)
        if self.unicode_work and not text.isascii():
            text = self._unicode_sparse_aware(text)
        text = self._late(text)
        if self.whitespace:
            while "  " in text:
                text = text.replace("  ", " ")
            text = text.strip(" ")
            if batch:
                text = text.replace(" " + _SEP, _SEP).replace(_SEP + " ", _SEP)
        return text

    def __call__(self, text: str) -> str:
        return self.run(text)

    def many(self, texts: Sequence[str]) -> list[str]:
        out: list[str] = []
        chunk: list[str] = []
        size = 0
        for text in texts:
            chunk.append(text)
            size += len(text) + 1
            if size >= _BATCH_CHARS:
                out.extend(self._batch(chunk))
                chunk, size = [], 0
        if chunk:
            out.extend(self._batch(chunk))
        return out

    def _batch(self, texts: list[str]) -> list[str]:
        if len(texts) == 1:
            return [self.run(texts[0])]
        joined = _SEP.join(texts)
        if joined.count(_SEP) == len(texts) - 1:
            keys = self.run(joined, batch=True).split(_SEP)
            if len(keys) == len(texts):
                return keys
        # A text contains the separator itself: no safe join, do them one by one.
        return [self.run(text) for text in texts]


def _canonical(steps: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [s for s in steps if s not in NORMALIZE_STEPS]
    if unknown:
        raise ValueError(
            f"unknown normalize step(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(NORMALIZE_STEPS)}"
        )
    return tuple(s for s in NORMALIZE_STEPS if s in steps)


@functools.cache
def _pipeline(steps: tuple[str, ...]) -> _Pipeline:
    return _Pipeline(steps)


def normalizer(steps: tuple[str, ...]) -> Callable[[str], str]:
    """Build (once, cached) the function that maps a unit's text to its match key for these steps.

    Steps may be given in any order; they always run in the canonical order (see the module
    docstring). An unknown step name raises ValueError.
    """
    return _pipeline(_canonical(tuple(steps)))


def normalize(text: str, steps: tuple[str, ...] = NORMALIZE_STEPS) -> str:
    """The match key of one text (for many texts, normalize_many is faster)."""
    return _pipeline(_canonical(tuple(steps))).run(text)


def normalize_many(texts: Sequence[str], steps: tuple[str, ...] = NORMALIZE_STEPS) -> list[str]:
    """The match keys of many texts, equal to ``[normalize(t, steps) for t in texts]``.

    Faster for short units: texts are joined with NUL, which no step creates, removes or lets
    a rule see across (it counts as a line end), normalized as one string, and split again. A
    batch in which some text itself contains NUL is normalized text by text.
    """
    return _pipeline(_canonical(tuple(steps))).many(texts)
