"""What every persistent index backend shares: errors, recorded settings, the write set of a
run, and the abstract interface SQLite and Redis implement.

A persistent index holds what earlier runs *kept*, in the form the keep-first decisions need:

* document leaders: the document's id, its content shingle set and its LSH band keys;
* unit clusters: the leader's document id, position and text, either a short unit's
  normalized key (exact and edit-similarity matching) or a long unit's shingle set and band
  keys, and per group the number of distinct kept documents the cluster appeared in;
* the settings that made those fingerprints, so that a run with other settings is refused.

Backends only store and fetch; the matching itself (Jaccard, edit similarity, tie-breaks) is
``dedupe.store.run``'s, shared by both, so SQLite and Redis give the same answers.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from dedupe.config import Config, ConfigError
from dedupe.fingerprint import shingle_sets, signatures
from dedupe.index import lsh_params
from dedupe.io import InputError
from dedupe.normalize import normalize_many

if TYPE_CHECKING:
    from dedupe.store.run import IndexRun

#: Changes whenever the stored layout changes; an index of another format is refused.
FORMAT = "dedupe-index/1"

Table = Literal["doc", "unit"]
Group = str | None
BandKey = tuple[int, int]  # (band, key as an unsigned 64-bit int)


class StoreError(InputError):
    """The index cannot be used: missing, unreadable, locked by another writer, or damaged.

    An InputError, so the command line reports it on one line and exits 1 like bad input.
    """


class SettingsMismatch(ConfigError):
    """This run's settings would make its fingerprints incomparable with the index's (exit 2)."""


# --- settings ----------------------------------------------------------------------------

#: Config fields that may differ from run to run against one index: how input is read and
#: output written, the policies (what to drop: the stored counts stay raw), the limits and the
#: execution. Every other field is recorded and must be equal: it changes fingerprints, band
#: keys, which items become leaders or how a match is verified (a new field is recorded by
#: default, so an index is never silently compared under a setting it does not know).
FREE_SETTINGS = frozenset({
    "format", "output_format", "separator", "blank_lines", "text_field", "id_field", "encoding",
    "encoding_errors", "on_error", "repair", "uncurl_quotes", "drop_near_duplicate_documents",
    "drop_repeated_in_document", "drop_boilerplate", "drop_duplicated_content",
    "boilerplate_min_docs", "max_unit_chars", "max_document_chars", "workers",
})


def index_settings(config: Config) -> dict[str, Any]:
    """The settings an index records and every later run must share."""
    settings = {k: v for k, v in config.as_dict().items()
                if k not in FREE_SETTINGS and not k.startswith("drop_")}  # drop_*: policies
    settings.update(config.matching_settings())
    # Derived, but recorded: a datasketch that picked other band parameters would make the
    # stored band keys useless even with equal thresholds.
    unit_lsh = getattr(config, "unit_lsh_threshold", config.unit_threshold)
    document_lsh = getattr(config, "document_lsh_threshold", config.document_threshold)
    settings["unit_bands"] = list(lsh_params(unit_lsh, config.num_perm))
    settings["document_bands"] = list(lsh_params(document_lsh, config.num_perm))
    return json.loads(json.dumps(settings))  # the JSON form, as it is stored and compared


#: Texts that exercise every normalization step and the shingle hash. Their fingerprints are
#: recorded: a dedupe whose normalization or hashing changed would compute different keys for
#: the same text, which no setting reveals.
_PROBE_TEXTS = (
    "Ｆｕｌｌ－ｗｉｄｔｈ ﬁne print²", "Café Ünïcödé déjà vu", "Рaypal аccount (Cyrillic)",
    "“Curly” ‘quotes’ — dashes – and… bullets •", "the gov-\nernment said",
    "Call 555-1234 in 2024", "| 2019 | 1,234 | 5.6 |", "   many \t  spaces   here ", "TT",
    "North Korea sends FOREIGN minister",
)


def fingerprint_probe(config: Config) -> str:
    """A digest of the probe texts' keys, shingles and MinHash signatures under `config`."""
    keys = normalize_many(list(_PROBE_TEXTS), config.normalize_steps)
    hashes, offsets = shingle_sets(keys, config.shingle_size)
    sigs = signatures(hashes, offsets, config.num_perm, config.seed)
    digest = hashlib.sha256("\x00".join(keys).encode("utf-8", "surrogatepass"))
    for array in (hashes, offsets, sigs):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:32]


def settings_difference(recorded: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """Human descriptions of the settings that differ, e.g. 'unit_threshold 0.8 (index: 0.7)'."""
    out = []
    for name in sorted(set(recorded) | set(wanted)):
        if recorded.get(name) != wanted.get(name):
            out.append(f"{name} {_show(wanted.get(name))} (index: {_show(recorded.get(name))})")
    return out


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return "none" if value is None else str(value)


# --- what a run reads and writes -------------------------------------------------------------


@dataclass
class Meta:
    """The index's header: format, settings and counters (a new index has none of them yet)."""

    settings: dict[str, Any]
    probe: str
    format: str = FORMAT
    next_seq: int = 0  # run order of the next document (every document read counts)
    next_cluster: int = 0  # id of the next unit cluster
    documents: int = 0  # document leaders stored
    clusters: int = 0  # unit clusters stored
    runs: int = 0  # committed runs
    created: str = ""

    def as_strings(self) -> dict[str, str]:
        return {"format": self.format, "settings": json.dumps(self.settings, sort_keys=True),
                "probe": self.probe, "next_seq": str(self.next_seq),
                "next_cluster": str(self.next_cluster), "documents": str(self.documents),
                "clusters": str(self.clusters), "runs": str(self.runs), "created": self.created}

    @classmethod
    def from_strings(cls, values: dict[str, str], where: str) -> Meta:
        try:
            return cls(settings=json.loads(values["settings"]), probe=values["probe"],
                       format=values["format"], next_seq=int(values["next_seq"]),
                       next_cluster=int(values["next_cluster"]),
                       documents=int(values["documents"]), clusters=int(values["clusters"]),
                       runs=int(values.get("runs", "0")), created=values.get("created", ""))
        except (KeyError, ValueError, TypeError) as exc:
            raise StoreError(f"{where}: damaged index header ({exc!r}); "
                             "run `dedupe index verify`") from None


@dataclass(frozen=True)
class ClusterRow:
    """A stored unit cluster, as the decisions need it: its leader and its counts."""

    id: int
    leader_seq: int  # the leader document's run order (across all runs)
    doc_id: str
    position: int
    text: str  # the leader as written (its length decides whether it can be boilerplate)
    key: str  # the leader's normalized match key (verification compares keys)
    counts: dict[Group, int]


@dataclass(frozen=True)
class DocumentRow:
    """A stored document leader: its id, content shingles and content units' clusters."""

    doc_id: str
    shingles: np.ndarray
    content: list[tuple[int, int]]  # (cluster id, characters) of its content units


@dataclass
class NewDocument:
    seq: int
    doc_id: str
    keys: np.ndarray  # band keys, uint64, one per band
    shingles: np.ndarray  # sorted unique uint32
    content: list[tuple[int, int]] = field(default_factory=list)  # (cluster id, characters)


@dataclass
class NewCluster:
    id: int
    leader_seq: int
    doc_id: str
    position: int
    text: str
    key: str  # the normalized match key
    counts: dict[Group, int]  # kept documents of this run, per group
    short: bool = False  # a short unit (matched by its key), else a long one:
    keys: np.ndarray | None = None  # its band keys
    shingles: np.ndarray | None = None  # and shingle set


@dataclass
class Delta:
    """Everything one run adds, written in one transaction."""

    meta: Meta  # the header after the run
    run: dict[str, Any]  # the run's record (inputs, counts, version, time)
    documents: list[NewDocument] = field(default_factory=list)
    clusters: list[NewCluster] = field(default_factory=list)
    counts: dict[int, dict[Group, int]] = field(default_factory=dict)  # stored id -> added docs
    counted: dict[int, set[Group]] = field(default_factory=dict)  # its groups counted before
    created: bool = False  # the run creates the index


def block_keys(key: str) -> tuple[str, str]:
    """A short key's two blocks, exactly as index.ShortIndex forms them."""
    from dedupe.index import ShortIndex

    return ShortIndex._block_keys(key)


def shingles_from(blob: bytes | None) -> np.ndarray:
    return np.frombuffer(blob or b"", dtype="<u4").astype(np.uint32, copy=False)


def _check_bands(where: str, bands: list[list[int]], expected: int) -> list[str]:
    if sorted(b for b, _ in bands) != list(range(expected)):
        return [f"{where}: band keys for bands {[b for b, _ in bands]}, expected 0..{expected - 1}"]
    return []


def _check_shingles(where: str, shingles: str | None) -> list[str]:
    if shingles is None or len(shingles) % 8:
        return [f"{where}: missing or truncated shingle set"]
    values = shingles_from(bytes.fromhex(shingles))
    if values.size == 0 or (values.size > 1 and not bool(np.all(values[1:] > values[:-1]))):
        return [f"{where}: shingle set empty or not sorted and unique"]
    return []


# --- the backend interface -----------------------------------------------------------------


class IndexStore(ABC):
    """A persistent index. Open with ``dedupe.store.open_index``; use ``begin`` for a run."""

    kind: str  # "sqlite" or "redis"
    spec: str  # what the user named it by (path or URL), for messages

    def begin(self, config: Config, *, read_only: bool = False) -> IndexRun:
        """Start a run against the index: checks the settings, takes the writer's lock."""
        from dedupe.store.run import IndexRun

        return IndexRun(self, config, read_only=read_only)

    def checksum(self) -> str:
        """A digest of the index's logical content (not its bytes): equal content, equal sum."""
        digest = hashlib.sha256()
        for row in self.dump():
            digest.update(json.dumps(row, ensure_ascii=False).encode("utf-8", "surrogatepass"))
            digest.update(b"\n")
        return digest.hexdigest()

    def dump(self) -> Iterator[list[Any]]:
        """The logical content in a canonical order, the same for every backend: header, runs
        (without their time), documents, clusters with their keys, blocks and counts."""
        meta = self.read_meta()
        if meta is None:
            return
        yield ["meta", {k: v for k, v in meta.as_strings().items() if k != "created"}]
        for run in self.run_records():
            yield ["run", {k: v for k, v in run.items() if k != "at"}]
        yield from self.dump_entries()

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release the connection."""

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- a run: lock and snapshot, commit, rollback

    @abstractmethod
    def start(self, write: bool) -> Meta | None:
        """Begin a run (a writer takes the lock) and read the header; None: an empty index."""

    @abstractmethod
    def keep_alive(self) -> None:
        """A writer's periodic proof of life (renews a lock that would otherwise expire)."""

    @abstractmethod
    def commit(self, delta: Delta) -> None:
        """Write `delta` atomically and end the run; on any failure nothing is written."""

    @abstractmethod
    def rollback(self) -> None:
        """End the run without writing (and release the lock)."""

    # -- reads (inside a run, or standalone for the admin commands)

    @abstractmethod
    def read_meta(self) -> Meta | None: ...

    @abstractmethod
    def members(self, table: Table, pairs: Sequence[BandKey]) -> dict[BandKey, list[int]]:
        """Leaders stored under each (band, key): document seqs or cluster ids, ascending."""

    @abstractmethod
    def document_rows(self, seqs: Sequence[int]) -> dict[int, DocumentRow]: ...

    @abstractmethod
    def unit_sets(self, ids: Sequence[int]) -> dict[int, tuple[np.ndarray, str]]:
        """Long unit clusters: id -> the leader's shingle set and match key (what a lookup
        verifies against; the rest of a cluster's row is read only for the ones it joins)."""

    @abstractmethod
    def short_exact(self, keys: Sequence[str]) -> dict[str, int]:
        """Short unit clusters by exact normalized key: key -> cluster id (missing: absent)."""

    @abstractmethod
    def short_blocks(self, blocks: Sequence[str]) -> dict[str, list[tuple[int, str]]]:
        """Short unit clusters by block: block -> [(cluster id, key)] in id order."""

    @abstractmethod
    def cluster_rows(self, ids: Sequence[int]) -> dict[int, ClusterRow]: ...

    # -- administration

    @abstractmethod
    def run_records(self) -> list[dict[str, Any]]: ...

    @abstractmethod
    def dump_entries(self) -> Iterator[list[Any]]:
        """Documents by seq, then clusters by id, each with everything stored about it."""

    @abstractmethod
    def size_bytes(self) -> int:
        """Space the index takes: file bytes (SQLite) or server memory of its keys (Redis)."""

    @abstractmethod
    def table_counts(self) -> dict[str, int]:
        """Row counts by kind, for stats and verify."""

    @abstractmethod
    def top_units(self, per_group: int, max_chars: int, min_docs: int
                  ) -> dict[Group, list[dict[str, Any]]]:
        """Per group, the clusters short enough to be boilerplate in the most documents."""

    @abstractmethod
    def storage_problems(self) -> list[str]:
        """What the storage itself reports as damaged (SQLite's integrity check)."""

    def verify(self) -> list[str]:
        """Integrity problems, one line each (empty: consistent).

        The header parses and holds every recorded setting; every document leader has one key
        per band and a sorted shingle set; every cluster is either short (a key and its two
        blocks) or long (a shingle set and one key per band) and counts at least one document;
        nothing refers to a leader that is not there; the counters agree with the entries.
        """
        problems = list(self.storage_problems())
        meta = self.read_meta()
        if meta is None:
            return [*problems, "no index header: empty, or not a dedupe index"]
        if meta.format != FORMAT:
            problems.append(f"format {meta.format!r}, expected {FORMAT!r}")
        missing = sorted(set(index_settings(Config())) - set(meta.settings))
        if missing:
            problems.append(f"settings missing: {', '.join(missing)}")
        doc_bands = int(meta.settings.get("document_bands", [0])[0])
        unit_bands = int(meta.settings.get("unit_bands", [0])[0])
        documents = clusters = 0
        for entry in self.dump_entries():
            kind = entry[0]
            if kind == "document":
                _, seq, doc_id, run, shingles, bands, content = entry
                documents += 1
                where = f"document {seq} ({doc_id})"
                problems += _check_bands(where, bands, doc_bands)
                problems += _check_shingles(where, shingles)
                if any(not 0 <= c < meta.next_cluster or n < 1 for c, n in content):
                    problems.append(f"{where}: content refers to clusters outside the index")
                if not 0 <= seq < meta.next_seq:
                    problems.append(f"{where}: run position outside 0..{meta.next_seq - 1}")
                if not 1 <= run <= meta.runs:
                    problems.append(f"{where}: run {run} outside 1..{meta.runs}")
            elif kind == "cluster":
                (_, cid, seq, doc_id, _pos, _text, key, short, run, shingles, bands, blocks,
                 counts) = entry
                clusters += 1
                where = f"cluster {cid} ({doc_id})"
                if not key:
                    problems.append(f"{where}: no match key")
                if short:
                    if shingles is not None or bands:
                        problems.append(f"{where}: a short unit with a shingle set")
                    if sorted(set(block_keys(key))) != blocks:
                        problems.append(f"{where}: blocks {blocks} do not match its key")
                else:
                    problems += _check_bands(where, bands, unit_bands)
                    problems += _check_shingles(where, shingles)
                    if blocks:
                        problems.append(f"{where}: a long unit with short-key blocks")
                if not counts or any(n < 1 for _, n in counts):
                    problems.append(f"{where}: document counts {counts} (each must be >= 1)")
                if len({json.dumps(g) for g, _ in counts}) != len(counts):
                    problems.append(f"{where}: a group counted twice")
                if not 0 <= cid < meta.next_cluster:
                    problems.append(f"{where}: id outside 0..{meta.next_cluster - 1}")
                if not seq < meta.next_seq:
                    problems.append(f"{where}: leader run position {seq} is not before "
                                    f"{meta.next_seq}")
                if not 1 <= run <= meta.runs:
                    problems.append(f"{where}: run {run} outside 1..{meta.runs}")
            else:
                problems.append(f"orphaned {entry[1]} of missing leader {entry[2]}: {entry[3]}")
        if documents != meta.documents:
            problems.append(f"header counts {meta.documents} documents, the index holds "
                            f"{documents}")
        if clusters != meta.clusters:
            problems.append(f"header counts {meta.clusters} clusters, the index holds {clusters}")
        runs = len(self.run_records())
        if runs != meta.runs:
            problems.append(f"header counts {meta.runs} runs, {runs} are recorded")
        return problems

    @abstractmethod
    def compact(self) -> dict[str, int]:
        """Drop orphaned entries, fix the counters, reclaim space; returns what it removed."""
