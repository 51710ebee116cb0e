"""The accuracy benchmark: dedupe's presets and a naive baseline on a labelled, noisy corpus.

Run from the repository root (``make accuracy`` does the same)::

    python -m benchmarks.accuracy                  # table on stdout, JSON in benchmarks/out/
    python -m benchmarks.accuracy --levels moderate --presets default --errors

One corpus skeleton (``accuracy_corpus.build_skeleton``: boilerplate, repeated headlines and
captions, duplicated paragraphs, syndicated near-duplicate documents, and as many hard-negative
pairs as positive ones) is rendered at each noise level (``noise.LEVELS``: none, light ~1,
moderate ~3, heavy ~10 character edits per 100 characters, on every copy). dedupe.clean runs on
each rendering with each preset, the baseline (``accuracy_baseline``) beside them, and each
run is scored (``accuracy_metrics``): unit-removal precision and recall, document-pair
precision, recall and false merges, and the adjusted Rand index of the clusterings.
Everything is seeded: the same command prints the same table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.accuracy_baseline import baseline
from benchmarks.accuracy_corpus import Rendered, build_containment, build_skeleton, render
from benchmarks.accuracy_metrics import Prediction, containment_score, errors, score
from benchmarks.noise import LEVELS
from dedupe import clean
from dedupe.config import PRESETS, Config, preset

OUT_DIR = Path(__file__).resolve().parent / "out"

#: The issue's targets: (level, runner, metric, bound, "min" or "max").
TARGETS: tuple[tuple[str, str, str, float, str], ...] = (
    ("moderate", "default", "unit_precision", 0.995, "min"),
    ("moderate", "default", "unit_recall", 0.97, "min"),
    ("moderate", "default", "doc_recall", 0.95, "min"),
    ("moderate", "default", "doc_false_merges", 0, "max"),
    ("heavy", "noisy", "doc_recall", 0.9, "min"),
    ("heavy", "noisy", "doc_precision", 0.98, "min"),
)


def dedupe_prediction(texts: Sequence[str], config: Config) -> Prediction:
    """Run dedupe.clean over the documents and read its decisions from the audit records."""
    pred = Prediction()
    for result in clean(texts, config):
        d = int(result.id)
        for removal in result.removals:
            of = removal.duplicate_of
            if removal.reason == "near_duplicate_document" and of is not None:
                pred.near_dup[d] = int(of.doc_id)
            elif removal.reason == "empty_after_cleaning":
                pred.emptied.add(d)
            elif removal.position is not None:
                # A plain string's units are at input lines 1, 2, ...: unit index = line - 1.
                ref = (int(of.doc_id), of.position - 1) if (
                    of is not None and of.position is not None) else None
                pred.removed[(d, removal.position - 1)] = ref
                if removal.detail == "contained in a longer unit":
                    pred.contained.add((d, removal.position - 1))
    return pred


def runner_config(name: str) -> Config:
    """A preset, or "contained": the default preset with ``drop_contained`` on."""
    if name == "contained":
        return preset("default").replace(drop_contained=True, workers=1)
    return preset(name).replace(workers=1)


def run_level(rendered: Rendered, runners: Sequence[str], want_errors: bool) -> dict[str, Any]:
    """Every runner (presets, "contained", "baseline") on one rendering, scored."""
    out: dict[str, Any] = {}
    for name in runners:
        start = time.perf_counter()
        if name == "baseline":
            pred = baseline(rendered.texts)
        else:
            pred = dedupe_prediction(rendered.texts, runner_config(name))
        row = score(rendered.skeleton, pred)
        row["seconds"] = round(time.perf_counter() - start, 2)
        if want_errors:
            row["errors"] = errors(rendered.skeleton, pred, rendered.texts)
        out[name] = row
    return out


def run_containment(rendered: Rendered) -> dict[str, Any]:
    """The containment corpus with ``drop_contained`` off (default) and on (contained)."""
    out: dict[str, Any] = {}
    for name in ("default", "contained"):
        pred = dedupe_prediction(rendered.texts, runner_config(name))
        out[name] = containment_score(rendered.skeleton, pred)
    return out


def corpus_summary(rendered: Rendered) -> dict[str, Any]:
    sk = rendered.skeleton
    return {
        "documents": len(sk.docs),
        "units": sum(len(d.units) for d in sk.docs),
        "characters": sum(len(t) for t in rendered.texts),
        "positive_unit_pairs": sk.positive_unit_pairs,
        "negative_unit_pairs": sk.negative_unit_pairs,
        "negative_unit_pairs_by_kind": sk.negative_kinds,
        "positive_doc_pairs": sk.positive_doc_pairs,
        "negative_doc_pairs": sk.negative_doc_pairs,
    }


def format_table(results: dict[str, dict[str, Any]]) -> str:
    head = (f"{'level':<9} {'runner':<9} {'unit P':>7} {'unit R':>7} {'doc P':>7} "
            f"{'doc R':>7} {'merges':>6} {'unit ARI':>8} {'doc ARI':>8} {'sec':>5}")
    lines = [head, "-" * len(head)]
    for level, runners in results.items():
        for name, r in runners.items():
            lines.append(
                f"{level:<9} {name:<9} {r['unit_precision']:>7.4f} {r['unit_recall']:>7.4f} "
                f"{r['doc_precision']:>7.4f} {r['doc_recall']:>7.4f} "
                f"{r['doc_false_merges']:>6d} {r['unit_ari']:>8.4f} {r['doc_ari']:>8.4f} "
                f"{r['seconds']:>5.1f}")
    return "\n".join(lines)


def format_containment(results: dict[str, dict[str, Any]]) -> str:
    head = f"{'level':<9} {'runner':<9} {'P':>7} {'R':>7} {'removed':>7} {'should':>7}"
    lines = [head, "-" * len(head)]
    for level, runners in results.items():
        for name, r in runners.items():
            lines.append(f"{level:<9} {name:<9} {r['contained_precision']:>7.4f} "
                         f"{r['contained_recall']:>7.4f} {r['contained_removed']:>7d} "
                         f"{r['contained_should_go']:>7d}")
    return "\n".join(lines)


def check_targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for level, runner, metric, bound, kind in TARGETS:
        row = results.get(level, {}).get(runner)
        if row is None:
            continue
        value = row[metric]
        met = value >= bound if kind == "min" else value <= bound
        out.append({"level": level, "runner": runner, "metric": metric, "value": value,
                    "bound": bound, "kind": kind, "met": met})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default=",".join(LEVELS),
                        help="comma-separated noise levels [%(default)s]")
    parser.add_argument("--presets", default=",".join(PRESETS),
                        help="comma-separated dedupe presets [%(default)s]")
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive baseline")
    parser.add_argument("--no-containment", action="store_true",
                        help="skip the drop_contained runs (main corpus row and its own corpus)")
    parser.add_argument("--seed", type=int, default=1, help="corpus and noise seed [1]")
    parser.add_argument("--errors", action="store_true",
                        help="add every wrong removal and miss to the JSON (for tuning)")
    parser.add_argument("--out", type=Path, default=OUT_DIR / "accuracy.json",
                        help="JSON report path [%(default)s]")
    args = parser.parse_args(argv)
    levels = [s for s in args.levels.split(",") if s]
    presets = [s for s in args.presets.split(",") if s]
    for name in levels:
        if name not in LEVELS:
            parser.error(f"unknown level {name!r}; choose from {', '.join(LEVELS)}")
    for name in presets:
        if name not in PRESETS:
            parser.error(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")

    start = time.perf_counter()
    skeleton = build_skeleton(args.seed)
    contained = None if args.no_containment else build_containment(args.seed)
    runners = [*presets, *([] if args.no_containment else ["contained"]),
               *([] if args.no_baseline else ["baseline"])]
    results: dict[str, dict[str, Any]] = {}
    containment: dict[str, dict[str, Any]] = {}
    corpora: dict[str, Any] = {}
    for name in levels:
        rendered = render(skeleton, LEVELS[name], args.seed)
        corpora[name] = corpus_summary(rendered)
        results[name] = run_level(rendered, runners, args.errors)
        if contained is not None:
            containment[name] = run_containment(render(contained, LEVELS[name], args.seed))
        print(f"  {name}: done", file=sys.stderr)
    table = format_table(results)
    targets = check_targets(results)
    first = corpora[levels[0]] if levels else {}
    print(f"corpus (seed {args.seed}): {first.get('documents')} documents, "
          f"{first.get('units')} units; unit pairs {first.get('positive_unit_pairs')} positive "
          f"/ {first.get('negative_unit_pairs')} hard negative; document pairs "
          f"{first.get('positive_doc_pairs')} / {first.get('negative_doc_pairs')}")
    print(table)
    if containment:
        print(f"\ncontainment corpus ({len(contained.docs) if contained else 0} documents, "
              "half with a caption or headline glued into a paragraph, half with a "
              "same-template different-facts paragraph): removals as contained")
        print(format_containment(containment))
    if targets:
        print("\ntargets:")
        for t in targets:
            sign = ">=" if t["kind"] == "min" else "<="
            print(f"  {'MET ' if t['met'] else 'MISS'} {t['level']:<9} {t['runner']:<8} "
                  f"{t['metric']:<17} {t['value']:.4f} {sign} {t['bound']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "seed": args.seed,
        "levels": {n: {"rate_per_100_chars": LEVELS[n].rate,
                       "transform_probability": LEVELS[n].transform_p} for n in levels},
        "presets": {n: PRESETS[n] for n in presets},
        "corpus": corpora,
        "results": results,
        "containment": containment,
        "targets": targets,
        "seconds": round(time.perf_counter() - start, 1),
    }
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nJSON: {args.out}  ({report['seconds']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
