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

The ``step_*`` functions are the plain reference semantics, one step each; ``normalizer``
fuses them into one pipeline that gives the same keys (a property test checks it) much faster:
only whole-string C work (tables built once per process, ``bytes.translate``/``str.translate``,
``unicodedata.normalize``, compiled regexes, NumPy lookups for long non-ASCII strings), Unicode
normalization only around the non-ASCII characters of mostly-ASCII text, and
``normalize_many`` batching many short units into one string.
"""

from __future__ import annotations

import bisect
import functools
import itertools
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

# Speed knobs (module attributes so tests can force every code path).

#: Texts whose share of non-ASCII UTF-8 bytes is below this are "mostly ASCII" (English news
#: with curly quotes and the odd accent) and are processed run by run: the Unicode steps only
#: on the runs of non-ASCII characters, fast ASCII-only code everywhere else. ASCII characters
#: never compose with what precedes them, so a run normalized alone (with the character before
#: it when it starts with a combining mark) gives what it gives inside the whole text.
_SPARSE_SHARE = 0.15
#: Non-ASCII strings at least this long are scanned and translated with NumPy instead of the
#: regex engine / ``str.translate``, whose non-ASCII path does a dict lookup per character.
_NUMPY_MIN_CHARS = 4096
#: Shorter texts skip the run-by-run processing.
_SHORT_CHARS = 16
#: Pieces up to this length have their normalized form remembered ("’s", " “T" repeat
#: endlessly); the memo is emptied when it holds _MEMO_MAX of them.
_MEMO_PIECE_CHARS = 32
_MEMO_MAX = 1 << 16
#: normalize_many joins texts into strings of about this many characters.
_BATCH_CHARS = 1 << 20

_NON_ASCII_SPLIT_RE = re.compile(r"([^\x00-\x7f]+)")

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
        #: Characters that may attach to the character before them once normalized: combining
        #: marks, and invisible characters (removing one can bring a mark next to a letter).
        self.joining: set[str] = set()
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
            if cat in ("Mn", "Mc", "Me", "Cf") or unicodedata.combining(ch):
                self.joining.add(ch)
        for lo, hi in _STRIPPED_MARK_BLOCKS:
            for cp in range(lo, hi + 1):
                if category(chr(cp)) in ("Mn", "Me"):
                    self.marks.append(cp)


@functools.cache
def _classes() -> _Classes:
    return _Classes()


# ----------------------------------------------------------------------------------------------
# Character maps and deletions, applied fast to any string
# ----------------------------------------------------------------------------------------------


def _codes(text: str) -> np.ndarray:
    """The code points of a text as a NumPy array (lone surrogates included)."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _is_sparse(text: str) -> bool:
    """Mostly ASCII: few enough non-ASCII characters to handle them run by run."""
    return len(text.encode("utf-8", "surrogatepass")) - len(text) < _SPARSE_SHARE * len(text)


def _split_ascii(text: str) -> list[str]:
    """``_NON_ASCII_SPLIT_RE.split(text)``: ASCII, non-ASCII run, ASCII, ..., ASCII.

    Long texts are scanned with NumPy, several times faster than the regex engine.
    """
    if len(text) < _NUMPY_MIN_CHARS:
        return _NON_ASCII_SPLIT_RE.split(text)
    where = np.flatnonzero(_codes(text) >= 128)
    if not len(where):
        return [text]
    gaps = np.flatnonzero(np.diff(where) > 1)
    starts = [int(where[0]), *(where[gaps + 1]).tolist()]
    ends = [*(where[gaps] + 1).tolist(), int(where[-1]) + 1]
    parts: list[str] = []
    pos = 0
    for start, end in zip(starts, ends, strict=True):
        parts.append(text[pos:start])
        parts.append(text[start:end])
        pos = end
    parts.append(text[pos:])
    return parts


class _Table:
    """A one-to-one character mapping, applied fast to any string."""

    def __init__(self, mapping: dict[int, str]) -> None:
        if any(len(value) != 1 for value in mapping.values()):
            raise ValueError("a _Table maps one character to exactly one character")
        self.mapping = mapping
        self.touches_ascii = any(cp < 128 for cp in mapping)
        # ASCII text goes through bytes.translate, much faster than str.translate's ASCII path
        # (which looks every distinct character up in the dict on each call).
        ascii_map = [chr(cp) for cp in range(256)]
        for cp, value in mapping.items():
            if cp < 128:
                if not value.isascii():
                    raise ValueError("a _Table maps ASCII to ASCII")
                ascii_map[cp] = value
        self._ascii_bytes = "".join(ascii_map).encode("latin-1")
        self._lut: np.ndarray | None = None

    def __bool__(self) -> bool:
        return bool(self.mapping)

    def lut(self) -> np.ndarray:
        if self._lut is None:
            lut = np.arange(0x110000, dtype=np.uint32)
            for cp, value in self.mapping.items():
                lut[cp] = ord(value)
            self._lut = lut
        return self._lut

    def __call__(self, text: str) -> str:
        mapping = self.mapping
        if not mapping:
            return text
        if text.isascii():
            if not self.touches_ascii:
                return text
            return text.encode("ascii").translate(self._ascii_bytes).decode("ascii")
        if len(text) < _NUMPY_MIN_CHARS:
            return text.translate(mapping)
        if _is_sparse(text):
            # Mostly ASCII: bytes.translate on the ASCII stretches, a dict on the rest.
            parts = _split_ascii(text)
            table = self._ascii_bytes
            for i in range(0, len(parts), 2):
                parts[i] = parts[i].encode("ascii").translate(table).decode("ascii")
            for i in range(1, len(parts), 2):
                parts[i] = parts[i].translate(mapping)
            return "".join(parts)
        out = self.lut()[_codes(text)]
        return out.astype("<u4", copy=False).tobytes().decode("utf-32-le", "surrogatepass")


def _char_class(code_points: list[int]) -> str:
    """A regex character class for these code points, as ranges."""
    ranges: list[tuple[int, int]] = []
    for cp in sorted(code_points):
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    body = "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in ranges
    )
    return f"[{body}]"


_ASTRAL_RE = re.compile("[\U00010000-\U0010ffff]")


class _Deleter:
    """Deletes a set of (non-ASCII) characters with regular expressions.

    The BMP part is one class the regex engine tests with a bitmap (fast); code points above
    the BMP would turn the class into a slow list of ranges, so they get their own pass, run
    only on text that has such characters at all.
    """

    def __init__(self, code_points: list[int]) -> None:
        self.mapping: dict[int, None] = dict.fromkeys(code_points)
        bmp = [cp for cp in code_points if cp < 0x10000]
        astral = [cp for cp in code_points if cp >= 0x10000]
        self._bmp = re.compile(_char_class(bmp)) if bmp else None
        self._astral = re.compile(_char_class(astral)) if astral else None

    def __call__(self, text: str) -> str:
        if text.isascii():
            return text
        if self._bmp is not None:
            text = self._bmp.sub("", text)
        if self._astral is not None and _ASTRAL_RE.search(text):
            text = self._astral.sub("", text)
        return text


@functools.cache
def _invisible_table() -> _Deleter:
    assert all(cp >= 128 for cp in _classes().invisible)
    return _Deleter(_classes().invisible)


@functools.cache
def _marks_table() -> _Deleter:
    assert all(cp >= 128 for cp in _classes().marks)
    return _Deleter(_classes().marks)


@functools.cache
def _joining() -> frozenset[str]:
    return frozenset(_classes().joining)


@functools.cache
def _punct_map() -> dict[int, str]:
    return dict.fromkeys(_classes().punct, " ")


@functools.cache
def _digit_map() -> dict[int, str]:
    return dict.fromkeys(_classes().digits, "0")


@functools.cache
def _space_map() -> dict[int, str]:
    return dict.fromkeys(_classes().space, " ")


@functools.cache
def _ascii_lower_map() -> dict[int, str]:
    return {cp: chr(cp + 32) for cp in range(ord("A"), ord("Z") + 1)}


@functools.cache
def _table(*parts: str) -> _Table:
    """A _Table merging named character maps (the maps never share a key)."""
    sources: dict[str, Callable[[], dict[int, str]]] = {
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
    merged: dict[int, str] = {}
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
#: A whole number: its first digit follows neither a digit nor digit + joiner (written as
#: look-behinds after that digit, so the regex engine can scan for digits), and it does not
#: stop before a joiner + digit.
_NUMBER = rf"\d(?<!\d\d)(?<!\d{_JOIN}\d)\d*(?:{_JOIN}\d+)*(?!{_JOIN}?\d)"
_LB = re.escape(_LINE_BREAKS)
#: Two numbers on one line with no letter between them: a run of figures.
_FIGURES_RE = re.compile(rf"{_NUMBER}[^\w{_LB}]+\d")
#: The same for ASCII text, where it means the same and the regex engine scans faster.
_FIGURES_ASCII_RE = re.compile(_FIGURES_RE.pattern, re.ASCII)
_LINE_SPLIT_RE = re.compile(rf"([{_LB}])")


def is_tabular(text: str) -> bool:
    """A line that looks like a table row / list of figures, whose digits must be kept.

    (For a multi-line text: whether any of its lines is.)

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
# (The hyphen comes first so the regex engine can scan for it; the letter before it is a
# look-behind.)
_DEHYPHEN_RE = re.compile(
    rf"[{_HYPHENS}](?<=[^\W\d_][{_HYPHENS}])[ \t]*\r?\n[ \t]*(?=[^\W\d_])"
)


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


class _Pipeline:
    """The match-key function for one set of steps; called per text or per batch."""

    def __init__(self, steps: tuple[str, ...]) -> None:
        on = set(steps)
        self.steps = steps
        self._memo: dict[str, str] = {}
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

    def _unicode_sparse_aware(self, text: str) -> str:
        if len(text) < _SHORT_CHARS:
            return self._unicode(text)
        if not _is_sparse(text):
            return self._unicode(text)
        memo = self._memo
        if len(memo) > _MEMO_MAX:
            memo.clear()
        joining = _joining()
        parts = _split_ascii(text)  # ASCII, non-ASCII, ASCII, ..., ASCII
        for i in range(1, len(parts), 2):
            piece = parts[i]
            if piece[0] in joining and parts[i - 1]:
                # The run may attach to the ASCII character before it: take that along.
                piece = parts[i - 1][-1] + piece
                parts[i - 1] = parts[i - 1][:-1]
            if len(piece) > _MEMO_PIECE_CHARS:
                parts[i] = self._unicode(piece)
                continue
            key = memo.get(piece)
            if key is None:
                key = memo[piece] = self._unicode(piece)
            parts[i] = key
        return "".join(parts)

    # -- digits, punctuation, white space ------------------------------------------------------
    def _late(self, text: str) -> str:
        if not self.digits:
            return self.keep_digits(text)
        figures = _FIGURES_ASCII_RE if text.isascii() else _FIGURES_RE
        match = figures.search(text)
        folded = self.fold_digits(text)
        if match is None:
            return folded
        # Keep the digits of each line that holds a run of figures. The maps are one-to-one,
        # so the lines sit at the same offsets in the folded text: patch them in.
        keep = self.keep_digits
        breaks = [c for c in _LINE_BREAKS if c in text]
        out: list[str] = []
        pos = 0
        while match is not None:
            start, end = match.span()
            line_start = max([pos - 1, *(text.rfind(c, pos, start) for c in breaks)]) + 1
            ends = [i for i in (text.find(c, end) for c in breaks) if i >= 0]
            line_end = min(ends, default=len(text))
            out.append(folded[pos:line_start])
            out.append(keep(text[line_start:line_end]))
            pos = line_end
            match = figures.search(text, pos)
        out.append(folded[pos:])
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
            if not batch:  # (a batch strips each text after the split)
                text = text.strip(" ")
        return text

    def __call__(self, text: str) -> str:
        return self.run(text)

    def many(self, texts: Sequence[str]) -> list[str]:
        texts = list(texts)
        ends = list(itertools.accumulate(map(len, texts)))  # chunk by total length
        out: list[str] = []
        start = 0
        while start < len(texts):
            base = ends[start - 1] if start else 0
            stop = bisect.bisect_left(ends, base + _BATCH_CHARS, lo=start) + 1
            out.extend(self._batch(texts[start:stop]))
            start = stop
        return out

    def _batch(self, texts: list[str]) -> list[str]:
        if len(texts) == 1:
            return [self.run(texts[0])]
        joined = _SEP.join(texts)
        if joined.count(_SEP) == len(texts) - 1:
            keys = self.run(joined, batch=True).split(_SEP)
            if len(keys) == len(texts):
                return list(map(str.strip, keys)) if self.whitespace else keys
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
    return _pipeline_for(tuple(steps))


@functools.cache
def _pipeline_for(steps: tuple[str, ...]) -> _Pipeline:
    return _pipeline(_canonical(steps))


def normalize(text: str, steps: tuple[str, ...] = NORMALIZE_STEPS) -> str:
    """The match key of one text (for many texts, normalize_many is faster)."""
    return _pipeline_for(tuple(steps)).run(text)


def normalize_many(texts: Sequence[str], steps: tuple[str, ...] = NORMALIZE_STEPS) -> list[str]:
    """The match keys of many texts, equal to ``[normalize(t, steps) for t in texts]``.

    Faster for short units: texts are joined with NUL, which no step creates, removes or lets
    a rule see across (it counts as a line end), normalized as one string, and split again. A
    batch in which some text itself contains NUL is normalized text by text.
    """
    return _pipeline_for(tuple(steps)).many(texts)
