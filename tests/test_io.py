"""Readers and writers, and every kind of bad input (one-line errors naming file and line)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import zstandard

from dedupe.config import Config
from dedupe.io import InputError, OutputSet, detect_format, read_inputs


def docs_of(path: Path, **cfg: object) -> list:
    return list(read_inputs([str(path)], Config(**cfg)))  # type: ignore[arg-type]


def test_text_split_on_two_blank_lines(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_text("one\n\nstill one\n\n\ntwo\n\n\n\n\nthree\n", encoding="utf-8")
    docs = docs_of(p)
    assert [d.text for d in docs] == ["one\n\nstill one", "two", "three"]
    assert [d.id for d in docs] == [f"{p}:1", f"{p}:2", f"{p}:3"]
    assert [d.line for d in docs] == [1, 6, 11]
    assert [d.ordinal for d in docs] == [0, 1, 2]


def test_separator_line(tmp_path: Path) -> None:
    p = tmp_path / "a.txt"
    p.write_text("one\n\n\n\nstill one\n---\ntwo\n", encoding="utf-8")
    assert [d.text for d in docs_of(p, separator="---")] == ["one\n\n\n\nstill one", "two"]


def test_several_inputs_number_in_run_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.jsonl"
    a.write_text("x\n\n\ny\n", encoding="utf-8")
    b.write_text('{"id": 7, "text": "z", "k": 1}\n\n{"text": "w"}\n', encoding="utf-8")
    docs = list(read_inputs([str(a), str(b)], Config()))
    assert [(d.id, d.ordinal) for d in docs] == [
        (f"{a}:1", 0), (f"{a}:2", 1), ("7", 2), (f"{b}:3", 3)]
    assert docs[2].record == {"id": 7, "text": "z", "k": 1}


@pytest.mark.parametrize("suffix", [".txt.gz", ".txt.zst"])
def test_compressed_inputs(tmp_path: Path, suffix: str) -> None:
    p = tmp_path / f"a{suffix}"
    data = b"one\n\n\ntwo\n"
    p.write_bytes(gzip.compress(data) if suffix.endswith("gz") else zstandard.compress(data))
    assert [d.text for d in docs_of(p)] == ["one", "two"]


def test_detect_format() -> None:
    assert detect_format("x.jsonl.gz") == "jsonl"
    assert detect_format("x.ndjson") == "jsonl"
    assert detect_format("x.parquet") == "parquet"
    assert detect_format("x.txt.zst") == "text"
    assert detect_format("-") == "text"
    assert detect_format("x.txt", "jsonl") == "jsonl"


def bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    cases: dict[str, tuple[Path, str]] = {}
    p = tmp_path / "utf8.txt"
    p.write_bytes(b"fine\nbad \xff byte\n")
    cases["invalid_utf8"] = (p, ":2: invalid utf-8")
    p = tmp_path / "bad.jsonl"
    p.write_text('{"text": "ok"}\n{"text": "no end\n', encoding="utf-8")
    cases["malformed_json"] = (p, ":2: malformed JSON")
    p = tmp_path / "notext.jsonl"
    p.write_text('{"text": "ok"}\n{"body": "x"}\n', encoding="utf-8")
    cases["missing_field"] = (p, ":2: record has no 'text' field")
    p = tmp_path / "nonstr.jsonl"
    p.write_text('{"text": 5}\n', encoding="utf-8")
    cases["non_string"] = (p, ":1: field 'text' is int, not a string")
    p = tmp_path / "array.jsonl"
    p.write_text('[1, 2]\n', encoding="utf-8")
    cases["not_object"] = (p, ":1: JSON value is list, not an object")
    p = tmp_path / "binary.txt"
    p.write_bytes(b"\x7fELF\x00\x01\x02\x00\x00")
    cases["binary"] = (p, ":1: looks like a binary file")
    p = tmp_path / "trunc.txt.gz"
    p.write_bytes(gzip.compress(b"one\n\n\ntwo\n" * 1000)[:-30])
    cases["truncated_gzip"] = (p, "truncated or corrupt compressed data")
    p = tmp_path / "trunc.txt.zst"
    p.write_bytes(zstandard.compress(b"one\n\n\ntwo\n" * 1000)[:-10])
    cases["truncated_zstd"] = (p, "")
    cases["missing"] = (tmp_path / "nope.txt", ": no such file")
    cases["directory"] = (tmp_path, ": is a directory")
    return cases


def test_each_bad_input_is_a_one_line_error(tmp_path: Path) -> None:
    for name, (path, message) in bad_inputs(tmp_path).items():
        with pytest.raises(InputError) as info:
            docs_of(path)
        text = str(info.value)
        assert text.startswith(str(path)), (name, text)
        assert message in text, (name, text)
        assert "\n" not in text, name


def test_skip_and_pass_keep_bad_records_as_flagged_documents(tmp_path: Path) -> None:
    p = tmp_path / "mixed.jsonl"
    p.write_text('{"text": "a"}\n{oops\n{"text": "b"}\n', encoding="utf-8")
    for policy in ("skip", "pass"):
        docs = docs_of(p, on_error=policy)
        assert [d.error is not None for d in docs] == [False, True, False]
        assert docs[1].text == "{oops" and ":2: malformed JSON" in (docs[1].error or "")


def test_empty_input_is_no_documents(tmp_path: Path) -> None:
    p = tmp_path / "empty.txt"
    p.write_bytes(b"")
    assert docs_of(p) == []
    q = tmp_path / "blank.jsonl"
    q.write_text("\n\n", encoding="utf-8")
    assert docs_of(q) == []


def test_output_set_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), OutputSet() as outs:
        outs.open(str(target))("new half")
        raise RuntimeError("boom")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with OutputSet() as outs:
        outs.open(str(target))("new")
        outs.open(str(tmp_path / "b.jsonl.gz"))(json.dumps({"a": 1}))
    assert target.read_text(encoding="utf-8") == "new"
    assert json.loads(gzip.decompress((tmp_path / "b.jsonl.gz").read_bytes())) == {"a": 1}
