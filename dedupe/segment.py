"""Documents into units (the thing a scraper repeats) and back into text.

A unit is a line, or with ``unit="paragraph"`` a run of non-blank lines. Blank and
whitespace-only lines are layout, not units. A unit is kept as a span of line indices so that
rendering removes exactly its lines and nothing else.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

Span = tuple[int, int]  # first and last line index of a unit, inclusive


def split_lines(text: str) -> list[str]:
    """Lines of repaired text. ftfy already turned every line-break variant into '\\n'."""
    return text.split("\n")


def unit_spans(lines: Sequence[str], unit: str = "line") -> list[Span]:
    """The units of a document, as line spans, in order."""
    spans: list[Span] = []
    if unit == "line":
        return [(i, i) for i, line in enumerate(lines) if line.strip()]
    start = -1
    for i, line in enumerate(lines):
        if line.strip():
            if start < 0:
                start = i
        elif start >= 0:
            spans.append((start, i - 1))
            start = -1
    if start >= 0:
        spans.append((start, len(lines) - 1))
    return spans


def unit_text(lines: Sequence[str], span: Span) -> str:
    return "\n".join(lines[span[0] : span[1] + 1])


def render(lines: Sequence[str], spans: Sequence[Span], removed: Collection[int]) -> str:
    """The document without the removed units: runs of blank lines collapsed to one, no blank
    lines at the start or end. Kept lines come out exactly as they went in."""
    if not removed and lines and (len(spans) == len(lines) or list(spans) == [(0, len(lines) - 1)]):
        return "\n".join(lines)  # every line is in a unit, so none is blank: nothing to do
    drop: set[int] = set()
    for index in removed:
        first, last = spans[index]
        drop.update(range(first, last + 1))
    out: list[str] = []
    for i, line in enumerate(lines):
        if i in drop:
            continue
        if not line.strip():
            if out and out[-1] != "":
                out.append("")
            continue
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out)
