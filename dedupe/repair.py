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
from typing import Any

import ftfy
from ftfy import chardata
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


_CONFIGS = {
    flag: ftfy.TextFixerConfig(uncurl_quotes=flag, explain=True) for flag in (False, True)
}
# The fast-path checks below are derived for exactly these settings; fail loudly if a future
# edit changes them without revisiting the checks.
assert all(
    c._replace(uncurl_quotes=True) == ftfy.TextFixerConfig(explain=True) for c in _CONFIGS.values()
)


# --- fast-path checks, derived from ftfy's own tables -------------------------------------------


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
    points.update(range(0x80, 0xA0))  # fix_c1_controls (C1_CONTROL_RE); includes \x85
    points.update(map(ord, "\r\u2028\u2029\x85"))  # fix_line_breaks
    points.add(0x1B)  # remove_terminal_escapes (ANSI_RE starts with \x1b)
    points.update(chardata.LIGATURES)  # fix_latin_ligatures
    points.update(chardata.WIDTH_MAP)  # fix_character_width
    points.update(range(0xD800, 0xE000))  # fix_surrogates (SURROGATE_RE)
    if uncurl_quotes:  # uncurl_quotes: SINGLE_QUOTE_RE / DOUBLE_QUOTE_RE
        points.update(0x02BC, *range(0x2018, 0x2020))
        assert chardata.SINGLE_QUOTE_RE.pattern == "[\u02bc\u2018-\u201b]"
        assert chardata.DOUBLE_QUOTE_RE.pattern == "[\u201c-\u201f]"
    return points


_TRIGGERS = {flag: re.compile(_char_class(_trigger_points(flag))) for flag in (False, True)}

#: ASCII bytes no ftfy step looks at by itself ('&' is checked separately, with the entity regex).
_ASCII_QUIET = bytes(
    b for b in range(0x80) if b not in _trigger_points(uncurl_quotes=True)
)


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


def _mojibake_hint() -> tuple[re.Pattern[str], bool]:
    """A fast regex matching (at least) wherever ftfy's ``BADNESS_RE`` could match.

    ``is_bad`` (BADNESS_RE, ~40 alternatives tried at every position) runs at ~5 MB/s; it gates
    all of ftfy's encoding fixes. Each alternative requires two adjacent plain characters, the
    first non-ASCII (e.g. ``[Ã][\\xa0¡]``), or at least one non-ASCII character (e.g. C1
    controls). Parsing the pattern, we keep one such pair (or single) per alternative and build
    ``[leads](?:(?<=[X])[Y]|...)``, which the regex engine scans at C speed because it starts
    with a character class. The result is a superset of BADNESS_RE regardless of anchors or
    segmentation. If the pattern ever has an alternative we cannot cover, fall back to
    BADNESS_RE itself (exact, just slow). Returns (pattern, derived_ok).
    """
    try:
        parser: Any = importlib.import_module("re._parser")  # Python 3.11+
        consts: Any = importlib.import_module("re._constants")
    except ImportError:  # pragma: no cover - Python 3.10
        parser = importlib.import_module("sre_parse")
        consts = importlib.import_module("sre_constants")
    fallback = (re.compile(BADNESS_RE.pattern, BADNESS_RE.flags), False)
    if BADNESS_RE.flags & re.IGNORECASE:
        return fallback
    tree = parser.parse(BADNESS_RE.pattern, BADNESS_RE.flags)
    data = list(tree.data)
    if len(data) == 1 and data[0][0] is consts.BRANCH:
        branches = [list(b.data) for b in data[0][1][1]]
    else:
        branches = [data]
    pairs: dict[frozenset[int], set[int]] = {}
    singles: set[int] = set()
    for branch in branches:
        sets = [_items_charset(item, consts) for item in branch]
        best: tuple[int, frozenset[int], frozenset[int]] | None = None
        for first, second in zip(sets, sets[1:]):
            if first is None or second is None or min(first) < 0x80:
                continue
            cost = len(first) * len(second)
            if best is None or cost < best[0]:
                best = (cost, first, second)
        if best is not None:
            pairs.setdefault(best[1], set()).update(best[2])
            continue
        single = [s for s in sets if s is not None and min(s) >= 0x80]
        if not single:
            return fallback
        singles.update(min(single, key=len))
    leads: set[int] = set(singles)
    alternatives = []
    for first, seconds in pairs.items():
        leads.update(first)
        alternatives.append(f"(?<={_char_class(first)}){_char_class(seconds)}")
    if singles:
        alternatives.append(f"(?<={_char_class(singles)})")
    return re.compile(f"{_char_class(leads)}(?:{'|'.join(alternatives)})"), True


_HINT, HINT_IS_DERIVED = _mojibake_hint()


def _may_change(text: str, uncurl_quotes: bool, entities: bool, confirm_bad: bool) -> bool:
    """False only if no enabled ftfy step can change ``text`` (its first pass is a no-op).

    ``entities``: whether unescape_html is active for this text. ``confirm_bad``: run ftfy's
    exact ``is_bad`` where the fast hint fires (right for one segment; for a whole document the
    hint alone decides, because ``is_bad`` is slow and anchored per segment).
    """
    if text.isascii():
        # fix_encoding leaves ASCII alone and ASCII is always NFC: only control characters
        # (incl. \r and \x1b) and entities remain. bytes.translate runs at ~2 GB/s.
        if text.encode("ascii").translate(None, _ASCII_QUIET):
            return True
        return entities and "&" in text and chardata.HTML_ENTITY_RE.search(text) is not None
    if _TRIGGERS[uncurl_quotes].search(text) is not None:
        return True
    if entities and "&" in text and chardata.HTML_ENTITY_RE.search(text) is not None:
        return True
    if not unicodedata.is_normalized("NFC", text):
        return True
    if _HINT.search(text) is None:
        return False
    return is_bad(text) if confirm_bad else True


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
    if not _may_change(text, uncurl, entities=True, confirm_bad=False):
        return text, []
    out: list[str] = []
    steps: list[Fix] = []
    entities = True
    for segment in _segments(text, config.max_decode_length):
        # fix_text: once a segment contains "<" the input looks like HTML, and entities are
        # left alone in that segment and every later one.
        if entities and "<" in segment:
            entities = False
            config = config._replace(unescape_html=False)
        if not _may_change(segment, uncurl, entities, confirm_bad=True):
            out.append(segment)
            continue
        fixed, explanation = ftfy.fix_and_explain(segment, config)
        if fixed != segment and explanation:
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
