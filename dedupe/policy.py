"""The decisions: what is dropped, why, and a copy of what. Keep-first, in input order.

``Decider.observe`` sees documents in input order and places each against what came before:
a near-duplicate of an earlier kept document, or kept, with each unit assigned to a cluster of
similar units (led by its first copy). ``Decider.finalize`` then turns a document's placement
into removals, using the boilerplate counts seen so far: after all documents in batch mode
(exact counts), straight away in streaming mode (counts of the past only).
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from dataclasses import dataclass, field, replace

from dedupe.config import Config
from dedupe.index import LongIndex, ShortIndex
from dedupe.model import Ref, Removal, Result
from dedupe.prepare import Prepared
from dedupe.segment import render, unit_text

# A caption ends with a short credit in parentheses, "(AP)", "(Reuters/John Doe)", or names one.
_CAPTION = re.compile(
    r"(\(\s*[A-Z][\w .&/'’-]{0,40}\)\s*$)|(^\s*(photo|image|file photo|picture)\b)|"
    r"\b(photo|credit|image)\s*:", re.IGNORECASE)


def guess_role(p: Prepared, unit: int, first: int) -> str | None:
    """'headline' for a copy of the document's first unit, 'caption' for a credited photo line."""
    if first == 0 and unit != 0:
        return "headline"
    if _CAPTION.search(unit_text(p.lines, p.spans[unit])):
        return "caption"
    return None


@dataclass
class Cluster:
    """Similar units across kept documents; the leader is the first copy seen."""

    leader_ordinal: int  # the leader document's run position (ids need not be unique)
    leader_doc: str
    leader_position: int
    leader_text: str
    doc_ids: dict[str | None, set[int]] = field(default_factory=dict)  # per group

    def doc_count(self, group: str | None) -> int:
        return len(self.doc_ids.get(group, ()))


@dataclass
class Placement:
    """Where observe() put a document: dropped as a near-duplicate, or its units' clusters."""

    duplicate_of: Ref | None = None
    similarity: float = 0.0
    clusters: dict[int, tuple[int, float]] = field(default_factory=dict)  # unit -> (cluster, sim)


class Decider:
    """Keep-first decisions over a stream of prepared documents; holds only fingerprints."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.documents = LongIndex(config.document_threshold)
        self.long_units = LongIndex(config.unit_threshold)
        self.short_units = ShortIndex(config.short_unit_threshold)
        self.clusters: list[Cluster] = []
        self._doc_refs: dict[Hashable, Ref] = {}

    def observe(self, p: Prepared) -> Placement:
        """Place a document against everything kept before it (input order)."""
        placement = Placement()
        if p.passed is not None or not p.spans:
            return placement
        cfg = self.config
        if cfg.drop_near_duplicate_documents and p.content.size:
            match = self.documents.find(p.content_bands, p.content)
            if match is not None:
                placement.duplicate_of = self._doc_refs[match.leader]
                placement.similarity = match.similarity
                return placement
        if p.content.size:
            self.documents.add(p.document.ordinal, p.content_bands, p.content)
            self._doc_refs[p.document.ordinal] = Ref(p.document.id)
        group = p.document.group
        for i, key in enumerate(p.keys):
            if p.local_first[i] != i or not p.matchable[i] or not key:
                continue
            if p.short[i]:
                match = self.short_units.find(key)
            else:
                match = self.long_units.find(p.unit_bands[i], p.shingles(i))
            if match is None:
                cluster_id = len(self.clusters)
                self.clusters.append(Cluster(p.document.ordinal, p.document.id, p.position(i),
                                             unit_text(p.lines, p.spans[i])))
                if p.short[i]:
                    self.short_units.add(cluster_id, key)
                else:
                    self.long_units.add(cluster_id, p.unit_bands[i], p.shingles(i))
                placement.clusters[i] = (cluster_id, 1.0)
            else:
                cluster_id = int(match.leader)  # type: ignore[call-overload]
                placement.clusters[i] = (cluster_id, match.similarity)
            self.clusters[cluster_id].doc_ids.setdefault(group, set()).add(p.document.ordinal)
        return placement

    def is_boilerplate(self, cluster: Cluster, group: str | None) -> bool:
        cfg = self.config
        return (
            cfg.drop_boilerplate
            and len(cluster.leader_text) <= cfg.boilerplate_max_chars
            and cluster.doc_count(group) >= cfg.boilerplate_min_docs
        )

    def finalize(self, p: Prepared, placement: Placement) -> Result:
        """The document's result: clean text and one audit record per removal."""
        doc = p.document
        if p.passed == "bad_input" and self.config.on_error == "skip":
            skipped = Removal(doc.id, "skipped_bad_input", doc.text, doc.source, None,
                              detail=doc.error, group=doc.group)
            return Result(doc, None, (skipped,))
        if p.passed is not None:
            reason = "passed_oversize" if p.passed == "oversize" else "passed_bad_input"
            detail = doc.error or f"document has {len(doc.text)} characters"
            return Result(doc, doc.text, (Removal(doc.id, reason, "", doc.source, None,
                                                  detail=detail, group=doc.group),), passed=True)
        if placement.duplicate_of is not None:
            removal = Removal(doc.id, "near_duplicate_document", p.text, doc.source, None,
                              duplicate_of=placement.duplicate_of,
                              similarity=placement.similarity, group=doc.group)
            return Result(doc, None, (removal,), p.repairs, units=len(p.spans))
        removals: dict[int, Removal] = {}
        for i in range(len(p.spans)):
            unit_removal = self._unit_removal(p, placement, i)
            if unit_removal is not None:
                removals[i] = unit_removal
        if len(removals) == len(p.spans):
            empty = Removal(doc.id, "empty_after_cleaning", "", doc.source, None, group=doc.group)
            return Result(doc, None, (*removals.values(), empty), p.repairs, units=len(p.spans))
        text = render(p.lines, p.spans, removals.keys()) if removals else _trimmed(p)
        return Result(doc, text, tuple(removals.values()), p.repairs, units=len(p.spans))

    def _unit_removal(self, p: Prepared, placement: Placement, i: int) -> Removal | None:
        cfg = self.config
        doc = p.document
        first = p.local_first[i]
        placed = placement.clusters.get(first)
        cluster = self.clusters[placed[0]] if placed is not None else None
        base = Removal(doc.id, "", unit_text(p.lines, p.spans[i]), doc.source, p.position(i),
                       group=doc.group)
        if cluster is not None and placed is not None and self.is_boilerplate(cluster, doc.group):
            similarity = placed[1] if first == i else p.local_similarity[i]
            return replace(base, reason="boilerplate", similarity=similarity,
                           duplicate_of=Ref(cluster.leader_doc, cluster.leader_position),
                           doc_count=cluster.doc_count(doc.group))
        if first != i:
            if not cfg.drop_repeated_in_document:
                return None
            return replace(base, reason="repeated_in_document", role=guess_role(p, i, first),
                           duplicate_of=Ref(doc.id, p.position(first)),
                           similarity=p.local_similarity[i])
        if (cluster is not None and placed is not None and cfg.drop_duplicated_content
                and cluster.leader_ordinal != doc.ordinal):
            return replace(base, reason="duplicated_content", role=guess_role(p, i, first),
                           duplicate_of=Ref(cluster.leader_doc, cluster.leader_position),
                           similarity=placed[1])
        return None


def _trimmed(p: Prepared) -> str:
    """Nothing removed: the repaired text with the same layout rules as a rendered one."""
    return render(p.lines, p.spans, ())
