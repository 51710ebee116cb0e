"""Incremental cleaning against a persistent index: batch by batch = one streaming run.

The guarantee (docs/incremental.md): cleaning batch 1, then batch 2 against the index batch 1
left, gives for batch 2 exactly the output and audit that one streaming run over batches 1
and 2 gives for batch 2's documents. Checked on the seed fixtures split in two and on a
generated corpus (near-duplicate documents, boilerplate, repeated units, typos, groups), on
SQLite and on Redis, through the library and through the command line; plus: settings
mismatches are refused, read-only runs change nothing, and a run killed at any moment leaves
the index exactly as it was.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dedupe import Config, Document, clean
from dedupe.store import open_index
from tests.conftest import ROOT, run_cli
from tests.test_store import (
    STORIES,
    index_spec,  # noqa: F401 - a fixture
    redis_server,  # noqa: F401 - a fixture
    redis_url,  # noqa: F401 - a fixture
)

# --- a generated corpus ------------------------------------------------------------------------

WORDS = ("the council city river school market police harbour bridge museum festival farmers "  # noqa: SIM905
         "minister report storm village railway station budget election hospital teachers "
         "museum season weather summer winter north south coast valley mountain island road "
         "new old long short first last early late said would could after before during "
         "against between under over about announced approved rejected opened closed found "
         "built repaired visited expected reported").split()
BOILERPLATE = ["Follow us on Facebook", "TT", "Advertisement", "Read more", "Share this article",
               "Subscribe to our newsletter", "All rights reserved", "Photo: AP"]


def _sentence(rng: random.Random, low: int = 12, high: int = 24) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    return " ".join(words).capitalize() + "."


def _typo(rng: random.Random, text: str) -> str:
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def make_corpus(n: int, seed: int = 7) -> list[dict[str, str]]:
    """`n` news-like records: a headline (repeated, sometimes typo'd), boilerplate lines,
    sentences shared between documents (syndicated paragraphs), near-copies of earlier
    documents, three hosts."""
    rng = random.Random(seed)
    shared = [_sentence(rng, 16, 30) for _ in range(25)]
    out: list[dict[str, str]] = []
    for i in range(n):
        host = rng.choice(["a.example", "b.example", "c.example"])
        if out and rng.random() < 0.15:  # a near-copy of an earlier document
            lines = rng.choice(out)["text"].split("\n")
            j = rng.randrange(len(lines))
            if len(lines[j]) > 3:
                lines[j] = _typo(rng, lines[j])
            out.append({"id": f"doc{i}", "host": host, "text": "\n".join(lines)})
            continue
        headline = _sentence(rng, 4, 8).rstrip(".")
        lines = [headline]
        if rng.random() < 0.5:
            lines.append(headline.upper() if rng.random() < 0.5 else _typo(rng, headline))
        lines += rng.sample(BOILERPLATE, rng.randint(0, 3))
        for _ in range(rng.randint(2, 8)):
            roll = rng.random()
            if roll < 0.2:
                lines.append(rng.choice(shared))
            elif roll < 0.3:
                lines.append(_typo(rng, rng.choice(shared)))
            else:
                lines.append(_sentence(rng))
        if rng.random() < 0.3:
            lines.append(rng.choice(BOILERPLATE))
        out.append({"id": f"doc{i}", "host": host, "text": "\n".join(lines)})
    return out


# --- helpers -----------------------------------------------------------------------------------


def outcome(results: Sequence[object]) -> list[tuple[str, str | None, list[dict[str, object]]]]:
    return [(r.id, r.text, [x.as_dict() for x in r.removals])  # type: ignore[attr-defined]
            for r in results]


def by_batches(spec: str, batches: Sequence[Sequence[object]], config: Config) -> list[object]:
    """Each batch cleaned against the index and committed, in turn; all results."""
    out: list[object] = []
    for batch in batches:
        with open_index(spec, create=True) as index, index.begin(config) as run:
            out += outcome(list(clean(batch, config, index=run)))
            run.commit()
    return out


def split(items: Sequence[object], cuts: Sequence[int]) -> list[Sequence[object]]:
    bounds = [0, *cuts, len(items)]
    return [items[a:b] for a, b in itertools.pairwise(bounds)]


# --- the guarantee, through the library ----------------------------------------------------------


@pytest.mark.parametrize("grouped", [False, True], ids=["ungrouped", "by-host"])
def test_generated_corpus_in_batches_equals_one_streaming_run(index_spec: str,  # noqa: F811
                                                              grouped: bool) -> None:
    corpus = make_corpus(300)
    config = Config(workers=1, group_field="host" if grouped else None)
    whole = outcome(list(clean(corpus, config, stream=True)))
    batched = by_batches(index_spec, split(corpus, [120, 200]), config)
    assert batched == whole
    reasons = {r["reason"] for _, _, removals in whole[120:] for r in removals}
    assert {"boilerplate", "duplicated_content", "near_duplicate_document",
            "repeated_in_document"} <= reasons  # the corpus exercises every decision
    with open_index(index_spec) as index:
        assert index.verify() == []


def test_stored_sets_spilled_or_forgotten_change_nothing(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A run keeps the stored sets it met, moved to a temporary file beyond a memory budget,
    and forgets them all beyond a number of leaders (read again as needed): bounds far too
    small for one lookup must give the same answers."""
    from dedupe.store import run as store_run

    corpus = make_corpus(200)
    config = Config(workers=1)
    whole = outcome(list(clean(corpus, config, stream=True)))
    monkeypatch.setattr(store_run, "_SETS_MEMORY", 64)
    monkeypatch.setattr(store_run, "_STORED_MAX", 16)
    assert by_batches(str(tmp_path / "small.db"), split(corpus, [80, 140]), config) == whole


@pytest.mark.redis
def test_sqlite_and_redis_indexes_hold_the_same_content(tmp_path: Path,
                                                         redis_url: str) -> None:  # noqa: F811
    corpus = make_corpus(120, seed=3)
    config = Config(workers=1, group_field="host")
    sqlite_path = str(tmp_path / "index.db")
    assert by_batches(sqlite_path, split(corpus, [50]), config) == \
        by_batches(redis_url, split(corpus, [50]), config)
    with open_index(sqlite_path) as a, open_index(redis_url) as b:
        assert a.checksum() == b.checksum()


LINES = ["Breaking: storm hits the coast", "BREAKING: Storm hits the coast", "Follow us on Twitter",
         "TT", "Advertisement", "Follow us on Twiter",
         "The mayor said the bridge would reopen next week after repairs to the main cables.",
         "The mayor said the bridge would re-open next week after repairs to the main cables!",
         "Officials counted 1,204 votes in the first district and 987 in the second district.",
         "Photo of the harbour at dawn, with fishing boats leaving for the day (Reuters)"]


@given(st.lists(st.lists(st.sampled_from(LINES), min_size=0, max_size=6).map("\n".join),
                max_size=10),
       st.lists(st.integers(0, 10), max_size=3),
       st.sampled_from([0.5, 0.7, 0.9]), st.integers(1, 3))
def test_any_split_equals_one_streaming_run(texts: list[str], cuts: list[int],
                                            threshold: float, min_docs: int) -> None:
    documents = [Document(id=f"d{i}", text=t, source="<test>") for i, t in enumerate(texts)]
    config = Config(workers=1, unit_threshold=threshold, boilerplate_min_docs=min_docs)
    whole = outcome(list(clean(documents, config, stream=True)))
    with tempfile.TemporaryDirectory() as tmp:
        spec = os.path.join(tmp, "index.db")
        assert by_batches(spec, split(documents, sorted(min(c, len(texts)) for c in cuts)),
                          config) == whole


def test_boilerplate_counts_add_up_across_batches(index_spec: str) -> None:  # noqa: F811
    config = Config(workers=1, boilerplate_min_docs=3)
    stories = iter(STORIES)
    day = [[Document(id=f"day{d}-{i}", text=f"Follow us on Facebook\n{next(stories)}",
                     source=f"day{d}") for i in range(n)] for d, n in enumerate([1, 1, 2])]
    results = by_batches(index_spec, day, config)
    kept = [text for _, text, _ in results]
    assert [t.startswith("Follow us") for t in kept if t] == [True, False, False, False]
    assert results[1][2][0]["reason"] == "duplicated_content"  # 2 documents: not yet boilerplate
    assert results[1][2][0]["duplicate_of"] == {"doc_id": "day0-0", "position": 1}
    _, _, removals = results[2]
    assert removals == [{"doc_id": "day2-0", "source": "day2", "reason": "boilerplate",
                         "position": 1, "text": "Follow us on Facebook",
                         "duplicate_of": {"doc_id": "day0-0", "position": 1},
                         "similarity": 1.0, "doc_count": 3}]


# --- through the command line --------------------------------------------------------------------


def split_fixture(path: Path, tmp: Path) -> tuple[Path, Path]:
    """The fixture's first and second half of its documents as two inputs (the noisy scrape:
    documents 1-2 and 3-4; the plain one: 1 and 2). Documents end at 2+ blank lines."""
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"(\n[ \t]*\n[ \t]*\n+)", text)
    docs = ["".join(parts[i : i + 2]) for i in range(0, len(parts), 2)]
    assert len(docs) in (2, 4)
    first, second = tmp / "batch1.txt", tmp / "batch2.txt"
    first.write_text("".join(docs[: len(docs) // 2]), encoding="utf-8")
    second.write_text("".join(docs[len(docs) // 2 :]), encoding="utf-8")
    return first, second


def cli_ok(*args: str) -> subprocess.CompletedProcess[bytes]:
    done = run_cli([*args, "--workers", "1", "-q"])
    assert done.returncode == 0, done.stderr.decode()
    return done


@pytest.mark.parametrize("fixture", ["news_scrape.noisy.txt", "news_scrape.txt"])
def test_seed_scrape_in_two_batches_equals_one_streaming_run(index_spec: str,  # noqa: F811
                                                             fixture: str, tmp_path: Path) -> None:
    first, second = split_fixture(ROOT / "fixtures" / fixture, tmp_path)
    cli_ok("clean", str(first), "--index", index_spec, "-o", str(tmp_path / "out1.txt"))
    cli_ok("clean", str(second), "--index", index_spec, "-o", str(tmp_path / "out2.txt"),
           "--audit", str(tmp_path / "audit2.jsonl"))
    cli_ok("clean", str(first), str(second), "--stream", "-o", str(tmp_path / "all.txt"),
           "--audit", str(tmp_path / "all.jsonl"))
    whole = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    batch2 = [json.loads(line) for line in (tmp_path / "audit2.jsonl").read_text().splitlines()]
    assert batch2 == [r for r in whole if r["source"] == str(second)]
    assert any(r["reason"] == "boilerplate" and r["duplicate_of"]["doc_id"].startswith(str(first))
               for r in batch2)  # TT: counted across the batches, named in batch 1
    together = (tmp_path / "out1.txt").read_text() + "\n\n" + (tmp_path / "out2.txt").read_text()
    assert together == (tmp_path / "all.txt").read_text()
    # One pass: the first TT is kept (its count saw only the past), every later one goes.
    assert "\nTT\n" in (tmp_path / "out1.txt").read_text()
    assert "\nTT\n" not in (tmp_path / "out2.txt").read_text()


def test_read_only_cleans_against_the_index_and_adds_nothing(index_spec: str,  # noqa: F811
                                                             tmp_path: Path) -> None:
    first, second = split_fixture(ROOT / "fixtures" / "news_scrape.noisy.txt", tmp_path)
    cli_ok("index", "build", str(first), "--index", index_spec)
    with open_index(index_spec) as index:
        before = index.checksum()
    cli_ok("clean", str(second), "--index", index_spec, "--read-only", "-o",
           str(tmp_path / "ro.txt"), "--audit", str(tmp_path / "ro.jsonl"))
    with open_index(index_spec) as index:
        assert index.checksum() == before
    cli_ok("clean", str(second), "--index", index_spec, "-o", str(tmp_path / "rw.txt"),
           "--audit", str(tmp_path / "rw.jsonl"))
    assert (tmp_path / "ro.txt").read_text() == (tmp_path / "rw.txt").read_text()
    assert (tmp_path / "ro.jsonl").read_text() == (tmp_path / "rw.jsonl").read_text()


def test_index_build_writes_no_output_and_equals_a_clean_run(tmp_path: Path) -> None:
    first, _ = split_fixture(ROOT / "fixtures" / "news_scrape.noisy.txt", tmp_path)
    built, cleaned = str(tmp_path / "built.db"), str(tmp_path / "cleaned.db")
    done = cli_ok("index", "build", str(first), "--index", built)
    assert done.stdout == b""
    cli_ok("clean", str(first), "--index", cleaned, "-o", str(tmp_path / "x.txt"))
    with open_index(built) as a, open_index(cleaned) as b:
        assert a.checksum() == b.checksum()


def test_a_settings_mismatch_is_refused_in_one_line(index_spec: str,  # noqa: F811
                                                    tmp_path: Path) -> None:
    first, second = split_fixture(ROOT / "fixtures" / "news_scrape.noisy.txt", tmp_path)
    cli_ok("clean", str(first), "--index", index_spec, "-o", str(tmp_path / "1.txt"))
    with open_index(index_spec) as index:
        before = index.checksum()
    done = run_cli(["clean", str(second), "--index", index_spec, "--preset", "noisy", "-o",
                    str(tmp_path / "2.txt")])
    assert done.returncode == 2
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dedupe: error: ")
    assert "unit_threshold 0.5 (index: 0.7)" in lines[0] and "shingle_size 4" in lines[0]
    assert not (tmp_path / "2.txt").exists()
    with open_index(index_spec) as index:
        assert index.checksum() == before


def test_read_only_without_an_index_is_a_usage_error() -> None:
    done = run_cli(["clean", "--read-only", str(ROOT / "fixtures" / "news_scrape.txt")])
    assert done.returncode == 2 and b"--read-only needs --index" in done.stderr


def test_index_admin_commands(index_spec: str, tmp_path: Path) -> None:  # noqa: F811
    first, second = split_fixture(ROOT / "fixtures" / "news_scrape.noisy.txt", tmp_path)
    cli_ok("index", "build", str(first), str(second), "--index", index_spec)
    done = run_cli(["index", "stats", "--index", index_spec, "--json"])
    assert done.returncode == 0, done.stderr.decode()
    info = json.loads(done.stdout)
    assert info["documents_seen"] == 4 and info["counts"]["document_leaders"] == 2
    assert info["top_boilerplate"] == [{"group": None, "units": [
        {"text": "TT", "documents": 2, "first": {"doc_id": f"{first}:1", "position": 5}}]}]
    text = run_cli(["index", "stats", "--index", index_spec]).stdout.decode()
    assert "TT" in text and "unit_threshold=0.7" in text
    verified = run_cli(["index", "verify", "--index", index_spec])
    assert verified.returncode == 0 and b"ok; content checksum" in verified.stdout
    compacted = run_cli(["index", "compact", "--index", index_spec])
    assert compacted.returncode == 0 and b"nothing orphaned" in compacted.stdout
    missing = run_cli(["index", "stats", "--index", str(tmp_path / "nowhere.db")])
    assert missing.returncode == 1 and missing.stderr.count(b"\n") == 1


# --- a killed run --------------------------------------------------------------------------------


def _write_corpus(path: Path, n: int, seed: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for record in make_corpus(n, seed):
            out.write(json.dumps(record) + "\n")


@pytest.mark.slow
@pytest.mark.parametrize("moment", ["mid-run", "at-commit"])
def test_a_killed_run_leaves_the_index_as_it_was(index_spec: str,  # noqa: F811
                                                 moment: str, tmp_path: Path) -> None:
    """SIGKILL while documents are being decided, or as the index commit starts: the index
    is exactly as before (or, killed after the commit, exactly as a finished run leaves it)."""
    history, big = tmp_path / "history.jsonl", tmp_path / "big.jsonl"
    _write_corpus(history, 200, seed=1)
    _write_corpus(big, 3000 if moment == "mid-run" else 1200, seed=2)
    cli_ok("index", "build", str(history), "--index", index_spec)
    with open_index(index_spec) as index:
        before = index.checksum()
    out = tmp_path / "out.jsonl"
    run = subprocess.Popen(
        [sys.executable, "-m", "dedupe", "clean", str(big), "--index", index_spec, "-o", str(out),
         "--workers", "1", "-q"], cwd=ROOT, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while run.poll() is None and time.monotonic() < deadline:
        if moment == "mid-run" and any(p.stat().st_size > 0 for p in tmp_path.glob(".out.*.tmp")):
            break
        if moment == "at-commit" and out.exists():  # outputs in place: the index commit is next
            break
        time.sleep(0.002)
    assert run.poll() is None, "the run ended before it could be killed: make the input larger"
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    with open_index(index_spec) as index:
        after = index.checksum()
        assert index.verify() == []
    if after != before:  # killed after the commit had completed: then all of it is there
        assert moment == "at-commit"
        with open_index(index_spec) as index:
            assert index.read_meta().runs == 2  # type: ignore[union-attr]
    if "://" in index_spec:
        _release_lock(index_spec)  # the dead run's lock would expire in LOCK_TTL seconds
    cli_ok("clean", str(history), "--index", index_spec, "-o", str(tmp_path / "again.jsonl"))


def _release_lock(url: str) -> None:
    from dedupe.store.redis_index import RedisIndex

    index = RedisIndex(url)
    index._r.delete(index._key("lock"))
    index.close()
