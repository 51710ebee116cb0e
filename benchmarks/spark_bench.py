"""Scale evidence for the Spark engine: time and shuffle bytes as the corpus grows.

Run from the repository root::

    python -m benchmarks.spark_bench [--sizes 5 10 20 40] [--master local[2]] [--local]
    make bench-spark

For each size, the news-like benchmark corpus (``benchmarks/corpus.py``: sites with boilerplate,
syndicated near-copies, reposts, shared wire paragraphs, typos, mojibake) is generated once
under ``benchmarks/out/`` (gitignored) and converted to Parquet. Spark reads it, and
``dedupe.spark.clean_dataframe`` cleans it; the clean rows and the audit are written as Parquet
under ``benchmarks/out/spark/``. The clock runs from the read to the last written file (the
session start is reported once, apart). Shuffle bytes and stage counts come from Spark's own
monitoring REST API (``/api/v1``: the UI is on, on a free port, for this purpose), summed over
the stages the run completed. ``--local`` also times the local engine on the same corpus, as a
reference point.

It also reports how far the decisions spread: the groups of documents whose near-duplicate
decisions can meet (each group is decided in one task), the largest group's documents, and the
largest component of the other units (placed in one task).

The table says how time and shuffle grow with input size: the growth exponent k between two
sizes is log(y2/y1) / log(x2/x1), so k = 1 is linear. The numbers go to
``benchmarks/out/spark_bench.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import time
import urllib.request
from pathlib import Path
from typing import Any

import pyarrow.json as pa_json
import pyarrow.parquet as pq

from benchmarks.corpus import OUT_DIR, corpus_path
from dedupe import Config

SPARK_OUT = OUT_DIR / "spark"


def parquet_corpus(megabytes: float, seed: int = 1) -> Path:
    """The JSON Lines benchmark corpus of this size as Parquet (row groups of 2,000 documents,
    so the executors can split it), made once."""
    path = OUT_DIR / f"news-{megabytes:g}mb-s{seed}.parquet"
    if not path.exists():
        table = pa_json.read_json(corpus_path(megabytes, seed))
        tmp = path.with_suffix(".parquet.tmp")
        pq.write_table(table, tmp, row_group_size=2000)
        tmp.replace(path)
    return path


class StageMetrics:
    """Shuffle bytes and stage counts of the stages completed since ``mark()``, from the
    monitoring REST API of the running application."""

    def __init__(self, spark: Any) -> None:
        sc = spark.sparkContext
        if not sc.uiWebUrl:
            raise RuntimeError("the Spark UI is off: the benchmark reads its /api/v1 metrics")
        self._url = f"{sc.uiWebUrl}/api/v1/applications/{sc.applicationId}/stages"
        self._tracker = sc.statusTracker()
        self._seen: set[int] = set()

    def _stages(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self._url, timeout=30) as response:
            return list(json.load(response))

    def _settled(self) -> list[dict[str, Any]]:
        """The stage list once the listener has caught up (it is updated asynchronously)."""
        previous = -1
        while True:
            stages = self._stages()
            done = sum(s["status"] in ("COMPLETE", "SKIPPED", "FAILED") for s in stages)
            if done == previous and not self._tracker.getActiveStageIds():
                return stages
            previous = done
            time.sleep(0.5)

    def mark(self) -> None:
        self._seen = {s["stageId"] for s in self._settled()}

    def since_mark(self) -> dict[str, int]:
        new = [s for s in self._settled() if s["stageId"] not in self._seen
               and s["status"] == "COMPLETE"]
        return {
            "stages": len(new),
            "tasks": sum(int(s["numCompleteTasks"]) for s in new),
            "shuffle_write_bytes": sum(int(s["shuffleWriteBytes"]) for s in new),
            "shuffle_read_bytes": sum(int(s["shuffleReadBytes"]) for s in new),
            "input_bytes": sum(int(s["inputBytes"]) for s in new),
        }


def run_spark(spark: Any, metrics: StageMetrics, source: Path, config: Config) -> dict[str, Any]:
    from dedupe.spark import clean_dataframe

    out = SPARK_OUT / source.stem
    metrics.mark()
    start = time.perf_counter()
    df = spark.read.parquet(str(source))
    clean, audit = clean_dataframe(df, config, group_col="host")
    clean.write.mode("overwrite").parquet(str(out / "clean.parquet"))
    audit.write.mode("overwrite").parquet(str(out / "audit.parquet"))
    seconds = time.perf_counter() - start
    counts = {"documents": df.count(),
              "kept": spark.read.parquet(str(out / "clean.parquet")).count(),
              "removals": spark.read.parquet(str(out / "audit.parquet")).count()}
    spark.catalog.clearCache()  # clean_dataframe leaves its input and results cached for reuse
    return {"seconds": round(seconds, 2), **counts, **metrics.since_mark()}


def group_sizes(spark: Any, source: Path, config: Config) -> dict[str, Any]:
    """How far the decisions spread: the groups of documents that can meet (untimed, apart
    from the run): how many there are, the largest one's documents, and the largest component
    of units outside them."""
    from pyspark.sql import functions as F

    from dedupe import spark as engine

    cfg = config.replace(group_field="host")
    df = spark.read.parquet(str(source))
    indexed = engine.with_ordinal(df, "o")
    records = indexed.select(F.col("o").alias("ordinal"), (F.col("o") + 1).alias("line"),
                             F.struct(*[F.col(c) for c in ("text", "id", "host")])
                             .alias("record"))
    docs = engine._records_to_documents(records, "<bench>", cfg, api=True)
    cache = engine._Cache()
    try:
        units, _ = engine._unit_components(engine._prepare(docs, cfg), cfg, cache)
        units = cache.keep(units)
        groups = engine._document_groups(units, cache)
        sizes = [r["count"] for r in groups.groupBy("comp").count().collect()]
        component = units.where(~F.col("shared")).groupBy("comp").count().agg(
            F.max("count")).first()[0]
    finally:
        cache.release()
    total = df.count()
    alone = total - sum(sizes)
    largest = max(sizes, default=1)
    return {"groups": len(sizes) + alone, "documents_alone": alone,
            "largest_group": largest, "largest_group_share": round(largest / max(total, 1), 3),
            "largest_unit_component": component or 0}


def run_local(source: Path, config: Config, workers: int) -> float:
    """Seconds the local engine takes on the same documents (read from the same Parquet),
    writing the clean records and the audit as JSON Lines under benchmarks/out/local/."""
    from dedupe.jobs import run_job

    out = OUT_DIR / "local"
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    run_job([str(source)], str(out / f"{source.stem}.clean.jsonl"),
            config.replace(group_field="host", workers=workers),
            audit=str(out / f"{source.stem}.audit.jsonl"))
    return round(time.perf_counter() - start, 2)


def growth(rows: list[dict[str, Any]], key: str) -> list[float | None]:
    """The exponent k of y ~ size^k between each size and the previous one."""
    out: list[float | None] = [None]
    for prev, row in itertools.pairwise(rows):
        if prev[key] > 0 and row[key] > 0:
            out.append(round(math.log(row[key] / prev[key]) / math.log(row["mb"] / prev["mb"]), 2))
        else:
            out.append(None)
    return out


def table(rows: list[dict[str, Any]]) -> str:
    time_k, shuffle_k = growth(rows, "seconds"), growth(rows, "shuffle_write_bytes")
    head = (f"{'MB':>5} {'docs':>7} {'removals':>9} {'seconds':>8} {'MB/s':>6} "
            f"{'shuffle MB':>10} {'stages':>6} {'tasks':>6} {'k time':>6} {'k shuffle':>9}"
            f" {'groups':>7} {'largest':>7} {'unit comp':>9}"
            + ("  local s" if "local_seconds" in rows[0] else ""))
    lines = [head, "-" * len(head)]
    for row, kt, ks in zip(rows, time_k, shuffle_k, strict=True):
        line = (f"{row['mb']:>5g} {row['documents']:>7} {row['removals']:>9} "
                f"{row['seconds']:>8.1f} {row['mb'] / row['seconds']:>6.2f} "
                f"{row['shuffle_write_bytes'] / 1e6:>10.1f} {row['stages']:>6} {row['tasks']:>6} "
                f"{'' if kt is None else kt:>6} {'' if ks is None else ks:>9}"
                f" {row['groups']:>7} {row['largest_group']:>7}"
                f" {row['largest_unit_component']:>9}")
        if "local_seconds" in row:
            line += f"  {row['local_seconds']:>7.1f}"
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[5, 10, 20, 40],
                        help="corpus sizes in MB [5 10 20 40]")
    parser.add_argument("--master", default="local[2]", help="Spark master [local[2]]")
    parser.add_argument("--shuffle-partitions", type=int, default=8,
                        help="spark.sql.shuffle.partitions (AQE coalesces them) [8]")
    parser.add_argument("--local", action="store_true",
                        help="also time the local engine (workers = the master's cores)")
    args = parser.parse_args()

    from dedupe.spark import start_session

    sources = {mb: parquet_corpus(mb) for mb in args.sizes}  # generated before the clock runs
    started = time.perf_counter()
    spark = start_session(args.master, {
        "spark.ui.enabled": "true", "spark.ui.port": "0",  # the REST metrics need the UI
        "spark.sql.shuffle.partitions": str(args.shuffle_partitions),
        "spark.driver.memory": "4g"})
    session_seconds = round(time.perf_counter() - started, 2)
    metrics = StageMetrics(spark)
    config = Config()
    rows: list[dict[str, Any]] = []
    try:
        for mb, source in sources.items():
            row: dict[str, Any] = {"mb": mb, **run_spark(spark, metrics, source, config)}
            row.update(group_sizes(spark, source, config))
            if args.local:
                cores = spark.sparkContext.defaultParallelism
                row["local_seconds"] = run_local(source, config, cores)
            rows.append(row)
            print(f"{mb:g} MB: {row['seconds']:.1f} s", flush=True)
    finally:
        spark.stop()
    print()
    print(table(rows))
    report = {
        "master": args.master, "shuffle_partitions": args.shuffle_partitions,
        "session_start_seconds": session_seconds, "python": platform.python_version(),
        "cpus": os.cpu_count(), "load_average": os.getloadavg(), "config": config.as_dict(),
        "runs": rows,
        "growth": {"time": growth(rows, "seconds"), "shuffle": growth(rows, "shuffle_write_bytes")},
    }
    out = OUT_DIR / "spark_bench.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nsession start {session_seconds:.1f} s (not in the times above); wrote {out}")


if __name__ == "__main__":
    main()
