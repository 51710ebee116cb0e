"""The review page: one self-contained HTML file that shows what a cleaning run removed, and why.

A reviewer has to trust a run before its output replaces a corpus. The audit says everything,
but as JSON Lines nobody reads it; this page puts each removal back in its document, marked by
reason, one click away from the kept item it copies. It is a static file (styles, scripts and
charts inline, no network), so it can be attached to a ticket or opened from disk years later.

How it is built, in bounded memory whatever the size of the run:

1. *Index pass*: the run's results (run here, or re-read from the inputs and an ``--audit``
   file) are reduced to one small ``DocInfo`` per document plus the overview's tallies. Audit
   records are not kept in memory: only the byte offset of each document's first record.
2. *Selection*: at most ``max_documents`` documents are embedded: the worst cases by removed
   share (round-robin over reasons), then a deterministic hash sample, each together with the
   kept documents its removals link to, so every partner link resolves inside the page.
3. *Render pass*: the inputs are read again; only the selected documents are repaired,
   segmented (exactly as ``dedupe.prepare`` does, so line positions match the audit) and
   rendered.

Every piece of corpus text goes through ``esc`` (``html.escape`` with ``quote=True``), and the
page's Content-Security-Policy allows only its own two blocks (by hash): even text that
slipped through could neither run a script nor load anything.
"""

from __future__ import annotations

import base64
import bisect
import difflib
import hashlib
import html
import json
import os
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any

from dedupe.config import FIELD_NAMES, Config, ConfigError
from dedupe.io import STDIN, InputError, OutputSet, read_inputs
from dedupe.model import REASONS, Document, Ref, Removal, Result, Stats
from dedupe.repair import repair
from dedupe.report import stats_dict
from dedupe.segment import Span, split_lines, unit_spans, unit_text

#: Documents embedded in the page at most: enough to review, small enough to open at once.
MAX_DOCUMENTS = 2000
#: Documents per page of the document view (the browser lays out only the current page).
PAGE_SIZE = 25
#: Characters of kept text shown per document; removed units and link targets always show.
DOC_CHARS_SHOWN = 20_000
#: Changed-line rows shown per repaired document.
REPAIR_ROWS_SHOWN = 100
#: Bars per chart, and boilerplate groups charted.
CHART_ROWS = 12
CHART_GROUPS = 6

REASON_LABELS = {
    "repeated_in_document": "repeated in document",
    "boilerplate": "boilerplate",
    "duplicated_content": "duplicated content",
    "near_duplicate_document": "near-duplicate document",
    "empty_after_cleaning": "empty after cleaning",
    "skipped_bad_input": "skipped (bad input)",
    "passed_bad_input": "passed through (bad input)",
    "passed_oversize": "passed through (oversize)",
}
#: Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
REASON_COLOURS = {
    "repeated_in_document": "#E69F00",
    "boilerplate": "#56B4E9",
    "duplicated_content": "#009E73",
    "near_duplicate_document": "#CC79A7",
    "empty_after_cleaning": "#999999",
    "skipped_bad_input": "#D55E00",
    "passed_bad_input": "#0072B2",
    "passed_oversize": "#B8A800",
}
assert set(REASON_LABELS) == set(REASONS) == set(REASON_COLOURS)
#: Whole-document records: they mark the document, not a unit.
DOC_REASONS = frozenset(REASONS) - {"repeated_in_document", "boilerplate", "duplicated_content"}
_UNCOUNTED = ("skipped_bad_input", "passed_bad_input", "passed_oversize")  # as Stats does
_EARLIER = ("near_duplicate_document", "duplicated_content")  # their kept item: another doc


# --- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditItem:
    """One audit record and where it is: its line number (1-based) in the audit file."""

    number: int
    removal: Removal


@dataclass(slots=True)
class DocInfo:
    """What the index pass keeps of one document: enough to rank, select and find it again."""

    ordinal: int
    doc_id: str
    status: str  # kept, dropped, skipped, passed
    chars: int
    removed_chars: int
    first_record: int  # audit line number of its first record (0: none)
    offset: int  # byte offset of that record in the audit file
    records: int
    partners: tuple[int, ...]  # ordinals of the kept documents its removals link to
    primary: str | None  # the reason that removed most of its characters

    @property
    def share(self) -> float:
        if self.status == "dropped":
            return 1.0
        return self.removed_chars / self.chars if self.chars else 0.0


@dataclass
class BoilerplateLine:
    """One boilerplate line of a group, for the chart: its kept first copy and its reach."""

    text: str
    doc_count: int = 0  # kept documents (of its group) it was found in, per the audit
    removals: int = 0
    first: int | None = None  # ordinal of the document holding its first copy


@dataclass
class Tally:
    """The overview's aggregates over every removal of the run (not only the embedded ones)."""

    roles: Counter[tuple[str, str]] = field(default_factory=Counter)  # (reason, role)
    records: Counter[str] = field(default_factory=Counter)  # every audit reason, incl. passed
    boilerplate: dict[tuple[str, str, int], BoilerplateLine] = field(default_factory=dict)
    near_groups: Counter[int] = field(default_factory=Counter)  # kept ordinal -> copies
    unresolved: int = 0  # links to a document id not found before the removal

    def add(self, removal: Removal, partner: int | None, kept_position: int | None) -> None:
        self.records[removal.reason] += 1
        if removal.reason not in _UNCOUNTED:
            self.roles[(removal.reason, removal.role or "")] += 1
        if removal.duplicate_of is not None and partner is None:
            self.unresolved += 1
        if removal.reason == "boilerplate" and removal.duplicate_of is not None:
            key = (removal.group or "", removal.duplicate_of.doc_id, kept_position or 0)
            line = self.boilerplate.setdefault(key, BoilerplateLine(removal.text, first=partner))
            line.doc_count = max(line.doc_count, removal.doc_count or 0)
            line.removals += 1
        if removal.reason == "near_duplicate_document" and partner is not None:
            self.near_groups[partner] += 1


@dataclass
class DocView:
    """A selected document, ready to render: its repaired text cut into units, its removals."""

    info: DocInfo
    document: Document
    text: str
    repairs: tuple[tuple[str, str], ...]
    lines: list[str]
    spans: list[Span]
    items: list[AuditItem]

    def position(self, unit: int) -> int:
        """The audit's position of a unit, computed as ``Prepared.position`` does."""
        first = self.spans[unit][0]
        return first if self.document.record is not None else self.document.line + first


@dataclass
class Review:
    """Everything the page shows."""

    stats: dict[str, Any]
    tally: Tally
    infos: list[DocInfo]
    views: list[DocView]
    ids: dict[str, list[int]]
    mode: str  # a sentence: where the removals came from
    required: dict[int, set[int]]  # ordinal -> unit positions that links point to
    shown: set[int] = field(default_factory=set)  # ordinals of the embedded documents
    warnings: list[str] = field(default_factory=list)

    def partner(self, removal: Removal, ordinal: int) -> int | None:
        return partner_of(self.ids, removal, ordinal)


def partner_of(ids: dict[str, list[int]], removal: Removal, ordinal: int) -> int | None:
    """The ordinal of the kept document a removal names: the last one with that id up to the
    removal's own (keep-first: a kept item precedes its copies; ids need not be unique). A
    near-copy or duplicated content always names an earlier document, never its own."""
    if removal.duplicate_of is None:
        return None
    ordinals = ids.get(removal.duplicate_of.doc_id)
    if not ordinals:
        return None
    before = ordinal - 1 if removal.reason in _EARLIER else ordinal
    i = bisect.bisect_right(ordinals, before) - 1
    return ordinals[i] if i >= 0 else None


# --- reading the run ---------------------------------------------------------------------------


def load_stats(path: str) -> dict[str, Any]:
    """A run's ``--stats`` JSON; InputError (exit 1) when it is not one."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read stats file ({exc})") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("documents"), dict):
        raise InputError(f"{path}: not a dedupe --stats file (no 'documents' counts)")
    return data


def stats_config(stats: dict[str, Any]) -> dict[str, Any]:
    """The run's recorded config, restricted to the fields this version knows."""
    config = stats.get("config")
    if not isinstance(config, dict):
        return {}
    return {k: v for k, v in config.items() if k in FIELD_NAMES}


def removal_from_dict(data: Any, where: str) -> Removal:
    """An audit record back as a Removal; InputError naming the line when it is not one.
    Fields of the wrong type are dropped rather than trusted: the page only shows them."""
    if not isinstance(data, dict) or not isinstance(data.get("doc_id"), str) or \
            data.get("reason") not in REASONS:
        raise InputError(f"{where}: not a dedupe audit record (doc_id and reason expected)")

    def typed(value: Any, kind: type | tuple[type, ...]) -> Any:
        return value if isinstance(value, kind) and not isinstance(value, bool) else None

    ref = data.get("duplicate_of")
    return Removal(
        doc_id=data["doc_id"], reason=data["reason"], text=typed(data.get("text"), str) or "",
        source=typed(data.get("source"), str) or "-",
        position=typed(data.get("position"), int), role=typed(data.get("role"), str),
        duplicate_of=Ref(ref["doc_id"], typed(ref.get("position"), int))
        if isinstance(ref, dict) and isinstance(ref.get("doc_id"), str) else None,
        similarity=typed(data.get("similarity"), (int, float)),
        doc_count=typed(data.get("doc_count"), int), group=typed(data.get("group"), str),
        detail=typed(data.get("detail"), str),
    )


class AuditFile:
    """Sequential reading of an audit (JSON Lines), and seeking back to a document's records."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._handle: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by close()
        except FileNotFoundError:
            raise InputError(f"{path}: no such file") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot open: {exc.strerror}") from None
        self._number = 0
        self._ahead: tuple[int, int, Removal] | None = None

    def close(self) -> None:
        self._handle.close()

    def _read(self) -> tuple[int, int, Removal] | None:
        while True:
            offset = self._handle.tell()
            raw = self._handle.readline()
            if not raw:
                return None
            self._number += 1
            if raw.strip():
                return offset, self._number, self._parse(raw, self._number)

    def _parse(self, raw: bytes, number: int) -> Removal:
        where = f"{self.path}:{number}"
        try:  # dedupe writes undecodable input bytes back as they were: keep them escaped
            data = json.loads(raw.decode("utf-8", "surrogateescape"))
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: malformed JSON ({exc.msg} at column {exc.colno})") from None
        return removal_from_dict(data, where)

    def peek(self) -> tuple[int, int, Removal] | None:
        if self._ahead is None:
            self._ahead = self._read()
        return self._ahead

    def take(self) -> tuple[int, int, Removal]:
        item = self.peek()
        assert item is not None
        self._ahead = None
        return item

    def records_of(self, doc: Document) -> list[tuple[int, int, Removal]]:
        """The next records if they belong to ``doc``. A document's records are consecutive:
        its units in increasing position, then at most one whole-document record; a repeat of
        the same id with a new run of positions is the next document of that id."""
        out: list[tuple[int, int, Removal]] = []
        while (item := self.peek()) is not None and item[2].doc_id == doc.id:
            removal = item[2]
            if out:
                last = out[-1][2]
                if last.position is None:
                    break
                if removal.position is None and removal.reason != "empty_after_cleaning":
                    break
                if removal.position is not None and removal.position <= last.position:
                    break
            out.append(self.take())
        return out

    def load(self, offset: int, count: int, first: int) -> list[AuditItem]:
        """Re-read ``count`` records from a byte offset (the render pass, selected documents)."""
        self._handle.seek(offset)
        items: list[AuditItem] = []
        number = first
        while len(items) < count:
            raw = self._handle.readline()
            if not raw:
                break
            if raw.strip():
                items.append(AuditItem(number, self._parse(raw, number)))
            number += 1
        return items


class Inputs:
    """The run's documents, readable twice: files are read again, stdin is kept in memory."""

    def __init__(self, paths: Sequence[str], config: Config, limit: int | None) -> None:
        self.paths = list(paths)
        self.config = config
        self.limit = limit
        self._kept: list[Document] | None = None

    def __iter__(self) -> Iterator[Document]:
        if self._kept is not None:
            return iter(self._kept)
        docs = read_inputs(self.paths, self.config)
        if self.limit is not None:
            docs = islice(docs, self.limit)
        if STDIN in self.paths:
            self._kept = list(docs)
            return iter(self._kept)
        return docs


@dataclass
class Segmented:
    """A document cut as ``dedupe.prepare.prepare`` cuts it (without the matching work)."""

    text: str
    repairs: tuple[tuple[str, str], ...]
    lines: list[str]
    spans: list[Span]


def segment(doc: Document, config: Config) -> Segmented:
    """Repair and segment exactly as pass one of the run did, so positions match the audit."""
    if doc.error is not None or len(doc.text) > config.max_document_chars:
        return Segmented(doc.text, (), [], [])
    text, repairs = repair(doc.text, config.uncurl_quotes) if config.repair else (doc.text, ())
    lines = split_lines(text)
    return Segmented(text, repairs, lines, unit_spans(lines, config.unit))


def _status(removals: Iterable[Removal]) -> str:
    reasons = {r.reason for r in removals}
    if "skipped_bad_input" in reasons:
        return "skipped"
    if reasons & {"passed_bad_input", "passed_oversize"}:
        return "passed"
    if reasons & {"near_duplicate_document", "empty_after_cleaning"}:
        return "dropped"
    return "kept"


class Indexer:
    """The index pass: one DocInfo per document, the tallies, and the id -> ordinals map."""

    def __init__(self) -> None:
        self.infos: list[DocInfo] = []
        self.ids: dict[str, list[int]] = {}
        self.tally = Tally()

    def add(self, doc: Document, records: Sequence[tuple[int, int, Removal]]) -> None:
        ordinal = len(self.infos)
        self.ids.setdefault(doc.id, []).append(ordinal)
        partners: set[int] = set()
        by_reason: Counter[str] = Counter()
        for _offset, _number, removal in records:
            ref = removal.duplicate_of
            partner = partner_of(self.ids, removal, ordinal)
            if partner is not None and partner != ordinal:
                partners.add(partner)
            self.tally.add(removal, partner, ref.position if ref is not None else None)
            if removal.reason not in _UNCOUNTED:
                by_reason[removal.reason] += len(removal.text)
        removals = [r for _o, _n, r in records]
        self.infos.append(DocInfo(
            ordinal=ordinal, doc_id=doc.id, status=_status(removals), chars=len(doc.text),
            removed_chars=sum(by_reason.values()),
            first_record=records[0][1] if records else 0,
            offset=records[0][0] if records else 0, records=len(records),
            partners=tuple(sorted(partners)),
            primary=by_reason.most_common(1)[0][0] if by_reason else
            (removals[0].reason if removals else None),
        ))


def index_audit(inputs: Inputs, audit: AuditFile, config: Config,
                count: bool) -> tuple[Indexer, Stats | None]:
    """The index pass over inputs and an existing audit; with ``count``, the Stats as well
    (repairing each document as the run did, since units and repairs are not in the audit)."""
    indexer = Indexer()
    stats = Stats() if count else None
    for doc in inputs:
        records = audit.records_of(doc)
        indexer.add(doc, records)
        if stats is not None:
            stats.count_result(_result(doc, [r for _o, _n, r in records], config))
    left = audit.peek()
    if left is not None:
        raise InputError(
            f"{audit.path}:{left[1]}: record for document {left[2].doc_id!r} does not match the "
            "inputs (other inputs, or other --format/--separator/--id-field than the run?)")
    return indexer, stats


def _result(doc: Document, removals: list[Removal], config: Config) -> Result:
    """The Result the run yielded for ``doc``, rebuilt from its audit records (for Stats)."""
    status = _status(removals)
    if status in ("skipped", "passed"):
        return Result(doc, doc.text if status == "passed" else None, tuple(removals),
                      passed=status == "passed")
    seg = segment(doc, config)
    return Result(doc, None if status == "dropped" else seg.text, tuple(removals), seg.repairs,
                  units=len(seg.spans))


def run_and_index(inputs: Inputs, config: Config, audit_path: str) -> tuple[Indexer, Stats]:
    """Run the cleaning here, writing its audit to ``audit_path`` while indexing it."""
    from dedupe.pipeline import clean_documents  # the matching machinery only when run here

    indexer = Indexer()
    stats = Stats()
    number = 0
    with open(audit_path, "wb") as out:
        for result in clean_documents(iter(inputs), config):
            stats.count_result(result)
            records = []
            for removal in result.removals:
                number += 1
                records.append((out.tell(), number, removal))
                out.write(json.dumps(removal.as_dict()).encode("ascii") + b"\n")
            indexer.add(result.document, records)
    return indexer, stats


# --- selection ---------------------------------------------------------------------------------


def _sample_key(info: DocInfo) -> bytes:
    """A stable pseudo-random rank: the same run always embeds the same sample."""
    raw = f"{info.ordinal}\0{info.doc_id}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(raw, digest_size=8).digest()


def _worst_first(infos: Sequence[DocInfo]) -> Iterator[DocInfo]:
    """Documents with removals, largest removed share first, round-robin over their main
    reason so that one common reason (say, near-duplicates) cannot crowd out the others."""
    queues: dict[str, list[DocInfo]] = {}
    for info in infos:
        if info.records and info.primary is not None:
            queues.setdefault(info.primary, []).append(info)
    ordered = [sorted(q, key=lambda i: (-i.share, -i.removed_chars, i.ordinal))
               for _, q in sorted(queues.items())]
    for rank in range(max((len(q) for q in ordered), default=0)):
        for queue in ordered:
            if rank < len(queue):
                yield queue[rank]


def select(infos: Sequence[DocInfo], budget: int) -> set[int]:
    """The ordinals to embed: everything when it fits; else half the budget of worst cases,
    the rest a deterministic sample. A document comes with the kept documents its removals
    link to (transitively), or not at all, so every link in the page has its target."""
    if len(infos) <= budget:
        return {info.ordinal for info in infos}
    chosen: set[int] = set()

    def take(start: int) -> None:
        new: set[int] = set()
        stack = [start]
        while stack:
            o = stack.pop()
            if o in chosen or o in new:
                continue
            new.add(o)
            stack.extend(infos[o].partners)
        if len(chosen) + len(new) <= budget:
            chosen.update(new)

    for info in _worst_first(infos):
        if len(chosen) >= budget // 2:
            break
        take(info.ordinal)
    for info in sorted(infos, key=_sample_key):
        if len(chosen) >= budget:
            break
        take(info.ordinal)
    return chosen


# --- the whole build ---------------------------------------------------------------------------


def build_review(
    inputs: Sequence[str],
    config: Config,
    *,
    audit: str | None = None,
    stats: dict[str, Any] | None = None,
    sample: int | None = None,
    max_documents: int = MAX_DOCUMENTS,
) -> Review:
    """Collect a run (from ``audit`` and the inputs, or by running it here) into a Review."""
    if audit is not None and sample is not None:
        raise ConfigError("--sample runs the cleaning here; it cannot be combined with --audit")
    if sample is not None and sample < 1:
        raise ConfigError(f"--sample must be at least 1, got {sample}")
    if max_documents < 1:
        raise ConfigError(f"--max-documents must be at least 1, got {max_documents}")
    docs = Inputs(inputs, config, sample)
    counted: Stats | None
    with tempfile.TemporaryDirectory(prefix="dedupe-review-") as tmp:
        audit_path = audit or os.path.join(tmp, "audit.jsonl")
        if audit is None:
            indexer, counted = run_and_index(docs, config, audit_path)
            mode = "removals from a cleaning run made for this page"
            if sample is not None:
                mode += f", on the first {sample:,} documents of the inputs (--sample)"
        else:
            reader = AuditFile(audit)
            try:
                indexer, counted = index_audit(docs, reader, config, count=stats is None)
            finally:
                reader.close()
            mode = f"removals read from the audit {audit}"
        shown_stats = _check_stats(stats, indexer, counted, config)
        chosen = select(indexer.infos, max_documents)
        reader = AuditFile(audit_path)
        try:
            items = {o: _items(reader, indexer.infos[o]) for o in sorted(chosen)}
        finally:
            reader.close()
    review = Review(stats=shown_stats, tally=indexer.tally, infos=indexer.infos, views=[],
                    ids=indexer.ids, mode=mode, required={}, shown=set(items))
    for ordinal, its in items.items():
        for item in its:
            ref = item.removal.duplicate_of
            if ref is not None and ref.position is not None:
                target = review.partner(item.removal, ordinal)
                if target is not None:
                    review.required.setdefault(target, set()).add(ref.position)
    for doc in docs:
        if doc.ordinal in items:
            seg = segment(doc, config)
            review.views.append(DocView(indexer.infos[doc.ordinal], doc, seg.text, seg.repairs,
                                        seg.lines, seg.spans, items[doc.ordinal]))
    if indexer.tally.unresolved:
        review.warnings.append(
            f"{indexer.tally.unresolved} removal(s) name a kept document that is not in the "
            "inputs before them: their links cannot be followed")
    return review


def _items(reader: AuditFile, info: DocInfo) -> list[AuditItem]:
    return reader.load(info.offset, info.records, info.first_record) if info.records else []


def _check_stats(stats: dict[str, Any] | None, indexer: Indexer, counted: Stats | None,
                 config: Config) -> dict[str, Any]:
    """The counts to show: the run's own ``--stats`` file when given (checked against the
    inputs), else the counts of this pass, in the same shape."""
    if stats is None:
        assert counted is not None
        return stats_dict(counted, config)
    documents_in = stats["documents"].get("in")
    if documents_in != len(indexer.infos):
        raise InputError(
            f"the --stats file counts {documents_in} documents in, the inputs have "
            f"{len(indexer.infos)} (other inputs or options than the run?)")
    return stats


def write_review(
    inputs: Sequence[str],
    output: str,
    config: Config,
    *,
    audit: str | None = None,
    stats: dict[str, Any] | None = None,
    stats_path: str | None = None,
    sample: int | None = None,
    max_documents: int = MAX_DOCUMENTS,
) -> str:
    """Build the page and write it atomically to ``output``; returns a one-line summary."""
    from dedupe.jobs import check_paths

    if output == STDIN:
        raise ConfigError("the review page needs a file path (-o review.html), not stdout")
    check_paths([*inputs, *(p for p in (audit, stats_path) if p)], [output])
    folder = os.path.dirname(output) or "."
    if not os.path.isdir(folder):  # say so before the build, not after it
        raise InputError(f"{output}: cannot write: no such directory {folder}")
    started = time.perf_counter()
    review = build_review(inputs, config, audit=audit, stats=stats, sample=sample,
                          max_documents=max_documents)
    size = 0
    try:
        with OutputSet() as outputs:
            write = outputs.open(output)
            for chunk in render_page(review):
                write(chunk)
                size += len(chunk.encode("utf-8"))
    except OSError as exc:
        raise InputError(f"{output}: cannot write: {exc.strerror or exc}") from None
    seconds = time.perf_counter() - started
    return (f"dedupe: review: wrote {output} ({size / 1024:,.0f} KB, {seconds:.1f} s): "
            f"showing {len(review.views):,} of {len(review.infos):,} documents")


# --- escaping ----------------------------------------------------------------------------------

_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\x7f":
        return "\u2421"
    if "\x80" <= char <= "\x9f":
        return f"\\x{ord(char):02x}"  # C1 controls (mojibake debris) have no picture
    if "\ud800" <= char <= "\udfff":
        return "\ufffd"  # an undecodable byte (surrogate-escaped): cannot be written as UTF-8
    return chr(0x2400 + ord(char))  # the Control Pictures block: ␀ ␁ ... ␟


def esc(text: str) -> str:
    """Corpus text as inert HTML text: escaped (quotes too), control characters made visible."""
    return html.escape(_INVISIBLE.sub(_visible, text), quote=True)


def script_json(data: Any) -> str:
    """JSON that is safe inside a ``<script>`` block: no ``</script>``, no ``<!--``, no line
    terminators that old JavaScript engines reject."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def _csp_hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


def _num(value: Any) -> str:
    """A count as text; anything else a --stats file might hold, escaped."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return esc(str(value))
    return f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _label(reason: str) -> str:
    return REASON_LABELS.get(reason, reason)


# --- the page ----------------------------------------------------------------------------------


def render_page(review: Review) -> Iterator[str]:
    """The page as chunks of HTML, in order (written out as they come)."""
    head_script = "document.documentElement.className='js';"
    data = script_json({"pageSize": PAGE_SIZE, "reasons": list(REASONS),
                        "shown": len(review.views), "total": len(review.infos)})
    csp = (f"default-src 'none'; style-src {_csp_hash(_CSS)}; "
           f"script-src {_csp_hash(head_script)} {_csp_hash(_JS)}; "
           "base-uri 'none'; form-action 'none'")
    yield ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
           f"<title>dedupe review: {len(review.infos):,} documents</title>"
           f"<style>{_CSS}</style><script>{head_script}</script></head>\n<body>\n")
    yield _overview(review)
    yield _controls(review)
    yield "<main id=\"docs\">\n"
    for view in review.views:
        yield render_document(view, review)
    yield "</main>\n<nav class=\"pager\" aria-label=\"pages\"></nav>\n"
    yield (f"<script type=\"application/json\" id=\"review-data\">{data}</script>\n"
           f"<script>{_JS}</script>\n</body></html>\n")


def _overview(review: Review) -> str:
    stats = review.stats
    docs = stats.get("documents", {})
    units = stats.get("units", {})
    chars = stats.get("characters", {})
    repairs = stats.get("repairs", {})
    removed = units.get("removed", {})
    chars_in, chars_removed = _int(chars.get("in")), _int(chars.get("removed"))
    share = 100.0 * chars_removed / chars_in if chars_in else 0.0
    counts = "".join(
        f"<tr><th>{label}</th><td data-stat=\"{key}\">{_num(value)}</td></tr>"
        for label, key, value in (
            ("documents in", "documents.in", docs.get("in", 0)),
            ("documents out", "documents.out", docs.get("out", 0)),
            ("dropped", "documents.dropped", docs.get("dropped", 0)),
            ("skipped (bad input)", "documents.skipped", docs.get("skipped", 0)),
            ("passed through", "documents.passed", docs.get("passed", 0)),
            ("units in", "units.in", units.get("in", 0)),
            ("characters in", "characters.in", chars.get("in", 0)),
            ("characters removed", "characters.removed", chars.get("removed", 0)),
            ("documents repaired", "repairs.documents", repairs.get("documents", 0)),
        ))
    counts += f"<tr><th>share of characters removed</th><td>{share:.1f}%</td></tr>"
    warnings = "".join(f"<p class=\"warn\">{esc(w)}</p>" for w in review.warnings)
    if stats.get("accounting_ok") is False:
        warnings += "<p class=\"warn\">The run's accounting check FAILED (see its stats).</p>"
    return (
        "<header class=\"top\" id=\"overview\"><h1>dedupe review</h1>"
        f"<p class=\"mode\">{esc(review.mode)}; dedupe {esc(str(stats.get('version', '?')))}."
        f"</p>{warnings}</header>\n<section class=\"overview\"><div class=\"cards\">"
        f"<div class=\"card\"><h2>Counts</h2><table class=\"counts\">{counts}</table></div>"
        f"<div class=\"card\"><h2>Removals by reason and role</h2>{_reason_table(review)}</div>"
        f"<div class=\"card\"><h2>Repairs (ftfy)</h2>{_repair_table(repairs)}</div>"
        f"<div class=\"card wide\"><h2>Removals by reason</h2>"
        f"{_bar_chart(_reason_rows(removed, review.tally), 'removals by reason')}</div>"
        f"<div class=\"card wide\"><h2>Most frequent boilerplate lines</h2>"
        f"{_boilerplate_charts(review)}</div>"
        f"<div class=\"card wide\"><h2>Near-duplicate group sizes</h2>{_near_chart(review)}</div>"
        f"<div class=\"card wide\"><h2>Config</h2>{_config_table(stats)}</div>"
        "</div></section>\n"
    )


def _reason_rows(removed: dict[str, int], tally: Tally) -> list[tuple[str, float, str, str]]:
    rows = [(r, _int(removed.get(r)) or tally.records.get(r, 0)) for r in REASONS]
    return [(_label(r), n, REASON_COLOURS[r], "") for r, n in rows if n]


def _reason_table(review: Review) -> str:
    removed = review.stats.get("units", {}).get("removed", {})
    roles = sorted({role for _r, role in review.tally.roles if role})
    head = "".join(f"<th>{esc(role)}</th>" for role in roles)
    if roles:
        roles.append("")
        head += "<th>no role</th>"
    rows = []
    for reason in REASONS:
        counted = reason not in _UNCOUNTED  # as the stats count it; else audit records
        total = _int(removed.get(reason)) if counted else review.tally.records[reason]
        if not total:
            continue
        cells = "".join(
            f"<td data-role=\"{reason}.{esc(role)}\">{review.tally.roles[(reason, role)]:,}</td>"
            for role in roles)
        key = f"data-stat=\"units.removed.{reason}\"" if counted else f"data-records=\"{reason}\""
        rows.append(f"<tr><th><span class=\"sw\" data-reason=\"{reason}\"></span>"
                    f"{_label(reason)}</th><td {key}>{total:,}</td>{cells}</tr>")
    if not rows:
        return "<p>Nothing was removed.</p>"
    return (f"<table class=\"counts\"><tr><th>reason</th><th>removals</th>{head}</tr>"
            + "".join(rows) + "</table>")


def _repair_table(repairs: dict[str, Any]) -> str:
    steps = repairs.get("steps", {})
    if not steps:
        return "<p>No text needed repair.</p>"
    return "<table class=\"counts\"><tr><th>ftfy step</th><th>times</th></tr>" + "".join(
        f"<tr><th>{esc(str(step))}</th><td data-stat=\"repairs.steps.{esc(str(step))}\">"
        f"{_num(n)}</td></tr>" for step, n in steps.items()) + "</table>"


def _config_table(stats: dict[str, Any]) -> str:
    config = stats.get("config", {})
    rows = "".join(f"<tr><th>{esc(str(k))}</th><td>{esc(json.dumps(v, ensure_ascii=False))}"
                   "</td></tr>" for k, v in config.items())
    return f"<details><summary>{len(config)} settings</summary><table class=\"counts\">{rows}" \
           "</table></details>"


def _boilerplate_charts(review: Review) -> str:
    groups: dict[str, list[tuple[int, BoilerplateLine]]] = {}
    for (group, _doc, position), line in review.tally.boilerplate.items():
        groups.setdefault(group, []).append((position, line))
    if not groups:
        return "<p>No boilerplate was removed.</p>"
    ranked = sorted(groups.items(), key=lambda g: (-sum(e.removals for _, e in g[1]), g[0]))
    out = []
    for group, entries in ranked[:CHART_GROUPS]:
        entries.sort(key=lambda e: (-e[1].doc_count, -e[1].removals, e[1].text))
        rows = [(line.text, line.doc_count, REASON_COLOURS["boilerplate"],
                 f"#d-{line.first}-u-{position}" if line.first in review.shown else "")
                for position, line in entries[:CHART_ROWS]]
        title = f"group {group}" if group else "all documents"
        more = f" (top {CHART_ROWS} of {len(entries):,})" if len(entries) > CHART_ROWS else ""
        out.append(f"<h3>{esc(title)}{more}: documents each line was found in</h3>"
                   + _bar_chart(rows, f"boilerplate lines, {title}"))
    if len(ranked) > CHART_GROUPS:
        out.append(f"<p>{len(ranked) - CHART_GROUPS:,} more groups not charted.</p>")
    return "".join(out)


def _near_chart(review: Review) -> str:
    sizes = Counter(1 + copies for copies in review.tally.near_groups.values())
    if not sizes:
        return "<p>No near-duplicate documents were dropped.</p>"
    rows = [(f"{size} documents", count, REASON_COLOURS["near_duplicate_document"], "")
            for size, count in sorted(sizes.items())[:CHART_ROWS]]
    return ("<p>How many groups (a kept document and its dropped near-copies) have each size."
            "</p>" + _bar_chart(rows, "near-duplicate groups by size"))


def _bar_chart(rows: Sequence[tuple[str, float, str, str]], title: str) -> str:
    """A horizontal bar chart as inline SVG: label, bar, value; a bar can link into the page."""
    if not rows:
        return "<p>Nothing to chart.</p>"
    width, label_w, bar_h, gap = 660, 270, 18, 6
    top = max(value for _l, value, _c, _h in rows) or 1
    height = len(rows) * (bar_h + gap)
    parts = [f"<svg class=\"chart\" viewBox=\"0 0 {width} {height}\" role=\"img\" "
             f"aria-label=\"{esc(title)}\" width=\"{width}\" height=\"{height}\">"]
    for i, (label, value, colour, href) in enumerate(rows):
        y = i * (bar_h + gap)
        w = max(1.0, (width - label_w - 70) * value / top)
        short = label if len(label) <= 36 else label[:35] + "…"
        bar = (f"<rect x=\"{label_w}\" y=\"{y}\" width=\"{w:.1f}\" height=\"{bar_h}\" "
               f"fill=\"{colour}\"></rect>")
        text = (f"<text x=\"{label_w - 6}\" y=\"{y + 13}\" text-anchor=\"end\">{esc(short)}</text>"
                f"<text x=\"{label_w + w + 4:.1f}\" y=\"{y + 13}\">{_num(value)}</text>")
        item = f"<g><title>{esc(label)}: {_num(value)}</title>{bar}{text}</g>"
        if href:
            item = f"<a href=\"{href}\">{item}</a>"
        parts.append(item)
    parts.append("</svg>")
    return "".join(parts)


def _controls(review: Review) -> str:
    present = [r for r in REASONS if any(
        item.removal.reason == r for v in review.views for item in v.items)]
    boxes = "".join(
        f"<label class=\"filter\"><input type=\"checkbox\" checked data-filter-reason=\"{r}\">"
        f"<span class=\"sw\" data-reason=\"{r}\"></span>{_label(r)}</label>" for r in present)
    shown, total = len(review.views), len(review.infos)
    rule = ("every document of the run" if shown == total else
            "the worst cases by removed share (round-robin over reasons), then a deterministic "
            "sample, each with the kept documents its removals link to")
    return (
        "<section class=\"docs-head\" id=\"documents\"><h2>Documents</h2>"
        f"<p id=\"showing\">showing <b data-count=\"shown\">{shown:,}</b> of "
        f"<b data-count=\"total\">{total:,}</b> documents: {rule}.</p></section>"
        "<section class=\"controls\"><div class=\"legend\" role=\"group\" "
        f"aria-label=\"filter by reason\">{boxes}"
        "<label class=\"filter\"><input type=\"checkbox\" id=\"only-removed\">only documents "
        "with a shown removal</label></div>"
        "<div class=\"bar\"><input type=\"search\" id=\"search\" placeholder=\"search text or "
        "id\" aria-label=\"search documents\"><select id=\"sort\" aria-label=\"order\">"
        "<option value=\"input\">input order</option><option value=\"share\">most removed "
        "first</option></select><span id=\"matching\"></span>"
        "<nav class=\"pager\" aria-label=\"pages\"></nav></div></section>\n"
    )


# --- one document ------------------------------------------------------------------------------


def render_document(view: DocView, review: Review) -> str:
    """One document: header, whole-document records, repairs, then its units with removals."""
    info, doc = view.info, view.document
    units: dict[int, list[AuditItem]] = {}
    whole: list[AuditItem] = []
    positions = {view.position(i): i for i in range(len(view.spans))}
    for item in view.items:
        pos = item.removal.position
        if item.removal.reason in DOC_REASONS or pos not in positions or pos in units:
            whole.append(item)
        else:
            units[pos] = [item]
    reasons = " ".join(sorted({item.removal.reason for item in view.items}))
    drop = next((i.removal.reason for i in whole if i.removal.reason in
                 ("near_duplicate_document", "skipped_bad_input")), "")
    where = (f"{doc.source}, record line {doc.line}" if doc.record is not None
             else f"{doc.source}, line {doc.line}")
    share = f"{100 * info.share:.0f}% removed" if info.records else "nothing removed"
    header = (f"<header><a class=\"self\" href=\"#d-{info.ordinal}\">#{info.ordinal + 1}</a> "
              f"<span class=\"did\">{esc(doc.id)}</span> <span class=\"src\">{esc(where)}</span> "
              f"<span class=\"st\">{info.status}</span> <span class=\"share\">{share}</span>"
              "</header>")
    notes = "".join(_doc_note(item, view, review, pos_known=item.removal.position in positions
                              or item.removal.position is None) for item in whole)
    return (
        f"<article class=\"doc st-{info.status}\" id=\"d-{info.ordinal}\" "
        f"data-reasons=\"{reasons}\" data-drop=\"{drop}\" data-share=\"{info.share:.4f}\">"
        f"{header}{notes}"
        f"{_repairs(view)}{_body(view, units, review)}</article>\n"
    )


def _doc_note(item: AuditItem, view: DocView, review: Review, pos_known: bool) -> str:
    removal = item.removal
    parts = [f"<b>{_label(removal.reason)}</b>"]
    if removal.reason not in DOC_REASONS:
        why = "position not in the document" if not pos_known else "a second record for the unit"
        parts.append(f"line {removal.position} ({why}; audit and inputs differ?): "
                     f"<q>{esc(_clip(removal.text, 200))}</q>")
    link = _partner(removal, view.info.ordinal, review)
    if link:
        parts.append(link)
    if removal.detail:
        parts.append(esc(removal.detail))
    return (f"<div class=\"rm rmd\" data-reason=\"{removal.reason}\" data-audit=\"{item.number}\">"
            + " · ".join(parts) + "</div>")


def _partner(removal: Removal, ordinal: int, review: Review) -> str:
    """'copy of <kept item>' with an in-page link to it, and the verified similarity."""
    ref = removal.duplicate_of
    if ref is None:
        return ""
    target = review.partner(removal, ordinal)
    name = "this document" if target == ordinal else esc(ref.doc_id)
    what = f"{name}, line {ref.position}" if ref.position is not None else name
    if target == ordinal and ref.position is not None and ref.position == removal.position:
        what = "first copy: this line"  # a boilerplate line's first occurrence goes too
    elif removal.reason == "boilerplate":
        what = f"first seen in {what}"
    else:
        what = f"copy of {what}"
    anchor = (f"d-{target}" if ref.position is None else f"d-{target}-u-{ref.position}")
    embedded = target is not None and target in review.shown
    text = (f"<a class=\"partner\" href=\"#{anchor}\">{what}</a>" if embedded
            else f"{what} (not in this page)")
    if removal.similarity is not None:
        text += f" · similarity {removal.similarity:.3f}"
    if removal.doc_count is not None:
        text += f" · in {removal.doc_count:,} documents"
    return text


def _repairs(view: DocView) -> str:
    """ftfy's changes: the steps, and each changed line before and after, changes marked."""
    if not view.repairs:
        return ""
    steps = Counter(action for action, _ in view.repairs)
    summary = ", ".join(f"{esc(a)} ×{n}" if n > 1 else esc(a) for a, n in steps.items())
    before = view.document.text.split("\n")
    rows: list[str] = []
    changed = 0
    for a1, old, new in _changed_lines(before, view.lines):
        changed += 1
        if len(rows) < REPAIR_ROWS_SHOWN:
            line = a1 if view.document.record is not None else view.document.line + a1
            marked_old, marked_new = _inline_diff(old, new)
            rows.append(f"<tr><td class=\"ln\">{line}</td><td class=\"before\">{marked_old}</td>"
                        f"<td class=\"after\">{marked_new}</td></tr>")
    more = (f"<p>{changed - REPAIR_ROWS_SHOWN:,} more changes not shown.</p>"
            if changed > REPAIR_ROWS_SHOWN else "")
    return (f"<details class=\"repairs\"><summary>repaired by ftfy ({summary}): {changed:,} "
            "changed passage(s)</summary><table class=\"diff\"><tr><th>line</th><th>before</th>"
            f"<th>after</th></tr>{''.join(rows)}</table>{more}</details>")


def _changed_lines(before: list[str], after: list[str]) -> Iterator[tuple[int, str, str]]:
    """(first line index, original, repaired) per changed run of lines. ftfy may turn one line
    into several (a stray \\r or U+2028), so lines are aligned by a diff, not by index."""
    if len(before) == len(after) or len(before) + len(after) > 40_000:  # the cheap alignment
        pairs = ((i, [a], [b]) for i, (a, b) in enumerate(zip(before, after, strict=False))
                 if a != b)
    else:
        matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
        pairs = ((a1, before[a1:a2], after[b1:b2])
                 for op, a1, a2, b1, b2 in matcher.get_opcodes() if op != "equal")
    for first, old, new in pairs:
        yield first, "\n".join(old), "\n".join(new)


def _inline_diff(old: str, new: str) -> tuple[str, str]:
    """Both sides escaped, with the changed characters in <mark> (short texts only)."""
    if len(old) + len(new) > 20_000:
        return esc(old), esc(new)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    left: list[str] = []
    right: list[str] = []
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        a, b = esc(old[a1:a2]), esc(new[b1:b2])
        if op == "equal":
            left.append(a)
            right.append(b)
        else:
            left.append(f"<mark>{a}</mark>" if a else "")
            right.append(f"<mark>{b}</mark>" if b else "")
    return "".join(left), "".join(right)


def _body(view: DocView, units: dict[int, list[AuditItem]], review: Review) -> str:
    """The units in order; kept text beyond DOC_CHARS_SHOWN is elided unless a link targets it."""
    ordinal = view.info.ordinal
    if not view.spans:
        text = view.text
        tail = f"<div class=\"elided\">… {len(text) - DOC_CHARS_SHOWN:,} more characters not " \
               "shown …</div>" if len(text) > DOC_CHARS_SHOWN else ""
        return f"<div class=\"body\"><div class=\"u raw\">{esc(text[:DOC_CHARS_SHOWN])}</div>" \
               f"{tail}</div>"
    required = review.required.get(ordinal, set())
    out: list[str] = []
    budget = DOC_CHARS_SHOWN
    elided = 0
    previous_end = -1
    for i, span in enumerate(view.spans):
        pos = view.position(i)
        text = unit_text(view.lines, span)
        removed = units.get(pos)
        if removed is None and pos not in required and budget <= 0:
            elided += span[1] - span[0] + 1
            previous_end = span[1]
            continue
        if elided:
            out.append(f"<div class=\"elided\">… {elided:,} line(s) not shown …</div>")
            elided = 0
        elif span[0] > previous_end + 1 and previous_end >= 0:
            out.append("<div class=\"gap\"></div>")
        previous_end = span[1]
        budget -= len(text)
        anchor = f"d-{ordinal}-u-{pos}"
        if removed is None:
            out.append(f"<div class=\"u\" id=\"{anchor}\"><span class=\"ln\">{pos}</span>"
                       f"<span class=\"tx\">{esc(text)}</span></div>")
        else:
            out.append(_removed_unit(anchor, pos, text, removed[0], ordinal, review))
    if elided:
        out.append(f"<div class=\"elided\">… {elided:,} line(s) not shown …</div>")
    return f"<div class=\"body\">{''.join(out)}</div>"


def _removed_unit(anchor: str, pos: int, text: str, item: AuditItem, ordinal: int,
                  review: Review) -> str:
    removal = item.removal
    note = [_label(removal.reason)]
    if removal.role:
        note.append(esc(removal.role))
    partner = _partner(removal, ordinal, review)
    if partner:
        note.append(partner)
    if removal.text != text:
        note.append("<span class=\"warn\">audit text differs from the input</span>")
    return (f"<div class=\"u rm\" id=\"{anchor}\" data-reason=\"{removal.reason}\" "
            f"data-audit=\"{item.number}\"><span class=\"ln\">{pos}</span>"
            f"<del class=\"tx\">{esc(text)}</del><span class=\"why\">{' · '.join(note)}</span>"
            "</div>")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- style and behaviour -----------------------------------------------------------------------

_SWATCHES = "".join(
    f"[data-reason={r}]{{--c:{c}}}" for r, c in REASON_COLOURS.items())
_HIDE = "".join(f"body.h-{r} .rm[data-reason={r}]:not(.pin){{display:none}}" for r in REASONS)

_CSS = (
    ":root{--fg:#1d1d1f;--muted:#6b6b70;--line:#e3e3e8;--bg:#fafafa;--card:#fff}"
    "*{box-sizing:border-box}"
    "body{margin:0;padding:0 1.5rem 3rem;font:14px/1.45 system-ui,sans-serif;color:var(--fg);"
    "background:var(--bg)}"
    "h1{font-size:1.5rem;margin:1rem 0 .2rem}h2{font-size:1.1rem;margin:.2rem 0 .6rem}"
    "h3{font-size:.95rem;margin:.8rem 0 .3rem;font-weight:600}"
    ".mode{color:var(--muted);margin:0 0 1rem}.warn{color:#b00020;font-weight:600}"
    ".cards{display:flex;flex-wrap:wrap;gap:1rem}"
    ".card{background:var(--card);border:1px solid var(--line);border-radius:8px;"
    "padding:.8rem 1rem;flex:1 1 280px;min-width:0}.card.wide{flex-basis:640px}"
    "table.counts{border-collapse:collapse}table.counts th,table.counts td{text-align:left;"
    "padding:.15rem .8rem .15rem 0;border-bottom:1px solid var(--line);font-weight:normal}"
    "table.counts td{text-align:right;font-variant-numeric:tabular-nums}"
    "svg.chart{max-width:100%;height:auto;font-size:12px}svg.chart text{fill:var(--fg)}"
    ".sw{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:.35em;"
    "vertical-align:-.1em;background:var(--c)}"
    + _SWATCHES +
    ".docs-head{margin-top:1.5rem}.docs-head p{margin:.2rem 0}"
    ".controls{position:sticky;top:0;z-index:2;background:var(--bg);padding:.4rem 0;"
    "border-bottom:1px solid var(--line)}"
    "article.doc,.u,.rmd{scroll-margin-top:7rem}"
    ".legend{display:flex;flex-wrap:wrap;gap:.3rem 1rem;margin:.3rem 0}"
    ".filter{cursor:pointer;user-select:none}"
    ".bar{display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center;margin:.3rem 0}"
    "#search{flex:0 1 24rem;padding:.3rem .5rem;font:inherit}#matching{color:var(--muted)}"
    "#sort{font:inherit;padding:.25rem}"
    ".pager{display:flex;gap:.5rem;align-items:center;margin:.4rem 0}.bar .pager{margin:0}"
    ".pager button{font:inherit;padding:.1rem .6rem}"
    "article.doc{background:var(--card);border:1px solid var(--line);border-radius:8px;"
    "margin:1rem 0;padding:.5rem 1rem .8rem}"
    ".js article.doc{display:none}.js article.doc.on{display:block}"
    "article.doc>header{display:flex;flex-wrap:wrap;gap:.3rem .8rem;align-items:baseline;"
    "border-bottom:1px solid var(--line);padding-bottom:.3rem;margin-bottom:.4rem}"
    ".did{font-weight:600;word-break:break-all}.src,.share,.self{color:var(--muted)}"
    ".st{font-size:.8rem;border-radius:4px;padding:0 .4rem;background:#e8f5e9}"
    ".st-dropped .st,.st-skipped .st{background:#fde2e4}.st-passed .st{background:#fff4ce}"
    ".st-dropped .body,.st-skipped .body{text-decoration:line-through;"
    "text-decoration-color:#CC79A7;opacity:.7}"
    ".body{font:13px/1.5 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}"
    ".u{display:flex;gap:.6rem;padding:0 .3rem;border-left:3px solid transparent;"
    "white-space:pre-wrap;overflow-wrap:anywhere}"
    ".u .ln{flex:0 0 3.5em;text-align:right;color:var(--muted);user-select:none}"
    ".u .tx{flex:1 1 auto;min-width:0}.u.raw{display:block}"
    ".u.rm{border-left-color:var(--c);background:color-mix(in srgb,var(--c) 14%,transparent)}"
    ".u.rm del{text-decoration-color:var(--c);text-decoration-thickness:2px}"
    ".why{flex:0 1 45%;font:12px/1.4 system-ui,sans-serif;color:#333;white-space:normal}"
    ".rmd{border-left:4px solid var(--c);background:color-mix(in srgb,var(--c) 14%,transparent);"
    "padding:.3rem .6rem;margin:.3rem 0}"
    ".gap{height:.6em}.elided{color:var(--muted);font-style:italic;padding:.2rem 4.4em}"
    "details.repairs{margin:.3rem 0}details.repairs summary{cursor:pointer;color:#0b5394}"
    "table.diff{border-collapse:collapse;width:100%;margin:.3rem 0;"
    "font:12px/1.4 ui-monospace,monospace}"
    "table.diff td,table.diff th{border:1px solid var(--line);padding:.15rem .4rem;"
    "white-space:pre-wrap;overflow-wrap:anywhere;vertical-align:top;text-align:left}"
    "td.before{background:#fdecea}td.after{background:#e6f4ea}table.diff .ln{width:4.5em}"
    "td.before mark{background:#f4b4ae}td.after mark{background:#a8dab5}"
    ".hit,:target{outline:3px solid #ff9800;outline-offset:2px;animation:flash 1.2s ease-out}"
    "@keyframes flash{from{background:#ffe0b2}}"
    "a.partner{color:#0b5394}"
    + _HIDE
)

# Vanilla JS, no inline handlers (the CSP forbids them): filters, search, pages, link targets.
_JS = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("review-data").textContent);
  var docs = Array.prototype.slice.call(document.querySelectorAll("article.doc"));
  var hidden = {}, query = "", page = 0, pinned = null;
  var onlyRemoved = document.getElementById("only-removed");
  var search = document.getElementById("search");
  var matching = document.getElementById("matching");
  var pagers = Array.prototype.slice.call(document.querySelectorAll("nav.pager"));
  var sort = document.getElementById("sort"), main = document.getElementById("docs");
  var inputOrder = docs.slice();

  function shows(a) {
    if (a === pinned) return true;
    if (a.dataset.drop && hidden[a.dataset.drop]) return false;
    if (onlyRemoved.checked) {
      var rs = a.dataset.reasons ? a.dataset.reasons.split(" ") : [];
      if (!rs.some(function (r) { return !hidden[r]; })) return false;
    }
    if (query) {
      if (a.searchText === undefined) a.searchText = a.textContent.toLowerCase();
      if (a.searchText.indexOf(query) < 0) return false;
    }
    return true;
  }

  function render() {
    var list = docs.filter(shows);
    var pages = Math.max(1, Math.ceil(list.length / data.pageSize));
    if (page >= pages) page = pages - 1;
    var first = page * data.pageSize, on = list.slice(first, first + data.pageSize);
    docs.forEach(function (d) { d.classList.remove("on"); });
    on.forEach(function (d) { d.classList.add("on"); });
    matching.textContent = list.length + " of " + data.shown + " shown documents match";
    pagers.forEach(function (nav) {
      nav.textContent = "";
      var prev = document.createElement("button"), next = document.createElement("button");
      var label = document.createElement("span");
      prev.textContent = "\u2190 previous"; next.textContent = "next \u2192";
      prev.disabled = page === 0; next.disabled = page >= pages - 1;
      prev.addEventListener("click", function () { page -= 1; render(); });
      next.addEventListener("click", function () { page += 1; render(); });
      label.textContent = "page " + (page + 1) + " of " + pages;
      nav.appendChild(prev); nav.appendChild(label); nav.appendChild(next);
    });
    return list;
  }

  function go(hash) {
    var el = hash ? document.getElementById(hash.slice(1)) : null;
    var art = el && el.closest("article.doc");
    if (!art) return;
    document.querySelectorAll(".hit, .pin").forEach(function (e) {
      e.classList.remove("hit"); e.classList.remove("pin");
    });
    pinned = art;
    if (el.classList.contains("rm")) el.classList.add("pin");
    var list = docs.filter(shows);
    page = Math.floor(list.indexOf(art) / data.pageSize);
    render();
    el.classList.add("hit");
    el.scrollIntoView({block: "center"});
  }

  document.querySelectorAll("input[data-filter-reason]").forEach(function (box) {
    box.addEventListener("change", function () {
      var r = box.dataset.filterReason;
      hidden[r] = !box.checked;
      document.body.classList.toggle("h-" + r, !box.checked);
      page = 0; render();
    });
  });
  onlyRemoved.addEventListener("change", function () { page = 0; render(); });
  sort.addEventListener("change", function () {
    docs = inputOrder.slice();
    if (sort.value === "share") {
      docs.sort(function (a, b) { return b.dataset.share - a.dataset.share; });  // stable
    }
    docs.forEach(function (d) { main.appendChild(d); });
    page = 0; render();
  });
  search.addEventListener("input", function () {
    query = search.value.trim().toLowerCase(); pinned = null; page = 0; render();
  });
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[href^='#d-']");
    if (!a) return;
    ev.preventDefault();
    var h = a.getAttribute("href");
    if (location.hash === h) go(h); else location.hash = h;
  });
  window.addEventListener("hashchange", function () { go(location.hash); });
  render();
  if (location.hash) go(location.hash);
})();
"""


__all__ = ["MAX_DOCUMENTS", "Review", "build_review", "esc", "load_stats", "render_page",
           "script_json", "segment", "select", "stats_config", "write_review"]
