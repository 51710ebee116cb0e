"""The `dedupe` command: parse options, build the Config, run the job, report. Nothing else.

Data goes to stdout, messages to stderr. Exit codes: 0 success, 1 bad input, 2 bad usage,
3 an internal invariant violated (the accounting check), 130 interrupted (Ctrl-C), 143
terminated (SIGTERM). A closed stdout (`dedupe clean x | head`) ends the run quietly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from dedupe import progress
from dedupe.config import NORMALIZE_STEPS, PRESETS, Config, ConfigError, from_mapping, load_toml
from dedupe.io import InputError, OutputError
from dedupe.jobs import AccountingError, EngineError, run_job
from dedupe.report import dedupe_version, summary_text

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Remove duplicated text from scraped corpora, with an audit of every removal.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

EXIT_INPUT, EXIT_USAGE, EXIT_INVARIANT = 1, 2, 3


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"dedupe: error: {message}", err=True)
    raise typer.Exit(code)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dedupe {dedupe_version()}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool | None, typer.Option("--version", callback=_version, is_eager=True,
                                                 help="Print the version and exit.")] = None,
) -> None:
    """dedupe: repair, find repeats, emit clean documents and an audit."""


Opt = typer.Option

# Option declarations repeated word for word by several commands, defined once here.
PresetOption = Annotated[str | None, Opt(help=f"Threshold preset: {', '.join(PRESETS)}.")]
TextFieldOption = Annotated[str | None, Opt(help="Record field holding the text [text].")]
# ...and shared by `review` and `index build` (`clean` has longer help texts for these).
FormatOption = Annotated[str | None, Opt("--format", "-f", help="Input format: text, jsonl, parquet.")]
SeparatorOption = Annotated[str | None, Opt(help="A line that separates text documents.")]
BlankLinesOption = Annotated[int | None, Opt(help="Blank lines that end a text document [2].")]
IdFieldOption = Annotated[str | None, Opt(help="Record field holding the id [id].")]
GroupByOption = Annotated[str | None, Opt(help="Record field that scopes boilerplate counts.")]
UnitOption = Annotated[str | None, Opt(help="Unit of repetition: line or paragraph [line].")]
OnErrorOption = Annotated[str | None, Opt(help="Bad record: fail, skip or pass [fail].")]
RepairOption = Annotated[bool | None, Opt("--repair/--no-repair", help="ftfy repair [on].")]


@app.command()
def clean(
    inputs: Annotated[list[str] | None, typer.Argument(
        help="Input files ('-' = stdin, the default). .jsonl/.ndjson are JSON Lines, .parquet "
             "is Parquet, anything else plain text; .gz and .zst are decompressed.")] = None,
    output: Annotated[str, Opt("-o", "--output", help="Where clean documents go ('-' = stdout).")] = "-",
    audit: Annotated[str | None, Opt(help="Write one JSON line per removal here.")] = None,
    stats: Annotated[str | None, Opt(help="Write the summary (with version and config) as JSON here.")] = None,
    config_file: Annotated[Path | None, Opt("--config", help="TOML file of options (keys = option names with _).")] = None,
    preset: PresetOption = None,
    format: Annotated[str | None, Opt("--format", "-f", help="Input format: text, jsonl, parquet (default: by extension).")] = None,
    output_format: Annotated[str | None, Opt(help="Output format (default: by output extension, else the input format).")] = None,
    separator: Annotated[str | None, Opt(help="A line that separates text documents (default: blank lines).")] = None,
    blank_lines: Annotated[int | None, Opt(help="Blank lines that end a text document when no separator is given [2].")] = None,
    text_field: TextFieldOption = None,
    id_field: Annotated[str | None, Opt(help="Record field holding the id [id]; generated when absent.")] = None,
    group_by: Annotated[str | None, Opt(help="Record field (e.g. host) that scopes boilerplate counts.")] = None,
    encoding: Annotated[str | None, Opt(help="Input encoding [utf-8].")] = None,
    encoding_errors: Annotated[str | None, Opt(help="strict (bad bytes are an error) or replace [strict].")] = None,
    on_error: Annotated[str | None, Opt(help="Bad record: fail the run, skip it (audited), or pass it through unmatched (audited) [fail].")] = None,
    repair: Annotated[bool | None, Opt("--repair/--no-repair", help="Repair mojibake, entities, control characters with ftfy [on].")] = None,
    uncurl_quotes: Annotated[bool | None, Opt("--uncurl-quotes/--keep-curly-quotes", help="Let ftfy straighten curly quotes [keep].")] = None,
    unit: Annotated[str | None, Opt(help="Unit of repetition: line, or paragraph (for hard-wrapped/OCR text) [line].")] = None,
    normalize: Annotated[str | None, Opt(help=f"Comma-separated normalization steps for matching [{','.join(NORMALIZE_STEPS)}].")] = None,
    shingle_size: Annotated[int | None, Opt(help="Character n-gram size [5].")] = None,
    num_perm: Annotated[int | None, Opt(help="MinHash permutations [128].")] = None,
    seed: Annotated[int | None, Opt(help="MinHash seed [1].")] = None,
    unit_threshold: Annotated[float | None, Opt(help="Jaccard similarity for two units to match [0.7].")] = None,
    unit_edit_threshold: Annotated[float | None, Opt(help="...or edit similarity (0-1) of their match keys [0.9].")] = None,
    document_threshold: Annotated[float | None, Opt(help="Share of each document's content matched unit by unit, for near-duplicate documents [0.6].")] = None,
    candidate_threshold: Annotated[float | None, Opt(help="Jaccard from which the LSH proposes pairs to verify [0.3].")] = None,
    word_veto: Annotated[bool | None, Opt("--word-veto/--no-word-veto", help="Similar units whose differing words are different facts do not match [on].")] = None,
    word_tolerance: Annotated[float | None, Opt(help="Share of a word's letters typos may change before it is another word (word veto) [0.3].")] = None,
    short_unit_chars: Annotated[int | None, Opt(help="Units shorter than this (normalized) match by edit similarity [30].")] = None,
    short_unit_threshold: Annotated[float | None, Opt(help="Edit similarity (0-1) for short units [0.9].")] = None,
    contained: Annotated[bool | None, Opt("--contained/--keep-contained", help="Drop a line repeated inside a longer line of its document (a caption glued to a paragraph) [keep].")] = None,
    containment_threshold: Annotated[float | None, Opt(help="Edit similarity of a line to a window of the longer line, for --contained [0.9].")] = None,
    near_duplicates: Annotated[bool | None, Opt("--near-duplicates/--keep-near-duplicates", help="Drop documents that resemble an earlier kept one [drop].")] = None,
    repeats: Annotated[bool | None, Opt("--repeats/--keep-repeats", help="Drop units repeated inside their document (headlines, captions) [drop].")] = None,
    boilerplate: Annotated[bool | None, Opt("--boilerplate/--keep-boilerplate", help="Drop every copy of short units found in many documents [drop].")] = None,
    duplicated_content: Annotated[bool | None, Opt("--duplicated-content/--keep-duplicated-content", help="Drop later copies of longer units found in an earlier document [drop].")] = None,
    boilerplate_min_docs: Annotated[int | None, Opt(help="Documents a short unit must appear in to be boilerplate [2].")] = None,
    boilerplate_max_chars: Annotated[int | None, Opt(help="Units longer than this are content, never boilerplate [100].")] = None,
    max_unit_chars: Annotated[int | None, Opt(help="Longer units pass through unmatched [100000].")] = None,
    max_document_chars: Annotated[int | None, Opt(help="Longer documents pass through unmatched, audited [50000000].")] = None,
    workers: Annotated[int | None, Opt(help="Processes for per-document work; 0 = all cores [0].")] = None,
    stream: Annotated[bool, Opt(help="One pass: write each document as soon as it is decided (boilerplate counts see only the past).")] = False,
    engine: Annotated[str, Opt(help="Where the cleaning runs: local (this machine's processes) or spark (Apache Spark, same results) [local].")] = "local",
    master: Annotated[str | None, Opt(help="With --engine spark: the Spark master URL, e.g. local[2] [local[*]].")] = None,
    index: Annotated[str | None, Opt(help="A persistent index to clean against and add to: an SQLite file (created if missing) or redis://host:port/db[?prefix=NAME]. Implies --stream.")] = None,
    read_only: Annotated[bool, Opt(help="With --index: clean against the index without adding to it.")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No summary on stderr.")] = False,
    show_progress: Annotated[bool | None, Opt(
        "--progress/--no-progress",
        help="A progress line on stderr (documents, MB/s, ETA) [on when stderr is a terminal, "
             "off with --quiet].")] = None,
) -> None:
    """Clean documents: repair, drop repeats, boilerplate and near-duplicate documents."""
    options: dict[str, Any] = {
        "format": format, "output_format": output_format, "separator": separator,
        "blank_lines": blank_lines, "text_field": text_field, "id_field": id_field,
        "group_field": group_by, "encoding": encoding, "encoding_errors": encoding_errors,
        "on_error": on_error, "repair": repair, "uncurl_quotes": uncurl_quotes, "unit": unit,
        "normalize_steps": _steps(normalize), "shingle_size": shingle_size, "num_perm": num_perm,
        "seed": seed, "unit_threshold": unit_threshold, "document_threshold": document_threshold,
        "short_unit_chars": short_unit_chars, "short_unit_threshold": short_unit_threshold,
        "unit_edit_threshold": unit_edit_threshold, "candidate_threshold": candidate_threshold,
        "word_veto": word_veto, "word_tolerance": word_tolerance, "drop_contained": contained,
        "containment_threshold": containment_threshold,
        "drop_near_duplicate_documents": near_duplicates, "drop_repeated_in_document": repeats,
        "drop_boilerplate": boilerplate, "drop_duplicated_content": duplicated_content,
        "boilerplate_min_docs": boilerplate_min_docs, "boilerplate_max_chars": boilerplate_max_chars,
        "max_unit_chars": max_unit_chars, "max_document_chars": max_document_chars,
        "workers": workers,
    }
    try:
        config = build_config(config_file, preset, {k: v for k, v in options.items() if v is not None})
    except ConfigError as exc:
        _fail(str(exc), EXIT_USAGE)
    _run(inputs or ["-"], output, config, audit, stats, stream, quiet, engine, master,
         index=index, read_only=read_only, show_progress=progress.wanted(show_progress, quiet))


@app.command()
def audit(
    path: Annotated[Path, typer.Argument(help="An audit file written by `dedupe clean --audit`.")],
    reason: Annotated[str | None, Opt(help="Show only removals with this reason.")] = None,
) -> None:
    """Show an audit file as a table: document, line, reason, role, similarity, text."""
    import json

    from dedupe.report import audit_table

    try:
        with path.open(encoding="utf-8") as handle:
            records = [json.loads(line) for line in handle if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        _fail(f"{path}: cannot read audit file: {exc}", EXIT_INPUT)
    typer.echo(audit_table(r for r in records if reason is None or r.get("reason") == reason))


def _steps(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(s.strip() for s in value.split(",") if s.strip())


def build_config(config_file: Path | None, preset: str | None, options: dict[str, Any]) -> Config:
    """Defaults < preset < TOML file < command-line options."""
    base = Config()
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        base = from_mapping(PRESETS[preset], base)
    if config_file is not None:
        base = load_toml(config_file, base)
    return from_mapping(options, base)


def _run(inputs: list[str], output: str | None, config: Config, audit: str | None,
         stats_path: str | None, stream: bool, quiet: bool, engine: str = "local",
         master: str | None = None, *, index: str | None = None, read_only: bool = False,
         show_progress: bool = False) -> None:
    """Run the job, report its summary; its failures end the command as `_failures` says."""
    with _failures():
        with progress.reporting(show_progress, progress.input_size(inputs)):
            stats = run_job(inputs, output, config, audit=audit, stats_path=stats_path,
                            stream=stream, engine=engine, master=master, index=index,
                            read_only=read_only)
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(f"stdout: cannot write: {exc.strerror or exc}") from None
    if not quiet:
        typer.echo(summary_text(stats), err=True)


@contextlib.contextmanager
def _failures(nothing_written: str = "no output file was written") -> Iterator[None]:
    """Turn every way a command's work can end into a message and an exit code.

    1: the input or the environment (bad input, an unwritable output, a full disk, a worker
    process killed, Spark out of memory); 2: usage; 3: a bug (the accounting check, or any
    unexpected exception, shown with its traceback); 130/143: Ctrl-C/SIGTERM. Every failure leaves no output file;
    `nothing_written` says so in the messages (`clean`: no output file, `review`: no page).
    """
    try:
        yield
    except InputError as exc:
        _fail(str(exc), EXIT_INPUT)
    except OutputError as exc:
        _fail(f"{exc}; {nothing_written}", EXIT_INPUT)
    except ConfigError as exc:
        _fail(str(exc), EXIT_USAGE)
    except AccountingError as exc:
        _fail(str(exc), EXIT_INVARIANT)
    except EngineError as exc:
        _fail(f"{exc}; {nothing_written}", EXIT_INPUT)
    except BrokenPipeError:
        _quiet_broken_pipe()
    except BrokenProcessPool:
        _fail(f"a worker process died (killed, or out of memory); {nothing_written}",
              EXIT_INPUT)
    except MemoryError:
        _fail(f"out of memory; {nothing_written}", EXIT_INPUT)
    except KeyboardInterrupt:
        typer.echo(f"dedupe: interrupted; {nothing_written}", err=True)
        raise typer.Exit(128 + signal.SIGINT) from None
    except SystemExit as exc:  # raised by _terminate
        if exc.code == 128 + signal.SIGTERM:
            typer.echo(f"dedupe: terminated; {nothing_written}", err=True)
        raise
    except Exception as exc:
        traceback.print_exc()
        _fail(f"internal error: {type(exc).__name__}: {exc}; {nothing_written} "
              "(a bug in dedupe: please report it with the traceback above)", EXIT_INVARIANT)


def _quiet_broken_pipe() -> NoReturn:
    """The reader went away (`| head`): stop quietly, and keep Python from complaining at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise typer.Exit(0)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C (temporary files removed), then exits with 128 + 15."""
    raise SystemExit(128 + signum)


@app.command()
def review(
    inputs: Annotated[list[str] | None, typer.Argument(
        help="The run's input files ('-' = stdin), read as `dedupe clean` reads them.")] = None,
    output: Annotated[str, Opt("-o", "--output", help="Where the HTML page goes.")] = "review.html",
    audit: Annotated[str | None, Opt(help="The run's --audit file; without it the cleaning runs here.")] = None,
    stats: Annotated[str | None, Opt(help="The run's --stats file: its counts, version and config are shown (and its config used unless --config/--preset).")] = None,
    sample: Annotated[int | None, Opt(help="Without --audit: clean only the first N documents.")] = None,
    max_documents: Annotated[int, Opt(help="Documents embedded in the page at most (worst cases + a sample).")] = 2000,
    config_file: Annotated[Path | None, Opt("--config", help="TOML file of options, as for clean.")] = None,
    preset: PresetOption = None,
    format: FormatOption = None,
    separator: SeparatorOption = None,
    blank_lines: BlankLinesOption = None,
    text_field: TextFieldOption = None,
    id_field: IdFieldOption = None,
    group_by: GroupByOption = None,
    unit: UnitOption = None,
    on_error: OnErrorOption = None,
    repair: RepairOption = None,
    workers: Annotated[int | None, Opt(help="Processes when the cleaning runs here [0 = all cores].")] = None,
) -> None:
    """Write one self-contained HTML page showing what a run removed, why, and a copy of what."""
    from dedupe.review import load_stats, stats_config, write_review

    given = {k: v for k, v in {
        "format": format, "separator": separator, "blank_lines": blank_lines,
        "text_field": text_field, "id_field": id_field, "group_field": group_by, "unit": unit,
        "on_error": on_error, "repair": repair, "workers": workers}.items() if v is not None}
    with _failures("no review page was written"):
        run_stats = load_stats(stats) if stats else None
        recorded = stats_config(run_stats) if run_stats and not (config_file or preset) else {}
        config = build_config(config_file, preset, {**recorded, **given})
        summary = write_review(inputs or ["-"], output, config, audit=audit, stats=run_stats,
                               stats_path=stats, sample=sample, max_documents=max_documents)
    typer.echo(summary, err=True)


index_app = typer.Typer(
    add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False,
    no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]},
    help="A persistent index of what earlier runs kept: build, inspect, check, compact "
         "(docs/incremental.md).",
)
app.add_typer(index_app, name="index")

IndexOption = Annotated[str, Opt("--index", help="The index: an SQLite file or redis://host:port/db[?prefix=NAME].")]


@index_app.command("build")
def index_build(
    inputs: Annotated[list[str] | None, typer.Argument(help="Input files ('-' = stdin), read as `dedupe clean` reads them.")] = None,
    index: IndexOption = "",
    config_file: Annotated[Path | None, Opt("--config", help="TOML file of options, as for clean (also for the policies).")] = None,
    preset: PresetOption = None,
    format: FormatOption = None,
    separator: SeparatorOption = None,
    blank_lines: BlankLinesOption = None,
    text_field: TextFieldOption = None,
    id_field: IdFieldOption = None,
    group_by: GroupByOption = None,
    encoding: Annotated[str | None, Opt(help="Input encoding [utf-8].")] = None,
    encoding_errors: Annotated[str | None, Opt(help="strict or replace [strict].")] = None,
    on_error: OnErrorOption = None,
    repair: RepairOption = None,
    unit: UnitOption = None,
    normalize: Annotated[str | None, Opt(help="Comma-separated normalization steps [all].")] = None,
    shingle_size: Annotated[int | None, Opt(help="Character n-gram size [5].")] = None,
    num_perm: Annotated[int | None, Opt(help="MinHash permutations [128].")] = None,
    seed: Annotated[int | None, Opt(help="MinHash seed [1].")] = None,
    unit_threshold: Annotated[float | None, Opt(help="Jaccard similarity for two units [0.7].")] = None,
    document_threshold: Annotated[float | None, Opt(help="Share of content matched for near-duplicate documents [0.6].")] = None,
    short_unit_chars: Annotated[int | None, Opt(help="Shorter units match by edit similarity [30].")] = None,
    short_unit_threshold: Annotated[float | None, Opt(help="Edit similarity for short units [0.9].")] = None,
    boilerplate_max_chars: Annotated[int | None, Opt(help="Longer units are never boilerplate [100].")] = None,
    workers: Annotated[int | None, Opt(help="Processes for per-document work [0 = all cores].")] = None,
    audit: Annotated[str | None, Opt(help="Write what cleaning would remove, one JSON line per removal.")] = None,
    stats: Annotated[str | None, Opt(help="Write the summary as JSON here.")] = None,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No summary on stderr.")] = False,
) -> None:
    """Add documents to an index without writing them out (what `clean --index` keeps)."""
    if not index:
        _fail("index build needs --index PATH|redis://...", EXIT_USAGE)
    options: dict[str, Any] = {
        "format": format, "separator": separator, "blank_lines": blank_lines,
        "text_field": text_field, "id_field": id_field, "group_field": group_by,
        "encoding": encoding, "encoding_errors": encoding_errors, "on_error": on_error,
        "repair": repair, "unit": unit, "normalize_steps": _steps(normalize),
        "shingle_size": shingle_size, "num_perm": num_perm, "seed": seed,
        "unit_threshold": unit_threshold, "document_threshold": document_threshold,
        "short_unit_chars": short_unit_chars, "short_unit_threshold": short_unit_threshold,
        "boilerplate_max_chars": boilerplate_max_chars, "workers": workers,
    }
    try:
        config = build_config(config_file, preset, {k: v for k, v in options.items() if v is not None})
    except ConfigError as exc:
        _fail(str(exc), EXIT_USAGE)
    _run(inputs or ["-"], None, config, audit, stats, True, quiet, index=index)


@index_app.command("stats")
def index_stats(
    index: IndexOption = "",
    top: Annotated[int, Opt(help="Boilerplate candidates shown per group.")] = 10,
    min_docs: Annotated[int, Opt(help="Show units found in at least this many documents.")] = 2,
    as_json: Annotated[bool, Opt("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Counts, size, settings, runs, and the top boilerplate lines per group."""
    import json

    from dedupe.store import stats as stats_of
    from dedupe.store import stats_text

    with _index(index) as store:
        info = stats_of(store, top=top, min_docs=min_docs)
    typer.echo(json.dumps(info, indent=2, ensure_ascii=False) if as_json else stats_text(info))


@index_app.command("verify")
def index_verify(index: IndexOption = "") -> None:
    """Check the index: settings present, every entry complete, counts consistent."""
    with _index(index) as store:
        problems = store.verify()
        checksum = "" if problems else store.checksum()
    for problem in problems[:100]:
        typer.echo(f"{index}: {problem}")
    if problems:
        shown = " (first 100 shown)" if len(problems) > 100 else ""
        _fail(f"{index}: {len(problems)} integrity problem(s){shown}", EXIT_INPUT)
    typer.echo(f"{index}: ok; content checksum {checksum}")


@index_app.command("compact")
def index_compact(index: IndexOption = "") -> None:
    """Drop orphaned entries, fix the counters, reclaim space (SQLite: VACUUM)."""
    with _index(index) as store:
        removed = store.compact()
    before, after = removed.pop("bytes before"), removed.pop("bytes after")
    dropped = ", ".join(f"{what} {n}" for what, n in removed.items() if n) or "nothing orphaned"
    typer.echo(f"{index}: removed {dropped}; {before:,} -> {after:,} bytes")


@contextlib.contextmanager
def _index(spec: str) -> Iterator[Any]:
    """An existing index for the admin commands; its errors end the command on one line."""
    from dedupe.store import StoreError, open_index

    if not spec:
        _fail("--index PATH|redis://... is required", EXIT_USAGE)
    try:
        with open_index(spec) as store:
            yield store
    except StoreError as exc:
        _fail(str(exc), EXIT_INPUT)


def main() -> None:
    """Entry point of the `dedupe` command and `python -m dedupe`."""
    signal.signal(signal.SIGTERM, _terminate)
    app()
