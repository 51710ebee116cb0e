"""Properties of clean() over generated corpora (hypothesis): the guarantees users rely on."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dedupe import Config, clean
from dedupe.repair import repair

LINES = [
    "Breaking: storm hits the coast",
    "BREAKING: Storm hits the coast",
    "Follow us on Twitter",
    "TT",
    "Advertisement",
    "The mayor said the bridge would reopen next week after repairs to the main cables.",
    "The mayor said the bridge would re-open next week after repairs to the main cables!",
    "Officials counted 1,204 votes in the first district and 987 in the second district.",
    "Officials counted 2,311 votes in the first district and 1,005 in the second district.",
    "Photo of the harbour at dawn, with fishing boats leaving for the day (Reuters)",
    "Café owners complained that the new parking rules drove customers away from the square.",
    "itâ€™s a mojibake line that ftfy should repair before matching happens here",
    "| 2019 | 1,234 | 5.6 |",
    "| 2020 | 2,345 | 6.7 |",
]

documents = st.lists(
    st.lists(st.one_of(st.sampled_from(LINES), st.text(min_size=0, max_size=40)), min_size=0,
             max_size=8).map("\n".join),
    max_size=8,
)
configs = st.builds(
    Config,
    unit_threshold=st.sampled_from([0.5, 0.7, 0.9]),
    boilerplate_min_docs=st.integers(1, 3),
    unit=st.sampled_from(["line", "paragraph"]),
    workers=st.just(1),
)


def kept_texts(docs: list[str], config: Config) -> list[str]:
    return [r.text for r in clean(docs, config) if r.text is not None]


@given(documents, configs)
def test_deterministic(docs: list[str], config: Config) -> None:
    first = [(r.text, r.removals) for r in clean(docs, config)]
    assert first == [(r.text, r.removals) for r in clean(docs, config)]


@given(documents, configs)
def test_every_document_is_output_or_audited_in_order(docs: list[str], config: Config) -> None:
    results = list(clean(docs, config))
    assert [r.document.ordinal for r in results] == list(range(len(docs)))
    for result in results:
        if result.text is None:
            assert result.removals, "a dropped document must have an audit record"
            assert result.removals[-1].reason in ("near_duplicate_document", "empty_after_cleaning")


@given(documents, configs)
def test_kept_lines_come_out_exactly_as_repaired(docs: list[str], config: Config) -> None:
    for doc, result in zip(docs, clean(docs, config), strict=True):
        if result.text is None:
            continue
        repaired_lines = set(repair(doc)[0].split("\n"))
        assert all(line in repaired_lines for line in result.text.split("\n") if line)


@given(documents, st.integers(1, 3))
def test_cleaning_the_output_again_changes_nothing(docs: list[str], min_docs: int) -> None:
    config = Config(boilerplate_min_docs=min_docs, workers=1)
    once = kept_texts(docs, config)
    assert kept_texts(once, config) == once
