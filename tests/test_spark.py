"""The Spark engine gives the local engine's results: the same clean output, the same audit.

Every test runs both engines on the same input and config and compares record for record. One
local[2] session serves the whole module. Without pyspark or Java these tests are skipped,
except in CI (CI=true), where they must run.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dedupe import Config, clean, preset
from dedupe.io import output_record
from dedupe.jobs import run_job

from .conftest import FIXTURES, run_cli

pytestmark = pytest.mark.spark

_IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable() -> str | None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'dedupe-text[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "Java is not installed (Spark needs Java 17)"
    return None


if (_why := _unavailable()) is not None:
    if _IN_CI:
        raise RuntimeError(f"CI=true: the Spark tests must run, but {_why}")
    pytest.skip(_why, allow_module_level=True)

from pyspark.sql import Row, SparkSession  # noqa: E402

from dedupe import spark as engine  # noqa: E402


@pytest.fixture(scope="module")
def spark() -> Any:
    session = engine.start_session("local[2]", {
        "spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2",
        "spark.ui.enabled": "false"})
    yield session
    session.stop()


def _both(inputs: list[str], out_dir: Path, config: Config, suffix: str = ".txt"
          ) -> dict[str, dict[str, bytes]]:
    """Run the job on both engines: {engine: {"output"|"audit"|"stats": bytes}}."""
    files: dict[str, dict[str, bytes]] = {}
    for name in ("local", "spark"):
        paths = {k: out_dir / f"{name}.{k}{ext}" for k, ext in
                 (("output", suffix), ("audit", ".jsonl"), ("stats", ".json"))}
        run_job(inputs, str(paths["output"]), config, audit=str(paths["audit"]),
                stats_path=str(paths["stats"]), engine=name)
        files[name] = {k: p.read_bytes() for k, p in paths.items()}
    return files


def _assert_same(files: dict[str, dict[str, bytes]]) -> None:
    local, spark = files["local"], files["spark"]
    local_audit = local["audit"].decode().splitlines()
    spark_audit = spark["audit"].decode().splitlines()
    for i, (a, b) in enumerate(zip(local_audit, spark_audit, strict=False)):
        assert json.loads(b) == json.loads(a), f"audit record {i} differs"
    assert len(spark_audit) == len(local_audit)
    assert spark["audit"] == local["audit"]
    assert spark["output"] == local["output"]
    assert json.loads(spark["stats"]) == json.loads(local["stats"])


# --- the seed scrapes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["news_scrape.noisy.txt", "news_scrape.txt"])
def test_seed_fixtures(spark: SparkSession, name: str, tmp_path: Path) -> None:
    files = _both([str(FIXTURES / name)], tmp_path, Config(workers=1))
    _assert_same(files)
    assert files["spark"]["output"] == (FIXTURES / "news_scrape.clean.txt").read_bytes()


def test_cli_engine_spark_prints_the_expected_text() -> None:
    proc = run_cli(["clean", "--engine", "spark", "--master", "local[2]",
                    "fixtures/news_scrape.txt"], timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert proc.stdout == (FIXTURES / "news_scrape.clean.txt").read_bytes()
    assert b"accounting" in proc.stderr and b"ok" in proc.stderr


@pytest.mark.parametrize("args", [["--master", "local[2]"], ["--engine", "spark", "--stream"],
                                  ["--engine", "flink"]])
def test_cli_refuses_options_the_engine_lacks(args: list[str]) -> None:
    proc = run_cli(["clean", *args, "fixtures/news_scrape.txt"])
    assert proc.returncode == 2, proc.stderr.decode()
    assert proc.stdout == b""


# --- a generated corpus: every kind of removal, chains of near-copies, groups, bad records -----

_WORDS = (
    "storm", "council", "harbour", "bridge", "mayor", "police", "school", "river", "market",
    "minister", "budget", "election", "village", "farmers", "frost", "apricot", "valley",
    "hospital", "court", "season", "team", "game", "local", "report", "officials", "national",
    "power", "church", "weather", "morning", "evening", "statement", "director", "project",
    "community", "research", "development", "economic", "committee", "railway", "tunnel",
    "museum", "festival", "library", "airport", "teachers", "nurses", "drivers", "prices",
)
_SITES = {
    "daily.example.com": ["TT", "Follow us on Facebook",
                          "© 2024 The Daily Post. All rights reserved."],
    "herald.example.org": ["NTB", "Follow us on Twitter", "Share this article",
                           "Subscribe to The Evening Herald for daily updates on politics"],
    "courier.example.se": ["Följ oss på Instagram", "Advertisement",
                           "© 2024 The Morning Courier. All rights reserved."],
}
_WIRE = ("The national weather service said the cold front would reach the coast on Thursday "
         "evening and bring heavy rain to the northern valleys.")


def _typo(text: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(text) - 2)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:] if rng.random() < 0.5 \
        else text[:i] + text[i + 1:]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(9, 18))]
    return " ".join(words).capitalize() + rng.choice(".!?")


def generated_records(n: int = 260, seed: int = 7) -> list[dict[str, Any]]:
    """News-like records: repeated headlines and captions, site boilerplate, syndicated
    near-copies (and copies of copies: chains), exact reposts, shared wire paragraphs, typos,
    documents that clean to nothing, ids missing here and there, extra columns."""
    rng = random.Random(seed)
    recent: list[list[str]] = []
    records: list[dict[str, Any]] = []
    for i in range(n):
        host = rng.choice(sorted(_SITES))
        roll = rng.random()
        if roll < 0.12 and recent:  # syndicated: a near-copy of a recent article (or of a copy)
            body = [_typo(line, rng) if rng.random() < 0.3 else line for line in rng.choice(recent)]
        elif roll < 0.16 and recent:  # exact repost
            body = list(rng.choice(recent))
        elif roll < 0.18:  # only boilerplate: empty after cleaning, once it recurs
            body = []
        else:
            body = [_sentence(rng) for _ in range(rng.randint(3, 9))]
            if rng.random() < 0.1:
                body.insert(rng.randrange(len(body)), _WIRE)
        if body:
            recent = [*recent[-30:], body]
        headline = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 8))).title()
        lines = [headline]
        if rng.random() < 0.6:
            lines.append(rng.choice([headline.upper(), _typo(headline, rng), headline]))
        lines.append(f"By {rng.choice(['Anna', 'Ben', 'Carla'])} {rng.choice(['Berg', 'Dahl'])}")
        lines.extend(_SITES[host][: rng.randint(1, len(_SITES[host]))])
        if rng.random() < 0.5:
            caption = f"{_sentence(rng)[:-1]} ({rng.choice(['AP', 'Reuters', 'TT'])})"
            copies = rng.randint(1, 3)
            lines.extend(rng.choice([caption, _typo(caption, rng)]) for _ in range(copies))
        lines.extend(body)
        records.append({"id": None if rng.random() < 0.1 else f"{host}/{i}", "host": host,
                        "url": f"https://{host}/a/{i}", "rank": i, "score": round(rng.random(), 3),
                        "text": "\n".join(lines)})
    records.append({"id": "empty", "host": "daily.example.com", "url": "https://x/e", "rank": -1,
                    "score": 0.0, "text": ""})
    return records


def test_generated_corpus_noisy_preset_groups_and_bad_records(
        spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Low thresholds (more candidates, more chains), boilerplate counted per site, oversize
    documents passed through, unreadable records passed through byte for byte; the graph of
    verified pairs split into connected components (the path of a graph too large for one
    task)."""
    monkeypatch.setattr(engine, "ONE_TASK_EDGES", 0)
    path = tmp_path / "corpus.jsonl"
    lines = [json.dumps(r, ensure_ascii=False) for r in generated_records()]
    lines.insert(40, '{"id": "broken", "text": "no closing brace"')
    lines.insert(90, json.dumps({"id": "numeric", "text": 5}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = preset("noisy").replace(group_field="host", on_error="pass",
                                     max_document_chars=900, workers=1)
    files = _both([str(path)], tmp_path, config, suffix=".jsonl")
    _assert_same(files)
    reasons = {json.loads(line)["reason"] for line in files["spark"]["audit"].splitlines()}
    assert reasons >= {"repeated_in_document", "boilerplate", "duplicated_content",
                       "near_duplicate_document", "empty_after_cleaning", "passed_bad_input",
                       "passed_oversize"}


def test_dataframe_in_and_out_keeps_other_columns(spark: SparkSession,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """clean_dataframe equals clean() over the same records, with buckets split in blocks of
    four (the path a huge bucket takes)."""
    monkeypatch.setattr(engine, "BLOCK", 4)
    records = generated_records(seed=11)
    config = Config(group_field="host", workers=1)
    schema = "id string, host string, url string, rank long, score double, text string"
    df = spark.createDataFrame([tuple(r[c] for c in ("id", "host", "url", "rank", "score",
                                                     "text")) for r in records], schema)
    kept, audit = engine.clean_dataframe(df, config, group_col="host")
    local = list(clean(records, config))
    assert kept.columns == df.columns
    assert [row.asDict() for row in kept.collect()] == [
        output_record(r, config) for r in local if r.text is not None]
    assert [engine.removal_dict(row) for row in audit.collect()] == [
        removal.as_dict() for r in local for removal in r.removals]
    assert audit.columns == ["doc_id", "source", "reason", "position", "text", "role",
                             "duplicate_of", "similarity", "doc_count", "group", "detail"]


def test_parquet_in_and_out_on_both_engines(spark: SparkSession, tmp_path: Path) -> None:
    """Parquet read by the executors (row order from the file) next to JSON Lines read on the
    driver, numbered across inputs; Parquet written with every other column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = generated_records(n=120, seed=3)
    first = tmp_path / "part1.parquet"
    pq.write_table(pa.Table.from_pylist(records[:70]), first, row_group_size=16)
    second = tmp_path / "part2.jsonl"
    second.write_text("".join(json.dumps(r) + "\n" for r in records[70:]), encoding="utf-8")
    files = _both([str(first), str(second)], tmp_path, Config(workers=1), suffix=".parquet")
    assert files["spark"]["audit"] == files["local"]["audit"]
    local = pq.read_table(tmp_path / "local.output.parquet")
    spark_out = pq.read_table(tmp_path / "spark.output.parquet")
    assert spark_out.schema == local.schema
    assert spark_out.to_pylist() == local.to_pylist()
    assert local.column_names == ["id", "host", "url", "rank", "score", "text"]
    by_url = {r["url"]: r for r in records}
    for row in spark_out.to_pylist():  # every column but the text is the input's
        assert {k: v for k, v in row.items() if k != "text"} == {
            k: v for k, v in by_url[row["url"]].items() if k != "text"}


def test_with_ordinal_matches_the_rdd_fallback(spark: SparkSession) -> None:
    df = spark.createDataFrame([(f"t{i}",) for i in range(23)], "text string").repartition(3)
    native = engine.with_ordinal(df, "n").collect()
    fallback = engine.with_ordinal_rdd(df, "n").collect()
    assert native == fallback
    assert sorted(r.n for r in native) == list(range(23))



# --- the graph steps on their own: components, and which documents can meet ----------------


def test_components_match_union_find(spark: SparkSession) -> None:
    """Long chains and random links need several large-star/small-star rounds."""
    rng = random.Random(5)
    nodes = rng.sample(range(10_000), 400)
    edges = {tuple(sorted(pair)) for pair in itertools.pairwise(nodes[:151])}  # a chain
    edges |= {tuple(sorted(rng.sample(nodes[150:], 2))) for _ in range(180)}
    parent = {n: n for n in nodes}

    def root(n: int) -> int:
        while parent[n] != n:
            n = parent[n]
        return n

    for a, b in edges:
        parent[max(root(a), root(b))] = min(root(a), root(b))
    expected = {n: min(m for m in nodes if root(m) == root(n)) for n in nodes
                if any(n in e for e in edges)}
    df = spark.createDataFrame([(a, b, 1.0) for a, b in sorted(edges)],
                               "a long, b long, sim double")
    assert {r.node: r.comp for r in engine._components(df).collect()} == expected
    rows = [Row(a=a, b=b) for a, b in sorted(edges)]
    assert dict(engine._union_find(rows)) == expected  # the one-task path


def _groups(spark: SparkSession, texts: list[tuple[int, str]], config: Config
            ) -> tuple[dict[int, int], dict[tuple[int, int], tuple[int, bool]]]:
    """The document groups of these texts, and each unit's (component, shared)."""
    docs = spark.createDataFrame(
        [(o, str(o), t, "t", o + 1, None, None, False, None) for o, t in texts], engine._DOCS)
    cache = engine._Cache()
    units, _ = engine._unit_components(engine._prepare(docs, config), config, cache)
    units = cache.keep(units)
    groups = {r.node: r.comp for r in engine._document_groups(units, cache).collect()}
    comps = {(r.ordinal, r.unit): (r.comp, r.shared) for r in units.collect()}
    cache.release()
    return groups, comps


def test_documents_meet_only_through_units_that_could_match(spark: SparkSession) -> None:
    """Each site's boilerplate is one component, shared by no content: it links nobody. A
    typo'd syndicated copy of an article links it to its original; so does a shorter line
    that is not content itself but could match the article's content unit (its clusters
    depend on that line's document). An unrelated article meets nobody."""
    body = ("The council approved the new budget for the harbour district after a long "
            "debate on Tuesday evening, officials said.")
    copy = body.replace("approved", "aproved").replace("harbour", "harbor")
    other = ("Farmers expect a late harvest this autumn as the rain kept the fields under "
             "water for many weeks, growers said.")
    shorter = other[:-12]  # 10 characters fewer: at most 100, so not content
    assert len(shorter) <= 100 < len(other)
    texts = [
        (0, "Follow North Daily on every platform today\n" + body),
        (1, "Follow North Daily on every platform today\nA quiet night in the old town, "
            "where the lamps were lit one by one by the old keeper of the market square."),
        (2, "South Times newsletter: sign up for the morning edition\n" + other),
        (3, "South Times newsletter: sign up for the morning edition\n" + copy),
        (4, "Completely separate text about a chess tournament held in a library hall "
            "with twelve players from four schools and their teachers."),
        (5, shorter + "\nA long paragraph about something else entirely: the museum opened "
            "a new wing for modern painting and sculpture this spring."),
    ]
    assert all(max(map(len, t.splitlines())) > 100 for _, t in texts)  # none all content
    config = Config(workers=1)
    groups, comps = _groups(spark, texts, config)
    assert groups == {0: 0, 3: 0, 2: 2, 5: 2}
    boilerplate = {comps[(0, 0)], comps[(1, 0)]}
    assert len(boilerplate) == 1 and not boilerplate.pop()[1]  # one component, not shared
    assert comps[(5, 0)] == comps[(2, 1)] and comps[(5, 0)][1]  # the shorter line: shared
    no_copy = [(o, t.replace(copy, "Other news entirely, nothing shared with any article "
                                   "from the northern site at all, not even a word of it."))
               for o, t in texts if o != 5]
    groups, _ = _groups(spark, no_copy, config)
    assert groups == {}


# --- the exactness argument's two premises, on their own --------------------------------------


@pytest.mark.parametrize("name", ["default", "noisy"])
def test_pair_checks_accept_every_pair_the_local_verifier_accepts(name: str) -> None:
    """Unit components are exact only if the size bounds and the could-match check let
    through every pair Verifier.long_units accepts (they may accept more: no word veto)."""
    from dedupe.fingerprint import jaccard, shingle_sets
    from dedupe.normalize import normalize_many
    from dedupe.verify import Verifier

    config = preset(name)
    rng = random.Random(11)
    texts = [_sentence(rng) for _ in range(150)]
    texts += [_typo(_typo(t, rng), rng) for t in texts[:150]]  # near copies
    for share in (9, 8, 7, 6, 5):  # shortened copies: the size bounds have to let them through
        texts += [t[: len(t) * share // 10] for t in texts[:60]]
    keys = [k for k in normalize_many(texts, config.normalize_steps)
            if len(k) >= config.short_unit_chars]
    hashes, offsets = shingle_sets(keys, config.shingle_size)
    sets = [hashes[offsets[i] : offsets[i + 1]] for i in range(len(keys))]
    verifier = Verifier(config)
    pairs = [(i, j) for i, j in itertools.combinations(range(len(keys)), 2)
             if verifier.long_units(keys[j], keys[i], jaccard(sets[j], sets[i])) is not None]
    assert len(pairs) > 100  # the test means something: many accepted pairs
    i, j = (np.array(x) for x in zip(*pairs, strict=True))
    sizes = np.array([(len(s), len(k)) for s, k in zip(sets, keys, strict=True)])
    assert engine._admitted(sizes[i], sizes[j], config.unit_threshold,
                            config.unit_edit_threshold).all()
    passed, _ = engine._could_match(keys, i, j, config.shingle_size, config.unit_threshold,
                                    config.unit_edit_threshold)
    assert passed.all()


def test_a_record_of_units_only_has_the_prepared_fingerprints() -> None:
    """Stage 2 rebuilds each unit's shingles from its key: they must be prepare_many's."""
    from dedupe.model import Document
    from dedupe.prepare import prepare

    config = Config()
    text = "\n".join(_sentence(random.Random(n)) for n in range(12)) + "\nTT\nBy Anna Berg"
    p = prepare(Document(id="d", text=text), config)
    rows = [Row(unit=i, key=key, short=bool(p.short[i]), bands=p.unit_bands[i].view(np.int64))
            for i, key in enumerate(p.keys)]
    record = engine._units_only(7, rows, config)
    for i in range(len(rows)):
        assert np.array_equal(record.shingles(i), p.shingles(i))
        assert np.array_equal(record.unit_bands[i], p.unit_bands[i])
    assert list(record.short) == list(p.short)
    assert record.document.ordinal == 7 and not record.content.size


# --- sessions and failures ------------------------------------------------------------------


def test_local_cores_of_master_urls() -> None:
    assert engine._local_cores("local") == 1
    assert engine._local_cores("local[3]") == 3
    assert engine._local_cores("local[4, 2]") == 4
    assert engine._local_cores("local[*]") == (os.cpu_count() or 1)
    assert engine._local_cores("spark://host:7077") is None
    assert engine._local_cores("yarn") is None


def test_a_lost_jvm_is_a_clear_engine_error(spark: SparkSession,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A task out of heap kills a local JVM: the driver sees a refused connection. The user
    gets one line that says what to change, not py4j's traceback."""
    from dedupe.jobs import EngineError

    def lost(*_: Any) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(engine, "_clean", lost)
    with pytest.raises(EngineError, match=r"out of memory.*SPARK_DRIVER_MEMORY"):
        list(engine.clean_files([str(FIXTURES / "news_scrape.txt")], Config()))
    assert spark.range(3).count() == 3  # the caller's session is left running
