"""The Spark engine: the local engine's cleaning as Spark stages, with identical results.

Why a second engine: one machine runs out of cores and memory at some corpus size; Spark spreads
the same work over a cluster. Why the results are identical: the engine runs the library's own
code for every decision, not a re-implementation of it. ``prepare.prepare_many`` (repair,
segmentation, normalization, fingerprints, in-document repeats) runs per partition; then the
local engine's batch decisions (``pipeline.decide_all``: ``Decider.observe`` in input order,
then ``Decider.finalize``) run over *groups of documents that can meet*, each group whole in
one task, in input order.

Which documents can meet: ``observe`` decides a document from index lookups, and a lookup's
answer depends only on the candidates that pass verification. Two documents can therefore
affect each other only through a chain of unit pairs that could pass it: copies of a match key,
long units that share an LSH band and reach the Jaccard or the edit threshold, short units that
share a block and reach the edit threshold. Near-duplicate documents are found through the
units they share too (``Decider._verify_document`` matches documents by unit clusters). So:
classes of equal keys, candidate pairs from the band and block buckets, the pairs that could
match (a superset of the verified ones: the word veto is left out), their documents linked,
connected components (a union-find in one task, or large-star/small-star joins for a large
graph). Each component is decided as the whole input would decide it, since nothing outside
it can change an answer inside it.

The stages, in the order this module defines them:

    read      documents with their input position (``ordinal``), the local numbering
    prepare   mapPartitions over prepare_many: one row per document, kept for the run
    groups    unit classes -> candidate pairs -> pairs that could match -> linked
              documents -> connected components
    decide    repartition by group, sort by ordinal, mapPartitions over decide_all

Nothing collects the corpus to the driver: it sees only what it reads (text and JSON Lines
inputs, streamed into a spool file) and what it writes (the results, one partition at a time).
How far the decisions spread depends on the corpus: a site's boilerplate links its pages into
one group, and lines shared across sites join their groups (docs/spark.md).
"""

from __future__ import annotations

import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from itertools import combinations, islice, product
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark import RDD, StorageLevel
from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StructField, StructType
from rapidfuzz import fuzz

from dedupe.config import Config, ConfigError
from dedupe.fingerprint import jaccard, shingle_sets
from dedupe.index import ShortIndex
from dedupe.io import STDIN, InputError, detect_format, read_inputs, read_path, record_document
from dedupe.model import Document, Ref, Removal, Result
from dedupe.pipeline import decide_all
from dedupe.policy import Decider, Placement
from dedupe.prepare import Prepared, prepare_many
from dedupe.verify import edit_similarity

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
_UNIT = "struct<unit:int, key:string, short:boolean, bands:array<long>>"
_PREPARED = f"ordinal long, error string, units array<{_UNIT}>, packed binary"
_EDGES = "a long, b long, sim double"
_REMOVAL = ("struct<doc_id:string, source:string, reason:string, position:long, text:string, "
            "role:string, duplicate_of:struct<doc_id:string, position:long>, similarity:double, "
            "doc_count:long, `group`:string, detail:string>")
_RESULTS = (f"ordinal long, clean string, passed boolean, units int, "
            f"repairs array<array<string>>, removals array<{_REMOVAL}>")


# --- sessions and the two entry points ----------------------------------------------------------


def start_session(master: str = "local[*]", conf: Mapping[str, str] | None = None) -> SparkSession:
    """A SparkSession whose Python workers run this interpreter, so they import this dedupe."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName("dedupe")
    for key, value in {**SESSION_DEFAULTS, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


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
                results.unpersist()
    finally:
        if active is None:
            spark.stop()


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
    groups = cache.keep(_meeting_groups(prepared, config, cache))
    results = _decide(prepared, groups, config).persist(_KEEP)
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
    units = [(i, key, bool(p.short[i]), _longs(p.unit_bands[i]))
             for i, key in enumerate(p.keys)
             if observed and p.local_first[i] == i and p.matchable[i] and key]
    return (doc.ordinal, doc.error, units, pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL))


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


# --- which documents can meet -------------------------------------------------------------------


def _meeting_groups(prepared: DataFrame, config: Config, cache: _Cache) -> DataFrame:
    """(node, comp) for every document linked to another: the documents that can meet, each
    group named by its smallest ordinal.

    observe() decides a document from index lookups only, and a lookup's answer depends only
    on the candidates that pass verification. So two documents can affect each other's
    decisions only through a chain of unit pairs that could pass it: copies of one match key,
    long units sharing an LSH band whose Jaccard or edit similarity reaches its threshold,
    short units sharing a block within the edit threshold. (Documents meet as near-duplicates
    only through units they share: Decider._verify_document matches them by unit clusters.)
    These links are a superset of what the local engine verifies (the word veto is left
    out); the groups are their connected components. A document in no link meets nobody.
    """
    units = prepared.select("ordinal", F.explode("units").alias("u")).select(
        (F.col("ordinal") * UNIT_SPAN + F.col("u.unit")).alias("item"), "ordinal", "u.*")
    members, classes = _classes(units, "key", ["short", "bands"], cache)
    longs = classes.where(~F.col("short"))
    verify = partial(_key_edges, k=config.shingle_size, jaccard_threshold=config.unit_threshold,
                     edit_threshold=config.unit_edit_threshold)
    edges = _verified(_band_pairs(longs), longs, "key", verify).unionByName(
        _short_edges(classes.where(F.col("short")), config.short_unit_threshold))
    first = F.shiftright("cls", _UNIT_BITS)  # a class's first document
    links = members.select(first.alias("x"), F.col("ordinal").alias("y")).unionByName(
        edges.select(F.shiftright("a", _UNIT_BITS).alias("x"),
                     F.shiftright("b", _UNIT_BITS).alias("y")))
    links = cache.keep(links.where(F.col("x") != F.col("y")).select(
        F.least("x", "y").alias("a"), F.greatest("x", "y").alias("b")).distinct())
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


def _band_pairs(classes: DataFrame) -> DataFrame:
    """Class pairs (a < b) sharing a key in the same band, once each: the LSH candidates."""
    buckets = (classes.select("cls", F.posexplode("bands").alias("band", "bucket"))
               .groupBy("band", "bucket").agg(F.array_sort(F.collect_list("cls")).alias("members"))
               .where(F.size("members") > 1))
    pairs = _bucket_tasks(buckets).flatMap(_task_pairs)
    spark = classes.sparkSession
    return spark.createDataFrame(pairs, "a long, b long", verifySchema=False).distinct()


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


def _verified(pairs: DataFrame, classes: DataFrame, feature: str,
              verify: Callable[[Iterable[Row]], Iterator[tuple[int, int, float]]]) -> DataFrame:
    """Candidate pairs with both classes' ``feature`` -> edges (a, b, sim) that pass ``verify``.

    ``classes`` is any table of (cls, feature); only the classes in a pair are read.
    """
    first = classes.select(F.col("cls").alias("a"), F.col(feature).alias("fa"))
    second = classes.select(F.col("cls").alias("b"), F.col(feature).alias("fb"))
    rows = pairs.join(first, "a").join(second, "b").rdd.mapPartitions(verify)
    return classes.sparkSession.createDataFrame(rows, _EDGES, verifySchema=False)


def _key_edges(rows: Iterable[Row], k: int, jaccard_threshold: float, edit_threshold: float
               ) -> Iterator[tuple[int, int, float]]:
    """Long units that could match: the Jaccard of the keys' shingle sets (shingled again
    here, not shipped) or their edit similarity reaches its threshold (Verifier.long_units
    before its word veto)."""
    for chunk in _chunks(rows, 1024):
        n = len(chunk)
        hashes, offsets = shingle_sets([r.fb for r in chunk] + [r.fa for r in chunk], k)
        for i, row in enumerate(chunk):
            later = hashes[offsets[i] : offsets[i + 1]]
            earlier = hashes[offsets[n + i] : offsets[n + i + 1]]
            sim = jaccard(later, earlier)
            if sim >= jaccard_threshold:
                yield row.a, row.b, sim
                continue
            edit = edit_similarity(row.fb, row.fa, edit_threshold)
            if edit >= edit_threshold:
                yield row.a, row.b, edit


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


# --- decide: the local engine's own decisions, per group of documents that can meet ------------


def _decide(prepared: DataFrame, groups: DataFrame, config: Config) -> DataFrame:
    """Each partition gets whole groups and runs pipeline.decide_all over its documents in
    input order: the local engine's batch decisions. Groups never meet, so one Decider per
    partition decides each of them as one over the whole input would (a document in no group
    is a group of its own)."""
    width = 2 * prepared.sparkSession.sparkContext.defaultParallelism
    group = F.coalesce(F.col("comp"), F.col("ordinal")).alias("grp_id")
    rows = (prepared.select("ordinal", "packed")
            .join(groups.withColumnRenamed("node", "ordinal"), "ordinal", "left")
            .select(group, "ordinal", "packed")
            .repartition(width, "grp_id").sortWithinPartitions("ordinal"))
    results = rows.rdd.mapPartitions(partial(_decide_partition, config=config))
    return prepared.sparkSession.createDataFrame(results, _RESULTS, verifySchema=False)


def _decide_partition(rows: Iterable[Row], config: Config) -> Iterator[tuple[Any, ...]]:
    prepared = (pickle.loads(row.packed) for row in rows)
    for result in decide_all(prepared, Decider(config)):
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
