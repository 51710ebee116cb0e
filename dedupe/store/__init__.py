"""Persistent indexes: clean today's batch against everything kept before.

``open_index(spec)`` opens an SQLite file (the default, embedded) or a Redis database (a
``redis://`` URL, shared by several machines). ``index.begin(config)`` starts a run;
``clean(..., index=run)`` decides each document against the stored past and this run so far
(one pass); ``run.commit()`` adds what the run kept, in one transaction::

    from dedupe import Config, clean
    from dedupe.store import open_index

    config = Config()
    with open_index("history.db", create=True) as index, index.begin(config) as run:
        results = list(clean(batch, config, index=run))
        run.commit()

See docs/incremental.md for the workflow and the guarantees.
"""

from __future__ import annotations

from typing import Any

from dedupe.store.base import (
    FORMAT,
    IndexStore,
    SettingsMismatch,
    StoreError,
    fingerprint_probe,
    index_settings,
)
from dedupe.store.run import IndexRun

__all__ = ["FORMAT", "IndexRun", "IndexStore", "SettingsMismatch", "StoreError",
           "fingerprint_probe", "index_settings", "is_url", "open_index", "stats"]

_URL_SCHEMES = ("redis://", "rediss://", "unix://")


def is_url(spec: str) -> bool:
    """Whether an --index value names a Redis server rather than a file."""
    return spec.startswith(_URL_SCHEMES)


def open_index(spec: str, *, create: bool = False) -> IndexStore:
    """The index at `spec`: a ``redis://host:port/db[?prefix=NAME]`` URL or an SQLite path.

    ``create``: an SQLite file that does not exist yet is created (a Redis index always starts
    empty). Either way the index gets its settings from the first run that commits to it.
    """
    if is_url(spec):
        from dedupe.store.redis_index import RedisIndex

        return RedisIndex(spec)
    from dedupe.store.sqlite_index import SQLiteIndex

    return SQLiteIndex(spec, create=create)


def stats(index: IndexStore, *, top: int = 10, min_docs: int = 2) -> dict[str, Any]:
    """What `dedupe index stats` shows: counts, size, settings, runs, top boilerplate lines."""
    meta = index.read_meta()
    if meta is None:
        raise StoreError(f"{index.spec}: no index there yet")
    counts = index.table_counts()
    size = index.size_bytes()
    units = counts.get("long_clusters", 0) + counts.get("short_clusters", 0)
    top_units = index.top_units(top, int(meta.settings.get("boilerplate_max_chars", 100)), min_docs)
    return {
        "index": index.spec,
        "backend": index.kind,
        "format": meta.format,
        "created": meta.created,
        "size_bytes": size,
        "bytes_per_unit": round(size / units, 1) if units else None,
        "documents_seen": meta.next_seq,
        "counts": {"document_leaders": meta.documents, "unit_clusters": meta.clusters, **counts},
        "settings": meta.settings,
        "runs": index.run_records(),
        "top_boilerplate": [{"group": group, "units": rows} for group, rows in top_units.items()],
    }


def stats_text(info: dict[str, Any]) -> str:
    """`stats` for people: a few lines, then the top lines per group."""
    counts = info["counts"]
    size = info["size_bytes"]
    lines = [
        f"index: {info['index']} ({info['backend']}, {info['format']}), created {info['created']}",
        f"size: {size:,} bytes ({_human(size)})" + (
            f", {info['bytes_per_unit']:,} bytes per unit cluster" if info["bytes_per_unit"]
            else ""),
        f"runs: {len(info['runs'])}; documents seen: {info['documents_seen']:,}",
        f"document leaders: {counts['document_leaders']:,}; unit clusters: "
        f"{counts['unit_clusters']:,} (long {counts.get('long_clusters', 0):,}, short "
        f"{counts.get('short_clusters', 0):,})",
        f"band keys: documents {counts.get('document_bands', 0):,}, units "
        f"{counts.get('unit_bands', 0):,}; short-unit blocks {counts.get('short_blocks', 0):,}",
        "settings: " + ", ".join(f"{k}={_value(v)}" for k, v in sorted(info["settings"].items())),
    ]
    for run in info["runs"][-5:]:
        lines.append(f"  run {run['id']} at {run['at']}: {run['documents']:,} documents, "
                     f"{run['new_documents']:,} new leaders, {run['new_clusters']:,} new unit "
                     f"clusters; inputs: {', '.join(run['inputs']) or '(api)'}")
    for entry in info["top_boilerplate"]:
        group = "(no group)" if entry["group"] is None else entry["group"]
        lines.append(f"top boilerplate candidates, group {group} (documents, text):")
        for unit in entry["units"]:
            lines.append(f"  {unit['documents']:>8,}  {unit['text']}")
    if not info["top_boilerplate"]:
        lines.append("top boilerplate candidates: none yet (no short unit in two documents)")
    return "\n".join(lines)


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def _human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"
