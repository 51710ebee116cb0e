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

from dedupe.config import Config, ConfigError
from dedupe.io import (
    STDIN,
    OutputSet,
    detect_format,
    format_results,
    read_inputs,
    strip_compression,
)
from dedupe.model import Result, Stats
from dedupe.pipeline import clean_documents
from dedupe.report import audit_lines, stats_dict


class AccountingError(RuntimeError):
    """Documents read != written + dropped + skipped: a bug, never a user error."""


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
    """Refuse to write over an input: the run would destroy what it reads."""
    sources = {os.path.realpath(p) for p in inputs if p != STDIN}
    for out in outputs:
        if out is not None and out != STDIN and os.path.realpath(out) in sources:
            raise ConfigError(f"{out}: output would overwrite an input; choose another path")
    written = [o for o in outputs if o is not None and o != STDIN]
    if len(written) != len(set(map(os.path.realpath, written))):
        raise ConfigError("output, --audit and --stats must be different files")
    if sum(1 for o in outputs if o == STDIN) > 1:
        raise ConfigError("only one of output, --audit and --stats can be stdout ('-')")


def run_job(
    inputs: Sequence[str],
    output: str,
    config: Config,
    *,
    audit: str | None = None,
    stats_path: str | None = None,
    stream: bool = False,
) -> Stats:
    """Clean `inputs` into `output` (and the audit and stats files); returns the counts."""
    check_paths(inputs, [output, audit, stats_path])
    fmt = output_format(output, inputs, config)
    if fmt == "parquet":
        return _run_parquet(inputs, output, config, audit=audit, stats_path=stats_path,
                            stream=stream)
    stats = Stats()
    with OutputSet() as outputs:
        write = outputs.open(output)
        write_audit = outputs.open(audit) if audit else None
        for chunk in format_results(_counted(inputs, config, stats, write_audit, stream), fmt,
                                    config):
            write(chunk)
        _finish(stats, config, outputs, stats_path)
    return stats


def _counted(inputs: Sequence[str], config: Config, stats: Stats,
             write_audit: Callable[[str], None] | None, stream: bool) -> Iterator[Result]:
    for result in clean_documents(read_inputs(inputs, config), config, stream=stream):
        stats.count_result(result)
        if write_audit is not None and result.removals:
            write_audit(audit_lines(result))
        yield result


def _finish(stats: Stats, config: Config, outputs: OutputSet, stats_path: str | None) -> None:
    if stats_path:
        outputs.open(stats_path)(json.dumps(stats_dict(stats, config), indent=2) + "\n")
    if not stats.balanced:
        raise AccountingError(
            f"accounting violated: read {stats.documents_in} != written {stats.documents_out} "
            f"+ dropped {stats.documents_dropped} + skipped {stats.documents_skipped}"
        )


def _run_parquet(inputs: Sequence[str], output: str, config: Config, *, audit: str | None,
                 stats_path: str | None, stream: bool) -> Stats:
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
            table = pa.Table.from_pylist(batch)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table.cast(writer.schema))
            batch = []

        result: Result
        for result in _counted(inputs, config, stats, write_audit, stream):
            if result.text is not None:
                batch.append(output_record(result, config))
                if len(batch) >= 4096:
                    flush()
        flush()
        if writer is None:
            pq.write_table(pa.table({config.id_field: pa.array([], pa.string()),
                                     config.text_field: pa.array([], pa.string())}), tmp)
        else:
            writer.close()
        _finish(stats, config, outputs, stats_path)
    return stats
