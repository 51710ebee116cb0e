"""Fuzzing and properties (hypothesis): hostile text, records, bytes and configs.

What must hold for any input and any valid config:

* nothing escapes but the documented errors: InputError for bad input, ConfigError for a bad
  config (and each is raised exactly when the input or the config is bad);
* the same input and config give the same results (determinism);
* every document read is written, dropped or skipped, one result per document, in order
  (the accounting invariant);
* text that is not removed comes out exactly as repaired: every kept line is a line of the
  repaired input (blank lines, which are layout, come out as one empty line);
* cleaning is idempotent, clean(clean(x)) == clean(x), where it is promised: with
  document_threshold >= unit_threshold and the default policies (every drop on). Outside that
  it is not: a lower document threshold can make two documents near-duplicates only once
  their shared units are gone, and a kept-policy leaves copies for the next pass to find.
  The idempotence strategy is restricted accordingly;
* the readers split text as the documented rules say (checked against a small reference
  splitter), whatever the line endings, blank lines, limits and read sizes; and a whole
  file-to-file run on arbitrary bytes ends in success or a one-line InputError, with a
  valid-UTF-8 audit.

Profiles (tests/conftest.py): "default" runs 60 examples per property; `make fuzz` sets
HYPOTHESIS_PROFILE=fuzz (2000).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

from hypothesis import given, note
from hypothesis import strategies as st

import dedupe.io
from dedupe import Config, ConfigError, InputError, clean
from dedupe.config import NORMALIZE_STEPS
from dedupe.io import read_inputs
from dedupe.jobs import run_job
from dedupe.model import Result, Stats
from dedupe.repair import repair

# --- text: hostile Unicode and near-duplicates ------------------------------------------------

SPECIAL = [
    "\udc80", "\udcff", "\udce9",  # bytes smuggled in by surrogateescape
    "\u0301", "\u0308", "\u20dd", "e\u0301", "\u1100\u1161\u11a8",  # combining marks, jamo
    "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627", "\u202e", "\u200e", "\u200f",
    "\U0001f600", "\U0001f469\u200d\U0001f469\u200d\U0001f467", "\U0001f44d\U0001f3fd",
    "\U0001f1eb\U0001f1f7",  # emoji: ZWJ sequence, skin tone, flag
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",  # zero-width
    "\r", "\n", "\r\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c",  # line breaks of every kind
    "\x00", "\x1b[31m", "\x7f", "\ud800", "\udfff",  # NUL, escapes, DEL, lone surrogates
    "itâ€™s", "Ã©", "&amp;", "&lt;b&gt;", "ﬁ", "Ｆｕｌｌ", "\u00a0", "\u3000", "\t",
]
LINES = [
    "Breaking: storm hits the coast",
    "BREAKING: Storm hits the coast",
    "Follow us on Twitter",
    "TT",
    "Advertisement",
    "The mayor said the bridge would reopen next week after repairs to the main cables.",
    "The mayor said the bridge would re-open next week after repairs to the main cables!",
    "Photo of the harbour at dawn, with fishing boats leaving for the day (Reuters)",
    "Café owners complained that the new parking rules drove customers away from the square.",
    "| 2019 | 1,234 | 5.6 |",
    "| 2020 | 2,345 | 6.7 |",
    "",
    "   ",
]

weird = st.one_of(st.sampled_from(SPECIAL), st.characters(exclude_categories=()))


def weird_text(max_size: int) -> st.SearchStrategy[str]:
    return st.lists(weird, max_size=max_size).map("".join)



@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A known line, perhaps with hostile characters spliced in: near-duplicates of others."""
    line = draw(st.sampled_from(LINES))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(line)))
        line = line[:at] + draw(weird) + line[at:]
    return line


line_st = st.one_of(mutated(), weird_text(20), st.sampled_from(LINES))
ending_st = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r", "\n\n", "\u2028"])


@st.composite
def document(draw: st.DrawFn) -> str:
    lines = draw(st.lists(line_st, max_size=8))
    return "".join(line + draw(ending_st) for line in lines)


json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                        weird_text(6))
json_value = st.recursive(json_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6)


@st.composite
def record(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON record: a text field (or none, or not a string), any id, random extra fields."""
    out: dict[str, Any] = draw(st.dictionaries(st.text(max_size=6).filter(
        lambda k: k not in ("text", "id")), json_value, max_size=3))
    kind = draw(st.sampled_from(["text"] * 8 + ["missing", "not a string"]))
    if kind == "text":
        out["text"] = draw(document())
    elif kind == "not a string":
        out["text"] = draw(json_value.filter(lambda v: not isinstance(v, str)))
    if draw(st.booleans()):
        out["id"] = draw(json_value)
    return out


corpus = st.lists(st.one_of(document(), document(), record()), max_size=8)

# --- configs --------------------------------------------------------------------------------

threshold = st.sampled_from([0.3, 0.5, 0.7, 0.8, 0.9, 1.0])
steps = st.lists(st.sampled_from(NORMALIZE_STEPS), unique=True).map(tuple)


def config_values(**fixed: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Valid Config fields (workers=1: per-document work in this process)."""
    values: dict[str, st.SearchStrategy[Any]] = {
        "unit": st.sampled_from(["line", "paragraph"]),
        "unit_threshold": threshold,
        "document_threshold": threshold,
        "short_unit_threshold": threshold,
        "short_unit_chars": st.integers(0, 40),
        "shingle_size": st.integers(1, 7),
        "num_perm": st.sampled_from([16, 64, 128]),
        "normalize_steps": steps,
        "repair": st.booleans(),
        "uncurl_quotes": st.booleans(),
        "drop_near_duplicate_documents": st.booleans(),
        "drop_repeated_in_document": st.booleans(),
        "drop_boilerplate": st.booleans(),
        "drop_duplicated_content": st.booleans(),
        "boilerplate_min_docs": st.integers(1, 4),
        "boilerplate_max_chars": st.sampled_from([0, 20, 100]),
        "max_unit_chars": st.sampled_from([5, 60, 100_000]),
        "max_document_chars": st.sampled_from([0, 40, 400, 50_000_000]),
    }
    values.update({k: st.just(v) for k, v in fixed.items()})
    return st.fixed_dictionaries({**values, "workers": st.just(1)})


BAD_VALUES: dict[str, list[Any]] = {
    "unit_threshold": [0.0, 1.5, -1.0], "document_threshold": [0.0, 2.0],
    "shingle_size": [0, -3], "num_perm": [0], "boilerplate_min_docs": [0],
    "max_unit_chars": [-1], "max_document_chars": [-5], "workers": [-1],
    "unit": ["sentence"], "on_error": ["ignore"], "normalize_steps": [("casefold", "bogus")],
}


@st.composite
def maybe_bad_config(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    """Config fields, one of them out of range a fifth of the time; and whether one is."""
    values = dict(draw(config_values()))
    bad = draw(st.integers(0, 4)) == 0
    if bad:
        name = draw(st.sampled_from(sorted(BAD_VALUES)))
        values[name] = draw(st.sampled_from(BAD_VALUES[name]))
    return values, bad


def _is_bad_record(item: str | Mapping[str, Any]) -> bool:
    return isinstance(item, Mapping) and not isinstance(item.get("text"), str)


def _signature(results: list[Result]) -> list[tuple[Any, ...]]:
    return [(r.id, r.text, r.removals, r.repairs, r.passed) for r in results]


def _repaired_lines(item: str | Mapping[str, Any], config: Config) -> set[str]:
    text = item if isinstance(item, str) else item["text"]
    if config.repair and len(text) <= config.max_document_chars:
        text = repair(text, config.uncurl_quotes)[0]
    return set(text.split("\n"))


# --- the API ----------------------------------------------------------------------------------


@given(docs=corpus, config=maybe_bad_config())
def test_only_documented_errors_and_every_guarantee(
        docs: list[str | dict[str, Any]], config: tuple[dict[str, Any], bool]) -> None:
    values, invalid = config
    try:
        cfg = Config(**values)
    except ConfigError:
        assert invalid, "a valid config was refused"
        return
    assert not invalid, f"an invalid config was accepted: {values}"
    try:
        results = list(clean(docs, cfg))
    except InputError as exc:
        assert any(_is_bad_record(d) for d in docs), exc
        assert "\n" not in str(exc)
        return
    assert not any(_is_bad_record(d) for d in docs), "a bad record was accepted"
    # accounting: one result per document, in order, each written, dropped or skipped
    assert [r.document.ordinal for r in results] == list(range(len(docs)))
    stats = Stats()
    for result in results:
        stats.count_result(result)
    assert stats.balanced and stats.documents_in == len(docs)
    for result in results:
        if result.text is None:
            assert result.removals, "a dropped document has no audit record"
    # determinism
    assert _signature(list(clean(docs, cfg))) == _signature(results)
    # what is kept is exactly what was repaired (or read, when passed through); blank lines
    # are layout, written as one empty line
    for item, result in zip(docs, results, strict=True):
        if result.text is None:
            continue
        if result.passed:
            assert result.text == (item if isinstance(item, str) else item["text"])
            continue
        allowed = _repaired_lines(item, cfg)
        assert all(line in allowed or line == "" for line in result.text.split("\n")), \
            result.text


# Idempotence holds for the default policies with document_threshold >= unit_threshold only
# (see the module docstring); passed-through oversize documents are not cleaned at all, so the
# limits stay at their defaults here.
idempotent_configs = config_values(
    drop_near_duplicate_documents=True, drop_repeated_in_document=True, drop_boilerplate=True,
    drop_duplicated_content=True, max_unit_chars=100_000, max_document_chars=50_000_000,
).filter(lambda v: v["document_threshold"] >= v["unit_threshold"])


@given(docs=st.lists(document(), max_size=8), values=idempotent_configs)
def test_cleaning_twice_changes_nothing(docs: list[str], values: dict[str, Any]) -> None:
    config = Config(**values)
    once = [r.text for r in clean(docs, config) if r.text is not None]
    twice = list(clean(once, config))
    note(f"once: {once!r}")
    assert [r.text for r in twice] == once
    assert all(not r.removals for r in twice)


# --- the readers --------------------------------------------------------------------------------


def reference_split(data: bytes, blank_lines: int, separator: str | None,
                    on_error: str) -> list[tuple[str, bool]]:
    """The text format's documented rules, written plainly: (text, is_bad) per document."""
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    docs: list[tuple[str, bool]] = []
    lines: list[str] = []
    bad = False
    blank_run = 0

    def flush() -> None:
        nonlocal lines, bad
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            docs.append(("\n".join(lines), bad))
        lines, bad = [], False

    for raw in raw_lines:
        raw = raw.rstrip(b"\r")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            bad = True
            line = raw.decode("utf-8", "surrogateescape")
        blank = not line.strip()
        if separator is not None:
            if line.strip() == separator:
                flush()
                continue
        elif blank:
            blank_run += 1
            if blank_run >= blank_lines and lines:
                flush()
                continue
            if not lines:
                continue
        else:
            blank_run = 0
        if not lines and blank:
            continue
        lines.append(line)
    flush()
    return docs


text_pieces = st.sampled_from([b"a", b"word", b" ", b"\t", b"\r", b"\xc2\xa0", b"\xe3\x80\x80",
                               b"---", b"\xff", b"\xe9", b"caf\xc3\xa9", b"\x1c", b"x" * 9])


@st.composite
def text_bytes(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(st.lists(text_pieces, max_size=4).map(b"".join), max_size=30))
    return b"".join(line + draw(st.sampled_from([b"\n", b"\r\n"])) for line in lines) + \
        draw(st.sampled_from([b"", b"tail"]))


@contextmanager
def small_reads(piece: int, join_lines: int) -> Iterator[None]:
    """Tiny read pieces and line blocks, so a few bytes cross every boundary in the reader."""
    with patch.object(dedupe.io, "_PIECE", piece), \
            patch.object(dedupe.io, "_JOIN_LINES", join_lines):
        yield


@given(data=text_bytes(), blank_lines=st.integers(1, 3),
       separator=st.sampled_from([None, "---"]), piece=st.integers(1, 12),
       join_lines=st.integers(2, 5))
def test_text_reader_follows_the_rules(data: bytes, blank_lines: int, separator: str | None,
                                       piece: int, join_lines: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "in.txt"
        path.write_bytes(data)
        config = Config(blank_lines=blank_lines, separator=separator, on_error="pass")
        with small_reads(piece, join_lines):
            docs = list(read_inputs([str(path)], config))
    assert [(d.text, d.error is not None) for d in docs] == \
        reference_split(data, blank_lines, separator, "pass")


@given(data=st.binary(max_size=300) | text_bytes(), fmt=st.sampled_from(["text", "jsonl"]),
       on_error=st.sampled_from(["fail", "skip", "pass"]), piece=st.integers(1, 12),
       limit=st.sampled_from([4, 16, 1 << 20]), compression=st.sampled_from(["", ".gz", ".zst"]))
def test_readers_raise_only_input_errors(data: bytes, fmt: str, on_error: str, piece: int,
                                         limit: int, compression: str) -> None:
    """Arbitrary (and arbitrarily cut compressed) bytes: documents, bad records, InputError."""
    import gzip

    import zstandard

    if compression == ".gz":
        data = gzip.compress(data)[: len(data) // 2 + 10]
    elif compression == ".zst":
        data = zstandard.compress(data)[: len(data) // 2 + 10]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"in.{'txt' if fmt == 'text' else 'jsonl'}{compression}"
        path.write_bytes(data)
        config = Config(format=fmt, on_error=on_error, max_document_chars=0)
        with small_reads(piece, 3), patch.object(dedupe.io, "_MIN_RECORD_BYTES", limit):
            try:
                docs = list(read_inputs([str(path)], config))
            except InputError as exc:
                assert on_error == "fail", exc
                assert str(exc).startswith(str(path)) and "\n" not in str(exc)
                return
    assert [d.ordinal for d in docs] == list(range(len(docs)))
    for doc in docs:
        assert doc.error is None or (on_error != "fail" and doc.error.startswith(str(path)))


@given(data=st.binary(max_size=200) | text_bytes(), fmt=st.sampled_from(["txt", "jsonl"]),
       out_fmt=st.sampled_from(["txt", "jsonl"]),
       on_error=st.sampled_from(["fail", "skip", "pass"]), values=config_values())
def test_file_to_file_runs_end_cleanly(data: bytes, fmt: str, out_fmt: str, on_error: str,
                                       values: dict[str, Any]) -> None:
    """run_job on arbitrary bytes: success with balanced accounting and a valid audit, or one
    InputError; never another exception, never a temporary file left."""
    if fmt == "jsonl" and data and not data.startswith(b"{"):
        data = b'{"text": "' + data.replace(b"\\", b"").replace(b'"', b"") + b'"}\n' + data
    with tempfile.TemporaryDirectory() as tmp:
        src, out, audit = Path(tmp, f"in.{fmt}"), Path(tmp, f"out.{out_fmt}"), \
            Path(tmp, "audit.jsonl")
        src.write_bytes(data)
        config = Config(**{**values, "on_error": on_error})
        try:
            stats = run_job([str(src)], str(out), config, audit=str(audit))
        except InputError as exc:
            assert on_error == "fail" and "\n" not in str(exc), exc
            assert sorted(p.name for p in Path(tmp).iterdir()) == [src.name]
            return
        assert stats.balanced
        assert sorted(p.name for p in Path(tmp).iterdir()) == sorted(
            [src.name, out.name, audit.name])
        records = [json.loads(line) for line in audit.read_bytes().decode("utf-8").splitlines()]
        assert sum(r["reason"] == "skipped_bad_input" for r in records) == \
            stats.documents_skipped
        if on_error != "pass":
            out.read_bytes().decode("utf-8")  # nothing passed through: the output is UTF-8
