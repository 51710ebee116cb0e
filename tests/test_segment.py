from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dedupe.segment import render, split_lines, unit_spans, unit_text


def test_line_units_skip_blank_and_whitespace_lines() -> None:
    lines = split_lines("Head\n\n  \nBody one\n\tBody two\n")
    assert unit_spans(lines) == [(0, 0), (3, 3), (4, 4)]


def test_paragraph_units_join_runs_of_lines() -> None:
    lines = split_lines("a1\na2\n\nb1\n \nc1\nc2\nc3")
    spans = unit_spans(lines, "paragraph")
    assert spans == [(0, 1), (3, 3), (5, 7)]
    assert unit_text(lines, spans[2]) == "c1\nc2\nc3"


def test_render_collapses_blank_runs_and_trims() -> None:
    lines = split_lines("\nHead\n\nCap\nCap\nTT\n\nHead\n\nBody  \n\n")
    spans = unit_spans(lines)
    # remove the second caption, TT and the repeated headline
    out = render(lines, spans, [2, 3, 4])
    assert out == "Head\n\nCap\n\nBody  "


def test_render_nothing_removed_keeps_lines_exactly() -> None:
    lines = split_lines("A  \n\n\n\nB\t")
    assert render(lines, unit_spans(lines), []) == "A  \n\nB\t"


@given(st.lists(st.sampled_from(["x", "y z", "", " ", "\t"]), max_size=30))
def test_render_is_stable(parts: list[str]) -> None:
    text = "\n".join(parts)
    lines = split_lines(text)
    once = render(lines, unit_spans(lines), [])
    lines2 = split_lines(once)
    assert render(lines2, unit_spans(lines2), []) == once
    assert not once.startswith("\n") and not once.endswith("\n")
    assert "\n\n\n" not in once
