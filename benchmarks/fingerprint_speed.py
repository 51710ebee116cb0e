"""Throughput of dedupe.fingerprint (shingling + hashing + MinHash signatures), single thread.

Run from the repository root::

    python -m benchmarks.fingerprint_speed [--mb 20] [--k 5] [--num-perm 128]

Generates deterministic English-like normalized lines, times ``shingle_sets`` + ``signatures``
on the numba path and the numpy path, and compares with datasketch's own ``MinHash.bulk``
(default SHA-1 hashing) on a 1 MB sample, measured in the same run.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable

import numpy as np
from datasketch import MinHash

from dedupe import fingerprint as fp

WORDS = (
    "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "was", "with", "be",
    "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have",
    "an", "they", "you", "were", "her", "she", "there", "been", "one", "all", "we", "their", "has",
    "would", "when", "if", "so", "no", "will", "more", "other", "its", "new", "about", "time",
    "up", "out", "into", "only", "some", "could", "them", "than", "first", "year", "years",
    "people", "two", "said", "after", "also", "most", "over", "government", "city", "police",
    "minister", "report", "state", "president", "market", "company", "news", "week", "tuesday",
    "monday", "friday", "council", "school", "water", "health", "public", "court", "family",
    "season", "team", "game", "local", "million", "percent", "according", "officials", "election",
    "church", "power", "national", "during", "between", "under", "since", "against", "world",
    "life", "house", "party", "program", "group", "number", "part", "found", "business", "service",
    "information", "members", "announced", "children", "students", "hospital", "weather",
    "morning", "evening", "statement", "director", "project", "village", "county", "community",
    "research", "development", "economic", "international", "committee",
)


def make_lines(target_bytes: int, seed: int = 20240601) -> list[str]:
    """Deterministic lowercase lines of 4-24 Zipf-weighted words (already 'normalized')."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(WORDS) + 1)
    weights /= weights.sum()
    lines: list[str] = []
    size = 0
    while size < target_bytes:
        lengths = rng.integers(4, 25, 4096)
        picks = rng.choice(len(WORDS), size=int(lengths.sum()), p=weights)
        pos = 0
        for n in lengths:
            line = " ".join(WORDS[i] for i in picks[pos : pos + n])
            pos += n
            lines.append(line)
            size += len(line) + 1
            if size >= target_bytes:
                break
    return lines


def _fingerprint(lines: list[str], k: int, num_perm: int, seed: int) -> np.ndarray:
    hashes, offsets = fp.shingle_sets(lines, k)
    return fp.signatures(hashes, offsets, num_perm, seed)


def _best_of(repeat: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _shingle_strings(line: str, k: int) -> list[bytes]:
    if len(line) < k:
        return [line.encode("utf-8")] if line else []
    return [line[i : i + k].encode("utf-8") for i in range(len(line) - k + 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=20.0, help="MB of text to fingerprint")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--num-perm", type=int, default=128)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    k, num_perm, seed = args.k, args.num_perm, args.seed

    lines = make_lines(int(args.mb * 1e6))
    mb = sum(len(s.encode("utf-8")) + 1 for s in lines) / 1e6
    print(f"corpus: {len(lines):,} lines, {mb:.1f} MB, k={k}, num_perm={num_perm} (one thread)")

    results: dict[str, float] = {}
    paths = [("numba", True), ("numpy", False)] if fp.HAVE_NUMBA else [("numpy", False)]
    for name, use in paths:
        fp.USE_NUMBA = use
        t0 = time.perf_counter()
        _fingerprint(lines[:100], k, num_perm, seed)  # numba: compile or load the cache
        first = time.perf_counter() - t0
        hashes, offsets = fp.shingle_sets(lines, k)
        t_sh = _best_of(args.repeat, lambda: fp.shingle_sets(lines, k))
        t_sig = _best_of(
            args.repeat,
            functools.partial(fp.signatures, hashes, offsets, num_perm, seed),
        )
        total = t_sh + t_sig
        results[name] = mb / total
        print(
            f"{name:>6}: shingle_sets {t_sh:6.3f} s + signatures {t_sig:6.3f} s = {total:6.3f} s"
            f"  -> {mb / total:6.1f} MB/s per core  ({hashes.size / total / 1e6:.1f} M shingles/s;"
            f" first small call {first:.2f} s)"
        )
    fp.USE_NUMBA = fp.HAVE_NUMBA

    # Baseline: datasketch's own bulk API, default SHA-1 hashing, on a ~1 MB sample.
    sample: list[str] = []
    size = 0
    for line in lines:
        sample.append(line)
        size += len(line.encode("utf-8")) + 1
        if size >= 1_000_000:
            break
    sample_mb = size / 1e6
    shingles = [_shingle_strings(line, k) for line in sample]
    t0 = time.perf_counter()
    MinHash.bulk(shingles, num_perm=num_perm, seed=seed)
    t_ds = time.perf_counter() - t0
    ds_rate = sample_mb / t_ds
    print(
        f"datasketch MinHash.bulk (sha1) on {sample_mb:.1f} MB: {t_ds:.2f} s"
        f" -> {ds_rate:.2f} MB/s"
    )
    for name, rate in results.items():
        print(f"  speed-up of {name} path over datasketch: {rate / ds_rate:.0f}x")


if __name__ == "__main__":
    main()
