"""The Spark engine: the local engine's cleaning as Spark stages, with identical results.

Why a second engine: one machine runs out of cores and memory at some corpus size; Spark spreads
the same work over a cluster. Why the results are identical: every per-document step is the
library's own code (``prepare.prepare_many`` for repair, segmentation, normalization,
fingerprints and in-document repeats; ``policy.Decider.finalize`` for the clean text and the
audit records), and the only sequential step of the local engine, ``Decider.observe``, is
replaced by joins whose outcome is provably the same:

Locally, items (documents, then the units of the documents that stay) are taken in input order;
each is compared with the earlier *leaders* it shares a band key (or a short-unit block) with,
joins the most similar verified one (ties: the earliest) or becomes a leader itself. Hence:

1. Exact copies (the same content shingle set, the same normalized key) form a *class*. Only a
   class's first item can lead: a later copy sees at least what the first saw. When the first
   leads, every copy joins it with similarity 1.0, so copies never need pairwise checks and a
   footer repeated a million times is one class, not a bucket of a million.
2. Whether a class leads depends only on classes linked to it by verified pairs. So: verify
   every class pair that shares a bucket (all of them, as the local index would be asked about
   any of them) and replay the rule over the graph in input order: a class leads iff no earlier
   linked class leads. Connected components (large-star/small-star joins) split a graph too
   large for one task into independent pieces, replayed one task each.
3. A copy whose class does not lead joins the best leading linked class that came before it.

The stages, in the order this module defines them:

    read      documents with their input position (``ordinal``), the local numbering
    prepare   mapPartitions over prepare_many: one row per document, kept for the run
    cluster   classes -> candidate pairs -> verified edges -> components -> replay -> leaders,
              first for documents (near-duplicates), then for units of kept documents
    count     documents per (cluster, group), for boilerplate
    finalize  mapPartitions over Decider.finalize: clean text and audit records per document

Nothing collects the corpus to the driver: it sees only what it reads (text and JSON Lines
inputs, streamed into a spool file) and what it writes (the results, one partition at a time).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
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
from dedupe.policy import Cluster, Decider, Placement
from dedupe.prepare import Prepared, prepare_many
from dedupe.segment import split_lines, unit_spans, unit_text

#: A unit's item id is ``ordinal * UNIT_SPAN + unit``: input order (documents, then units within
#: a document, as observe() walks them) in one sortable long.
UNIT_SPAN = 1 << 24
#: Members per block when a bucket is split: each task checks at most BLOCK * BLOCK pairs.
BLOCK = 512
#: A graph of verified pairs up to this size is replayed whole in one task; a larger one is
#: split into connected components first, and each component is replayed in its own task.
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
_UNIT = "struct<unit:int, key:string, short:boolean, bands:array<long>, chars:int, position:long>"
_PREPARED = (
    "ordinal long, id string, source string, line long, grp string, error string, "
    "is_record boolean, passed string, text string, repairs array<array<string>>, "
    "local_first array<int>, local_similarity array<double>, content binary, "
    f"content_digest binary, content_bands array<long>, units array<{_UNIT}>"
)
_EDGES = "a long, b long, sim double"
_STATUS = "cls long, leads boolean, targets array<struct<leader:long, sim:double>>"
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
    dropped = cache.keep(_near_duplicates(prepared, config, cache))
    clusters = _unit_clusters(prepared, dropped, config, cache)
    results = _finalize(prepared, dropped, clusters, config).persist(_KEEP)
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
            yield _prepared_row(p, config)


def _prepared_row(p: Prepared, config: Config) -> tuple[Any, ...]:
    """What the later stages need of a prepared document, as observe() would look at it."""
    doc = p.document
    if len(p.spans) >= UNIT_SPAN:
        raise ValueError(f"{doc.id}: more than {UNIT_SPAN - 1} units; lower max_document_chars")
    observed = p.passed is None and bool(p.spans)  # observe() skips the others entirely
    units = [
        (i, key, bool(p.short[i]), _longs(p.unit_bands[i]), len(unit_text(p.lines, p.spans[i])),
         p.position(i))
        for i, key in enumerate(p.keys)
        if observed and p.local_first[i] == i and p.matchable[i] and key
    ]
    matched = observed and p.content.size > 0 and config.drop_near_duplicate_documents
    content = np.asarray(p.content, np.uint32).tobytes() if matched else None
    return (doc.ordinal, doc.id, doc.source, doc.line, doc.group, doc.error,
            doc.record is not None, p.passed, p.text, [list(step) for step in p.repairs],
            list(p.local_first), list(p.local_similarity), content,
            None if content is None else hashlib.blake2b(content, digest_size=16).digest(),
            _longs(p.content_bands) if matched else None, units)


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


# --- cluster: documents, then units of kept documents --------------------------------------------


def _near_duplicates(prepared: DataFrame, config: Config, cache: _Cache) -> DataFrame:
    """Documents dropped as near-duplicates: (ordinal, dup_doc, similarity)."""
    if not config.drop_near_duplicate_documents:
        return prepared.sparkSession.createDataFrame(
            [], "ordinal long, dup_doc string, similarity double")
    # A class is one content set, by its 128-bit digest: the sets themselves (4 bytes a
    # shingle) are read only for the candidate pairs, by the first document's ordinal.
    items = prepared.where(F.col("content").isNotNull()).select(
        F.col("ordinal").alias("item"), "content_digest", F.col("content_bands").alias("bands"))
    members, classes = _classes(items, "content_digest", ["bands"], cache)
    contents = prepared.select(F.col("ordinal").alias("cls"), "content")
    verify = partial(_content_edges, threshold=config.document_threshold)
    edges = _verified(_band_pairs(classes), contents, "content", verify)
    leaders = _leaders(members, edges, cache)
    ids = prepared.select(F.col("ordinal").alias("leader"), F.col("id").alias("dup_doc"))
    return (leaders.where(F.col("item") != F.col("leader")).join(ids, "leader")
            .select(F.col("item").alias("ordinal"), "dup_doc", F.col("sim").alias("similarity")))


def _unit_clusters(prepared: DataFrame, dropped: DataFrame, config: Config, cache: _Cache
                   ) -> DataFrame:
    """Per kept document, the cluster of each observed unit: (ordinal, clusters)."""
    kept = prepared.join(dropped.select("ordinal"), "ordinal", "left_anti")
    units = kept.select("ordinal", "id", "grp", F.explode("units").alias("u")).select(
        (F.col("ordinal") * UNIT_SPAN + F.col("u.unit")).alias("item"), "ordinal", "grp",
        F.col("id").alias("doc_id"), "u.*")
    members, classes = _classes(units, "key", ["short", "bands"], cache)
    longs = classes.where(~F.col("short"))
    verify = partial(_key_edges, k=config.shingle_size, threshold=config.unit_threshold)
    edges = _verified(_band_pairs(longs), longs, "key", verify).unionByName(
        _short_edges(classes.where(F.col("short")), config.short_unit_threshold))
    leaders = cache.keep(_leaders(members, edges, cache))
    return _cluster_facts(leaders)


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


def _content_edges(rows: Iterable[Row], threshold: float) -> Iterator[tuple[int, int, float]]:
    """Documents: Jaccard of the content shingle sets, the later against the earlier."""
    for row in rows:
        sim = jaccard(np.frombuffer(row.fb, np.uint32), np.frombuffer(row.fa, np.uint32))
        if sim >= threshold:
            yield row.a, row.b, sim


def _key_edges(rows: Iterable[Row], k: int, threshold: float) -> Iterator[tuple[int, int, float]]:
    """Long units: Jaccard of the keys' shingle sets (shingled again here, not shipped)."""
    for chunk in _chunks(rows, 1024):
        n = len(chunk)
        hashes, offsets = shingle_sets([r.fb for r in chunk] + [r.fa for r in chunk], k)
        for i, row in enumerate(chunk):
            later = hashes[offsets[i] : offsets[i + 1]]
            earlier = hashes[offsets[n + i] : offsets[n + i + 1]]
            sim = jaccard(later, earlier)
            if sim >= threshold:
                yield row.a, row.b, sim


def _short_edges(classes: DataFrame, threshold: float) -> DataFrame:
    """Short units: pairs sharing a ShortIndex block, verified in place by edit similarity."""
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


def _leaders(members: DataFrame, edges: DataFrame, cache: _Cache) -> DataFrame:
    """Every member's leader (itself when it leads) and similarity, by the keep-first rule."""
    edges = cache.keep(edges)
    status = cache.keep(_replay(edges, edges.count()))
    nearest = F.filter("targets", lambda t: t["leader"] < F.col("item"))  # led before this item
    best = F.array_max(F.transform(  # most similar; ties: the earliest
        nearest, lambda t: F.struct(t["sim"].alias("sim"), (-t["leader"]).alias("neg"))))
    leads = F.coalesce(F.col("leads"), F.lit(True))  # a class with no verified pair leads
    return members.join(status, "cls", "left").select(
        *members.columns,
        F.when(leads, F.col("cls")).otherwise(-best["neg"]).alias("leader"),
        F.when(leads, F.lit(1.0)).otherwise(best["sim"]).alias("sim"))


def _replay(edges: DataFrame, count: int) -> DataFrame:
    """Each linked class: does it lead, and if not, its leading linked classes (leader, sim).

    Classes in different components never meet, so components are only a way to split the
    work: a graph that fits one task is replayed whole (one job, where component rounds would
    take several); a larger one is split into components, one task each.
    """
    if count <= ONE_TASK_EDGES:
        rows = edges.coalesce(1).rdd.mapPartitions(lambda part: _replay_component(list(part)))
    else:
        components = _components(edges).withColumnRenamed("node", "a")
        grouped = (edges.join(components, "a").groupBy("comp")
                   .agg(F.collect_list(F.struct("a", "b", "sim")).alias("edges")))
        rows = grouped.rdd.flatMap(lambda row: _replay_component(row.edges))
    return edges.sparkSession.createDataFrame(rows, _STATUS, verifySchema=False)


def _replay_component(edges: Sequence[Row]) -> Iterator[tuple[int, bool, list[tuple[int, float]]]]:
    """The keep-first rule over the classes of one component (or several), in input order."""
    linked: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for a, b, sim in edges:
        linked[a].append((b, sim))
        linked[b].append((a, sim))
    leaders: set[int] = set()
    for cls in sorted(linked):  # only earlier classes are decided yet
        if not any(other in leaders for other, _ in linked[cls]):
            leaders.add(cls)
    for cls in sorted(linked):
        leads = cls in leaders
        yield cls, leads, [] if leads else sorted(t for t in linked[cls] if t[0] in leaders)


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


def _cluster_facts(leaders: DataFrame) -> DataFrame:
    """Per document, each observed unit's cluster as Decider.finalize reads it: the leader's
    document, position and length, and the cluster's documents in this document's group."""
    counts = leaders.groupBy("leader", "grp").agg(F.countDistinct("ordinal").alias("doc_count"))
    heads = leaders.where(F.col("item") == F.col("leader")).select(
        F.col("item").alias("leader"), F.col("ordinal").alias("leader_ordinal"),
        F.col("doc_id").alias("leader_doc"), F.col("position").alias("leader_position"),
        F.col("chars").alias("leader_chars"))
    same = (F.col("m.leader") == F.col("c.leader")) & F.col("m.grp").eqNullSafe(F.col("c.grp"))
    facts = (leaders.alias("m").join(counts.alias("c"), same).select("m.*", "c.doc_count")
             .join(heads, "leader"))
    return facts.groupBy("ordinal").agg(F.collect_list(F.struct(
        "unit", "sim", "leader_ordinal", "leader_doc", "leader_position", "leader_chars",
        "doc_count")).alias("clusters"))


# --- finalize: the library's own decisions per document -------------------------------------------


@dataclass
class _KnownCluster(Cluster):
    """A cluster as the joins know it: the leader's length and this group's document count."""

    chars: int = 0
    count: int = 0

    @property
    def leader_chars(self) -> int:
        return self.chars

    def doc_count(self, group: str | None) -> int:
        return self.count


def _finalize(prepared: DataFrame, dropped: DataFrame, clusters: DataFrame, config: Config
              ) -> DataFrame:
    rows = (prepared.drop("content", "content_digest", "content_bands", "units")
            .join(dropped, "ordinal", "left").join(clusters, "ordinal", "left"))
    results = rows.rdd.mapPartitions(partial(_finalize_partition, config=config))
    return prepared.sparkSession.createDataFrame(results, _RESULTS, verifySchema=False)


def _finalize_partition(rows: Iterable[Row], config: Config) -> Iterator[tuple[Any, ...]]:
    """Rebuild what observe() would have left for each document, then finalize it."""
    decider = Decider(config)
    for row in rows:
        doc = Document(id=row.id, text=row.text, source=row.source, line=row.line,
                       record={} if row.is_record else None, group=row.grp,
                       ordinal=row.ordinal, error=row.error)
        if row.passed is not None:
            p = Prepared(doc, row.text, passed=row.passed)
        else:
            lines = split_lines(row.text)
            p = Prepared(doc, row.text, repairs=tuple((a, b) for a, b in row.repairs),
                         lines=lines, spans=unit_spans(lines, config.unit),
                         local_first=list(row.local_first),
                         local_similarity=list(row.local_similarity))
        placement = Placement()
        if row.dup_doc is not None:
            placement.duplicate_of, placement.similarity = Ref(row.dup_doc), row.similarity
        known: list[Cluster] = []
        for c in row.clusters or ():
            placement.clusters[c.unit] = (len(known), c.sim)
            known.append(_KnownCluster(c.leader_ordinal, c.leader_doc, c.leader_position, "",
                                       chars=c.leader_chars, count=c.doc_count))
        decider.clusters = known
        result = decider.finalize(p, placement)
        yield (row.ordinal, result.text, result.passed, result.units,
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
