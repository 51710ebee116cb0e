"""The record of a run: audit lines (one per removal) and the summary (stderr and JSON)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from dedupe.config import Config
from dedupe.model import Result, Stats


def dedupe_version() -> str:
    try:
        return version("dedupe-text")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0+unknown"


def audit_lines(result: Result) -> str:
    """The audit records of one document's removals, as JSON Lines."""
    return "".join(json.dumps(r.as_dict(), ensure_ascii=False) + "\n" for r in result.removals)


def stats_dict(stats: Stats, config: Config) -> dict[str, Any]:
    """The summary as JSON: counts, the version and the full config, for `--stats PATH`."""
    return {
        "version": dedupe_version(),
        "documents": {
            "in": stats.documents_in,
            "out": stats.documents_out,
            "dropped": stats.documents_dropped,
            "skipped": stats.documents_skipped,
            "passed": stats.documents_passed,
        },
        "accounting_ok": stats.balanced,
        "units": {"in": stats.units_in, "removed": dict(sorted(stats.units_removed.items()))},
        "characters": {"in": stats.chars_in, "removed": stats.chars_removed},
        "repairs": {"documents": stats.documents_repaired,
                    "steps": dict(sorted(stats.repairs.items()))},
        "normalization": list(config.normalize_steps),
        "config": config.as_dict(),
    }


def summary_text(stats: Stats) -> str:
    """A few human lines for stderr."""
    removed = ", ".join(f"{k} {v}" for k, v in sorted(stats.units_removed.items())) or "none"
    share = 100.0 * stats.chars_removed / stats.chars_in if stats.chars_in else 0.0
    lines = [
        f"dedupe: documents in {stats.documents_in}, out {stats.documents_out}, "
        f"dropped {stats.documents_dropped}, skipped {stats.documents_skipped}, "
        f"passed through {stats.documents_passed}",
        f"dedupe: removals: {removed}",
        f"dedupe: characters removed {stats.chars_removed} of {stats.chars_in} ({share:.1f}%); "
        f"documents repaired {stats.documents_repaired}",
        f"dedupe: accounting: read {stats.documents_in} = written {stats.documents_out} "
        f"+ dropped {stats.documents_dropped} + skipped {stats.documents_skipped}: "
        + ("ok" if stats.balanced else "VIOLATED"),
    ]
    return "\n".join(lines)


def audit_table(records: Iterable[dict[str, Any]], width: int = 60) -> str:
    """An audit file as an aligned table for people: document, line, reason, role, similarity,
    and the start of the removed text."""
    rows = [("doc", "line", "reason", "role", "sim", "text")]
    for r in records:
        similarity = r.get("similarity")
        rows.append((
            str(r.get("doc_id", "")), "" if r.get("position") is None else str(r["position"]),
            str(r.get("reason", "")), str(r.get("role") or ""),
            "" if similarity is None else f"{similarity:.2f}",
            str(r.get("text", "")).replace("\n", " ")[:width],
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths, strict=True)) + "  " + row[5]
        for row in rows
    )
