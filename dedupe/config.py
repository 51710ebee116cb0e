"""The one frozen configuration object every stage reads.

Every option of the CLI maps to a field here; a TOML file (``--config``) and presets fill the
same fields. Validation happens once, in ``__post_init__``, so a bad value fails before any
input is read.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Normalization steps for matching, in the order they run. Each can be switched off.
NORMALIZE_STEPS: tuple[str, ...] = (
    "nfkc",  # Unicode compatibility folding (ligatures, full-width, superscripts)
    "casefold",  # case-insensitive matching
    "strip_accents",  # é -> e
    "confusables",  # Cyrillic/Greek look-alikes -> Latin
    "punctuation",  # curly/straight quotes, dashes, bullets folded; other punctuation dropped
    "dehyphenate",  # "gov-\nernment" -> "government" (only inside multi-line units/documents)
    "digits",  # every digit -> 0, except on tabular lines (see normalize.py)
    "whitespace",  # runs of white space -> one space, trimmed
)

Format = Literal["auto", "text", "jsonl", "parquet"]
UnitKind = Literal["line", "paragraph"]
OnError = Literal["fail", "skip", "pass"]


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the option."""


@dataclass(frozen=True)
class Config:
    """Everything that decides what dedupe removes. Same config + same input = same output."""

    # --- reading -------------------------------------------------------------------------
    format: Format = "auto"  # input format; auto = by file extension, text for stdin
    output_format: Format = "auto"  # auto = same as the input format
    separator: str | None = None  # a line that separates text documents; None = blank lines
    blank_lines: int = 2  # with no separator: this many blank lines end a text document
    text_field: str = "text"  # JSON Lines / Parquet field holding the document text
    id_field: str = "id"  # field holding the document id (generated when absent)
    group_field: str | None = None  # field whose value scopes boilerplate counts (e.g. host)
    encoding: str = "utf-8"
    encoding_errors: Literal["strict", "replace"] = "strict"
    on_error: OnError = "fail"  # bad record: fail the run, skip it, or pass it through

    # --- repair --------------------------------------------------------------------------
    repair: bool = True  # run ftfy on every document
    uncurl_quotes: bool = False  # let ftfy turn curly quotes straight (off: authors' quotes)

    # --- segmentation --------------------------------------------------------------------
    unit: UnitKind = "line"  # the unit a scraper repeats: a line, or a blank-line paragraph

    # --- normalization and fingerprints ----------------------------------------------------
    normalize_steps: tuple[str, ...] = NORMALIZE_STEPS
    shingle_size: int = 5  # character n-gram size
    num_perm: int = 128  # MinHash permutations
    seed: int = 1  # MinHash seed (datasketch's default)
    short_unit_chars: int = 30  # units shorter than this (normalized) match by edit similarity
    short_unit_threshold: float = 0.9  # edit similarity (0..1) for short units

    # --- thresholds (docs/accuracy.md: what each does, measured) ---------------------------
    unit_threshold: float = 0.7  # Jaccard of shingle sets at which two units match ...
    unit_edit_threshold: float = 0.9  # ... or edit similarity of their match keys (long units)
    document_threshold: float = 0.6  # share of content matched, unit by unit, for two documents
    candidate_threshold: float = 0.3  # Jaccard from which the LSH proposes pairs to verify
    word_veto: bool = True  # similar units whose differing words are facts do not match
    word_tolerance: float = 0.3  # share of a word's letters typos may change (word veto)
    containment_threshold: float = 0.9  # edit similarity of a unit to a window of a longer one

    # --- policies ------------------------------------------------------------------------
    drop_near_duplicate_documents: bool = True
    drop_repeated_in_document: bool = True
    drop_boilerplate: bool = True
    drop_duplicated_content: bool = True
    drop_contained: bool = False  # a line repeated inside a longer line of its document goes
    boilerplate_min_docs: int = 2  # a short unit in this many kept documents is boilerplate
    boilerplate_max_chars: int = 100  # longer units are content, never boilerplate

    # --- limits and execution --------------------------------------------------------------
    max_unit_chars: int = 100_000  # longer units pass through unmatched (never hashed)
    max_document_chars: int = 50_000_000  # longer documents pass through unmatched
    workers: int = 0  # processes for per-document work; 0 = all cores

    def __post_init__(self) -> None:
        unknown = [s for s in self.normalize_steps if s not in NORMALIZE_STEPS]
        if unknown:
            raise ConfigError(
                f"normalize_steps: unknown step(s) {', '.join(unknown)}; "
                f"choose from {', '.join(NORMALIZE_STEPS)}"
            )
        # Keep the canonical order whatever order the user listed them in.
        ordered = tuple(s for s in NORMALIZE_STEPS if s in self.normalize_steps)
        object.__setattr__(self, "normalize_steps", ordered)
        for name in ("unit_threshold", "unit_edit_threshold", "document_threshold",
                     "short_unit_threshold", "candidate_threshold", "containment_threshold"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ConfigError(f"{name} must be in (0, 1], got {value}")
        if not 0.0 <= self.word_tolerance < 1.0:
            raise ConfigError(f"word_tolerance must be in [0, 1), got {self.word_tolerance}")
        for name in ("shingle_size", "num_perm", "boilerplate_min_docs", "blank_lines"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("boilerplate_max_chars", "short_unit_chars", "max_unit_chars",
                     "max_document_chars", "workers"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative, got {getattr(self, name)}")
        choices: dict[str, tuple[str, ...]] = {
            "format": ("auto", "text", "jsonl", "parquet"),
            "output_format": ("auto", "text", "jsonl", "parquet"),
            "unit": ("line", "paragraph"),
            "on_error": ("fail", "skip", "pass"),
            "encoding_errors": ("strict", "replace"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )
        if self.separator is not None and not self.separator.strip():
            raise ConfigError(
                "separator must contain a visible character (blank lines are the default)"
            )

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict, for the stats file and the persistent index."""
        out = dataclasses.asdict(self)
        out["normalize_steps"] = list(self.normalize_steps)
        return out

    def matching_settings(self) -> dict[str, Any]:
        """The fields that make two runs' fingerprints comparable (recorded in an index)."""
        keys = ("unit", "normalize_steps", "shingle_size", "num_perm", "seed", "short_unit_chars")
        return {k: self.as_dict()[k] for k in keys}

    @property
    def unit_lsh_threshold(self) -> float:
        """The Jaccard the unit band keys are tuned for (datasketch's band parameters): below
        the verification thresholds, so that noisy copies still become candidates."""
        return min(self.candidate_threshold, self.unit_threshold)

    @property
    def document_lsh_threshold(self) -> float:
        """The Jaccard the document band keys (content shingles) are tuned for."""
        return self.candidate_threshold


#: Named threshold sets, each measured by ``make accuracy`` (docs/accuracy.md has the table).
#: default: typos and OCR slips up to ~3 per 100 characters, hard negatives kept apart.
#: strict: precision first: closer copies only, stricter word veto, boilerplate needs 3 pages.
#: noisy: OCR- and typo-heavy text (~10 per 100): looser similarity, lower LSH threshold
#: (more candidates, slower), 4-character shingles, a more tolerant word veto.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "strict": {"unit_threshold": 0.85, "unit_edit_threshold": 0.92, "short_unit_threshold": 0.92,
               "document_threshold": 0.7, "word_tolerance": 0.25, "boilerplate_min_docs": 3},
    "noisy": {"unit_threshold": 0.5, "unit_edit_threshold": 0.8, "short_unit_threshold": 0.8,
              "document_threshold": 0.5, "candidate_threshold": 0.15, "word_tolerance": 0.5,
              "shingle_size": 4},
}

FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Config))


def from_mapping(values: dict[str, Any], base: Config | None = None) -> Config:
    """Build a Config from a dict (a TOML table, a preset), rejecting unknown keys by name."""
    unknown = sorted(set(values) - FIELD_NAMES)
    if unknown:
        raise ConfigError(f"unknown config key(s): {', '.join(unknown)}")
    clean = dict(values)
    if "normalize_steps" in clean:
        clean["normalize_steps"] = tuple(clean["normalize_steps"])
    return dataclasses.replace(base or Config(), **clean)


def preset(name: str) -> Config:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    return from_mapping(PRESETS[name])


def load_toml(path: Path, base: Config | None = None) -> Config:
    """Read a TOML config file: top-level keys (or a [dedupe] table) are Config fields."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    table = data.get("dedupe", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [dedupe] must be a table")
    base = base or Config()
    if "preset" in table:
        table = dict(table)
        base = from_mapping(PRESETS.get(table.pop("preset"), {}), base)
    try:
        return from_mapping(table, base)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


__all__ = ["NORMALIZE_STEPS", "PRESETS", "Config", "ConfigError", "from_mapping",
           "load_toml", "preset"]
