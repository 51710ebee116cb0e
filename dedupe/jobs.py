"""A file-to-file cleaning job: read inputs, clean, write output, audit and stats together.

This is what the CLI (and a make target) runs. Every output appears atomically, only when the
run succeeds, and the run ends with the accounting check: documents read = written + dropped
+ skipped. A violation is a bug and fails loudly (AccountingError, exit 3).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dedupe import pool
from dedupe.config import Config, ConfigError
from dedupe.io import (
    STDIN,
    OutputError,
    OutputSet,
    detect_format,
    escape_surrogates,
    format_results,
    read_inputs,
    strip_compression,
)
from dedupe.model import Removal, Result, Stats
from dedupe.report import audit_lines, stats_dict

if TYPE_CHECKING:
    from dedupe.store import IndexRun


class AccountingError(RuntimeError):
    """Documents read != written + dropped + skipped: a bug, never a user error."""


class EngineError(RuntimeError):
    """The engine's own machinery failed (Spark out of memory, its JVM gone): the environment,
    not the input; the message says what to change."""


def output_format(output: str, inputs: Sequence[str], config: Config) -> str:
    """The format to write: as asked, else by the output's extension, else the input's."""
    if config.output_format != "auto":
        return config.output_format
    if output != STDIN:
        suffix_format = detect_format(output)
        if suffix_format != "text" or Path(strip_compression(output)).suffix in (".txt", ""):
            return suffix_format
    first = next((p for p in inputs if p != STDIN), None)
    if config.format != "auto":
        return config.format
    return detect_format(first) if first else "text"


def check_paths(inputs: Sequence[str], outputs: Sequence[str | None]) -> None:
    """Refuse to write over an input (by path, symlink or hard link): the run would destroy
    what it reads; and refuse a directory as an output."""
    sources = {os.path.realpath(p) for p in inputs if p != STDIN}
    source_files = {_file_id(p) for p in inputs if p != STDIN} - {None}
    for out in outputs:
        if out is None or out == STDIN:
            continue
        if os.path.realpath(out) in sources or _file_id(out) in source_files:
            raise ConfigError(f"{out}: output would overwrite an input; choose another path")
        if os.path.isdir(out):
            raise ConfigError(f"{out}: output is a directory; give a file path")
    written = [o for o in outputs if o is not None and o != STDIN]
    if len(written) != len(set(map(os.path.realpath, written))):
        raise ConfigError("output, --audit and --stats must be different files")
    if sum(1 for o in outputs if o == STDIN) > 1:
        raise ConfigError("only one of output, --audit and --stats can be stdout ('-')")


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def run_job(
    inputs: Sequence[str],
    output: str | None,
    config: Config,
    *,
    audit: str | None = None,
    stats_path: str | None = None,
    stream: bool = False,
    index: str | None = None,
    read_only: bool = False,
    engine: str = "local",
    master: str | None = None,
) -> Stats:
    """Clean `inputs` into `output` (and the audit and stats files); returns the counts.

    ``engine``: "local", or "spark" to run on Apache Spark (``master``: its master URL,
    default local[*]); the output, audit and stats are the same.

    ``index``: a persistent index (SQLite path or redis:// URL) to clean against in one pass;
    what the run kept is added to it in one transaction after the outputs are in place,
    unless ``read_only``. ``output`` None writes no documents (``dedupe index build``).
    """
    spark = _spark_master(engine, master, stream=stream, index=index)
    if spark is None:  # the workers' server boots while this process imports the pipeline
        pool.start_early(inputs, config.workers or os.cpu_count() or 1)
    if index is None:
        if read_only:
            raise ConfigError("--read-only needs --index")
        return _run_files(inputs, output, config, audit, stats_path, stream, None, spark)
    from dedupe.store import is_url, open_index

    check_paths(inputs, [output, audit, stats_path, None if is_url(index) else index])
    with open_index(index, create=not read_only) as store, \
            store.begin(config, read_only=read_only) as run:
        stats = _run_files(inputs, output, config, audit, stats_path, True, run)
        if not read_only:  # after the outputs: a failure here leaves them, never a gap
            run.commit(list(inputs))
    return stats


def _spark_master(engine: str, master: str | None, *, stream: bool, index: str | None
                  ) -> str | None:
    """The Spark master to run on, or None for the local engine; refuses what Spark lacks."""
    if engine not in ("local", "spark"):
        raise ConfigError(f"--engine must be local or spark, got {engine!r}")
    if engine == "local":
        if master is not None:
            raise ConfigError("--master needs --engine spark")
        return None
    if stream:
        raise ConfigError("--stream is not available with --engine spark (Spark decides in batch)")
    if index is not None:
        raise ConfigError("--index is not available with --engine spark")
    return master or "local[*]"


def _run_files(inputs: Sequence[str], output: str | None, config: Config, audit: str | None,
               stats_path: str | None, stream: bool, run: IndexRun | None,
               spark: str | None = None) -> Stats:
    check_paths(inputs, [output, audit, stats_path])
    fmt = output_format(output or STDIN, inputs, config)
    if fmt == "parquet" and output is not None:
        return _run_parquet(inputs, output, config, audit=audit, stats_path=stats_path,
                            stream=stream, run=run, spark=spark)
    stats = Stats()
    with OutputSet() as outputs:
        write = outputs.open(output) if output is not None else _discard
        write_audit = outputs.open(audit) if audit else None
        for chunk in format_results(_counted(inputs, config, stats, write_audit, stream, run,
                                             spark), fmt, config):
            write(chunk)
        _finish(stats, config, outputs, stats_path)
    return stats


def _discard(chunk: str) -> None:
    """The output of a run that only builds an index."""


def _counted(inputs: Sequence[str], config: Config, stats: Stats,
             write_audit: Callable[[str], None] | None, stream: bool,
             run: IndexRun | None = None, spark: str | None = None) -> Iterator[Result]:
    if spark is None:
        from dedupe.pipeline import clean_documents  # (after pool.start_early: see run_job)

        results = clean_documents(read_inputs(inputs, config), config, stream=stream, index=run)
    else:
        try:
            from dedupe.spark import clean_files
        except ImportError as exc:  # pyspark is an optional dependency
            raise ConfigError(f"--engine spark needs pyspark: pip install 'dedupe-text[spark]' "
                              f"({exc})") from None
        results = clean_files(inputs, config, master=spark)
    for result in results:
        result = _nothing_to_pass(result)
        stats.count_result(result)
        if write_audit is not None and result.removals:
            write_audit(escape_surrogates(audit_lines(result)))
        yield result


def _nothing_to_pass(result: Result) -> Result:
    """A bad record with no readable content (a missing file, a truncated stream, a record
    too large to hold) cannot be passed through under on_error=pass: it is skipped instead,
    and the audit says so, rather than counted as written while nothing was."""
    doc = result.document
    if not (result.passed and doc.error is not None and not doc.text):
        return result
    removal = Removal(doc.id, "skipped_bad_input", "", doc.source, None, group=doc.group,
                      detail=f"{doc.error} (nothing readable to pass through)")
    return Result(doc, None, (removal,))


def _finish(stats: Stats, config: Config, outputs: OutputSet, stats_path: str | None) -> None:
    if stats_path:
        outputs.open(stats_path)(json.dumps(stats_dict(stats, config), indent=2) + "\n")
    if not stats.balanced:
        raise AccountingError(
            f"accounting violated: read {stats.documents_in} != written {stats.documents_out} "
            f"+ dropped {stats.documents_dropped} + skipped {stats.documents_skipped}; "
            "no output file was written (a bug in dedupe: please report it)"
        )


def _run_parquet(inputs: Sequence[str], output: str, config: Config, *, audit: str | None,
                 stats_path: str | None, stream: bool, run: IndexRun | None = None,
                 spark: str | None = None) -> Stats:
    """Parquet output: kept records written in row groups through pyarrow, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from dedupe.io import output_record

    if output == STDIN:
        raise ConfigError("Parquet output needs a file path (-o out.parquet), not stdout")
    stats = Stats()
    with OutputSet() as outputs:
        write_audit = outputs.open(audit) if audit else None
        tmp = outputs.reserve(output)
        writer: pq.ParquetWriter | None = None
        batch: list[dict[str, object]] = []

        def flush() -> None:
            nonlocal writer, batch
            if not batch:
                return
            try:
                table = pa.Table.from_pylist(batch)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table.cast(writer.schema))
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                raise OutputError(f"{output}: records do not fit one Parquet schema ({exc})"
                                  ) from None
            except OSError as exc:
                raise OutputError(f"{output}: cannot write: {exc.strerror or exc}") from None
            batch = []

        result: Result
        for result in _counted(inputs, config, stats, write_audit, stream, run, spark):
            if result.text is not None:
                record = output_record(result, config)
                if result.document.error is not None:  # Parquet strings must be valid UTF-8
                    record[config.text_field] = _replace_surrogates(result.text)
                batch.append(record)
                if len(batch) >= 4096:
                    flush()
        flush()
        try:
            if writer is None:
                pq.write_table(pa.table({config.id_field: pa.array([], pa.string()),
                                         config.text_field: pa.array([], pa.string())}), tmp)
            else:
                writer.close()
        except OSError as exc:
            raise OutputError(f"{output}: cannot write: {exc.strerror or exc}") from None
        _finish(stats, config, outputs, stats_path)
    return stats


def _replace_surrogates(text: str) -> str:
    """Undecodable bytes of a passed-through record as U+FFFD: Parquet holds only UTF-8."""
    return text.encode("utf-8", "dedupe-output").decode("utf-8", "replace")
