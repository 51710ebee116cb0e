"""Text repair with ftfy: the same output as ``ftfy.fix_text``, plus ftfy's own explanation.

Why this module exists instead of a bare ``ftfy.fix_text`` call:

* ``fix_text`` gives no explanation, and ``fix_and_explain`` treats its whole input as *one*
  segment (no line splitting, no ``max_decode_length`` bound, and one ``<`` anywhere turns off
  HTML unescaping for the whole document). We split exactly as ``fix_text`` does and call
  ``fix_and_explain`` per segment, so the text matches ``fix_text`` and the steps are kept.
* ftfy is not always idempotent, so we repeat until the text is stable (bounded).
* Almost all scraped text needs no repair, yet ftfy costs ~2-3 MB/s. ``_may_change`` decides
  with whole-string C-level checks (``str.isascii``, ``bytes.translate``, compiled regexes,
  ``unicodedata.is_normalized``) whether any enabled ftfy step could change the text. Every
  check is derived from what the step itself looks for, and is conservative: it may send clean
  text to ftfy, never skip text ftfy would change.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from itertools import pairwise
from typing import Any

import ftfy
from ftfy import chardata, fixes
from ftfy.badness import BADNESS_RE, is_bad

Fix = tuple[str, str]  # ftfy ExplanationStep (action, parameter), as a plain tuple

#: Upper bound on ftfy passes per text. One pass nearly always suffices; a second catches the
#: rare non-idempotent fix; the bound stops a (theoretical) oscillation from looping forever.
MAX_PASSES = 4


def ftfy_config(uncurl_quotes: bool) -> ftfy.TextFixerConfig:
    """ftfy's default fixes (mojibake, HTML entities, terminal escapes, control chars, line breaks,
    latin ligatures, character width, surrogates, NFC) except uncurl_quotes, which is off by
    default (authors' curly quotes are kept)."""
    return _CONFIGS[bool(uncurl_quotes)]


# The fast-path checks below are derived for exactly these settings (ftfy's defaults).
_CONFIGS = {
    flag: ftfy.TextFixerConfig(uncurl_quotes=flag, explain=True) for flag in (False, True)
}


# --- fast-path checks, derived from ftfy's own tables -------------------------------------------


def _sre() -> tuple[Any, Any]:
    """The regex parser and its constants (private stdlib modules; renamed in Python 3.11)."""
    try:
        return importlib.import_module("re._parser"), importlib.import_module("re._constants")
    except ImportError:  # pragma: no cover - Python 3.10
        return importlib.import_module("sre_parse"), importlib.import_module("sre_constants")


def _items_charset(item: tuple[Any, Any], consts: Any) -> frozenset[int] | None:
    """Code points one regex item matches, if it is a plain single-character item, else None."""
    op, av = item
    if op is consts.LITERAL:
        return frozenset([av])
    if op is not consts.IN:
        return None
    out: set[int] = set()
    for sub_op, sub_av in av:
        if sub_op is consts.LITERAL:
            out.add(sub_av)
        elif sub_op is consts.RANGE:
            out.update(range(sub_av[0], sub_av[1] + 1))
        else:  # NEGATE, CATEGORY (\w, \s): not a plain set
            return None
    return frozenset(out)


def _regex_charset(pattern: re.Pattern[str]) -> frozenset[int]:
    """The code points a one-character-class ftfy regex (e.g. ``SINGLE_QUOTE_RE``) matches."""
    parser, consts = _sre()
    items = list(parser.parse(pattern.pattern, pattern.flags).data)
    charset = _items_charset(items[0], consts) if len(items) == 1 else None
    if charset is None:  # pragma: no cover - only if ftfy rewrites the regex
        raise RuntimeError(f"dedupe.repair: unexpected ftfy regex {pattern.pattern!r}")
    return charset


def _char_class(codepoints: Iterable[int]) -> str:
    """A regex character class for these code points, written as escaped ranges."""
    points = sorted(set(codepoints))
    if not points:
        return "(?!)"  # matches nothing
    parts: list[str] = []
    start = prev = points[0]
    for cp in [*points[1:], -2]:
        if cp == prev + 1:
            prev = cp
            continue
        parts.append(f"\\U{start:08x}" if start == prev else f"\\U{start:08x}-\\U{prev:08x}")
        start = prev = cp
    return "[" + "".join(parts) + "]"


def _trigger_points(uncurl_quotes: bool) -> set[int]:
    """Code points whose mere presence lets a non-encoding ftfy step change the text."""
    points: set[int] = set(chardata.CONTROL_CHARS)  # remove_control_chars (incl. \x1b escapes)
    points.update(_regex_charset(chardata.C1_CONTROL_RE))  # fix_c1_controls (incl. \x85)
    points.update(map(ord, "\r\u2028\u2029\x85"))  # fix_line_breaks
    points.add(0x1B)  # remove_terminal_escapes (ANSI_RE starts with \x1b)
    points.update(chardata.LIGATURES)  # fix_latin_ligatures
    points.update(chardata.WIDTH_MAP)  # fix_character_width
    points.update(_regex_charset(fixes.SURROGATE_RE))  # fix_surrogates
    if uncurl_quotes:
        points.update(_regex_charset(chardata.SINGLE_QUOTE_RE))
        points.update(_regex_charset(chardata.DOUBLE_QUOTE_RE))
    return points


_TRIGGERS = {flag: re.compile(_char_class(_trigger_points(flag))) for flag in (False, True)}

#: ASCII bytes no ftfy step looks at by itself ('&' is checked separately, with the entity regex).
_ASCII_QUIET = bytes(
    b for b in range(0x80) if b not in _trigger_points(uncurl_quotes=True)
)


def _hint_parts() -> tuple[set[int], dict[frozenset[int], set[int]]] | None:
    """Single characters and character pairs that every ftfy ``BADNESS_RE`` match contains.

    ``is_bad`` (BADNESS_RE, ~40 alternatives tried at every position) runs at ~5 MB/s and gates
    all of ftfy's encoding fixes. Each of its alternatives requires two adjacent plain
    characters, the first non-ASCII (e.g. ``[Ã][\\xa0¡]``, ``[ÃÂ][ ]``), or at least one
    non-ASCII character (C1 controls, ``[Œœ][^A-Za-z]``). Parsing the pattern, we keep one such
    pair (first set -> second set) or single set per alternative; a regex built from them (see
    ``_scanner``) matches wherever BADNESS_RE can, regardless of anchors or segmentation. None
    if some alternative cannot be covered this way (a future ftfy): callers then fall back to
    exact ``is_bad`` on every segment.
    """
    parser, consts = _sre()
    if BADNESS_RE.flags & re.IGNORECASE:
        return None
    data = list(parser.parse(BADNESS_RE.pattern, BADNESS_RE.flags).data)
    if len(data) == 1 and data[0][0] is consts.BRANCH:
        branches = [list(branch.data) for branch in data[0][1][1]]
    else:
        branches = [data]
    pairs: dict[frozenset[int], set[int]] = {}
    singles: set[int] = set()
    for branch in branches:
        # Only top-level plain items are mandatory and adjacent; anything else (\s?, groups,
        # anchors) just ends a run, which can only make us fall back to a single.
        sets = [_items_charset(item, consts) for item in branch]
        best: tuple[int, frozenset[int], frozenset[int]] | None = None
        for first, second in pairwise(sets):
            if first is None or second is None or min(first) < 0x80:
                continue
            if best is None or len(first) * len(second) < best[0]:
                best = (len(first) * len(second), first, second)
        if best is not None:
            pairs.setdefault(best[1], set()).update(best[2])
            continue
        non_ascii: list[frozenset[int]] = [s for s in sets if s is not None and min(s) >= 0x80]
        if not non_ascii:
            return None
        rarest = min(non_ascii, key=len)
        singles.update(rarest)
    return singles, pairs


_HINT_PARTS = _hint_parts()


def _scanner(extra: set[int]) -> re.Pattern[str]:
    """One-pass regex: any ``extra`` or single character, or any pair from ``_hint_parts``.

    Shape: ``[leads](?:(?<=[singles])|(?=[A])(?:(?<=[X])[Y]|...)|(?=[N])(?:...))``. Starting
    with a character class lets the regex engine skip to candidates at C speed; the lookaheads
    reject a candidate followed by an ordinary character (A: ASCII seconds, N: the others)
    before trying the ~30 pair alternatives.
    """
    if _HINT_PARTS is None:  # pragma: no cover - ftfy changed; everything goes to is_bad
        return re.compile("(?s).")
    singles, pairs = _HINT_PARTS
    options = [f"(?<={_char_class(singles | extra)})"] if singles | extra else []
    for ascii_second in (True, False):
        alternatives = []
        seconds_union: set[int] = set()
        for first, seconds in pairs.items():
            part = {c for c in seconds if (c < 0x80) == ascii_second}
            if part:
                alternatives.append(f"(?<={_char_class(first)}){_char_class(part)}")
                seconds_union |= part
        if alternatives:
            options.append(f"(?={_char_class(seconds_union)})(?:{'|'.join(alternatives)})")
    leads = singles | extra | {c for first in pairs for c in first}
    return re.compile(f"{_char_class(leads)}(?:{'|'.join(options)})")


_SCAN = {flag: _scanner(_trigger_points(flag)) for flag in (False, True)}


def _may_change(text: str, uncurl_quotes: bool, entities: bool, segment: bool) -> bool:
    """False only if no enabled ftfy step can change ``text`` (its first pass is a no-op).

    ``entities``: whether unescape_html is active for this text. ``segment``: ``text`` is one
    segment as ftfy sees it, so when only the mojibake hint fired, ftfy's exact ``is_bad``
    settles it; for a whole document the scan alone decides (``is_bad`` is slow, and anchored
    per segment), and the per-segment pass does the rest.
    """
    if text.isascii():
        # fix_encoding leaves ASCII alone and ASCII is always NFC: only control characters
        # (incl. \r and \x1b) and entities remain. bytes.translate runs at ~2 GB/s.
        if text.encode("ascii").translate(None, _ASCII_QUIET):
            return True
        return entities and "&" in text and chardata.HTML_ENTITY_RE.search(text) is not None
    hinted = _SCAN[uncurl_quotes].search(text) is not None  # a trigger or possible mojibake
    if hinted and (not segment or _TRIGGERS[uncurl_quotes].search(text) is not None):
        return True
    if entities and "&" in text and chardata.HTML_ENTITY_RE.search(text) is not None:
        return True
    if not unicodedata.is_normalized("NFC", text):
        return True
    return hinted and is_bad(text)  # segment only: ftfy's own mojibake test settles the hint


# --- repair -------------------------------------------------------------------------------------


def _segments(text: str, max_length: int) -> Iterator[str]:
    """The segments ``ftfy.fix_text`` fixes independently: lines (keeping their ``\\n``),
    cut every ``max_length`` characters when a line is longer."""
    lines = text.split("\n")
    last = lines.pop()
    for line in lines:
        yield from _cut(line + "\n", max_length)
    if last:
        yield from _cut(last, max_length)


def _cut(segment: str, max_length: int) -> Iterator[str]:
    if len(segment) <= max_length:
        yield segment
    else:
        for start in range(0, len(segment), max_length):
            yield segment[start : start + max_length]


def _fix_pass(text: str, config: ftfy.TextFixerConfig) -> tuple[str, list[Fix]]:
    """One ``ftfy.fix_text``-equivalent pass, keeping each changed segment's explanation."""
    uncurl = bool(config.uncurl_quotes)
    if not _may_change(text, uncurl, entities=True, segment=False):
        return text, []
    out: list[str] = []
    steps: list[Fix] = []
    entities = True
    for piece in _segments(text, config.max_decode_length):
        # fix_text: once a segment contains "<" the input looks like HTML, and entities are
        # left alone in that segment and every later one.
        if entities and "<" in piece:
            entities = False
            config = config._replace(unescape_html=False)
        if not _may_change(piece, uncurl, entities, segment=True):
            out.append(piece)
            continue
        fixed, explanation = ftfy.fix_and_explain(piece, config)
        if fixed != piece and explanation:
            steps.extend((step[0], step[1]) for step in explanation)
        out.append(fixed)
    return "".join(out), steps


def repair(text: str, uncurl_quotes: bool = False) -> tuple[str, tuple[Fix, ...]]:
    """Repaired text and ftfy's explanation of each change (empty tuple when nothing changed).

    The text equals ``ftfy.fix_text`` applied until stable (at most ``MAX_PASSES`` times), so
    ``repair(repair(x)[0])[0] == repair(x)[0]``. The explanation concatenates, in order, the
    ``fix_and_explain`` steps of every segment (line) that changed, over all passes; steps
    repeat when several lines needed the same fix.
    """
    config = _CONFIGS[bool(uncurl_quotes)]
    original = text
    steps: list[Fix] = []
    for _ in range(MAX_PASSES):
        fixed, pass_steps = _fix_pass(text, config)
        if fixed == text:
            break
        steps.extend(pass_steps)
        text = fixed
    if text == original:
        return original, ()
    return text, tuple(steps)


def repair_many(
    texts: Sequence[str], uncurl_quotes: bool = False
) -> list[tuple[str, tuple[Fix, ...]]]:
    """``repair`` over a batch (documents are independent: no state is carried between them)."""
    return [repair(text, uncurl_quotes) for text in texts]


__all__ = ["MAX_PASSES", "Fix", "ftfy_config", "repair", "repair_many"]
