"""Speed of dedupe end to end and stage by stage, against the naive recipe, on the same input.

Run from the repository root::

    python -m benchmarks.speed                         # what `make bench` runs: 10 and 50 MB
    python -m benchmarks.speed --sizes 10 50 100       # the scaling table
    python -m benchmarks.speed --set candidate_threshold=0.7   # any Config field, via --config

What it does, in order (the corpus is ``benchmarks/corpus.py``'s news-like JSON Lines, written
under ``benchmarks/out/`` and reused; a smaller size is the head of a larger one):

1. **End to end**, per size: ``python -m dedupe clean CORPUS --group-by host -o ... --audit ...``
   in a subprocess, on every core (``--workers``, default all). Measured from outside: wall
   time, CPU time of the whole process tree (the main process, the forkserver and its workers,
   sampled from /proc every 0.1 s) and its peak memory (sum of PSS: shared pages counted once;
   RSS too), the main process's own peak (VmHWM) and the peak of its anonymous part (RssAnon:
   without file pages, i.e. libraries and the page cache of its memory-mapped spill files).
2. **The naive recipe** on the sample (``--sample-mb``, 10 MB: it is too slow for the whole
   corpus): ``ftfy.fix_text`` per document, datasketch ``MinHash.bulk`` (default SHA-1) over
   character 5-grams, ``MinHashLSH`` (threshold 0.8) query then insert; dedupe end to end on the
   same sample; the ratio of their MB/s.
3. **Each stage alone**, one process, one core, on the sample: read, repair, segment +
   normalize, fingerprint (shingles, MinHash, band keys), all of pass one together (prepare),
   index/decide (observe), emit (finalize, JSON Lines, audit).
4. **The decision state** after pass one over the sample: bytes per unit and per document, by
   part (clusters, band tables, shingle sets, ...).
5. **Fast paths equal plain paths** on the sample: the output and audit of ``--workers 1``
   against the default; ``repair`` (exact fast path) against ftfy run until stable; the bulk
   signatures against datasketch's ``MinHash`` with the same hash; the local-repeat fast path
   against the plain keep-first loop.

Everything is printed and written to ``benchmarks/out/speed.json``. Other jobs on the machine
make absolute numbers noisy: compare ratios measured in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from itertools import islice, pairwise
from pathlib import Path
from typing import Any

from benchmarks.corpus import OUT_DIR, corpus_path

_MB = 1e6
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


# --- measuring a process tree from outside -------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, float, int]]:
    """pid -> (parent pid, CPU seconds, RSS bytes) of every process we can read."""
    out: dict[int, tuple[int, float, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                raw = handle.read()
        except OSError:
            continue
        fields = raw[raw.rindex(b")") + 2 :].split()
        ppid = int(fields[1])
        cpu = (int(fields[11]) + int(fields[12])) / _TICK
        out[int(entry)] = (ppid, cpu, int(fields[21]) * _PAGE)
    return out


def _descendants(root: int, table: dict[int, tuple[int, float, int]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def _proc_field(path: str, field: str) -> int | None:
    """A ``field: N kB`` line of a /proc file, in bytes (None: not readable, not there)."""
    try:
        with open(path) as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _pss(pid: int) -> int | None:
    return _proc_field(f"/proc/{pid}/smaps_rollup", "Pss")


def _anon(pid: int) -> int:
    """A process's anonymous resident memory (its own: heap, arrays), without the file pages
    it maps (shared libraries, the page cache of a memory-mapped spill file)."""
    return _proc_field(f"/proc/{pid}/status", "RssAnon") or 0


def measure(cmd: Sequence[str], timeout: float) -> dict[str, Any]:
    """Run ``cmd``; wall and tree CPU seconds, peak tree PSS/RSS and main-process peak (MB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cpu: dict[int, float] = {}
    peak_rss = peak_pss = peak_anon = 0
    timed_out = False
    while True:  # os.wait4, not proc.poll: it also gives the main process's own rusage
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        table = _proc_table()
        tree = _descendants(proc.pid, table)
        for pid in tree:
            cpu[pid] = table[pid][1]
        peak_rss = max(peak_rss, sum(table[pid][2] for pid in tree))
        pss = [_pss(pid) for pid in tree]
        peak_pss = max(peak_pss, sum(p for p in pss if p is not None))
        peak_anon = max(peak_anon, _anon(proc.pid))
        if time.perf_counter() - start > timeout and not timed_out:
            proc.kill()
            timed_out = True
        time.sleep(0.1)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    main_cpu = usage.ru_utime + usage.ru_stime  # the main process (+ children it waited for)
    cpu[proc.pid] = max(cpu.get(proc.pid, 0.0), main_cpu)
    total = sum(cpu.values())
    return {
        "wall_s": round(wall, 2), "cpu_s": round(total, 2), "main_cpu_s": round(main_cpu, 2),
        # What the wall time would be on idle cores: the serial main process, or the total
        # work spread over every core, whichever is longer (other jobs make wall noisy).
        "cpu_bound_s": round(max(main_cpu, total / (os.cpu_count() or 1)), 2),
        "peak_pss_mb": round(peak_pss / _MB, 1), "peak_rss_mb": round(peak_rss / _MB, 1),
        "main_peak_mb": round(usage.ru_maxrss * 1024 / _MB, 1),
        "main_anon_peak_mb": round(peak_anon / _MB, 1),
        "returncode": os.waitstatus_to_exitcode(status), "timed_out": timed_out,
        "stderr_tail": stderr[-2000:] if os.waitstatus_to_exitcode(status) else "",
    }


# --- what runs in the subprocesses ------------------------------------------------------------


def corpus_stats(path: Path) -> tuple[int, int]:
    """(documents, bytes of document text) of a JSON Lines corpus."""
    docs = size = 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            docs += 1
            size += len(json.loads(line)["text"].encode("utf-8"))
    return docs, size


def naive(path: Path) -> dict[str, Any]:
    """The recipe most pipelines start from, document level only (see the module docstring)."""
    import ftfy
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    kept = dropped = 0
    batch: list[tuple[str, str]] = []

    def flush() -> None:
        nonlocal kept, dropped
        shingles = [[t[i : i + 5].encode("utf-8") for i in range(max(1, len(t) - 4))]
                    for _, t in batch]
        for (key, _), minhash in zip(batch, MinHash.bulk(shingles, num_perm=128), strict=True):
            if lsh.query(minhash):
                dropped += 1
            else:
                lsh.insert(key, minhash)
                kept += 1
        batch.clear()

    with open(path, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            batch.append((record["id"], ftfy.fix_text(record["text"])))
            if len(batch) >= 256:
                flush()
    flush()
    return {"kept": kept, "dropped": dropped}


def _timed(fn: Callable[[], Any]) -> tuple[dict[str, float], Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}, out


def stages(path: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """Each stage alone, in this process (one core), on the whole of ``path``."""
    from dedupe.config import Config
    from dedupe.fingerprint import shingle_sets, signatures
    from dedupe.index import band_keys, lsh_params
    from dedupe.io import format_results, read_inputs
    from dedupe.normalize import normalize_many
    from dedupe.pipeline import _chunks
    from dedupe.policy import Decider
    from dedupe.prepare import prepare_many
    from dedupe.repair import repair
    from dedupe.report import audit_lines
    from dedupe.segment import split_lines, unit_spans, unit_text

    config = Config(group_field="host").replace(**overrides)
    prepare_many(list(islice(read_inputs([str(path)], config), 5)), config)  # warm up
    out: dict[str, Any] = {}
    out["read"], docs = _timed(lambda: list(read_inputs([str(path)], config)))
    size = sum(len(d.text.encode("utf-8")) for d in docs)
    out["repair"], repaired = _timed(lambda: [repair(d.text)[0] for d in docs])

    def segment() -> list[list[str]]:
        chunks = []
        for start in range(0, len(repaired), 64):
            texts: list[str] = []
            for text in repaired[start : start + 64]:
                lines = split_lines(text)
                texts.extend(unit_text(lines, s) for s in unit_spans(lines, config.unit))
            chunks.append(texts)
        return chunks

    out["segment"], unit_chunks = _timed(segment)
    out["normalize"], keys = _timed(
        lambda: [normalize_many(c, config.normalize_steps) for c in unit_chunks])
    bands = lsh_params(config.unit_lsh_threshold, config.num_perm)

    def fingerprint() -> None:
        for chunk in keys:
            hashes, offsets = shingle_sets(chunk, config.shingle_size)
            band_keys(signatures(hashes, offsets, config.num_perm, config.seed), *bands)

    out["fingerprint"], _ = _timed(fingerprint)
    chunks = list(_chunks(docs))
    out["prepare (pass one, all of it)"], prepared = _timed(
        lambda: [p for c in chunks for p in prepare_many(c, config)])
    decider = Decider(config)
    out["index/decide"], placements = _timed(lambda: [decider.observe(p) for p in prepared])

    def emit() -> None:
        results = [decider.finalize(p, pl) for p, pl in zip(prepared, placements, strict=True)]
        for _ in format_results(results, "jsonl", config):
            pass
        for result in results:
            audit_lines(result)

    out["emit"], _ = _timed(emit)
    for timing in out.values():
        timing["mb_per_s"] = size / _MB / timing["cpu_s"] if timing["cpu_s"] else None
    return {"documents": len(docs), "mb": size / _MB, "units": sum(len(k) for k in keys),
            "stages": out}


def _deep_size(obj: Any, seen: set[int]) -> int:
    """Bytes of an object and everything it holds (each object counted once)."""
    import numpy as np

    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, np.ndarray):
        return size if obj.base is None else size + obj.nbytes
    if isinstance(obj, dict):
        size += sum(_deep_size(k, seen) + _deep_size(v, seen) for k, v in obj.items())
    elif isinstance(obj, (list, tuple, set, frozenset)):
        size += sum(_deep_size(x, seen) for x in obj)
    elif hasattr(obj, "__dict__"):
        size += _deep_size(vars(obj), seen)
    elif hasattr(obj, "__slots__"):
        size += sum(_deep_size(getattr(obj, n), seen) for n in obj.__slots__ if hasattr(obj, n))
    return size


def state(path: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """What the decision state (policy.Decider) holds after pass one over ``path``."""
    import gc

    from dedupe.config import Config
    from dedupe.io import read_inputs
    from dedupe.pipeline import prepare_all
    from dedupe.policy import Decider

    config = Config(group_field="host").replace(**overrides)
    decider = Decider(config)
    documents = units = 0
    for p in prepare_all(read_inputs([str(path)], config), config):
        decider.observe(p)
        documents += 1
        units += len(p.spans)
    gc.collect()
    parts: dict[str, int] = {}
    seen: set[int] = set()
    parts["clusters (Python objects: texts, keys, document sets)"] = _deep_size(
        decider.clusters, seen)
    for name, index in (("long units", decider.long_units), ("documents", decider.documents)):
        parts[f"{name}: band table"] = index._table.nbytes
        parts[f"{name}: shingle sets in memory"] = index._sets.nbytes
        parts[f"{name}: leader ids"] = _deep_size(index._leaders, seen)
    parts["short units (exact keys, blocks)"] = _deep_size(decider.short_units, seen)
    parts["other (document refs, content maps)"] = sum(
        _deep_size(v, seen) for k, v in vars(decider).items()
        if k in ("_doc_refs", "_doc_content"))
    with open("/proc/self/status") as handle:
        rss = next(int(line.split()[1]) * 1024 for line in handle if line.startswith("VmRSS"))
    return {"documents": documents, "units": units, "clusters": len(decider.clusters),
            "long_leaders": len(decider.long_units), "bytes": parts, "rss_bytes": rss,
            "spilled": {"long units": decider.long_units._sets.spilled,
                        "documents": decider.documents._sets.spilled}}


def checks(path: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """Fast paths against plain paths on ``path`` (one process)."""
    import dataclasses

    import ftfy
    import numpy as np
    from datasketch import MinHash

    from dedupe.config import Config
    from dedupe.fingerprint import shingle_hash, shingle_sets, signatures
    from dedupe.io import read_inputs
    from dedupe.pipeline import _chunks
    from dedupe.prepare import find_local_repeats, prepare_many
    from dedupe.repair import MAX_PASSES, ftfy_config, repair

    config = Config(group_field="host").replace(**overrides)
    docs = list(read_inputs([str(path)], config))
    out: dict[str, Any] = {}

    plain_config = ftfy_config(False)._replace(explain=False)
    differ = 0
    for doc in docs:
        text = doc.text
        for _ in range(MAX_PASSES):
            fixed = ftfy.fix_text(text, plain_config)
            if fixed == text:
                break
            text = fixed
        differ += repair(doc.text)[0] != text
    out["repair fast path == ftfy until stable"] = {"documents": len(docs), "differ": differ}

    prepared = [p for c in _chunks(docs) for p in prepare_many(c, config)]
    differ = checked = 0
    for p in prepared:
        if p.passed is not None:
            continue
        plain = dataclasses.replace(p)
        find_local_repeats(plain, config)
        checked += 1
        differ += (plain.local_first, plain.local_similarity) != (p.local_first,
                                                                   p.local_similarity)
    out["local repeats fast == plain"] = {"documents": checked, "differ": differ}

    keys = [k for p in prepared[:300] for k in p.keys if k]
    hashes, offsets = shingle_sets(keys, config.shingle_size)
    sigs = signatures(hashes, offsets, config.num_perm, config.seed)
    differ = 0
    k = config.shingle_size
    for key, row in zip(keys, sigs, strict=True):
        minhash = MinHash(num_perm=config.num_perm, seed=config.seed, hashfunc=shingle_hash)
        for shingle in {key[i : i + k] for i in range(max(1, len(key) - k + 1))}:
            minhash.update(shingle)
        differ += not np.array_equal(minhash.hashvalues.astype(np.uint32), row)
    out["bulk signatures == datasketch MinHash"] = {"units": len(keys), "differ": differ}
    return out


# --- the driver ----------------------------------------------------------------------------------


def _config_file(overrides: dict[str, Any]) -> Path | None:
    if not overrides:
        return None
    path = OUT_DIR / "speed-config.toml"
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in overrides.items()),
                    encoding="utf-8")
    return path


def dedupe_run(corpus: Path, tag: str, workers: int | None, overrides: dict[str, Any],
               timeout: float) -> dict[str, Any]:
    out, audit = OUT_DIR / f"speed-{tag}.clean.jsonl", OUT_DIR / f"speed-{tag}.audit.jsonl"
    cmd = [sys.executable, "-m", "dedupe", "clean", str(corpus), "--group-by", "host",
           "-o", str(out), "--audit", str(audit), "--quiet", "--no-progress"]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    config = _config_file(overrides)
    if config is not None:
        cmd += ["--config", str(config)]
    result = measure(cmd, timeout)
    result["output"], result["audit"] = str(out), str(audit)
    return result


def _helper(mode: str, path: Path, overrides: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run ``mode`` of this module in a fresh process (measured), return its JSON answer."""
    answer = OUT_DIR / f"speed-{mode}.json"
    cmd = [sys.executable, "-m", "benchmarks.speed", f"--{mode}", str(path),
           "--answer", str(answer), "--overrides", json.dumps(overrides)]
    result = measure(cmd, timeout)
    if result["returncode"] == 0 and answer.exists():
        result.update(json.loads(answer.read_text(encoding="utf-8")))
    return result


def _rate(mb: float, run: dict[str, Any]) -> float | None:
    return None if run["returncode"] or run["timed_out"] else mb / run["wall_s"]


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[10.0, 50.0],
                        help="corpus sizes in MB for the end-to-end runs [10 50]")
    parser.add_argument("--sample-mb", type=float, default=10.0,
                        help="input of the naive recipe, the stages and the checks [10]")
    parser.add_argument("--workers", type=int, default=None, help="dedupe --workers [all]")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run [1800]")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a Config field for every dedupe run (TOML value), repeatable")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["naive", "stages", "state", "checks"])
    parser.add_argument("--json", type=Path, default=OUT_DIR / "speed.json")
    # Internal: the modes that run in a measured subprocess.
    parser.add_argument("--naive", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stages", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--checks", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--state", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--answer", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--overrides", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    overrides = json.loads(args.overrides)
    for mode, fn in (("naive", lambda p: naive(p)), ("stages", lambda p: stages(p, overrides)),
                     ("checks", lambda p: checks(p, overrides)),
                     ("state", lambda p: state(p, overrides))):
        path = getattr(args, mode)
        if path is not None:
            args.answer.write_text(json.dumps(fn(path), indent=1), encoding="utf-8")
            return
    for item in args.set:
        field, _, value = item.partition("=")
        try:
            overrides[field] = json.loads(value)
        except json.JSONDecodeError:
            overrides[field] = value
    run(args, overrides)


def run(args: argparse.Namespace, overrides: dict[str, Any]) -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "load_before": os.getloadavg()},
        "config_overrides": overrides, "workers": args.workers, "sizes": {}, "sample": {},
    }
    started = time.perf_counter()
    sample = corpus_path(args.sample_mb, args.seed)
    corpora = {mb: corpus_path(mb, args.seed) for mb in args.sizes}
    print(f"corpora ready in {time.perf_counter() - started:.0f} s (benchmarks/out/); "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")

    # 1. End to end, every size.
    print("\nend to end (dedupe clean --group-by host -o --audit, all cores):")
    print(f"{'MB':>6} {'docs':>8} {'wall s':>8} {'MB/s':>7} {'docs/s':>8} {'CPU s':>7} "
          f"{'main CPU':>8} {'MB/s idle':>9} {'peak PSS':>9} {'peak RSS':>9} {'main':>7} "
          f"{'anon':>6}")
    print("  (CPU: whole process tree; MB/s idle: MB / max(main CPU, CPU / cores), the speed on "
          "idle cores; memory in MB: process tree, main = main process peak RSS, anon = its "
          "anonymous part, without file pages: libraries, the mapped spill file's page cache)")
    for mb, corpus in corpora.items():
        docs, size = corpus_stats(corpus)
        result = dedupe_run(corpus, f"{mb:g}", args.workers, overrides, args.timeout)
        result.update({"documents": docs, "mb": size / _MB,
                       "mb_per_s": _rate(size / _MB, result)})
        result["docs_per_s"] = docs / result["wall_s"] if result["mb_per_s"] else None
        report["sizes"][f"{mb:g}"] = result
        result["mb_per_s_idle"] = size / _MB / result["cpu_bound_s"] if (
            result["mb_per_s"] and result["cpu_bound_s"]) else None
        print(f"{size / _MB:6.1f} {docs:8,d} {result['wall_s']:8.1f} "
              f"{_fmt(result['mb_per_s']):>7} {_fmt(result['docs_per_s'], 0):>8} "
              f"{result['cpu_s']:7.1f} {result['main_cpu_s']:8.1f} "
              f"{_fmt(result['mb_per_s_idle']):>9} "
              f"{result['peak_pss_mb']:9.0f} {result['peak_rss_mb']:9.0f} "
              f"{result['main_peak_mb']:7.0f} {result['main_anon_peak_mb']:6.0f}"
              + ("  TIMED OUT" if result["timed_out"] else "")
              + (f"  FAILED: {result['stderr_tail'][-300:]}" if result["returncode"] else ""))
    _growth(report["sizes"])

    # 2. Naive recipe against dedupe on the sample.
    docs, size = corpus_stats(sample)
    mb = size / _MB
    report["sample"] = {"path": str(sample), "documents": docs, "mb": mb}
    if "naive" not in args.skip:
        print(f"\nthe naive recipe against dedupe, on the {mb:.1f} MB sample:")
        ours = dedupe_run(sample, "sample", args.workers, overrides, args.timeout)
        theirs = _helper("naive", sample, {}, args.timeout)
        rates = {"dedupe": _rate(mb, ours), "naive": _rate(mb, theirs)}
        for name, result in (("dedupe (all cores)", ours),
                             ("naive: ftfy + MinHash.bulk(sha1) + MinHashLSH", theirs)):
            print(f"  {name:48s} {result['wall_s']:7.1f} s  {_fmt(mb / result['wall_s'], 2):>6} "
                  f"MB/s  CPU {result['cpu_s']:6.1f} s  idle-core estimate "
                  f"{result['cpu_bound_s']:6.1f} s  peak {result['peak_pss_mb']:5.0f} MB")
        ratio = rates["dedupe"] / rates["naive"] if rates["dedupe"] and rates["naive"] else None
        idle = (theirs["cpu_bound_s"] / ours["cpu_bound_s"]
                if ratio is not None and ours["cpu_bound_s"] else None)
        print(f"  dedupe / naive: {_fmt(ratio, 1)}x faster by wall time, {_fmt(idle, 1)}x by the "
              "idle-core estimate (same input)")
        report["sample"].update({"dedupe": ours, "naive": theirs, "ratio": ratio,
                                 "ratio_idle": idle})

    # 3. Stages alone.
    if "stages" not in args.skip:
        print(f"\neach stage alone (one process, one core) on the {mb:.1f} MB sample:")
        result = _helper("stages", sample, overrides, args.timeout)
        report["sample"]["stages"] = result
        for name, timing in result.get("stages", {}).items():
            print(f"  {name:32s} CPU {timing['cpu_s']:7.2f} s  {_fmt(timing['mb_per_s']):>7} MB/s")
        if "units" in result:
            print(f"  ({result['documents']:,} documents, {result['units']:,} units)")

    # 4. The decision state, in bytes per unit.
    if "state" not in args.skip:
        print(f"\ndecision state after pass one over the {mb:.1f} MB sample (policy.Decider):")
        result = _helper("state", sample, overrides, args.timeout)
        report["sample"]["state"] = result
        if "bytes" in result:
            units, docs_ = result["units"], result["documents"]
            total = sum(result["bytes"].values())
            for name, nbytes in result["bytes"].items():
                print(f"  {name:56s} {nbytes / _MB:7.1f} MB  {nbytes / units:6.0f} B/unit")
            print(f"  {'total':56s} {total / _MB:7.1f} MB  {total / units:6.0f} B/unit, "
                  f"{total / docs_:,.0f} B/document ({units:,} units, {result['clusters']:,} "
                  f"clusters, {docs_:,} documents; sets spilled: {result['spilled']})")

    # 5. Fast paths equal plain paths.
    if "checks" not in args.skip:
        print(f"\nfast paths against plain paths, on the {mb:.1f} MB sample:")
        one = dedupe_run(sample, "sample-w1", 1, overrides, args.timeout)
        default = report["sample"].get("dedupe") or dedupe_run(
            sample, "sample", args.workers, overrides, args.timeout)
        same = all(Path(one[k]).read_bytes() == Path(default[k]).read_bytes()
                   for k in ("output", "audit")) if not (one["returncode"]
                                                          or default["returncode"]) else None
        checked = {"--workers 1 == default (output and audit, byte for byte)": same}
        result = _helper("checks", sample, overrides, args.timeout)
        for name, counts in result.items():
            if isinstance(counts, dict) and "differ" in counts:
                checked[f"{name} ({next(iter(counts.values())):,} checked)"] = (
                    counts["differ"] == 0)
        for name, ok in checked.items():
            print(f"  {'ok  ' if ok else 'FAIL'} {name}")
        report["checks"] = checked
        report["sample"]["workers_1"] = one
    report["seconds"] = round(time.perf_counter() - started, 1)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\nwritten {args.json} ({report['seconds']:.0f} s)")


def _growth(sizes: dict[str, dict[str, Any]]) -> None:
    """Time and memory per MB from one size to the next: flat means linear."""
    rows = [r for r in sizes.values() if r.get("mb_per_s")]
    if len(rows) < 2:
        return
    print("growth:", "; ".join(
        f"{a['mb']:.0f}->{b['mb']:.0f} MB: time x{b['wall_s'] / a['wall_s']:.2f} for "
        f"data x{b['mb'] / a['mb']:.2f}, peak PSS x{b['peak_pss_mb'] / a['peak_pss_mb']:.2f}"
        for a, b in pairwise(rows)))


if __name__ == "__main__":
    main()
