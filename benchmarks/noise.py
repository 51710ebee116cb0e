"""Noise models for the accuracy benchmark: what scrapers, OCR and re-publishers do to a copy.

Every copy of a unit (the first one too: there is no clean original in a real scrape) goes
through ``corrupt(text, level, rng)``:

* **character edits**, a controlled number: ``rate`` edits per 100 characters (stochastic
  rounding, so short lines get an edit with the right probability). Each edit is one of
  keyboard typo (a neighbouring key), OCR confusion (rn/m, l/1/I, e/c, O/0, cl/d, vv/w, li/h),
  dropped letter, doubled letter, swapped letters, look-alike (a Cyrillic letter for a Latin
  one) and hyphenation (a soft hyphen, or the "gov- ernment" that un-wrapped OCR text leaves);
* **whole-copy transforms** with a probability that grows with the level: re-casing (UPPER,
  lower, Title), mojibake (UTF-8 read as Windows-1252, the "itâ€™s" of real scrapes), HTML
  entities, doubled spaces. These are variations the repair and normalization steps are meant
  to erase, so they are not counted as character edits.

Levels (``LEVELS``): none (exact copies), light (~1 edit per 100 characters), moderate (~3),
heavy (~10). All randomness comes from the ``random.Random`` passed in: same seed, same noise.
"""

from __future__ import annotations

import html
import random
from collections.abc import Callable
from dataclasses import dataclass

import ftfy.bad_codecs  # noqa: F401  (registers the sloppy-windows-1252 codec used for mojibake)


@dataclass(frozen=True)
class Level:
    """One noise level: character edits per 100 characters, whole-copy transform probability."""

    name: str
    rate: float  # character edits per 100 characters, on every copy
    transform_p: float  # probability of each whole-copy transform (case, mojibake, ...)


LEVELS: dict[str, Level] = {
    "none": Level("none", 0.0, 0.0),
    "light": Level("light", 1.0, 0.1),
    "moderate": Level("moderate", 3.0, 0.2),
    "heavy": Level("heavy", 10.0, 0.3),
}

_KEYBOARD_ROWS = ("1234567890-", "qwertyuiop[", "asdfghjkl;'", "zxcvbnm,./")


def _keyboard_neighbours() -> dict[str, str]:
    """Characters next to each key on a QWERTY keyboard (same row and the rows around it)."""
    where = {ch: (r, c) for r, row in enumerate(_KEYBOARD_ROWS) for c, ch in enumerate(row)}
    out: dict[str, str] = {}
    for ch, (r, c) in where.items():
        near = [
            other
            for other, (r2, c2) in where.items()
            if other != ch and abs(r2 - r) <= 1 and abs(c2 - c) <= 1 and other.isalnum()
        ]
        out[ch] = "".join(near)
    return out


KEYBOARD = _keyboard_neighbours()

#: OCR confusions, both directions: what an OCR engine reads for what was printed.
OCR_CONFUSIONS: tuple[tuple[str, str], ...] = (
    ("rn", "m"), ("m", "rn"), ("l", "1"), ("1", "l"), ("I", "l"), ("l", "I"), ("e", "c"),
    ("c", "e"), ("O", "0"), ("0", "O"), ("o", "0"), ("cl", "d"), ("d", "cl"), ("vv", "w"),
    ("w", "vv"), ("li", "h"), ("h", "li"), ("S", "5"), ("B", "8"), ("u", "ii"), ("n", "ri"),
)

#: Latin letters and a Cyrillic letter that looks the same.
LOOKALIKES: dict[str, str] = {
    "a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "i": "і", "j": "ј",
    "s": "ѕ", "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "K": "К", "M": "М", "O": "О",
    "P": "Р", "T": "Т", "X": "Х", "I": "І",
}

SOFT_HYPHEN = "\u00ad"


def _letters(text: str) -> list[int]:
    return [i for i, ch in enumerate(text) if ch.isalpha()]


def _pick(text: str, rng: random.Random) -> int | None:
    letters = _letters(text)
    return rng.choice(letters) if letters else None


def edit_keyboard(text: str, rng: random.Random) -> str:
    """A neighbouring key instead of the right one ("minister" -> "minisyer")."""
    i = _pick(text, rng)
    if i is None:
        return text
    near = KEYBOARD.get(text[i].lower(), "")
    if not near:
        return text
    new = rng.choice(near)
    return text[:i] + (new.upper() if text[i].isupper() else new) + text[i + 1 :]


def edit_ocr(text: str, rng: random.Random) -> str:
    """One OCR confusion at a random place where its source occurs ("modern" -> "modem")."""
    options = [(i, src, dst) for src, dst in OCR_CONFUSIONS
               for i in _find_all(text, src)]
    if not options:
        return edit_keyboard(text, rng)
    i, src, dst = rng.choice(options)
    return text[:i] + dst + text[i + len(src) :]


def _find_all(text: str, sub: str) -> list[int]:
    out: list[int] = []
    start = text.find(sub)
    while start >= 0:
        out.append(start)
        start = text.find(sub, start + 1)
    return out


def edit_drop(text: str, rng: random.Random) -> str:
    """A dropped letter ("government" -> "goverment"); never empties a line."""
    i = _pick(text, rng)
    if i is None or len(text) <= 2:
        return text
    return text[:i] + text[i + 1 :]


def edit_double(text: str, rng: random.Random) -> str:
    """A doubled letter ("founding" -> "foundding")."""
    i = _pick(text, rng)
    if i is None:
        return text
    return text[: i + 1] + text[i] + text[i + 1 :]


def edit_swap(text: str, rng: random.Random) -> str:
    """Two neighbouring letters swapped ("North" -> "Nroth")."""
    pairs = [i for i in range(len(text) - 1) if text[i].isalpha() and text[i + 1].isalpha()]
    if not pairs:
        return text
    i = rng.choice(pairs)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def edit_lookalike(text: str, rng: random.Random) -> str:
    """A Cyrillic look-alike for a Latin letter ("Nоrth" with Cyrillic о)."""
    options = [i for i, ch in enumerate(text) if ch in LOOKALIKES]
    if not options:
        return text
    i = rng.choice(options)
    return text[:i] + LOOKALIKES[text[i]] + text[i + 1 :]


def edit_hyphen(text: str, rng: random.Random) -> str:
    """Hyphenation left in a word: a soft hyphen, or "gov- ernment" from un-wrapped OCR."""
    inner = [i for i in range(1, len(text) - 1)
             if text[i - 1].isalpha() and text[i].isalpha() and text[i + 1].isalpha()]
    if not inner:
        return text
    i = rng.choice(inner)
    return text[:i] + (SOFT_HYPHEN if rng.random() < 0.5 else "- ") + text[i:]


#: The character edits and their weights.
EDITS: tuple[tuple[Callable[[str, random.Random], str], float], ...] = (
    (edit_keyboard, 0.22),
    (edit_ocr, 0.25),
    (edit_drop, 0.14),
    (edit_double, 0.12),
    (edit_swap, 0.07),
    (edit_lookalike, 0.12),
    (edit_hyphen, 0.08),
)


def mojibake(text: str) -> str:
    """UTF-8 bytes read as Windows-1252 ("it’s" -> "itâ€™s"), as ftfy meets it in scrapes.

    Text that is all ASCII gets curly apostrophes first (mojibake needs non-ASCII to show).
    """
    if text.isascii():
        text = text.replace("'", "\u2019")
    if text.isascii():
        return text
    bad = text.encode("utf-8").decode("sloppy-windows-1252")
    return text if len(bad.splitlines()) != 1 else bad


def entities(text: str) -> str:
    """HTML entities left in the text ("&amp;", "&#8217;")."""
    out = html.escape(text, quote=False)
    return out.replace("\u2019", "&#8217;").replace("\u00a0", "&nbsp;")


def recase(text: str, rng: random.Random) -> str:
    return rng.choice((str.upper, str.lower, str.title))(text)


def double_spaces(text: str, rng: random.Random) -> str:
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    if not spaces:
        return text
    for i in sorted(rng.sample(spaces, min(len(spaces), 3)), reverse=True):
        text = text[:i] + " " + text[i:]
    return text


def edit_count(length: int, rate: float, rng: random.Random) -> int:
    """``rate`` edits per 100 characters, rounded stochastically (expected value exact)."""
    expected = rate * length / 100.0
    whole = int(expected)
    return whole + (1 if rng.random() < expected - whole else 0)


def corrupt(text: str, level: Level, rng: random.Random, *, recasable: bool = True,
            edits: bool = True) -> str:
    """A noisy copy of ``text`` at ``level``. ``edits=False``: whole-copy transforms only.

    ``recasable=False`` leaves case alone (table rows, where case carries no meaning anyway).
    """
    if level.rate == 0 and level.transform_p == 0:
        return text
    if edits:
        funcs = [f for f, _ in EDITS]
        weights = [w for _, w in EDITS]
        for _ in range(edit_count(len(text), level.rate, rng)):
            text = rng.choices(funcs, weights)[0](text, rng)
    p = level.transform_p
    if recasable and rng.random() < p / 2:
        text = recase(text, rng)
    if rng.random() < p / 2:
        text = double_spaces(text, rng)
    roll = rng.random()
    if roll < p / 3:
        text = mojibake(text)
    elif roll < p / 3 + p / 6:
        text = entities(text)
    return text


__all__ = ["EDITS", "KEYBOARD", "LEVELS", "LOOKALIKES", "OCR_CONFUSIONS", "Level", "corrupt",
           "edit_count", "entities", "mojibake"]
