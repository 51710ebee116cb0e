"""Throughput of dedupe.repair (fast path + ftfy) against plain ``ftfy.fix_text``, one thread.

Run from the repository root::

    python -m benchmarks.repair_speed [--mb 20] [--seed 1]

Builds deterministic news-like documents (~``--mb`` MB of UTF-8 each) in three flavours:

* ``ascii``: plain ASCII lines;
* ``clean``: lines with curly quotes, apostrophes, dashes, ellipses and accented names;
* ``mixed``: like ``clean`` but ~1% of lines carry mojibake (UTF-8 read as Windows-1252) or
  HTML entities, so most documents of ~40 lines contain nothing to fix and ~1 in 3 does.

For each, times ``ftfy.fix_text`` per document and ``repair_many`` over the same documents,
prints MB/s of both and the speed-up, and asserts the texts are equal (where ftfy is not
idempotent on a document, ``repair`` must equal ``fix_text`` repeated until stable).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import ftfy

from dedupe.repair import MAX_PASSES, ftfy_config, repair_many

WORDS = [
    "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "was", "with", "be",
    "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have",
    "an", "they", "you", "were", "her", "she", "there", "been", "one", "all", "we", "their",
    "has", "would", "when", "if", "government", "city", "police", "minister", "report", "state",
    "president", "market", "company", "week", "tuesday", "monday", "friday", "council",
    "school", "water", "health", "public", "court", "family", "season", "team", "local",
    "million", "percent", "according", "officials", "election", "national", "during", "between",
    "under", "since", "against", "world", "announced", "children", "students", "hospital",
    "weather", "morning", "statement", "director", "project", "village", "county", "community",
    "research", "development", "economic", "international", "committee", "troops", "border",
]
NAMES = ["José Álvarez", "Zoë Brontë", "François Hollande", "Zürich", "São Paulo", "Kraków",
         "Ångström", "Müller", "Đoković", "Ibrahimović", "Señora Muñoz", "Café Noir", "Pérez"]
CONTRACTIONS = ["it’s", "don’t", "didn’t", "we’re", "they’ve", "country’s", "city’s", "isn’t"]
ENTITIES = ["&amp;", "&eacute;", "&#8217;", "&quot;", "&nbsp;", "&mdash;", "&#233;", "&rsquo;"]


def make_line(rng: random.Random, curly: bool) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 30))]
    if curly:
        for _ in range(rng.randint(0, 2)):
            words.insert(rng.randrange(len(words)), rng.choice(CONTRACTIONS + NAMES))
        if rng.random() < 0.4:
            i = rng.randrange(len(words) - 1)
            words[i] = "“" + words[i]
            words[i + 1] += "”"
        if rng.random() < 0.2:
            words.insert(rng.randrange(len(words)), rng.choice(["—", "–", "…"]))
    else:
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), rng.choice(["it's", "don't", "Zurich"]))
    line = " ".join(words)
    return line[0].upper() + line[1:] + rng.choice([".", ".", ".", "?", ":"])


def corrupt(line: str, rng: random.Random) -> str:
    """Mojibake (UTF-8 bytes read as Windows-1252, as scrapers do) or HTML entities."""
    if rng.random() < 0.6:
        if line.isascii():
            line = line.replace(" ", " “", 1) + " it’s — café”"
        return line.encode("utf-8").decode("cp1252", errors="replace")
    words = line.split(" ")
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randrange(len(words)), rng.choice(ENTITIES))
    return " ".join(words)


def make_documents(kind: str, target_mb: float, seed: int) -> list[str]:
    rng = random.Random(f"{seed}-{kind}")
    docs: list[str] = []
    size = 0
    while size < target_mb * 1e6:
        lines = [make_line(rng, curly=kind != "ascii") for _ in range(rng.randint(10, 70))]
        if kind == "mixed":
            lines = [corrupt(line, rng) if rng.random() < 0.01 else line for line in lines]
        for i in range(len(lines) - 1, 0, -1):
            if rng.random() < 0.15:
                lines.insert(i, "")  # paragraph breaks
        doc = "\n".join(lines) + "\n"
        docs.append(doc)
        size += len(doc.encode("utf-8"))
    return docs


def timed(fn: Callable[[], list[str]]) -> tuple[float, list[str]]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def fix_until_stable(text: str, config: ftfy.TextFixerConfig) -> str:
    for _ in range(MAX_PASSES):
        fixed = ftfy.fix_text(text, config)
        if fixed == text:
            break
        text = fixed
    return text


def run(kind: str, target_mb: float, seed: int) -> None:
    docs = make_documents(kind, target_mb, seed)
    mb = sum(len(d.encode("utf-8")) for d in docs) / 1e6
    config = ftfy_config(False)
    t_ftfy, plain = timed(lambda: [ftfy.fix_text(d, config) for d in docs])
    t_fast, fast = timed(lambda: [text for text, _ in repair_many(docs)])
    changed = sum(f != d for f, d in zip(fast, docs, strict=True))
    differ = [i for i, (a, b) in enumerate(zip(plain, fast, strict=True)) if a != b]
    # ftfy is not always idempotent; repair repeats it, so it may go one step further.
    for i in differ:
        assert fast[i] == fix_until_stable(docs[i], config), f"{kind}: document {i} differs"
    note = f" | {len(differ)} docs needed 2+ ftfy passes" if differ else ""
    print(
        f"{kind:>6}: {mb:6.1f} MB, {len(docs):6d} docs, {changed:5d} repaired | "
        f"ftfy.fix_text {mb / t_ftfy:7.2f} MB/s | repair_many {mb / t_fast:8.2f} MB/s | "
        f"x{t_ftfy / t_fast:6.1f}{note}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=20.0, help="MB of text per flavour")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kinds", default="ascii,clean,mixed")
    args = parser.parse_args()
    for kind in args.kinds.split(","):
        run(kind, args.mb, args.seed)


if __name__ == "__main__":
    main()
