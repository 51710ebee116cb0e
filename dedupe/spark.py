"""The Spark engine: the local engine's cleaning as Spark stages, with identical results.

Why a second engine: one machine runs out of cores and memory at some corpus size; Spark spreads
the same work over a cluster. Why the results are identical: the engine runs the library's own
code for every decision, not a re-implementation of it. ``prepare.prepare_many`` (repair,
segmentation, normalization, fingerprints, in-document repeats) runs per partition;
``Decider.observe`` runs over groups of documents, and of units, that nothing outside them can
affect, each group whole in one task, in input order; ``Decider.finalize`` runs per document.

What can affect what: ``observe`` places a unit from index lookups, and a lookup's answer
depends only on the candidates that pass verification. A unit's cluster therefore depends only
on its *component*: the units linked to it by pairs that could pass (copies of one match key;
long units sharing an LSH band whose Jaccard or edit similarity reaches its threshold; short
units sharing a block within the edit threshold; a superset, since the word veto is left out),
and on which of their documents are kept. A document's near-duplicate decision reads only the
clusters of its content units (Decider._verify_document) and the documents that share them. So:

    documents  a component holding a content unit is *shared*: its documents are linked, and
               each connected group of documents is decided by observe() over whole
               documents, with only their shared units matchable. Boilerplate and other short
               lines link nobody, so the groups are small (a story and its copies).
    units      the other components, over the kept documents: observe() over documents made
               of those units only (no content, so no document matching). Their clusters
               depend on nothing else.
    finalize   each cluster, named by its leader's item, brings its leader and its document
               count per group to its units; Decider.finalize per document.

The stages, in the order this module defines them:

    read      documents with their input position (``ordinal``), the local numbering
    prepare   mapPartitions over prepare_many: one row per document, kept for the run
    units     unit classes -> candidate pairs -> pairs that could match -> components
    groups    documents linked through shared components -> connected components
    decide    documents per group, units per component, finalize per document

Nothing collects the corpus to the driver: it sees only what it reads (text and JSON Lines
inputs, streamed into a spool file) and what it writes (the results, one partition at a time).
The argument at length, with measurements: docs/spark.md.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from itertools import combinations, groupby, islice, product
from operator import attrgetter
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from py4j.protocol import Py4JError, Py4JJavaError
from pyspark import RDD, StorageLevel
from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType
from rapidfuzz import fuzz
from rapidfuzz import process as rf_process
from rapidfuzz.distance import Indel

from dedupe.config import Config, ConfigError
from dedupe.fingerprint import shingle_sets
from dedupe.index import ShortIndex
from dedupe.io import STDIN, InputError, detect_format, read_inputs, read_path, record_document
from dedupe.jobs import EngineError
from dedupe.lsh import jaccard_pairs
from dedupe.model import Document, Ref, Removal, Result
from dedupe.pipeline import without_fingerprints
from dedupe.policy import Cluster, Decider, Placement
from dedupe.prepare import Prepared, prepare_many
from dedupe.segment import unit_text
from dedupe.verify import char_histograms, edit_similarity_bounds

#: A unit's item id is ``ordinal * UNIT_SPAN + unit``: input order (documents, then units within
#: a document, as observe() walks them) in one sortable long.
_UNIT_BITS = 24
UNIT_SPAN = 1 << _UNIT_BITS
#: Members per block when a bucket is split: each task checks at most BLOCK * BLOCK pairs.
BLOCK = 512
#: Links between documents up to this many are grouped by one task (a union-find); more are
#: grouped by joins (large-star/small-star), which spread over the cluster.
ONE_TASK_EDGES = 1_000_000
_CHUNK = 64  # documents per prepare_many call, as the local engine's chunks
_KEEP = StorageLevel.MEMORY_AND_DISK

#: Session settings the engine's own sessions get (a caller's session is used as it is).
SESSION_DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
}

# --- row schemas (DDL) ------------------------------------------------------------------------

# A document as read. ``extra`` is what only the driver needs back: the record's other fields
# (file inputs), or an unreadable record's raw text, which may not even be valid Unicode.
_DOCS = ("ordinal long, id string, text string, source string, line long, grp string, "
         "error string, is_record boolean, extra binary")
# size: the key's shingle-set size; length: the key's; chars: the unit text's.
_UNIT = ("struct<unit:int, key:string, short:boolean, bands:array<long>, size:int, length:int, "
         "content:boolean, position:long, chars:int>")
# ``packed``: the whole Prepared record, for observe(); ``final``: what finalize() reads.
_PREPARED = (f"ordinal long, id string, grp string, error string, units array<{_UNIT}>, "
             "packed binary, final binary")
_PLACED = "struct<unit:int, leader:long, sim:double>"
_DECISIONS = f"ordinal long, duplicate_of string, similarity double, placed array<{_PLACED}>"
_PLACEMENTS = "ordinal long, unit int, leader long, sim double"
_EDGES = "a long, b long, sim double"
_REMOVAL = ("struct<doc_id:string, source:string, reason:string, position:long, text:string, "
            "role:string, duplicate_of:struct<doc_id:string, position:long>, similarity:double, "
            "doc_count:long, `group`:string, detail:string>")
_RESULTS = (f"ordinal long, clean string, passed boolean, units int, "
            f"repairs array<array<string>>, removals array<{_REMOVAL}>")


# --- sessions and the two entry points ----------------------------------------------------------


def start_session(master: str = "local[*]", conf: Mapping[str, str] | None = None) -> SparkSession:
    """A SparkSession whose Python workers run this interpreter, so they import this dedupe.

    On a local master (one JVM runs every task) it also gets 4 shuffle partitions per core and
    a quarter of the machine's memory as heap, unless SPARK_DRIVER_MEMORY says otherwise:
    Spark's defaults (200 partitions, 1 GB) double the time of a 10 MB run and run out of heap
    near 20 MB. ``conf`` wins over all of these.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("dedupe")
    cores = _local_cores(master)
    local: dict[str, str] = {}
    if cores is not None:
        local["spark.sql.shuffle.partitions"] = str(4 * cores)
        if not os.environ.get("SPARK_DRIVER_MEMORY"):
            local["spark.driver.memory"] = f"{_quarter_of_memory_mb()}m"
    for key, value in {**SESSION_DEFAULTS, **local, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _quarter_of_memory_mb() -> int:
    """A quarter of this machine's physical memory, in MB (at least 1 GB)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: Spark's own default
        return 1024
    return max(1024, total // 4 // (1 << 20))


def _local_cores(master: str) -> int | None:
    """The cores of a local master (local, local[4], local[*], local[4,2]); None otherwise."""
    match = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\s*\d+)?\])?", master.strip())
    if match is None:
        return None
    count = match.group(1)
    return int(count) if count and count != "*" else (os.cpu_count() or 1) if count else 1


def clean_dataframe(
    df: DataFrame,
    config: Config | None = None,
    *,
    text_col: str = "text",
    id_col: str = "id",
    group_col: str | None = None,
) -> tuple[DataFrame, DataFrame]:
    """Clean a DataFrame: (kept rows, text replaced, other columns unchanged; audit records).

    Input order is the DataFrame's row order (partition by partition), numbered without gaps
    as the local engine numbers ``clean(records)``: ids generated for rows without one are the
    same. The column arguments win over the config's field names. Both results are sorted in
    input order; the audit has the fields of the JSON Lines audit (``removal_dict`` turns a row
    into exactly that record). The run's intermediate tables are released before returning;
    the numbered input and the results stay cached for the two DataFrames.
    """
    config = (config or Config()).replace(text_field=text_col, id_field=id_col,
                                          group_field=group_col)
    if text_col not in df.columns:
        raise InputError(f"<api>: the DataFrame has no {text_col!r} column "
                         f"(columns: {', '.join(df.columns)})")
    order = "__dedupe_ordinal"
    indexed = with_ordinal(df, order).persist(_KEEP)
    fields = list(dict.fromkeys(c for c in (text_col, id_col, group_col) if c in df.columns))
    records = indexed.select(F.col(order).alias("ordinal"), (F.col(order) + 1).alias("line"),
                             F.struct(*[_col(c) for c in fields]).alias("record"))
    docs = _records_to_documents(records, "<api>", config, api=True)
    results = _clean(docs, config)
    kept = results.where(F.col("clean").isNotNull()).select(
        F.col("ordinal").alias(order), F.col("clean").alias("__dedupe_clean"))
    clean = indexed.join(kept, order).orderBy(order).select(
        *[(F.col("__dedupe_clean") if c == text_col else _col(c)).alias(c) for c in df.columns])
    return clean, audit_frame(results)


def clean_files(inputs: Sequence[str], config: Config, *, master: str | None = None
                ) -> Iterator[Result]:
    """``dedupe clean --engine spark``: the Results of the inputs, in input order.

    jobs.run_job writes them with the local engine's own writers, audit and accounting. Text,
    JSON Lines and stdin are read on the driver (the local readers, so numbering and errors are
    the same) into a spool file; Parquet files are read by the executors. The session is the
    active one if there is one, else a new one on ``master`` (default local[*]), stopped at the
    end.
    """
    active = SparkSession.getActiveSession()
    try:
        spark = active if active is not None else start_session(master or "local[*]")
    except Exception as exc:  # no Java, a bad master URL: pyspark raises several types
        raise ConfigError(f"cannot start Spark on {master or 'local[*]'}: {exc} "
                          "(Spark needs Java 17; set JAVA_HOME)") from None
    try:
        with tempfile.TemporaryDirectory(prefix="dedupe-spark-") as spool:
            docs = _file_documents(spark, inputs, config, Path(spool))
            results = _clean(docs, config)
            try:
                yield from _driver_results(docs, results, config)
            finally:
                with contextlib.suppress(Py4JError, ConnectionError):  # the JVM may be gone
                    results.unpersist()
    except (Py4JError, ConnectionError) as exc:
        raise EngineError(_failure(exc)) from None
    finally:
        if active is None:
            with contextlib.suppress(Py4JError, ConnectionError):
                spark.stop()


def _failure(exc: Exception) -> str:
    """What to tell a user whose Spark run failed in the JVM: one line, and what to change."""
    text = str(exc)
    if "OutOfMemoryError" in text or not isinstance(exc, Py4JJavaError):
        # A task out of heap kills a local JVM: the driver then sees only a lost connection.
        return ("Spark failed: its JVM ran out of memory or stopped (see the log above); "
                "give it more memory: SPARK_DRIVER_MEMORY=8g for a local master (the engine "
                "gives a local session a quarter of this machine's memory), "
                "spark.executor.memory on a cluster")
    lines = [line.strip(": ") for line in text.splitlines() if "Exception" in line]
    return f"Spark failed: {(lines[0] if lines else text.splitlines()[0])[:300]}"


# --- read: documents with their input position ---------------------------------------------------


def with_ordinal(df: DataFrame, name: str) -> DataFrame:
    """``df`` with its 0-based row position, without gaps (zipWithIndex).

    Not monotonically_increasing_id: its values jump between partitions, so a generated id
    (the row position) would differ from the local engine's. Persist the result when the
    source is not deterministic: every recomputation must number rows the same way.
    """
    if hasattr(df, "zipWithIndex"):  # pyspark >= 4.2: computed in the JVM
        return df.zipWithIndex(name)
    return with_ordinal_rdd(df, name)


def with_ordinal_rdd(df: DataFrame, name: str) -> DataFrame:
    """``with_ordinal`` through RDD.zipWithIndex, for pyspark releases before 4.2."""
    schema = StructType([*df.schema.fields, StructField(name, LongType(), False)])
    rows = df.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1]))
    return df.sparkSession.createDataFrame(rows, schema, verifySchema=False)


def _records_to_documents(records: DataFrame, source: str, config: Config, *, api: bool
                          ) -> DataFrame:
    """(ordinal, line, record struct) rows -> document rows, through io.record_document."""
    convert = partial(_record_rows, source=source, config=config, api=api)
    rows = records.rdd.mapPartitions(convert)
    return records.sparkSession.createDataFrame(rows, _DOCS, verifySchema=False)


def _record_rows(rows: Iterable[Row], *, source: str, config: Config, api: bool
                 ) -> Iterator[tuple[Any, ...]]:
    """The local reader's rules for a record: its id, group, text, or why it is unusable."""
    for row in rows:
        record = row.record.asDict(recursive=True)
        fallback = str(row.ordinal) if api else f"{source}:{row.line}"
        try:
            doc = record_document(record, source, row.line, config, fallback)
        except InputError as exc:  # as read_inputs makes a BadRecord into a Document
            yield (row.ordinal, f"{source}:{row.line}", "", source, row.line, None, str(exc),
                   False, None)
            continue
        # The text travels in its own column; the record keeps its key order for the output.
        extra = None if api else pickle.dumps({**record, config.text_field: None})
        yield (row.ordinal, doc.id, doc.text, source, row.line, doc.group, None, True, extra)


def _file_documents(spark: SparkSession, inputs: Sequence[str], config: Config, spool: Path
                    ) -> DataFrame:
    """The documents of every input, numbered across inputs as io.read_inputs numbers them."""
    parts: list[DataFrame] = []
    offset = 0
    writer = _Spool(spool / "documents.parquet", config)
    for path in inputs:
        if path != STDIN and detect_format(path, config.format) == "parquet":
            rows = _parquet_rows(path, config)
            parts.append(_parquet_documents(spark, path, offset, config))
            offset += rows
        else:
            offset += writer.add(read_inputs([path], config), offset)
    if writer.close():
        parts.append(spark.read.parquet(str(writer.path)))
    docs = spark.createDataFrame([], _DOCS)
    for part in parts:
        docs = docs.unionByName(part)
    return docs


def _parquet_rows(path: str, config: Config) -> int:
    """Rows in a Parquet input, from its footer; a missing or unreadable file fails as locally."""
    next(read_path(path, config), None)  # the local reader's own errors, in its own words
    return int(pq.ParquetFile(path).metadata.num_rows)


def _parquet_documents(spark: SparkSession, path: str, offset: int, config: Config
                       ) -> DataFrame:
    """A Parquet input read by the executors; the file's row index gives the input order."""
    raw = spark.read.parquet(path)
    index = F.col("_metadata.row_index")
    records = raw.select((index + offset).alias("ordinal"), (index + 1).alias("line"),
                         F.struct(*[_col(c) for c in raw.columns]).alias("record"))
    return _records_to_documents(records, path, config, api=False)


class _Spool:
    """Documents read on the driver, written to a Parquet file that the executors read.

    The driver holds one batch at a time, never the corpus. (On a cluster the spool directory
    must be visible to the executors; Parquet inputs and the Python API need no spool.)
    """

    _BATCH = 2048
    _SCHEMA = pa.schema([("ordinal", pa.int64()), ("id", pa.string()), ("text", pa.string()),
                         ("source", pa.string()), ("line", pa.int64()), ("grp", pa.string()),
                         ("error", pa.string()), ("is_record", pa.bool_()),
                         ("extra", pa.binary())])

    def __init__(self, path: Path, config: Config) -> None:
        self.path = path
        self.config = config
        self.rows = 0
        self._batch: list[dict[str, Any]] = []
        self._writer: pq.ParquetWriter | None = None

    def add(self, docs: Iterable[Document], offset: int) -> int:
        """Spool documents numbered from ``offset``; returns how many there were."""
        count = 0
        for doc in docs:
            self._batch.append(self._row(doc, offset + doc.ordinal))
            count += 1
            if len(self._batch) >= self._BATCH:
                self._flush()
        return count

    def _row(self, doc: Document, ordinal: int) -> dict[str, Any]:
        field = self.config.text_field
        extra: bytes | None
        if doc.error is not None:  # raw text, perhaps with undecodable bytes: driver only
            text, extra = "", pickle.dumps(doc.text)
        else:
            text = doc.text
            extra = None if doc.record is None else pickle.dumps({**doc.record, field: None})
        return {"ordinal": ordinal, "id": doc.id, "text": text, "source": doc.source,
                "line": doc.line, "grp": doc.group, "error": doc.error,
                "is_record": doc.record is not None, "extra": extra}

    def _flush(self) -> None:
        try:
            table = pa.Table.from_pylist(self._batch, schema=self._SCHEMA)
        except UnicodeEncodeError:  # lone surrogates, e.g. from a JSON "\ud800" escape
            bad = next(r for r in self._batch
                       if not _is_unicode(*(v for v in r.values() if isinstance(v, str))))
            raise InputError(f"{bad['source']}:{bad['line']}: text with lone surrogate code "
                             "points cannot go through Spark; use --engine local") from None
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, self._SCHEMA)
        self._writer.write_table(table)
        self.rows += len(self._batch)
        self._batch = []

    def close(self) -> bool:
        """Finish the file; False when nothing was spooled."""
        if self._batch:
            self._flush()
        if self._writer is not None:
            self._writer.close()
        return self.rows > 0


def _is_unicode(*texts: str) -> bool:
    try:
        for text in texts:
            text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- the algorithm -------------------------------------------------------------------------------


def _clean(docs: DataFrame, config: Config) -> DataFrame:
    """Documents in, one result row per document out (persisted; intermediates released)."""
    cache = _Cache()
    prepared = cache.keep(_prepare(_spread(docs), config))
    _raise_first_error(prepared, config)
    units, classes = _unit_components(prepared, config, cache)
    units = cache.keep(units)
    groups = _document_groups(units, cache)
    decisions = cache.keep(_decide_documents(prepared, units, groups, config))
    placements = _place_units(units, classes, decisions, config).unionByName(
        decisions.select("ordinal", F.explode("placed").alias("p")).select("ordinal", "p.*"))
    results = _finalize(prepared, units, decisions, placements, config).persist(_KEEP)
    results.count()  # materialized: the intermediates are no longer needed
    cache.release()
    return results


class _Cache:
    """A run's persisted intermediate tables, released together when the results exist."""

    def __init__(self) -> None:
        self._frames: list[DataFrame] = []

    def keep(self, df: DataFrame) -> DataFrame:
        df = df.persist(_KEEP)
        self._frames.append(df)
        return df

    def release(self) -> None:
        for df in self._frames:
            df.unpersist()
        self._frames.clear()


def _spread(docs: DataFrame) -> DataFrame:
    """At least two partitions per core for prepare, the CPU-heavy stage."""
    want = 2 * docs.sparkSession.sparkContext.defaultParallelism
    return docs if docs.rdd.getNumPartitions() >= want else docs.repartition(want, "ordinal")


# --- prepare: the library's own per-document work ---------------------------------------------


def _prepare(docs: DataFrame, config: Config) -> DataFrame:
    rows = docs.drop("extra").rdd.mapPartitions(partial(_prepare_partition, config=config))
    return docs.sparkSession.createDataFrame(rows, _PREPARED, verifySchema=False)


_T = TypeVar("_T")


def _chunks(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _prepare_partition(rows: Iterable[Row], config: Config) -> Iterator[tuple[Any, ...]]:
    for chunk in _chunks(rows, _CHUNK):
        docs = [Document(id=r.id, text=r.text, source=r.source, line=r.line,
                         record={} if r.is_record else None, group=r.grp, ordinal=r.ordinal,
                         error=r.error) for r in chunk]
        for p in prepare_many(docs, config):
            yield _prepared_row(p)


def _prepared_row(p: Prepared) -> tuple[Any, ...]:
    """A prepared document: the units observe() looks up (what decides which documents can
    meet), and the whole record, pickled, for the decision stage."""
    doc = p.document
    if len(p.spans) >= UNIT_SPAN:
        raise ValueError(f"{doc.id}: more than {UNIT_SPAN - 1} units; lower max_document_chars")
    observed = p.passed is None and bool(p.spans)  # observe() skips the others entirely
    content = set(p.content_units)
    sizes = np.diff(p.offsets).tolist()
    units = [(i, key, bool(p.short[i]), _longs(p.unit_bands[i]), sizes[i], len(key),
              i in content, p.position(i), len(unit_text(p.lines, p.spans[i])))
             for i, key in enumerate(p.keys)
             if observed and p.local_first[i] == i and p.matchable[i] and key]
    return (doc.ordinal, doc.id, doc.group, doc.error, units,
            pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL),
            pickle.dumps(without_fingerprints(p), protocol=pickle.HIGHEST_PROTOCOL))


def _longs(keys: np.ndarray) -> list[int]:
    """uint64 band keys as Spark longs: the same bits, so equality is unchanged."""
    return np.ascontiguousarray(keys, dtype=np.uint64).view(np.int64).tolist()


def _raise_first_error(prepared: DataFrame, config: Config) -> None:
    """on_error=fail: the first unusable record (executors cannot raise it in order)."""
    if config.on_error != "fail":
        return
    bad = (prepared.where(F.col("error").isNotNull()).orderBy("ordinal").select("error")
           .first())
    if bad is not None:
        raise InputError(bad.error)


# --- which units can meet, and which documents --------------------------------------------------


def _unit_components(prepared: DataFrame, config: Config, cache: _Cache
                     ) -> tuple[DataFrame, DataFrame]:
    """Every unit observe() looks up, with its component: (units, classes).

    ``units``: item, ordinal, unit, content, position, chars, cls, comp, shared. A lookup's
    answer depends only on the candidates that pass verification, so a unit can be placed
    differently only through a chain of unit pairs that could pass it: copies of one match
    key (a class, named ``cls`` by its first item), long units sharing an LSH band whose
    Jaccard or edit similarity reaches its threshold, short units sharing a block within the
    edit threshold. These pairs are a superset of what the local engine verifies (the word
    veto is left out); ``comp`` is their connected component, named by its smallest class.
    ``shared``: the component holds a content unit, so documents' near-duplicate decisions
    depend on it. ``classes``: cls, key, short, bands, size, length.
    """
    units = prepared.select("ordinal", F.explode("units").alias("u")).select(
        (F.col("ordinal") * UNIT_SPAN + F.col("u.unit")).alias("item"), "ordinal", "u.*")
    members, classes = _classes(units, "key", ["short", "bands", "size", "length"], cache)
    longs = classes.where(~F.col("short"))
    edges = _band_edges(longs, config).unionByName(
        _short_edges(classes.where(F.col("short")), config.short_unit_threshold))
    comps = _connected(edges.select("a", "b"), cache).withColumnRenamed("node", "cls")
    members = members.join(comps, "cls", "left").withColumn(
        "comp", F.coalesce(F.col("comp"), F.col("cls")))
    shared = members.where(F.col("content")).select("comp").distinct().withColumn(
        "shared", F.lit(True))
    units = members.join(shared, "comp", "left").withColumn(
        "shared", F.coalesce(F.col("shared"), F.lit(False)))
    return units, classes


def _document_groups(units: DataFrame, cache: _Cache) -> DataFrame:
    """(node, comp) for every document linked to another: the documents whose near-duplicate
    decisions can meet, each group named by its smallest ordinal.

    A document's decision (Decider._verify_document) reads only the clusters of its content
    units: their components are ``shared``, and every document with a unit in one of them
    can change which cluster a unit there joins (by being kept or dropped) or which documents
    share it. So the documents of a shared component are linked; boilerplate, bylines and
    other short lines shared across a corpus are not content and link nobody.
    """
    x, y = F.shiftright("comp", _UNIT_BITS), F.col("ordinal")  # a component's first document
    links = (units.where(F.col("shared")).select(x.alias("x"), y.alias("y"))
             .where(F.col("x") != F.col("y")))
    return _connected(links.select(F.col("x").alias("a"), F.col("y").alias("b")), cache)


def _connected(edges: DataFrame, cache: _Cache) -> DataFrame:
    """(node, comp) for every node of the edges (a, b): comp is the smallest node of its
    connected component. A union-find in one task up to ONE_TASK_EDGES links, else joins."""
    links = cache.keep(edges.select(F.least("a", "b").alias("a"), F.greatest("a", "b").alias("b"))
                       .distinct())
    if links.count() <= ONE_TASK_EDGES:  # one task: a union-find, where joins take rounds
        rows = links.coalesce(1).rdd.mapPartitions(_union_find)
        return links.sparkSession.createDataFrame(rows, "node long, comp long",
                                                  verifySchema=False)
    return _components(links)


def _union_find(edges: Iterable[Row]) -> Iterator[tuple[int, int]]:
    """(node, comp) for every node of the edges: comp is the smallest node of its component."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    for node in parent:
        yield node, root(node)


def _classes(items: DataFrame, key: str, features: list[str], cache: _Cache
             ) -> tuple[DataFrame, DataFrame]:
    """Exact copies are one class, named by its first item: (members + cls, classes).

    ``classes`` holds the key and the features of each class's first item.
    """
    firsts = cache.keep(items.groupBy(key).agg(
        F.min("item").alias("cls"), *(F.min_by(f, "item").alias(f) for f in features)))
    members = items.drop(*features).join(firsts.select(key, "cls"), key).drop(key)
    return members, firsts


def _band_edges(classes: DataFrame, config: Config) -> DataFrame:
    """Long-unit class pairs (a < b) sharing a key in the same band that could match: edges
    (a, b, sim), once each. Checked where the bucket's pairs are made (``_bucket_edges``), so
    the candidates never become rows: at a low candidate threshold there are millions."""
    member = F.struct("cls", "size", "length", "key").alias("m")
    # A bucket is named by a hash of (band, key): grouping by one long is twice as fast, and
    # two buckets that collide only add candidates, which the check then rejects.
    buckets = (classes.select(member, F.posexplode("bands").alias("band", "bucket"))
               .groupBy(F.xxhash64("band", "bucket").alias("bucket"))
               .agg(F.array_sort(F.collect_list("m")).alias("members"))
               .where(F.size("members") > 1))
    check = partial(_bucket_edges, k=config.shingle_size,
                    jaccard_threshold=config.unit_threshold,
                    edit_threshold=config.unit_edit_threshold)
    edges = _bucket_tasks(buckets).mapPartitions(check)
    spark = classes.sparkSession
    return spark.createDataFrame(edges, _EDGES, verifySchema=False).dropDuplicates(["a", "b"])


#: Pairs from small buckets are checked together, this many at a time.
_PAIR_BATCH = 4096


def _bucket_edges(tasks: Iterable[tuple[list[Row], list[Row] | None]], k: int,
                  jaccard_threshold: float, edit_threshold: float
                  ) -> Iterator[tuple[int, int, float]]:
    """The edges among each task's pairs (``_pair_edges``). The pairs of small buckets (most
    of them: two or three members) are gathered and checked in batches; a large task is
    checked on its own, each of its keys shingled once."""
    check = partial(_pair_edges, k=k, jaccard_threshold=jaccard_threshold,
                    edit_threshold=edit_threshold)
    batch: list[Row] = []  # pairs, flat: members 2p and 2p + 1
    for block, other in tasks:
        if other is None and len(block) <= 32:
            batch.extend(m for pair in combinations(block, 2) for m in pair)
            if len(batch) >= 2 * _PAIR_BATCH:
                yield from check(batch, *_alternate(len(batch)))
                batch = []
        elif other is None:
            yield from check(block, *np.triu_indices(len(block), 1))
        else:
            yield from check([*block, *other], np.repeat(np.arange(len(block)), len(other)),
                             np.tile(np.arange(len(other)), len(block)) + len(block))
    if batch:
        yield from check(batch, *_alternate(len(batch)))


def _alternate(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Indexes of the pairs of a flat list of pairs: (0, 1), (2, 3), ..."""
    first = np.arange(0, n, 2)
    return first, first + 1


def _pair_edges(members: list[Row], i: np.ndarray, j: np.ndarray, k: int,
                jaccard_threshold: float, edit_threshold: float
                ) -> Iterator[tuple[int, int, float]]:
    """Edges (cls, cls, sim) for the pairs (members[i], members[j]) that could match: first
    admitted by their sizes (``_admitted``), then checked (``_could_match``) with the keys
    of the admitted pairs only."""
    sizes = np.array([(m.size, m.length) for m in members], dtype=np.int64).reshape(-1, 2)
    ok = _admitted(sizes[i], sizes[j], jaccard_threshold, edit_threshold)
    used, index = np.unique(np.concatenate([i[ok], j[ok]]), return_inverse=True)
    i, j = np.split(index, 2)
    passed, sims = _could_match([members[u].key for u in used.tolist()], i, j, k,
                                jaccard_threshold, edit_threshold)
    for x, y, sim in zip(used[i[passed]].tolist(), used[j[passed]].tolist(),
                         sims[passed].tolist(), strict=True):
        yield members[x].cls, members[y].cls, sim


def _admitted(a: np.ndarray, b: np.ndarray, jaccard_threshold: float, edit_threshold: float
              ) -> np.ndarray:
    """Which pairs (rows of shingle-set size, key length) could pass by their sizes alone:
    a Jaccard is at most the ratio of the set sizes, an edit similarity at most
    ``2 * min(len) / (len_a + len_b)`` (Decider._admit_units' bounds, with its margin). Most
    candidates of a low candidate threshold fail both (a short line against a long one)."""
    slack = 1e-9  # never reject a pair on rounding
    ok = (np.minimum(a[:, 0], b[:, 0])
          >= (jaccard_threshold - slack) * np.maximum(a[:, 0], b[:, 0]))
    ok |= (2 * np.minimum(a[:, 1], b[:, 1])
           >= (edit_threshold - slack) * (a[:, 1] + b[:, 1]))
    return ok


def _could_match(keys: list[str], i: np.ndarray, j: np.ndarray, k: int,
                 jaccard_threshold: float, edit_threshold: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Which pairs (keys[i], keys[j]) could match, and how well: the Jaccard of the keys'
    shingle sets (made again here, as prepare_many makes them) or their edit similarity
    reaches its threshold (Verifier.long_units before its word veto). Compiled Jaccards, then
    rapidfuzz over the pairs they leave that the character-count bound
    (``verify.edit_similarity_bounds``) does not rule out."""
    hashes, offsets = shingle_sets(keys, k)
    sims = jaccard_pairs(hashes, offsets, i, hashes, offsets, j, floor=jaccard_threshold)
    passed = sims >= jaccard_threshold
    rest = np.flatnonzero(~passed)
    if rest.size:
        sims[rest] = 0.0  # (below the cutoff, as rapidfuzz says it)
        hists = char_histograms(keys)
        lengths = np.fromiter(map(len, keys), dtype=np.int64, count=len(keys))
        reach = edit_similarity_bounds(hists[j[rest]], lengths[j[rest]], hists[i[rest]],
                                       lengths[i[rest]])
        rest = rest[reach >= edit_threshold - 1e-9]  # the others cannot reach it
    if rest.size:
        text = np.empty(len(keys), dtype=object)
        text[:] = keys
        edits = rf_process.cpdist(text[j[rest]], text[i[rest]],
                                  scorer=Indel.normalized_similarity,
                                  score_cutoff=edit_threshold, dtype=np.float64)
        sims[rest] = edits
        passed[rest] = edits >= edit_threshold
    return passed, sims


def _bucket_tasks(buckets: DataFrame) -> RDD[tuple[list[Any], list[Any] | None]]:
    """Every bucket's pairs as tasks of at most BLOCK² pairs, spread over the cluster.

    A huge bucket (thousands of distinct near-identical lines sharing a band) would otherwise
    be one task; split into blocks it is many. Every pair of the bucket is still in exactly
    one task: the leader rule needs them all.
    """
    width = 2 * buckets.sparkSession.sparkContext.defaultParallelism
    size = BLOCK  # read here, on the driver: the tasks carry it
    return buckets.rdd.flatMap(lambda row: _split(list(row.members), size)).repartition(width)


def _split(members: list[Any], size: int) -> Iterator[tuple[list[Any], list[Any] | None]]:
    """(block, None): the pairs inside a block; (block, other): the pairs across two blocks."""
    blocks = [members[i : i + size] for i in range(0, len(members), size)]
    for i, block in enumerate(blocks):
        yield block, None
        for other in blocks[i + 1 :]:
            yield block, other


def _task_pairs(task: tuple[list[Any], list[Any] | None]) -> Iterator[tuple[Any, Any]]:
    """The task's pairs, earlier member first (members are sorted, blocks ascending)."""
    block, other = task
    return combinations(block, 2) if other is None else product(block, other)


def _short_edges(classes: DataFrame, threshold: float) -> DataFrame:
    """Short units: pairs sharing a ShortIndex block within its edit threshold."""
    spark = classes.sparkSession
    blocks = spark.createDataFrame(
        classes.select("cls", "key").rdd.flatMap(
            lambda r: [(block, r.cls, r.key) for block in ShortIndex._block_keys(r.key)]),
        "block string, cls long, key string", verifySchema=False)
    buckets = (blocks.groupBy("block")
               .agg(F.array_sort(F.collect_list(F.struct("cls", "key"))).alias("members"))
               .where(F.size("members") > 1))
    edges = _bucket_tasks(buckets).mapPartitions(partial(_edit_edges, cutoff=threshold * 100.0))
    return spark.createDataFrame(edges, _EDGES, verifySchema=False).distinct()


def _edit_edges(tasks: Iterable[tuple[list[Row], list[Row] | None]], cutoff: float
                ) -> Iterator[tuple[int, int, float]]:
    """ShortIndex.find's score: rapidfuzz ratio of the later key against the earlier one, with
    its cutoff expression (``threshold * 100.0``) and its scaling (score / 100)."""
    for task in tasks:
        for (a, key_a), (b, key_b) in _task_pairs(task):
            score = fuzz.ratio(key_b, key_a, score_cutoff=cutoff)
            if score >= cutoff:
                yield a, b, float(score) / 100.0


def _components(edges: DataFrame) -> DataFrame:
    """(node, comp) for every node of the graph: comp is the smallest node of its component.

    Alternating large-star and small-star (Kiveris et al., "Connected Components in MapReduce
    and Beyond", 2014): O(log² n) rounds of joins, against as many rounds as the graph's
    diameter for plain label propagation. Both steps keep connectivity; the loop stops when the
    graph is a forest of stars, each around its smallest node.
    """
    ee = edges.select(F.col("a").alias("lo"), F.col("b").alias("hi"))  # distinct already
    while not _is_star_forest(ee):  # the check also materializes the round's checkpoint
        ee = _small_star(_large_star(ee)).localCheckpoint(eager=False)
    leaves = ee.select(F.col("hi").alias("node"), F.col("lo").alias("comp"))
    roots = ee.select(F.col("lo").alias("node"), F.col("lo").alias("comp")).distinct()
    return leaves.unionByName(roots)


def _large_star(ee: DataFrame) -> DataFrame:
    """Link each node's larger neighbours to the smallest node of its neighbourhood."""
    both = ee.unionByName(ee.select(F.col("hi").alias("lo"), F.col("lo").alias("hi")))
    smallest = both.groupBy(F.col("lo").alias("u")).agg(F.min("hi").alias("m")).select(
        "u", F.least("u", "m").alias("m"))
    return (ee.join(smallest, ee["lo"] == smallest["u"])
            .select(F.col("m").alias("lo"), F.col("hi")).distinct())


def _small_star(ee: DataFrame) -> DataFrame:
    """Link each node, and its smaller neighbours, to its smallest neighbour."""
    smallest = ee.groupBy("hi").agg(F.min("lo").alias("m"))
    relinked = (ee.join(smallest, "hi").select(F.col("m").alias("lo"), F.col("lo").alias("hi"))
                .where(F.col("lo") != F.col("hi")))
    return relinked.unionByName(smallest.select(F.col("m").alias("lo"), "hi")).distinct()


def _is_star_forest(ee: DataFrame) -> bool:
    """Every edge joins a root (never a leaf) to a leaf with that one root (one aggregation)."""
    ends = ee.select(F.col("hi").alias("node"), F.lit(1).alias("leaf"), F.lit(0).alias("root"))
    ends = ends.unionByName(
        ee.select(F.col("lo").alias("node"), F.lit(0).alias("leaf"), F.lit(1).alias("root")))
    roles = ends.groupBy("node").agg(F.sum("leaf").alias("leaf"), F.max("root").alias("root"))
    return roles.where((F.col("leaf") > 1) | ((F.col("leaf") > 0) & (F.col("root") > 0))
                       ).isEmpty()


# --- decide: the local engine's own decisions, in three stages -------------------------------
#
# 1. documents: per group of documents that can meet, Decider.observe over whole documents in
#    input order, with only their units of shared components matchable: which documents are
#    near-duplicates, and the clusters of the units in shared components.
# 2. units: per group of the other components, Decider.observe over the kept documents' units
#    of those components only (no content: no document matching): their clusters.
# 3. finalize: each cluster's leader and document count per group, joined to its units;
#    Decider.finalize per document, which needs nothing else.
#
# A cluster is named by its leader's item (ordinal * UNIT_SPAN + unit), the same in every task.


def _decide_documents(prepared: DataFrame, units: DataFrame, groups: DataFrame, config: Config
                      ) -> DataFrame:
    """Stage 1: (ordinal, duplicate_of, similarity, placed) for every document."""
    width = 2 * prepared.sparkSession.sparkContext.defaultParallelism
    matchable = units.where(F.col("shared")).groupBy("ordinal").agg(
        F.collect_list("unit").alias("matchable"))
    group = F.coalesce(F.col("comp"), F.col("ordinal")).alias("grp_id")
    rows = (prepared.select("ordinal", "packed")
            .join(groups.withColumnRenamed("node", "ordinal"), "ordinal", "left")
            .join(matchable, "ordinal", "left")
            .select(group, "ordinal", "packed", "matchable")
            .repartition(width, "grp_id").sortWithinPartitions("ordinal"))
    decisions = rows.rdd.mapPartitions(partial(_observe_documents, config=config))
    return prepared.sparkSession.createDataFrame(decisions, _DECISIONS, verifySchema=False)


def _observe_documents(rows: Iterable[Row], config: Config) -> Iterator[tuple[Any, ...]]:
    """One Decider for the partition's groups (they never meet), in input order."""
    decider, leaders = Decider(config), _Leaders()
    for row in rows:
        p = pickle.loads(row.packed)
        only = np.zeros(len(p.matchable), dtype=bool)
        only[row.matchable or []] = True
        p.matchable = p.matchable & only
        placement, placed = leaders.observe(decider, p, range(len(p.spans)))
        dup = placement.duplicate_of
        yield (row.ordinal, None if dup is None else dup.doc_id,
               None if dup is None else placement.similarity, placed)


def _place_units(units: DataFrame, classes: DataFrame, decisions: DataFrame, config: Config
                 ) -> DataFrame:
    """Stage 2: (ordinal, unit, leader, sim) for the kept documents' units in components that
    are not shared. Their clusters depend only on the units of their component in kept
    documents, so each component is placed on its own."""
    width = 2 * units.sparkSession.sparkContext.defaultParallelism
    kept = decisions.where(F.col("duplicate_of").isNull()).select("ordinal")
    rows = (units.where(~F.col("shared")).join(kept, "ordinal")
            .join(classes.select("cls", "key", "short", "bands"), "cls")
            .select("comp", "ordinal", "unit", "key", "short", "bands")
            .repartition(width, "comp").sortWithinPartitions("ordinal", "unit"))
    placed = rows.rdd.mapPartitions(partial(_observe_units, config=config))
    return units.sparkSession.createDataFrame(placed, _PLACEMENTS, verifySchema=False)


def _observe_units(rows: Iterable[Row], config: Config) -> Iterator[tuple[int, int, int, float]]:
    """One Decider for the partition's components (they never meet), a document's units at a
    time in input order. Units of different components in one document are one lookup, as in
    observe(): they cannot match each other."""
    decider, leaders = Decider(config), _Leaders()
    for ordinal, same_document in groupby(rows, key=attrgetter("ordinal")):
        unit_rows = list(same_document)
        p = _units_only(ordinal, unit_rows, config)
        _, placed = leaders.observe(decider, p, [r.unit for r in unit_rows])
        for unit, leader, sim in placed:
            yield ordinal, unit, leader, sim


def _units_only(ordinal: int, rows: list[Row], config: Config) -> Prepared:
    """A document made of these units only, as observe() sees them: their match keys and
    fingerprints (the shingles made again from the keys, as prepare_many makes them), each
    its own first copy, no content (so no document matching)."""
    n = len(rows)
    keys = [r.key for r in rows]
    hashes, offsets = shingle_sets(keys, config.shingle_size)
    return Prepared(
        Document(id="", text="", record={}, ordinal=ordinal), "", lines=[""] * n,
        spans=[(j, j) for j in range(n)], keys=keys, matchable=np.ones(n, dtype=bool),
        short=np.array([r.short for r in rows], dtype=bool), hashes=hashes, offsets=offsets,
        unit_bands=np.array([r.bands for r in rows], dtype=np.int64).view(np.uint64),
        local_first=list(range(n)), local_similarity=[1.0] * n)


class _Leaders:
    """The leader item of each cluster of a Decider: a cluster's name in every task."""

    def __init__(self) -> None:
        self.items: list[int] = []

    def observe(self, decider: Decider, p: Prepared, unit_ids: Sequence[int]
                ) -> tuple[Placement, list[tuple[int, int, float]]]:
        """decider.observe(p), and where p's units went: (unit id, leader item, similarity).
        ``unit_ids``: each of p's units' number in its input document."""
        before = len(decider.clusters)
        placement = decider.observe(p)
        self.items.extend([-1] * (len(decider.clusters) - before))
        base = p.document.ordinal * UNIT_SPAN
        for i, (cluster, _) in placement.clusters.items():
            if cluster >= before:  # a cluster this document's unit leads
                self.items[cluster] = base + unit_ids[i]
        return placement, [(unit_ids[i], self.items[cluster], sim)
                           for i, (cluster, sim) in placement.clusters.items()]


def _finalize(prepared: DataFrame, units: DataFrame, decisions: DataFrame,
              placements: DataFrame, config: Config) -> DataFrame:
    """Stage 3: a result row per document. A unit's cluster brings its leader's document,
    position and length, and the kept documents of the unit's group it is in."""
    docs = prepared.select("ordinal", "id", "grp")
    placed = placements.join(docs.select("ordinal", "grp"), "ordinal")
    counts = (placed.select("leader", "grp", "ordinal").distinct()
              .groupBy("leader", "grp").agg(F.count("*").alias("docs")))
    leaders = (units.select(F.col("item").alias("leader"), F.col("ordinal").alias("lo"),
                            "position", "chars")
               .join(docs.select(F.col("ordinal").alias("lo"), F.col("id").alias("leader_doc")),
                     "lo"))
    p, c = placed.alias("p"), counts.alias("c")
    counted = p.join(c, (F.col("p.leader") == F.col("c.leader"))
                     & F.col("p.grp").eqNullSafe(F.col("c.grp")))
    clusters = (counted.select("p.ordinal", "p.unit", "p.leader", "p.sim", "c.docs")
                .join(leaders, "leader")
                .groupBy("ordinal").agg(F.collect_list(F.struct(
                    "unit", "sim", F.col("lo").alias("leader_ordinal"), "leader_doc",
                    F.col("position").alias("leader_position"),
                    F.col("chars").alias("leader_chars"), "docs")).alias("clusters")))
    rows = (prepared.select("ordinal", "final").join(decisions.drop("placed"), "ordinal")
            .join(clusters, "ordinal", "left"))
    results = rows.rdd.mapPartitions(partial(_finalize_partition, config=config))
    return prepared.sparkSession.createDataFrame(results, _RESULTS, verifySchema=False)


def _finalize_partition(rows: Iterable[Row], config: Config) -> Iterator[tuple[Any, ...]]:
    decider = Decider(config)  # finalize() reads only its config and its clusters
    for row in rows:
        p = pickle.loads(row.final)
        placement = Placement()
        if row.duplicate_of is not None:
            placement.duplicate_of, placement.similarity = Ref(row.duplicate_of), row.similarity
        group = p.document.group
        decider.clusters = []
        for c in row.clusters or ():
            placement.clusters[c.unit] = (len(decider.clusters), c.sim)
            # The document count in its group is all finalize() reads of a cluster's documents.
            decider.clusters.append(Cluster(
                c.leader_ordinal, c.leader_doc, c.leader_position, "", earlier={group: c.docs},
                chars=c.leader_chars))
        result = decider.finalize(p, placement)
        yield (result.document.ordinal, result.text, result.passed, result.units,
               [list(step) for step in result.repairs],
               [_removal_row(r) for r in result.removals])


def _removal_row(removal: Removal) -> tuple[Any, ...]:
    """An audit record as a row: exactly the JSON audit's values (similarity rounded)."""
    d = removal.as_dict()
    dup = d.get("duplicate_of")
    return (d["doc_id"], d["source"], d["reason"], d["position"], d["text"], d.get("role"),
            None if dup is None else (dup["doc_id"], dup.get("position")),
            d.get("similarity"), d.get("doc_count"), d.get("group"), d.get("detail"))


# --- results back: DataFrames and Python objects ---------------------------------------------


def audit_frame(results: DataFrame) -> DataFrame:
    """One row per removal, in input order, with the JSON Lines audit's fields."""
    return (results.select("ordinal", F.posexplode("removals").alias("seq", "r"))
            .orderBy("ordinal", "seq").select("r.*"))


def removal(row: Row) -> Removal:
    """An audit row back as the local engine's Removal."""
    dup = row.duplicate_of
    return Removal(doc_id=row.doc_id, reason=row.reason, text=row.text, source=row.source,
                   position=row.position, role=row.role,
                   duplicate_of=None if dup is None else Ref(dup.doc_id, dup.position),
                   similarity=row.similarity, doc_count=row.doc_count, group=row["group"],
                   detail=row.detail)


def removal_dict(row: Row) -> dict[str, Any]:
    """An audit row as the JSON Lines audit record (Removal.as_dict)."""
    return removal(row).as_dict()


def _driver_results(docs: DataFrame, results: DataFrame, config: Config) -> Iterator[Result]:
    """The Results in input order, one partition at a time on the driver."""
    rows = docs.join(results, "ordinal").orderBy("ordinal")
    decider = Decider(config)
    for row in rows.toLocalIterator(prefetchPartitions=True):
        doc = Document(id=row.id, text=row.text, source=row.source, line=row.line,
                       group=row.grp, ordinal=row.ordinal, error=row.error)
        if row.error is not None:
            # Unreadable records never meet the matching; their result is the local policy's,
            # made here where their raw text is.
            raw = row.text if row.extra is None else pickle.loads(row.extra)
            yield decider.finalize(Prepared(replace(doc, text=raw), raw, passed="bad_input"),
                                   Placement())
            continue
        if row.extra is not None:
            record = pickle.loads(row.extra)
            record[config.text_field] = row.text
            doc = replace(doc, record=record)
        yield Result(doc, row.clean, tuple(removal(r) for r in row.removals),
                     tuple((a, b) for a, b in row.repairs), passed=row.passed, units=row.units)


def _col(name: str) -> Column:
    """A column by its exact name (dots and backticks are not paths)."""
    return F.col("`" + name.replace("`", "``") + "`")


__all__ = ["BLOCK", "SESSION_DEFAULTS", "UNIT_SPAN", "audit_frame", "clean_dataframe",
           "clean_files", "removal", "removal_dict", "start_session", "with_ordinal",
           "with_ordinal_rdd"]
