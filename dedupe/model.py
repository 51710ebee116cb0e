"""Plain data types passed between stages. No behaviour beyond small conveniences."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Reasons an audit record can carry.
REASONS = (
    "repeated_in_document",  # a unit repeated inside its own document: first copy kept
    "boilerplate",  # a short unit found in at least N kept documents: every copy dropped
    "duplicated_content",  # a longer unit already kept in an earlier document
    "near_duplicate_document",  # the whole document resembles an earlier kept document
    "empty_after_cleaning",  # every unit of the document was removed
    "skipped_bad_input",  # --on-error skip: the record could not be read
    "passed_bad_input",  # --on-error pass: written through unchanged, not matched
    "passed_oversize",  # document above max_document_chars: written through unmatched
)


@dataclass(frozen=True)
class Document:
    """One input document as read: text plus where it came from.

    ``line`` is the input line where the document starts (text) or its record's line (JSONL).
    ``record`` holds the other fields of a JSON/Parquet record, written back unchanged.
    """

    id: str
    text: str
    source: str = "-"
    line: int = 1
    record: dict[str, Any] | None = None
    group: str | None = None
    ordinal: int = 0  # position in the whole run's input, 0-based; the keep-first order
    error: str | None = None  # set for a bad record passed through or skipped (on_error)


@dataclass(frozen=True)
class Ref:
    """A pointer to a kept item: the document and, for units, the unit's position."""

    doc_id: str
    position: int | None = None
    text: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"doc_id": self.doc_id}
        if self.position is not None:
            out["position"] = self.position
        if self.text is not None:
            out["text"] = self.text
        return out


@dataclass(frozen=True)
class Removal:
    """One audit record: what was removed, where, why, and what it duplicates."""

    doc_id: str
    reason: str
    text: str
    source: str = "-"
    position: int | None = None  # unit: input line (text) or line index in the field (JSONL)
    role: str | None = None  # "headline", "caption" where the guess is clear
    duplicate_of: Ref | None = None
    similarity: float | None = None
    doc_count: int | None = None  # boilerplate: distinct kept documents it was found in
    group: str | None = None
    detail: str | None = None  # error message for skipped/passed records

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "doc_id": self.doc_id,
            "source": self.source,
            "reason": self.reason,
            "position": self.position,
            "text": self.text,
        }
        if self.role is not None:
            out["role"] = self.role
        if self.duplicate_of is not None:
            out["duplicate_of"] = self.duplicate_of.as_dict()
        if self.similarity is not None:
            out["similarity"] = round(self.similarity, 4)
        if self.doc_count is not None:
            out["doc_count"] = self.doc_count
        if self.group is not None:
            out["group"] = self.group
        if self.detail is not None:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class Result:
    """What the pipeline yields per input document, in input order.

    ``text`` is the clean text (None when the document was dropped). ``repairs`` is ftfy's own
    explanation of what it changed, as (action, parameter) pairs.
    """

    document: Document
    text: str | None
    removals: tuple[Removal, ...] = ()
    repairs: tuple[tuple[str, str], ...] = ()
    passed: bool = False  # written through unmatched (bad input with on_error=pass, oversize)
    units: int = 0  # how many units the document had

    @property
    def dropped(self) -> bool:
        return self.text is None

    @property
    def id(self) -> str:
        return self.document.id


@dataclass
class Stats:
    """Counters for the summary; mutable, owned by the run that fills it."""

    documents_in: int = 0
    documents_out: int = 0
    documents_dropped: int = 0
    documents_skipped: int = 0
    documents_passed: int = 0
    units_in: int = 0
    units_removed: dict[str, int] = field(default_factory=dict)
    chars_in: int = 0
    chars_removed: int = 0
    documents_repaired: int = 0
    repairs: dict[str, int] = field(default_factory=dict)

    def count_result(self, result: Result) -> None:
        self.documents_in += 1
        self.units_in += result.units
        self.chars_in += len(result.document.text)
        if result.repairs:
            self.documents_repaired += 1
        for action, _ in result.repairs:
            self.repairs[action] = self.repairs.get(action, 0) + 1
        for removal in result.removals:
            if removal.reason in ("skipped_bad_input", "passed_bad_input", "passed_oversize"):
                continue
            self.units_removed[removal.reason] = self.units_removed.get(removal.reason, 0) + 1
            self.chars_removed += len(removal.text)
        if result.passed:
            self.documents_passed += 1
            self.documents_out += 1
        elif any(r.reason == "skipped_bad_input" for r in result.removals):
            self.documents_skipped += 1
        elif result.dropped:
            self.documents_dropped += 1
        else:
            self.documents_out += 1

    @property
    def balanced(self) -> bool:
        """The accounting invariant: every document read is written, dropped or skipped."""
        return self.documents_in == (
            self.documents_out + self.documents_dropped + self.documents_skipped
        )
