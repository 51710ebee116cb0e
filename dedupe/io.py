"""Reading documents from files or stdin, and writing results back, atomically.

Formats: plain text (documents separated by blank lines or a separator line), JSON Lines (one
record per line; every field but the text is written back unchanged), Parquet (pyarrow).
Compression by extension: ``.gz`` (gzip), ``.zst`` (zstandard), streamed; and no reader holds
more than ``record_byte_limit`` bytes of one document, so neither a bomb nor a giant line can
exhaust memory. Every read error names the file and line. Writing: see OutputSet.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import io
import json
import os
import re
import signal
import sys
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

from dedupe.config import Config, ConfigError
from dedupe.model import Document, Result

STDIN = "-"
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
_BINARY_SNIFF = 8192
_MIN_RECORD_BYTES = 1 << 20
_PIECE = 1 << 20  # lines are read in pieces of this size: a giant line is never read whole
_JOIN_LINES = 4096  # a text document's lines are joined into one string in blocks of this many
_COPY_LINE = 1 << 16  # shorter lines are sliced (a copy); longer ones are viewed in place


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


class _Lines:
    """Numbered raw lines of a stream, without their line ending, at most `limit` bytes each.

    A longer line comes out as None: it is read past in pieces and never held whole, so one
    giant line (or a decompression bomb of one) cannot exhaust memory (with read_past=False
    the caller stops there, and so does the reading). A class rather than a generator so that
    no suspended frame keeps the previous line's bytes alive. Stream faults become InputError
    naming the line.
    """

    def __init__(self, path: str, stream: BinaryIO, limit: int, read_past: bool = True) -> None:
        self.path = path
        self.stream = stream
        self.limit = limit
        self.read_past = read_past
        self.number = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> tuple[int, bytes | memoryview | None]:
        try:
            piece: bytes = self.stream.readline(_PIECE)
            if not piece:
                raise StopIteration
            self.number += 1
            if self.number == 1 and b"\x00" in piece[:_BINARY_SNIFF]:
                raise InputError(f"{self.path}:1: looks like a binary file (NUL byte), not text")
            data: bytes | bytearray = piece
            if len(piece) == _PIECE and not piece.endswith(b"\n"):  # the line goes on
                del piece
                rest = self._rest_of_line(data)
                if rest is None:
                    return self.number, None
                data = rest
            elif len(piece) < _COPY_LINE:  # the common case: copying a short line costs least
                line = piece.rstrip(b"\r\n")  # one \n (readline) and the \r(s) before it
                return self.number, (line if len(line) <= self.limit else None)
            end = len(data) - data.endswith(b"\n")
            while end and data[end - 1] == 0x0D:
                end -= 1
            if end > self.limit:
                return self.number, None
            return self.number, memoryview(data)[:end]  # a long line: no second copy
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise InputError(f"{self.path}:{self.number + 1}: truncated or corrupt compressed "
                             f"data ({exc})") from None
        except OSError as exc:  # includes zstd errors and read faults
            raise InputError(f"{self.path}:{self.number + 1}: read failed: {exc}") from None

    def _rest_of_line(self, head: bytes | bytearray) -> bytearray | None:
        """A line longer than one piece, gathered in one growing buffer (no second copy);
        None, with the rest read past, once it is over the limit."""
        line = bytearray(head)
        while not line.endswith(b"\n"):
            if len(line) > self.limit + 2:  # + "\r\n": certainly over
                del line
                while self.read_past:
                    piece = self.stream.readline(_PIECE)
                    if not piece or piece.endswith(b"\n"):
                        break
                return None
            piece = self.stream.readline(_PIECE)
            if not piece:
                break
            line += piece
        return line


def record_byte_limit(config: Config) -> int:
    """The most bytes of one document (text) or record (JSON line) a reader holds.

    A document over ``max_document_chars`` characters is passed through unmatched, which needs
    it in memory. Past 4 bytes per allowed character it is over the limit in any encoding
    dedupe decodes, so the readers stop there rather than read it all: memory stays bounded by
    the config, not by the input (at least 1 MiB, for tiny limits).
    """
    return max(4 * config.max_document_chars, _MIN_RECORD_BYTES)


def _too_large(path: str, line: int, limit: int) -> str:
    return (f"{path}:{line}: document larger than {limit} bytes (4 x --max-document-chars): "
            "too large to read or pass through")


def _decode(path: str, number: int, raw: bytes | memoryview, config: Config) -> str:
    try:
        return str(raw, config.encoding, config.encoding_errors)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}:{number}: invalid {config.encoding} at byte {exc.start} "
            "(use --encoding or --encoding-errors replace)"
        ) from None


def _lossless(raw: bytes | memoryview, encoding: str) -> str:
    """Undecodable text kept for on_error=pass: bad bytes become surrogates, written back as
    the same bytes."""
    try:
        return str(raw, encoding, "surrogateescape")
    except UnicodeDecodeError:  # a multi-byte encoding whose damage surrogateescape can't hold
        return str(raw, encoding, "replace")


def _is_blank(line: str) -> bool:
    return not line or line.isspace()  # = not line.strip(), without copying a giant line


def _compact(lines: list[str], done: int) -> int:
    """Join the lines after the first `done` (already joined) into one string, up to the last
    non-blank line; returns the new `done`. A document of a million one-character lines would
    otherwise cost ~60 bytes per line in list and string overhead."""
    end = len(lines)
    while end > done and _is_blank(lines[end - 1]):
        end -= 1
    if end == done:  # only blank lines: one blank block (trimmed as a whole if trailing)
        end = len(lines)
    lines[done:end] = ["\n".join(lines[done:end])]
    return done + 1


def _text_documents(path: str, stream: BinaryIO, config: Config) -> Iterator[Document | BadRecord]:
    """Split a text stream into documents at `blank_lines` blank lines or a separator line.

    A document over record_byte_limit(config) bytes (its text's, up to its last non-blank
    line; or a run of blank lines over it) is read to its end without being kept and becomes
    a bad record (or an InputError with on_error=fail).
    """
    limit = record_byte_limit(config)
    lines: list[str] = []
    joined = 0  # leading entries of `lines` that are already blocks of joined lines
    size = 0  # bytes of the document's text so far, to its last non-blank line
    blanks = 0  # bytes of the blank lines held after that line (trimmed if nothing follows)
    too_large = False  # the document is over the limit: read on to its end, keep nothing
    start = 0
    blank_run = 0
    ordinal = 0
    error: str | None = None

    def flush() -> Iterator[Document | BadRecord]:
        nonlocal lines, joined, size, blanks, too_large, ordinal, error
        while lines and _is_blank(lines[-1]):
            lines.pop()
        if too_large:
            ordinal += 1
            yield BadRecord(path, start, _too_large(path, start, limit), None)
        elif lines:
            ordinal += 1
            text = "\n".join(lines)
            lines = []
            if error is not None:
                yield BadRecord(path, start, error, text)
            else:
                yield Document(id=f"{path}:{ordinal}", text=text, source=path, line=start)
        lines, joined, size, blanks, too_large, error = [], 0, 0, 0, False, None

    separator, blank_lines, fail = config.separator, config.blank_lines, config.on_error == "fail"
    try:
        for number, raw in _Lines(path, stream, limit, not fail):
            if raw is None:  # one line over the limit: the document is too large
                line = "x"  # stands for it: not blank, not a separator
                nbytes = limit + 1
            else:
                nbytes = len(raw)
                try:
                    line = _decode(path, number, raw, config)
                except InputError as exc:
                    if fail:
                        raise
                    error = error or str(exc)
                    line = _lossless(raw, config.encoding)
                del raw  # only the decoded line is held
            in_document = bool(lines) or too_large
            is_blank = not line or line.isspace()  # = not line.strip(), without a copy
            if separator is not None:
                if not is_blank and separator in line and line.strip() == separator:
                    yield from flush()
                    continue
            elif is_blank:
                blank_run += 1
                if blank_run >= blank_lines and in_document:
                    yield from flush()
                    continue
                if not in_document:
                    continue
            else:
                blank_run = 0
            if not in_document:
                if is_blank:
                    continue
                start = number
            if is_blank:
                blanks += nbytes + 1
            else:  # the text joins lines with "\n"
                size, blanks = size + blanks + nbytes + (size > 0), 0
            if too_large or size > limit or blanks > limit:
                if fail:
                    raise InputError(_too_large(path, start, limit))
                lines, joined, too_large = [], 0, True  # read on to its end, keep nothing
                continue
            lines.append(line)
            if len(lines) - joined >= _JOIN_LINES:
                joined = _compact(lines, joined)
        yield from flush()
    except InputError as exc:
        if config.on_error == "fail":
            raise
        # A stream fault mid-file: what was read of the current document is not trustworthy.
        if lines or too_large:
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
    limit = record_byte_limit(config)
    try:
        for number, raw in _Lines(path, stream, limit, config.on_error != "fail"):
            try:
                if raw is None:
                    raise InputError(_too_large(path, number, limit))
                doc = _json_record(path, number, raw, config)
            except InputError as exc:
                if config.on_error == "fail":
                    raise
                text = None if raw is None else str(raw, "utf-8", "surrogateescape")
                del raw
                yield BadRecord(path, number, str(exc), text)
                continue
            del raw  # only the record is held while the document is downstream
            if doc is not None:
                yield doc
    except InputError as exc:
        if config.on_error == "fail":
            raise
        yield BadRecord(path, 0, str(exc), None)


def _json_record(path: str, number: int, raw: bytes | memoryview, config: Config
                 ) -> Document | None:
    """The document of one JSON line (None for a blank line); InputError when unusable."""
    line = _decode(path, number, raw, config)
    if number == 1:
        line = line.removeprefix("\ufeff")  # a byte order mark some exporters write
    if _is_blank(line):
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}:{number}: malformed JSON ({exc.msg} at column {exc.colno})"
        ) from None
    except RecursionError:
        raise InputError(f"{path}:{number}: malformed JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InputError(f"{path}:{number}: unreadable JSON value ({exc})") from None
    if not isinstance(record, dict):
        raise InputError(f"{path}:{number}: JSON value is {type(record).__name__}, not an object")
    return record_document(record, path, number, config, f"{path}:{number}")


def _parquet_documents(path: str, config: Config) -> Iterator[Document | BadRecord]:
    import pyarrow.parquet as pq

    if path == STDIN:
        raise InputError("-: Parquet cannot be read from stdin; give a file path")
    row = 0
    try:
        if Path(path).is_dir():
            raise InputError(f"{path}: is a directory, not a file")
        try:
            parquet = pq.ParquetFile(path)
        except FileNotFoundError:
            raise InputError(f"{path}: no such file") from None
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise InputError(f"{path}: not a readable Parquet file ({exc})") from None
        batches = parquet.iter_batches(batch_size=4096)
        while True:
            try:
                batch = next(batches, None)
            except Exception as exc:  # a corrupt row group, a read fault
                raise InputError(f"{path}:{row + 1}: unreadable Parquet data ({exc})") from None
            if batch is None:
                return
            for record in batch.to_pylist():
                row += 1
                try:
                    yield record_document(record, path, row, config, f"{path}:{row}")
                except InputError as exc:
                    if config.on_error == "fail":
                        raise
                    yield BadRecord(path, row, str(exc), None)
    except InputError as exc:
        if config.on_error == "fail":
            raise
        yield BadRecord(path, row + 1 if row else 0, str(exc), None)


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
    counted and audited instead of vanishing. An unknown encoding is a ConfigError, raised
    before anything is read.
    """
    try:
        codecs.lookup(config.encoding)
    except LookupError:
        raise ConfigError(f"encoding: unknown encoding {config.encoding!r}") from None
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
    """Serialized chunks of the kept documents, in order.

    Separators and line ends are chunks of their own, so a giant document is never copied
    just to add a newline to it.
    """
    first = True
    for result in results:
        if result.text is None:
            continue
        if fmt == "jsonl" and result.document.error is not None:
            yield result.text  # on_error=pass: the unreadable line, byte for byte
        elif fmt == "jsonl":
            yield json_line(output_record(result, config))
        else:
            if not first:
                yield "\n\n\n"
            yield result.text
        if fmt == "jsonl":
            yield "\n"
        first = False
    if fmt != "jsonl" and not first:
        yield "\n"


_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(text: str) -> str:
    """JSON text made valid UTF-8: each lone surrogate becomes a \\uXXXX escape.

    Surrogates come from undecodable input bytes (kept by surrogateescape for on_error=pass
    and skip) or from \\ud800-style escapes in JSON input; in JSON they can only sit inside
    strings, where the escape reads back as the same string.
    """
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def json_line(value: Any) -> str:
    """One JSON value on one line (no newline), valid UTF-8 whatever its strings hold."""
    return escape_surrogates(json.dumps(value, ensure_ascii=False))


def _encode_errors(exc: UnicodeError) -> tuple[bytes, int]:
    """Output encoding errors: bytes smuggled in by surrogateescape go out as they came in
    (pass-through is byte for byte); any other lone surrogate becomes U+FFFD."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = bytearray()
    for char in exc.object[exc.start : exc.end]:
        code = ord(char)
        out += bytes([code - 0xDC00]) if 0xDC80 <= code <= 0xDCFF else "\ufffd".encode()
    return bytes(out), exc.end


codecs.register_error("dedupe-output", _encode_errors)
_ENCODE_PIECE = 1 << 20  # characters encoded at a time: a giant document is not copied whole


def _encoded(chunk: str) -> Iterator[bytes]:
    if len(chunk) <= _ENCODE_PIECE:
        yield chunk.encode("utf-8", "dedupe-output")
        return
    for i in range(0, len(chunk), _ENCODE_PIECE):
        yield chunk[i : i + _ENCODE_PIECE].encode("utf-8", "dedupe-output")


class OutputError(Exception):
    """An output could not be created or written (a missing directory, a full disk): the
    message is one line naming the file."""


def _file_mode() -> int:
    """The mode a new file gets from open() under the current umask (mkstemp's is 0600)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def signals_deferred() -> Iterator[list[int]]:
    """Hold Ctrl-C and SIGTERM back for a critical section; their handlers run as it ends.

    Yields the list of signals that came in meanwhile (it grows during the block). Done with
    Python handlers that only note the signal, not a signal mask, because the OS may deliver
    the signal to any thread (the worker pool's, a progress meter's) and Python then runs the
    handler in the main thread all the same. Outside the main thread, where handlers cannot be
    changed, it holds nothing back.
    """
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    caught: list[int] = []

    def note(signum: int, frame: object) -> None:
        caught.append(signum)

    previous = {signum: signal.signal(signum, note) for signum in _STOP_SIGNALS}
    try:
        yield caught
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for late in caught[:1]:  # as if it came in now (a handler normally raises)
            original = previous[signal.Signals(late)]
            if callable(original):
                original(late, None)
            elif original == signal.SIG_DFL:
                signal.raise_signal(late)


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class OutputSet:
    """Output files that appear together, only when the run succeeds.

    Each file is written to a temporary file beside its target; ``commit`` renames them all,
    ``abort`` (on any failure, Ctrl-C or a full disk) removes them, so the targets are left as
    they were: never half a file that the next step of a pipeline reads as complete. Ctrl-C
    and SIGTERM are held back while a temporary file is created (so none is left behind) and
    during the final renames (so the set is renamed whole or not at all).
    ``-`` is stdout, written directly (a pipe has no atomicity to offer). Write failures are
    OutputError, except a closed stdout (BrokenPipeError, for the caller to end quietly).
    """

    def __init__(self) -> None:
        self._staged: list[tuple[str, str, IO[bytes], Any]] = []

    def open(self, path: str) -> Callable[[str], None]:
        """A write(str) function for `path`, compressing by its extension (.gz, .zst).

        Text is written as UTF-8; surrogate-escaped bytes are written back as those bytes.
        """
        if path == STDIN:
            out = sys.stdout.buffer

            def write_stdout(chunk: str) -> None:
                try:
                    for piece in _encoded(chunk):
                        out.write(piece)
                except BrokenPipeError:
                    raise
                except OSError as exc:
                    raise OutputError(f"stdout: cannot write: {exc.strerror or exc}") from None

            return write_stdout
        handle, _tmp = self._create(path)
        stream: Any = handle
        if path.endswith(".gz"):
            stream = gzip.GzipFile(fileobj=handle, mode="wb", mtime=0)
        elif path.endswith(".zst"):
            import zstandard

            stream = zstandard.ZstdCompressor().stream_writer(handle, closefd=False)
        self._staged[-1] = (*self._staged[-1][:3], stream)

        def write(chunk: str) -> None:
            try:
                for piece in _encoded(chunk):
                    stream.write(piece)
            except OSError as exc:
                raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None

        return write

    def reserve(self, path: str) -> str:
        """A temporary path beside `path` for a library that writes files itself (pyarrow);
        renamed to `path` on commit."""
        return self._create(path)[1]

    def _create(self, path: str) -> tuple[IO[bytes], str]:
        """A staged temporary file beside `path`, with the mode a new file would get."""
        target = Path(path)
        with signals_deferred():
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                           dir=target.parent if str(target.parent) else ".")
            except OSError as exc:
                raise OutputError(f"{path}: cannot create: {exc.strerror or exc}") from None
            handle = os.fdopen(fd, "wb")
            self._staged.append((path, tmp, handle, handle))
        os.chmod(tmp, _file_mode())
        return handle, tmp

    def commit(self) -> None:
        """Flush and sync every file, then rename them all into place; on a failure before
        the renames (a full disk, Ctrl-C) nothing is renamed and every temporary file goes."""
        try:
            for path, _tmp, handle, stream in self._staged:
                try:
                    if stream is not handle:
                        stream.close()
                    handle.flush()
                    os.fsync(handle.fileno())
                    handle.close()
                except OSError as exc:
                    raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
            with signals_deferred():  # a Ctrl-C now takes effect once all are renamed
                for path, tmp, _handle, _stream in self._staged:
                    try:
                        os.replace(tmp, path)
                    except OSError as exc:
                        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
        except BaseException:
            self.abort()
            raise
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
