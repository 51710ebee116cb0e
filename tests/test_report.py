"""The summary, the stats JSON and the audit table."""

from __future__ import annotations

import json
from pathlib import Path

from dedupe import Config, clean
from dedupe.model import Stats
from dedupe.report import audit_lines, audit_table, stats_dict, summary_text

from .conftest import run_cli

DOCS = ["Title\nTitle\nTT\nThe first body line is long enough to be content in this test.",
        "TT\nAnother body line that is long enough to be content in this test too."]


def test_stats_count_every_document_and_removal() -> None:
    stats = Stats()
    for result in clean(DOCS):
        stats.count_result(result)
    data = stats_dict(stats, Config())
    assert data["documents"]["in"] == 2 and data["documents"]["out"] == 2
    assert data["units"] == {"in": 6, "removed": {"boilerplate": 2, "repeated_in_document": 1}}
    assert data["characters"]["removed"] == len("Title") + 2 * len("TT")
    assert data["accounting_ok"] is True
    assert "accounting: read 2 = written 2 + dropped 0 + skipped 0: ok" in summary_text(stats)


def test_unbalanced_stats_are_reported() -> None:
    stats = Stats(documents_in=3, documents_out=1)
    assert not stats.balanced and "VIOLATED" in summary_text(stats)


def test_audit_lines_and_table() -> None:
    results = list(clean(DOCS))
    records = [json.loads(line) for r in results for line in audit_lines(r).splitlines()]
    assert [r["reason"] for r in records] == ["repeated_in_document", "boilerplate", "boilerplate"]
    table = audit_table(records).splitlines()
    assert table[0].split() == ["doc", "line", "reason", "role", "sim", "text"]
    assert table[1].split()[:4] == ["0", "2", "repeated_in_document", "headline"]


def test_audit_command(tmp_path: Path) -> None:
    audit = tmp_path / "a.jsonl"
    proc = run_cli(["clean", "fixtures/news_scrape.noisy.txt", "--audit", str(audit), "-o",
                    str(tmp_path / "o.txt")])
    assert proc.returncode == 0
    proc = run_cli(["audit", str(audit), "--reason", "boilerplate"])
    lines = proc.stdout.decode().splitlines()
    assert proc.returncode == 0 and len(lines) == 3 and all("TT" in x for x in lines[1:])
    proc = run_cli(["audit", str(tmp_path / "missing.jsonl")])
    assert proc.returncode == 1 and b"cannot read audit file" in proc.stderr
