"""The product's founding promise: the seed scrapes clean to exactly the expected text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dedupe import Config, clean
from dedupe.io import read_inputs
from dedupe.pipeline import clean_documents

from .conftest import FIXTURES, run_cli

EXPECTED = (FIXTURES / "news_scrape.clean.txt").read_bytes()


@pytest.mark.parametrize("name", ["news_scrape.txt", "news_scrape.noisy.txt"])
def test_cli_prints_expected_output(name: str) -> None:
    proc = run_cli(["clean", f"fixtures/{name}"])
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == EXPECTED
    assert b"accounting" in proc.stderr and b"ok" in proc.stderr


@pytest.mark.parametrize("name", ["news_scrape.txt", "news_scrape.noisy.txt"])
def test_stdin_to_stdout(name: str) -> None:
    proc = run_cli(["clean", "-"], stdin=(FIXTURES / name).read_bytes())
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == EXPECTED


def _audit(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_noisy_audit_names_every_kind_of_removal(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    proc = run_cli(["clean", "fixtures/news_scrape.noisy.txt", "--audit", str(audit), "-o",
                    str(tmp_path / "out.txt")])
    assert proc.returncode == 0, proc.stderr.decode()
    assert (tmp_path / "out.txt").read_bytes() == EXPECTED
    records = _audit(audit)
    src = "fixtures/news_scrape.noisy.txt"
    near = [r for r in records if r["reason"] == "near_duplicate_document"]
    assert [(r["doc_id"], r["duplicate_of"]["doc_id"]) for r in near] == [
        (f"{src}:2", f"{src}:1"), (f"{src}:4", f"{src}:3")]
    assert all(r["similarity"] >= 0.9 for r in near)
    headlines = [r for r in records if r.get("role") == "headline"]
    assert {r["position"] for r in headlines} == {7, 84}  # the re-cased and the typo'd copy
    assert all(r["reason"] == "repeated_in_document" for r in headlines)
    assert all(r["duplicate_of"]["position"] in (1, 78) for r in headlines)
    captions = [r for r in records if r.get("role") == "caption"]
    assert len(captions) == 6 and all(r["reason"] == "repeated_in_document" for r in captions)
    assert {r["duplicate_of"]["position"] for r in captions} == {3, 80}
    tt = [r for r in records if r["reason"] == "boilerplate"]
    assert [(r["text"], r["doc_count"]) for r in tt] == [("TT", 2), ("TT", 2)]


def test_python_api_gives_the_same_text() -> None:
    config = Config()
    docs = list(read_inputs([str(FIXTURES / "news_scrape.noisy.txt")], config))
    kept = [r.text for r in clean_documents(docs, config) if r.text is not None]
    assert ("\n\n\n".join(kept) + "\n").encode() == EXPECTED
    # Plain strings through the public clean() give the same documents.
    texts = [d.text for d in docs]
    assert [r.text for r in clean(texts) if r.text is not None] == kept


def test_jsonl_in_and_out_keeps_other_fields(tmp_path: Path) -> None:
    config = Config()
    docs = list(read_inputs([str(FIXTURES / "news_scrape.noisy.txt")], config))
    src = tmp_path / "scrape.jsonl"
    src.write_text("".join(
        json.dumps({"id": f"n{i}", "text": d.text, "url": f"https://example.org/{i}",
                    "meta": {"n": i}}) + "\n" for i, d in enumerate(docs)), encoding="utf-8")
    out = tmp_path / "clean.jsonl"
    proc = run_cli(["clean", str(src), "-o", str(out)])
    assert proc.returncode == 0, proc.stderr.decode()
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == ["n0", "n2"]
    assert [r["url"] for r in records] == ["https://example.org/0", "https://example.org/2"]
    assert records[1]["meta"] == {"n": 2}
    assert ("\n\n\n".join(r["text"] for r in records) + "\n").encode() == EXPECTED
