"""A deterministic, news-like scraped corpus for the speed benchmarks (JSON Lines).

Run from the repository root::

    python -m benchmarks.corpus --mb 50            # writes benchmarks/out/news-50mb-s1.jsonl

What it contains, and why (each is something dedupe must find, or must leave alone):

* ~40 sites (``host``), each with its own boilerplate: a site token (``TT``), "Follow us"
  and newsletter lines, a copyright line, an "Updated 10:32" stamp whose digits vary;
* per article: a headline repeated (re-cased, or with a typo), a byline, a credited photo
  caption repeated 1-4 times, 8-30 body lines of 1-3 sentences over a Zipf vocabulary of
  ~40,000 words (so shingle sets are as diverse as real prose), curly quotes and accented
  names (non-ASCII text is the norm, not the exception);
* ~5% syndicated near-duplicates of a recent article (new headline, a few typos), ~2% exact
  re-posts, ~3% of articles quote a body line from a pool of wire paragraphs (duplicated
  content across documents);
* ~3% of articles carry mojibake (UTF-8 read as Windows-1252) and ~1% HTML entities.

The file is written under ``benchmarks/out/`` (gitignored: generated data is never committed)
and reused when it already exists for the same size and seed.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import deque
from pathlib import Path

import numpy as np

OUT_DIR = Path(__file__).resolve().parent / "out"

_COMMON = (  # noqa: SIM905 - a word list reads better as a string
    "the of and to a in is that for it as was with be by on not he this are or his from at "
    "which but have an they you were her she there been one all we their has would when if so "
    "no will more other its new about time up out into only some could them than first year "
    "years people two said after also most over government city police minister report state "
    "president market company news week tuesday monday friday council school water health "
    "public court family season team game local million percent according officials election"
).split()
_SYLLABLES = (  # noqa: SIM905
    "ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo ga ge go ha he hi ho ka ke ki ko "
    "la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po pu ra re ri ro ru sa se si so su "
    "ta te ti to tu va ve vi vo wa we wi ya yo za ze an en in on ar er ir or al el il ol st tr "
    "pr gr br cl fl pl sh ch th ng nt rd ld mp"
).split()
_NAMES = ("José Álvarez", "Zoë Brontë", "François Martin", "Zürich", "São Paulo", "Kraków",
          "Müller", "Đoković", "Señora Muñoz", "Pérez", "Søren Kierkegaard", "Dvořák",
          "Łódź", "Chloé Dubois", "Ñuñoa")
_FIRST = ("Anna", "Ben", "Carla", "David", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas",
          "Karin", "Lars", "Maria", "Nils", "Olga", "Peter", "Rosa", "Sven", "Tomas", "Ulla")
_LAST = ("Berg", "Costa", "Dahl", "Eriksson", "Fischer", "Garcia", "Holm", "Ivanov", "Jensen",
         "Kowalski", "Lind", "Moreau", "Nowak", "Olsen", "Petrov", "Quist", "Rossi", "Silva",
         "Tanaka", "Weber", "Young", "Zhang", "Novak", "Horvat", "Larsen")
_AGENCIES = ("AP", "Reuters", "AFP", "TT", "EPA", "Getty Images", "NTB", "dpa")
_ENTITIES = ("&amp;", "&eacute;", "&#8217;", "&quot;", "&nbsp;", "&mdash;", "&rsquo;")


def _vocabulary(rng: np.random.Generator, size: int) -> list[str]:
    words: set[str] = set(_COMMON)
    out = list(_COMMON)
    while len(out) < size:
        n = int(rng.integers(2, 5))
        word = "".join(_SYLLABLES[i] for i in rng.integers(0, len(_SYLLABLES), n))
        if word not in words:
            words.add(word)
            out.append(word)
    return out


class _Words:
    """Zipf-distributed words drawn in large numpy batches (generation stays ~20 MB/s)."""

    def __init__(self, seed: int, size: int = 40_000) -> None:
        self.rng = np.random.default_rng(seed)
        self.vocab = np.array(_vocabulary(self.rng, size), dtype=object)
        weights = 1.0 / np.arange(1, size + 1) ** 1.05
        self.cdf = np.cumsum(weights / weights.sum())
        self.buffer: list[str] = []
        self.pos = 0

    def take(self, n: int) -> list[str]:
        if self.pos + n > len(self.buffer):
            picks = np.searchsorted(self.cdf, self.rng.random(1 << 18))
            fresh = self.vocab[np.minimum(picks, self.cdf.size - 1)].tolist()
            self.buffer = self.buffer[self.pos :] + fresh
            self.pos = 0
        out = self.buffer[self.pos : self.pos + n]
        self.pos += n
        return out


class _Site:
    def __init__(self, index: int, rng: random.Random) -> None:
        self.host = f"news{index:02d}.example.{rng.choice(['com', 'org', 'se', 'de', 'fr'])}"
        name = f"The {rng.choice(['Daily', 'Evening', 'Morning', 'Weekly'])} " \
               f"{rng.choice(['Post', 'Herald', 'Courier', 'Gazette', 'Tribune', 'Observer'])}"
        self.header = [line for line in (
            rng.choice(["TT", "NTB", "Ritzau", ""]),
            rng.choice(["Follow us on Facebook", "Follow us on Twitter", "Följ oss på Instagram"]),
        ) if line]
        self.footer = [
            f"Subscribe to {name} for daily updates on "
            f"{rng.choice(['politics', 'your city', 'sport'])}",
            f"© 2024 {name}. All rights reserved.",
            rng.choice(["Share this article", "Advertisement", "Read more:", "Comments (0)"]),
        ]


def _typo(text: str, rng: random.Random) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.random()
    if kind < 0.4:
        return text[:i] + text[i + 1 :]
    if kind < 0.7:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice("aeiourstln") + text[i:]


class Generator:
    """Documents one at a time, deterministic for a seed."""

    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.words = _Words(seed)
        self.sites = [_Site(i, self.rng) for i in range(40)]
        self.recent: deque[tuple[str, list[str]]] = deque(maxlen=300)
        self.wire = [self.sentence(3) for _ in range(400)]
        self.count = 0

    def sentence(self, sentences: int = 1) -> str:
        rng = self.rng
        parts: list[str] = []
        for _ in range(sentences):
            words = self.words.take(rng.randint(7, 24))
            if rng.random() < 0.25:
                words.insert(rng.randrange(len(words)), rng.choice(_NAMES))
            if rng.random() < 0.3:
                i = rng.randrange(len(words) - 1)
                words[i] = "“" + words[i]
                words[i + 1] += "”"
            if rng.random() < 0.2:
                words[rng.randrange(len(words))] += "’s"
            if rng.random() < 0.15:
                words.insert(rng.randrange(len(words)), f"{rng.randint(2, 9999):,}")
            text = " ".join(words)
            parts.append(text[0].upper() + text[1:] + rng.choice(".....?!"))
        return " ".join(parts)

    def _article(self, site: _Site) -> tuple[str, list[str]]:
        rng = self.rng
        headline = " ".join(w.capitalize() for w in self.words.take(rng.randint(5, 12)))
        body = [self.sentence(rng.choice((1, 1, 2, 2, 3))) for _ in range(rng.randint(8, 30))]
        if rng.random() < 0.03:
            body.insert(rng.randrange(len(body)), rng.choice(self.wire))
        return headline, body

    def document(self) -> dict[str, str]:
        rng = self.rng
        site = rng.choice(self.sites)
        roll = rng.random()
        if roll < 0.05 and self.recent:  # syndicated near-duplicate: new headline, some typos
            _, body = rng.choice(self.recent)
            headline = " ".join(w.capitalize() for w in self.words.take(rng.randint(5, 12)))
            body = [_typo(line, rng) if rng.random() < 0.15 else line for line in body]
        elif roll < 0.07 and self.recent:  # exact re-post
            headline, body = rng.choice(self.recent)
        else:
            headline, body = self._article(site)
            self.recent.append((headline, body))
        lines = [headline]
        if rng.random() < 0.7:
            lines.append(headline.upper() if rng.random() < 0.5 else _typo(headline, rng))
        lines.append(f"By {rng.choice(_FIRST)} {rng.choice(_LAST)}")
        lines.append(f"Updated {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}")
        lines.extend(site.header)
        if rng.random() < 0.6:
            caption = (f"{self.sentence(1)[:-1]} ({rng.choice(_AGENCIES)}/"
                       f"{rng.choice(_FIRST)} {rng.choice(_LAST)})")
            lines.extend([caption] * rng.randint(1, 4))
        lines.extend(body)
        lines.extend(site.footer)
        text = "\n".join(lines)
        if rng.random() < 0.03:  # mojibake on a few lines
            out = text.split("\n")
            for _ in range(rng.randint(1, 3)):
                i = rng.randrange(len(out))
                out[i] = (out[i] + " — it’s café").encode("utf-8").decode("cp1252", "replace")
            text = "\n".join(out)
        elif rng.random() < 0.01:
            out = text.split(" ")
            for _ in range(rng.randint(1, 3)):
                out.insert(rng.randrange(len(out)), rng.choice(_ENTITIES))
            text = " ".join(out)
        self.count += 1
        return {"id": f"{site.host}/{self.count}", "host": site.host,
                "url": f"https://{site.host}/a/{self.count}", "text": text}


def write_corpus(path: Path, megabytes: float, seed: int = 1) -> Path:
    """Write about ``megabytes`` MB of JSON Lines to ``path`` (atomically); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    target = int(megabytes * 1e6)
    gen = Generator(seed)
    size = 0
    with open(tmp, "w", encoding="utf-8") as out:
        while size < target:
            line = json.dumps(gen.document(), ensure_ascii=False) + "\n"
            out.write(line)
            size += len(line.encode("utf-8"))
    tmp.replace(path)
    return path


def corpus_path(megabytes: float, seed: int = 1) -> Path:
    """The benchmark corpus of this size and seed, generated on first use."""
    path = OUT_DIR / f"news-{megabytes:g}mb-s{seed}.jsonl"
    if not path.exists():
        write_corpus(path, megabytes, seed)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(corpus_path(args.mb, args.seed))


if __name__ == "__main__":
    main()
