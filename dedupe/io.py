"""Reading documents from files or stdin, and writing results back, atomically.

Formats: plain text (documents separated by blank lines or a separator line), JSON Lines (one
record per line; every field but the text is written back unchanged), Parquet (pyarrow).
Compression by extension: ``.gz`` (gzip), ``.zst`` (zstandard), streamed, so a bomb cannot
exhaust memory. Every read error names the file and line.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from dedupe.config import Config
from dedupe.model import Document, Result

STDIN = "-"
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
_BINARY_SNIFF = 8192


class InputError(Exception):
    """Bad input: the message is one line naming the file (and line, and field)."""


@dataclass(frozen=True)
class BadRecord:
    """A record that could not be read, for on_error=skip|pass: where it was and why."""

    source: str
    line: int
    message: str
    raw: str | None = None  # the undecodable text (surrogate-escaped), for on_error=pass


def strip_compression(name: str) -> str:
    for suffix in (".gz", ".zst"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def detect_format(path: str, requested: str = "auto") -> str:
    """The format to use for a path: the requested one, else by extension, else text."""
    if requested != "auto":
        return requested
    base = strip_compression(path).lower()
    if base.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if base.endswith(".parquet"):
        return "parquet"
    return "text"


def open_binary(path: str) -> BinaryIO:
    """A binary stream for the path, decompressing by extension; '-' is stdin."""
    if path == STDIN:
        return sys.stdin.buffer
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{path}: is a directory, not a file")
    try:
        raw: BinaryIO = open(p, "rb")  # noqa: SIM115 - closed by the caller
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot open: {exc.strerror}") from None
    if path.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if path.endswith(".zst"):

        return io.BufferedReader(_ZstdReader(raw))
    return raw


class _ZstdReader(io.RawIOBase):
    """Streaming zstd decompression that notices truncation and cannot be bombed.

    zstandard's own stream_reader returns short data at a cut-off frame without complaint;
    this reader raises EOFError instead, so a truncated archive is an error, not lost data.
    Input is fed 1 KiB at a time, which bounds one step's output (zstd's densest block,
    RLE, turns 4 bytes into 128 KiB) to 32 MiB however large the bomb. Concatenated frames
    are read one after another.
    """

    _FEED = 1024

    def __init__(self, raw: BinaryIO) -> None:
        import zstandard

        self._zstd = zstandard
        self._raw = raw
        self._dobj = zstandard.ZstdDecompressor().decompressobj()
        self._input = b""
        self._in_pos = 0
        self._pending = b""
        self._pos = 0
        self._started = False

    def readable(self) -> bool:
        return True

    def _refill(self) -> bool:
        """Decompress the next input piece into _pending; False at the clean end of input."""
        if self._in_pos >= len(self._input):
            self._input, self._in_pos = self._raw.read(1 << 16), 0
            if not self._input:
                if self._started and not self._dobj.eof:
                    raise EOFError("zstd stream ends inside a frame (truncated file)")
                return False
        if self._dobj.eof:  # the next of several concatenated frames
            self._dobj = self._zstd.ZstdDecompressor().decompressobj()
        piece = self._input[self._in_pos : self._in_pos + self._FEED]
        self._in_pos += len(piece)
        self._started = True
        try:
            self._pending = self._dobj.decompress(piece)
        except self._zstd.ZstdError as exc:
            raise EOFError(f"corrupt zstd data: {exc}") from None
        self._pos = 0
        if self._dobj.eof and self._dobj.unused_data:
            self._input = self._dobj.unused_data + self._input[self._in_pos :]
            self._in_pos = 0
        return True

    def readinto(self, buffer: Any) -> int:
        while self._pos >= len(self._pending):
            if not self._refill():
                return 0
        n = min(len(buffer), len(self._pending) - self._pos)
        buffer[:n] = self._pending[self._pos : self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _binary_lines(path: str, stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """Numbered raw lines without their line ending; turns stream faults into InputError."""
    number = 0
    try:
        for number, raw in enumerate(stream, start=1):
            if number == 1 and b"\x00" in raw[:_BINARY_SNIFF]:
                raise InputError(f"{path}:1: looks like a binary file (NUL byte), not text")
            yield number, raw.rstrip(b"\n").rstrip(b"\r")
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(
            f"{path}:{number + 1}: truncated or corrupt compressed data ({exc})"
        ) from None
    except OSError as exc:  # includes zstd errors and read faults
        raise InputError(f"{path}:{number + 1}: read failed: {exc}") from None


def _decode(path: str, number: int, raw: bytes, config: Config) -> str:
    try:
        return raw.decode(config.encoding, errors=config.encoding_errors)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}:{number}: invalid {config.encoding} at byte {exc.start} "
            "(use --encoding or --encoding-errors replace)"
        ) from None
    except LookupError:
        raise InputError(f"unknown encoding {config.encoding!r}") from None


def _text_documents(path: str, stream: BinaryIO, config: Config) -> Iterator[Document | BadRecord]:
    """Split a text stream into documents at `blank_lines` blank lines or a separator line."""
    lines: list[str] = []
    start = 0
    blank_run = 0
    ordinal = 0
    error: str | None = None

    def flush() -> Iterator[Document | BadRecord]:
        nonlocal lines, ordinal, error
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            ordinal += 1
            if error is not None:
                yield BadRecord(path, start, error, "\n".join(lines))
            else:
                yield Document(id=f"{path}:{ordinal}", text="\n".join(lines), source=path,
                               line=start)
        lines = []
        error = None

    try:
        for number, raw in _binary_lines(path, stream):
            try:
                line = _decode(path, number, raw, config)
            except InputError as exc:
                if config.on_error == "fail":
                    raise
                error = error or str(exc)
                line = raw.decode(config.encoding, errors="surrogateescape")
            is_blank = not line.strip()
            if config.separator is not None:
                if line.strip() == config.separator:
                    yield from flush()
                    continue
            elif is_blank:
                blank_run += 1
                if blank_run >= config.blank_lines and lines:
                    yield from flush()
                if not lines:
                    continue
            else:
                blank_run = 0
            if not lines:
                if is_blank:
                    continue
                start = number
            lines.append(line)
        yield from flush()
    except InputError as exc:
        if config.on_error == "fail":
            raise
        # A stream fault mid-file: what was read of the current document is not trustworthy.
        if lines:
            yield BadRecord(path, start, str(exc), None)
        else:
            yield BadRecord(path, 0, str(exc), None)


def record_document(
    record: Mapping[str, Any], source: str, line: int, config: Config, fallback_id: str
) -> Document:
    """A Document from a JSON/Parquet record; InputError when the text field is unusable."""
    if config.text_field not in record:
        raise InputError(f"{source}:{line}: record has no {config.text_field!r} field")
    text = record[config.text_field]
    if not isinstance(text, str):
        raise InputError(
            f"{source}:{line}: field {config.text_field!r} is {type(text).__name__}, not a string"
        )
    raw_id = record.get(config.id_field)
    doc_id = fallback_id if raw_id is None else str(raw_id)
    group = None
    if config.group_field is not None and record.get(config.group_field) is not None:
        group = str(record[config.group_field])
    return Document(id=doc_id, text=text, source=source, line=line, record=dict(record),
                    group=group)


def _jsonl_documents(path: str, stream: BinaryIO, config: Config) -> Iterator[Document | BadRecord]:
    try:
        for number, raw in _binary_lines(path, stream):
            try:
                line = _decode(path, number, raw, config)
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(
                        f"{path}:{number}: malformed JSON ({exc.msg} at column {exc.colno})"
                    ) from None
                if not isinstance(record, dict):
                    kind = type(record).__name__
                    raise InputError(f"{path}:{number}: JSON value is {kind}, not an object")
                yield record_document(record, path, number, config, f"{path}:{number}")
            except InputError as exc:
                if config.on_error == "fail":
                    raise
                yield BadRecord(path, number, str(exc), raw.decode("utf-8", "surrogateescape"))
    except InputError as exc:
        if config.on_error == "fail":
            raise
        yield BadRecord(path, 0, str(exc), None)


def _parquet_documents(path: str, config: Config) -> Iterator[Document | BadRecord]:
    import pyarrow.parquet as pq

    if path == STDIN:
        raise InputError("-: Parquet cannot be read from stdin; give a file path")
    try:
        parquet = pq.ParquetFile(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
    row = 0
    for batch in parquet.iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            row += 1
            try:
                yield record_document(record, path, row, config, f"{path}:{row}")
            except InputError as exc:
                if config.on_error == "fail":
                    raise
                yield BadRecord(path, row, str(exc), None)


def read_path(path: str, config: Config) -> Iterator[Document | BadRecord]:
    """Documents (or bad records, when on_error allows) of one input, in file order."""
    fmt = detect_format(path, config.format)
    if fmt == "parquet":
        yield from _parquet_documents(path, config)
        return
    try:
        stream = open_binary(path)
    except InputError as exc:
        if config.on_error == "fail":
            raise
        yield BadRecord(path, 0, str(exc), None)
        return
    try:
        if fmt == "jsonl":
            yield from _jsonl_documents(path, stream, config)
        else:
            yield from _text_documents(path, stream, config)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def read_inputs(paths: Iterable[str], config: Config) -> Iterator[Document]:
    """Every document of every input, numbered in run order (the keep-first order).

    A bad record under on_error=skip|pass becomes a Document with ``error`` set, so it is
    counted and audited instead of vanishing.
    """
    ordinal = 0
    for path in paths:
        for item in read_path(path, config):
            if isinstance(item, BadRecord):
                doc = Document(
                    id=f"{item.source}:{item.line}", text=item.raw or "", source=item.source,
                    line=item.line, ordinal=ordinal, error=item.message,
                )
            else:
                doc = Document(
                    id=item.id, text=item.text, source=item.source, line=item.line,
                    record=item.record, group=item.group, ordinal=ordinal,
                )
            ordinal += 1
            yield doc


def as_documents(
    items: Iterable[str | Mapping[str, Any] | Document], config: Config
) -> Iterator[Document]:
    """Documents from Python values: strings, dicts (JSON-like records) or Documents."""
    for ordinal, item in enumerate(items):
        if isinstance(item, Document):
            yield Document(**{**item.__dict__, "ordinal": ordinal})
        elif isinstance(item, str):
            yield Document(id=str(ordinal), text=item, source="<api>", line=1, ordinal=ordinal)
        elif isinstance(item, Mapping):
            doc = record_document(item, "<api>", ordinal + 1, config, str(ordinal))
            yield Document(**{**doc.__dict__, "ordinal": ordinal})
        else:
            kind = type(item).__name__
            raise TypeError(f"document {ordinal}: expected str, dict or Document, got {kind}")


# --- writing ---------------------------------------------------------------------------------


def output_record(result: Result, config: Config) -> dict[str, Any]:
    """The JSON record written for a kept document: the input record with its text replaced."""
    doc = result.document
    record: dict[str, Any] = (
        dict(doc.record) if doc.record is not None else {config.id_field: doc.id}
    )
    record[config.text_field] = result.text
    return record


def format_results(results: Iterable[Result], fmt: str, config: Config) -> Iterator[str]:
    """Serialized chunks of the kept documents, in order."""
    first = True
    for result in results:
        if result.text is None:
            continue
        if fmt == "jsonl" and result.document.error is not None:
            yield f"{result.text}\n"  # on_error=pass: the unreadable line, byte for byte
        elif fmt == "jsonl":
            yield json.dumps(output_record(result, config), ensure_ascii=False) + "\n"
        else:
            yield ("" if first else "\n\n\n") + result.text
        first = False
    if fmt != "jsonl" and not first:
        yield "\n"


class OutputSet:
    """Output files that appear together, only when the run succeeds.

    Each file is written to a temporary file beside its target; ``commit`` renames them all,
    ``abort`` (on any failure, Ctrl-C or a full disk) removes them, so the targets are left as
    they were: never half a file that the next step of a pipeline reads as complete.
    ``-`` is stdout, written directly (a pipe has no atomicity to offer).
    """

    def __init__(self) -> None:
        self._staged: list[tuple[str, str, IO[bytes], Any]] = []

    def open(self, path: str) -> Callable[[str], None]:
        """A write(str) function for `path`, compressing by its extension (.gz, .zst)."""
        if path == STDIN:
            out = sys.stdout

            def write_stdout(chunk: str) -> None:
                out.write(chunk)

            return write_stdout
        target = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                   dir=target.parent if str(target.parent) else ".")
        handle = os.fdopen(fd, "wb")
        stream: Any = handle
        if path.endswith(".gz"):
            stream = gzip.GzipFile(fileobj=handle, mode="wb", mtime=0)
        elif path.endswith(".zst"):
            import zstandard

            stream = zstandard.ZstdCompressor().stream_writer(handle, closefd=False)
        self._staged.append((path, tmp, handle, stream))

        def write(chunk: str) -> None:
            stream.write(chunk.encode("utf-8", "surrogateescape"))

        return write

    def reserve(self, path: str) -> str:
        """A temporary path beside `path` for a library that writes files itself (pyarrow);
        renamed to `path` on commit."""
        target = Path(path)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                   dir=target.parent if str(target.parent) else ".")
        handle = os.fdopen(fd, "wb")
        self._staged.append((path, tmp, handle, handle))
        return tmp

    def commit(self) -> None:
        for _path, _tmp, handle, stream in self._staged:
            if stream is not handle:
                stream.close()
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        for path, tmp, _handle, _stream in self._staged:
            os.replace(tmp, path)
        self._staged = []

    def abort(self) -> None:
        for _path, tmp, handle, _stream in self._staged:
            with contextlib.suppress(Exception):
                handle.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        self._staged = []

    def __enter__(self) -> OutputSet:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
