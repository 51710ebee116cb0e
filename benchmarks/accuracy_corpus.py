"""A labelled corpus for the accuracy benchmark: scraped-looking documents with known truth.

Made from real text that ships with the project (the seed articles in ``fixtures/``: two whole
articles, and a word chain trained on their sentences plus ``accuracy_text.EXTRA_PROSE``) and
from templates. Every unit carries its *origin* (copies share it) and every document its
*cluster* (a syndicated copy shares its original's), so every decision can be scored.

What a corpus holds (``build_skeleton``), all before noise:

* sites, each with boilerplate lines (a site token, "Follow ... on Facebook", a dateline
  "Updated 10:32" whose time varies on every copy), each on about half of the site's pages;
* original articles: a headline (repeated in the page 40% of the time, like the seed), a
  credited caption repeated 1-3 times (60%), body lines whose lengths are drawn from the seed
  scrape's line lengths (short lines included);
* near-duplicate documents: a syndicated copy of an earlier article on another site: same body
  (sometimes one line dropped or one added), new or same headline, captions or not;
* duplicated content: a body paragraph quoted in a later, unrelated article;
* hard negatives, as many pairs as there are positive pairs: headlines from one template with
  different facts ("Police arrest man in Leeds after stabbing" / "... woman in York after
  robbery"), long sentences from one template, short lines that differ by one word (some in
  one navigation block), table rows that differ only in their figures (a league table on
  three matchdays, a market table on three days), and documents from one template with
  different facts (a police report, a match report, a results statement, a weather outlook).

``render(skeleton, level, seed)`` then corrupts every copy (``noise.corrupt``) independently.
Everything is seeded: the same arguments give the same corpus, byte for byte.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from string import Formatter

from rapidfuzz import fuzz
from rapidfuzz import process as rf_process
from rapidfuzz.distance import Levenshtein

from benchmarks import accuracy_text as T
from benchmarks.noise import Level, corrupt

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


@dataclass
class Unit:
    """One line of a generated document, before noise."""

    text: str
    origin: str  # copies of the same text share it
    kind: str  # headline, caption, body, boilerplate, table, template, short, ...
    family: str | None = None  # hard-negative family: same template, different facts
    boilerplate: bool = False  # a site line: every copy is meant to go
    dateline: bool = False  # its digits change on every copy (rendered per copy)
    recasable: bool = True
    contained: bool = False  # its text is also inside a longer unit of its document


@dataclass
class Doc:
    """One generated document: its units and where it came from."""

    units: list[Unit]
    cluster: str  # documents of one cluster are near-duplicates of each other
    kind: str  # original, seed, syndicated, template
    site: str
    near_dup_of: Doc | None = None
    family: str | None = None  # template documents: same template, different facts
    ident: int = -1  # position in the corpus, set by build_skeleton


@dataclass
class Skeleton:
    """The corpus before noise: documents in input order, plus what the pairs count."""

    docs: list[Doc]
    positive_unit_pairs: int = 0
    negative_unit_pairs: int = 0
    positive_doc_pairs: int = 0
    negative_doc_pairs: int = 0
    negative_kinds: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    """A noisy corpus: document texts (one unit per line) and, per unit, its ground truth."""

    texts: list[str]
    skeleton: Skeleton
    level: str


# --------------------------------------------------------------------------------------------
# Real text: the seed articles, and a word chain trained on them
# --------------------------------------------------------------------------------------------


def seed_articles() -> list[list[str]]:
    """The seed scrape's documents as lists of non-blank lines (real, unchanged)."""
    raw = (FIXTURES / "news_scrape.txt").read_text(encoding="utf-8")
    docs = re.split(r"\n\s*\n\s*\n+", raw.strip("\n"))
    return [[line for line in doc.split("\n") if line.strip()] for doc in docs]


def seed_line_lengths() -> list[int]:
    """Lengths of every non-blank line of the seed scrape: the line-length distribution."""
    return [len(line) for doc in seed_articles() for line in doc]


def _sentences(text: str) -> list[str]:
    flat = " ".join(text.split())
    return [s for s in re.split(r"(?<=[.!?\u201d])\s+(?=[A-Z\u201c\"])", flat) if s]


class WordChain:
    """A first-order word chain: new sentences with the words and rhythm of the training text.

    Distinct sentences share few five-character shingles by chance, like unrelated sentences
    of one news site, which is what the generator needs for distinct origins.
    """

    def __init__(self, sentences: Sequence[str]) -> None:
        self.starts: list[str] = []
        self.next: dict[str, list[str]] = defaultdict(list)
        for sentence in sentences:
            words = sentence.split()
            if len(words) < 4:
                continue
            self.starts.append(words[0])
            for a, b in itertools.pairwise(words):
                self.next[a].append(b)

    def sentence(self, rng: random.Random, max_words: int = 40) -> str:
        words = [rng.choice(self.starts)]
        while len(words) < max_words:
            options = self.next.get(words[-1])
            if not options or re.search(r"[.!?][\u201d\"]?$", words[-1]):
                break
            words.append(rng.choice(options))
        text = " ".join(words)
        if not re.search(r"[.!?][\u201d\"]?$", text):
            text += "."
        return text


def training_sentences() -> list[str]:
    body = [line for doc in seed_articles() for line in doc[1:] if len(line) > 160]
    return _sentences(" ".join(body)) + _sentences(T.EXTRA_PROSE)


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------

_SLOT_VALUES: dict[str, Sequence[str]] = {
    "city": T.CITIES, "city2": T.CITIES, "person": T.PEOPLE, "crime": T.CRIMES,
    "team": T.TEAMS, "team2": T.TEAMS, "stage": T.STAGES, "company": T.COMPANIES,
    "event": T.EVENTS, "weather": T.WEATHER, "weather2": T.WEATHER, "region": T.REGIONS,
    "storm": T.STORMS, "thing": T.THINGS, "role": T.ROLES, "org": T.ORGS, "first": T.FIRST,
    "first2": T.FIRST, "first3": T.FIRST, "last": T.LAST, "last2": T.LAST, "last3": T.LAST,
    "place": T.PLACES, "vehicle": T.VEHICLES, "day": T.DAYS, "day2": T.DAYS, "part": T.PARTS,
    "street": T.STREETS, "force": T.FORCES, "condition": T.CONDITIONS,
    "condition2": ("minor", "serious", "head", "leg", "hand", "facial"),
    "victim": ("man", "woman", "teenager", "boy", "girl", "pensioner"), "topic": T.TOPICS,
    "league": T.LEAGUES, "move": ("rise", "fall", "jump", "slump", "climb", "drop"),
    "move2": ("rose", "fell", "jumped", "slumped", "climbed", "dropped"),
    "updown": ("up", "down"), "adj": ("weak", "strong", "mixed", "patchy", "steady", "poor"),
    "month": ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December"),
    "bank": ("Barclays", "HSBC", "UBS", "Jefferies", "Berenberg", "Peel Hunt", "Numis"),
    "people": ("Two people", "Three people", "Four passengers", "Five people", "Six pupils",
               "Several people", "A driver and two passengers"),
}
_NUMBER_SLOTS = {
    "n": (1, 9), "m": (0, 8), "n2": (2, 30), "m2": (3, 20), "n3": (90, 950), "pct": (2, 40),
    "pct2": (1, 15), "age": (16, 85), "pos": (4, 19), "minute": (10, 89),
    "year": (1960, 2019), "hour": (1, 12),
}


def _slots(template: str) -> list[str]:
    return [name for _, name, _, _ in Formatter().parse(template) if name]


def fill_family(templates: Sequence[str], size: int, rng: random.Random) -> list[list[str]]:
    """``size`` fillings of the same templates, every named slot different across members.

    Word slots take distinct values at least two edits apart (so every member states different
    facts, and no difference is one a single typo could make: "York"/"Cork"); number slots
    are drawn freely (digits in prose are folded for matching, they cannot tell facts apart).
    """
    names = sorted({n for t in templates for n in _slots(t)})
    picks: dict[str, list[str]] = {}
    for name in names:
        if name in _SLOT_VALUES:
            pool = list(dict.fromkeys(_SLOT_VALUES[name]))
            if len(pool) < size:
                picks[name] = [rng.choice(pool) for _ in range(size)]
                continue
            for _ in range(100):  # facts, not typos: values two or more edits apart
                picks[name] = rng.sample(pool, size)
                if all(Levenshtein.distance(a, b) >= 2
                       for i, a in enumerate(picks[name]) for b in picks[name][i + 1 :]):
                    break
        else:
            lo, hi = _NUMBER_SLOTS[name]
            picks[name] = [str(rng.randint(lo, hi)) for _ in range(size)]
    # Paired slots (team/team2, city/city2 ...) must differ inside one member too.
    for a, b in (("team", "team2"), ("city", "city2"), ("day", "day2")):
        if a in picks and b in picks:
            for k in range(size):
                while picks[b][k] == picks[a][k]:
                    picks[b][k] = rng.choice(list(_SLOT_VALUES[b]))
    return [[t.format(**{n: picks[n][k] for n in names}) for t in templates]
            for k in range(size)]


class _Generator:
    """Holds the randomness and the registry of origins while one skeleton is built."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.chain = WordChain(training_sentences())
        self.lengths = [n for n in seed_line_lengths() if n >= 12]
        self.counter = 0
        self.seen_keys: set[str] = set()
        self.short_keys: list[str] = []
        self.chain_keys: list[str] = []

    def origin(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def _fresh(self, text: str) -> bool:
        """Not yet used, up to case, punctuation and the figures of prose (which dedupe folds
        on purpose: two lines that differ only there are one line to it, not a hard negative).
        """
        key = " ".join(re.sub(r"[^\w ]", " ", re.sub(r"\d+", "0", text.lower())).split())
        if key in self.seen_keys:
            return False
        if len(key) < 60:  # short: not within two edits of another short text either
            near = rf_process.extractOne(key, self.short_keys, scorer=Levenshtein.distance,
                                         score_cutoff=2)
            if near is not None:
                return False
            self.short_keys.append(key)
        self.seen_keys.add(key)
        return True

    def _distinct(self, text: str) -> bool:
        """``_fresh``, and not 80% alike another generated text: the word chain sometimes
        says nearly the same thing twice ("North Korean President ..." / "South Korean
        President ..."), which would be a hard negative nobody designed or counted."""
        key = " ".join(re.sub(r"[^\w ]", " ", text.lower()).split())
        near = rf_process.extractOne(key, self.chain_keys, scorer=fuzz.ratio, score_cutoff=80)
        if near is not None or not self._fresh(text):
            return False
        self.chain_keys.append(key)
        return True

    def family(self, templates: Sequence[str], size: int) -> list[list[str]] | None:
        """``fill_family`` until every filled text is new to the corpus (no accidental copies
        across families that share a template); None when the template is used up."""
        for _ in range(50):
            members = fill_family(templates, size, self.rng)
            texts = [t for member in members for t in member]
            saved = set(self.seen_keys), list(self.short_keys)
            if all(self._fresh(t) for t in texts):
                return members
            self.seen_keys, self.short_keys = saved
        return None

    def body_text(self, length: int) -> str:
        """Sentences from the word chain up to about ``length`` characters."""
        while True:
            parts: list[str] = []
            while sum(len(p) + 1 for p in parts) < 0.85 * length:
                parts.append(self.chain.sentence(self.rng))
            text = " ".join(parts)
            if len(text) > 1.6 * length:  # a short line: cut at a word boundary, no full stop
                cut = text[: max(length, 12)].rsplit(" ", 1)[0]
                text = cut.rstrip(",;:") if len(cut) >= 12 else text[: max(length, 12)]
            if self._distinct(text):
                return text

    def body_unit(self) -> Unit:
        length = int(self.rng.choice(self.lengths) * self.rng.uniform(0.8, 1.2))
        return Unit(self.body_text(max(length, 16)), self.origin("b"), "body")

    def headline(self) -> Unit:
        while True:
            words = self.chain.sentence(self.rng, max_words=self.rng.randint(6, 14)).split()
            text = " ".join(w.strip(".,;:\u201c\u201d\"") for w in words).title()
            if len(text) >= 20 and self._distinct(text):
                return Unit(text, self.origin("h"), "headline")

    def caption(self) -> Unit:
        agency = self.rng.choice(("AP", "AFP", "Reuters", "EPA", "TT", "Getty Images"))
        text = self.body_text(self.rng.randint(80, 160)).rstrip(".") + f". ({agency})"
        return Unit(text, self.origin("c"), "caption")


def _site_boilerplate(gen: _Generator, sites: Sequence[str]) -> dict[str, list[Unit]]:
    out: dict[str, list[Unit]] = {}
    templates = list(T.BOILERPLATE_TEMPLATES)
    for site in sites:
        picks = gen.rng.sample(templates, 3)
        units = []
        for template in picks:
            text = template.replace("{site}", site)
            dateline = "{hh}" in text
            units.append(Unit(text, f"bp:{text}", "boilerplate", boilerplate=True,
                              dateline=dateline))
        out[site] = units
    return out


def _article(gen: _Generator, site: str, boiler: list[Unit], body: list[Unit] | None = None,
             headline: Unit | None = None, caption: bool = True) -> Doc:
    rng = gen.rng
    head = headline or gen.headline()
    units: list[Unit] = [u for u in boiler[:1] if rng.random() < 0.5]
    units.append(head)
    if caption and rng.random() < 0.6:
        photo = gen.caption()
        units.extend([photo] * rng.randint(1, 3))
    if rng.random() < 0.4:
        units.append(head)  # the page gives its headline twice, like the seed scrape
    units.extend(body if body is not None else [gen.body_unit() for _ in range(rng.randint(4, 12))])
    units.extend(u for u in boiler[1:] if rng.random() < 0.5)
    return Doc(units, cluster=head.origin, kind="original", site=site)


def _seed_docs(gen: _Generator, site: str, boiler: list[Unit]) -> list[Doc]:
    """The two real seed articles as they were scraped (headline and captions repeated)."""
    docs = []
    for lines in seed_articles():
        origins: dict[str, str] = {}
        units = []
        for line in lines:
            if line not in origins:
                origins[line] = gen.origin("s")
            kind = "boilerplate" if line == "TT" else "seed"
            units.append(Unit(line, "bp:TT" if line == "TT" else origins[line], kind,
                              boilerplate=line == "TT"))
        units.extend(u for u in boiler[1:] if gen.rng.random() < 0.5)
        docs.append(Doc(units, cluster=units[0].origin, kind="seed", site=site))
    return docs


def _template_docs(gen: _Generator, sites: Sequence[str], boiler: dict[str, list[Unit]],
                   families: int) -> list[Doc]:
    """Documents from one template with different facts: hard negatives at document level."""
    docs = []
    for f in range(families):
        template = T.DOCUMENT_TEMPLATES[f % len(T.DOCUMENT_TEMPLATES)]
        members = gen.family(template, 3)
        assert members is not None, "document templates have slots enough for every family"
        for k, texts in enumerate(members):
            site = gen.rng.choice(sites)
            units = [Unit(text, gen.origin("t"), "headline" if i == 0 else "template",
                          family=f"doc{f}:{i}") for i, text in enumerate(texts)]
            units.extend(u for u in boiler[site] if gen.rng.random() < 0.5)
            docs.append(Doc(units, cluster=f"tdoc{f}:{k}", kind="template", site=site,
                            family=f"tdoc{f}"))
    return docs


def _table_family(gen: _Generator, name: str) -> list[list[Unit]]:
    """One table on three dates: rows for the same label differ only in their figures."""
    rng = gen.rng
    blocks: list[list[Unit]] = [[], [], []]
    if rng.random() < 0.5:
        teams = rng.sample(list(T.TEAMS), 8)
        sep = rng.choice(("  ", " | "))
        for t, team in enumerate(teams):
            played = rng.randint(10, 30)
            won = rng.randint(0, played // 2)
            drawn = rng.randint(0, played - won)
            for week in range(3):
                p = played + week
                w = won + rng.randint(0, week)
                d = drawn + (week - (w - won)) if week else drawn
                lost = max(p - w - d, 0)
                gd = rng.randint(-15, 25)
                cells = [team, str(p), str(w), str(d), str(lost), f"{gd:+d}", str(3 * w + d)]
                blocks[week].append(Unit(sep.join(cells), gen.origin("r"), "table",
                                         family=f"{name}:{t}", recasable=False))
    else:
        indices = rng.sample(list(T.INDICES), 6)
        for t, index in enumerate(indices):
            value = rng.uniform(2000, 40000)
            for day in range(3):
                v = value * (1 + rng.uniform(-0.03, 0.03))
                change = rng.uniform(-2.5, 2.5)
                text = f"{index}  {v:,.1f}  {change:+.2f}%"
                blocks[day].append(Unit(text, gen.origin("r"), "table", family=f"{name}:{t}",
                                        recasable=False))
    return blocks


def _body_position(doc: Doc, rng: random.Random) -> int:
    """Somewhere after the document's headline (its first unit that is not boilerplate)."""
    head = next(i for i, u in enumerate(doc.units) if not u.boilerplate)
    return rng.randint(head + 1, len(doc.units))


def _pairs(k: int) -> int:
    return k * (k - 1) // 2


def build_skeleton(seed: int = 1, originals: int = 150, syndicated: int = 40,
                   quoted: int = 30, template_families: int = 14) -> Skeleton:
    """The corpus before noise, with as many hard-negative pairs as positive pairs."""
    gen = _Generator(seed)
    rng = gen.rng
    sites = list(T.SITE_NAMES)
    boiler = _site_boilerplate(gen, sites)
    docs: list[Doc] = _seed_docs(gen, sites[0], boiler[sites[0]])
    for _ in range(originals):
        site = rng.choice(sites)
        docs.append(_article(gen, site, boiler[site]))
    templates = _template_docs(gen, sites, boiler, template_families)
    for doc in templates:
        docs.insert(rng.randint(0, len(docs)), doc)

    # Duplicated content: a long body paragraph quoted in a later, unrelated article.
    articles = [d for d in docs if d.kind == "original"]
    for _ in range(quoted):
        src = rng.choice(articles[: len(articles) // 2])
        longs = [u for u in src.units if u.kind == "body" and len(u.text) > 140]
        if not longs:
            continue
        later = [d for d in articles if docs.index(d) > docs.index(src)]
        dst = rng.choice(later)
        body_at = [i for i, u in enumerate(dst.units) if u.kind == "body"]
        dst.units.insert(rng.choice(body_at), rng.choice(longs))

    skeleton = Skeleton(docs)
    skeleton.positive_unit_pairs = _count_positive_pairs(docs)

    # Hard negatives at unit level, family by family, until they match the positives.
    kinds = ("headline_template", "sentence_template", "short_one_word", "table_rows")
    hosts = [d for d in docs if d.kind in ("original", "template")]
    f = 0
    while skeleton.negative_unit_pairs < skeleton.positive_unit_pairs:
        kind = kinds[f % len(kinds)]
        f += 1
        if kind == "table_rows":
            blocks = _table_family(gen, f"tab{f}")
            for block, host in zip(blocks, rng.sample(hosts, 3), strict=True):
                at = _body_position(host, rng)
                host.units[at:at] = block
            pairs = len(blocks[0]) * _pairs(3)
        else:
            pool = {"headline_template": T.HEADLINE_TEMPLATES,
                    "sentence_template": T.SENTENCE_TEMPLATES,
                    "short_one_word": T.SHORT_TEMPLATES}[kind]
            size = 3
            start = f // len(kinds)
            filled = None
            for k in range(len(pool)):  # the next template that still has fresh fillings
                filled = gen.family([pool[(start + k) % len(pool)]], size)
                if filled is not None:
                    break
            if filled is None:
                continue
            members = [texts[0] for texts in filled]
            unit_kind = {"headline_template": "headline", "sentence_template": "template",
                         "short_one_word": "short"}[kind]
            units = [Unit(text, gen.origin("n"), unit_kind, family=f"neg{f}")
                     for text in members]
            if kind == "short_one_word" and rng.random() < 0.4:  # a navigation block
                host = rng.choice(hosts)
                at = _body_position(host, rng)
                host.units[at:at] = units
            else:
                for unit, host in zip(units, rng.sample(hosts, size), strict=True):
                    host.units.insert(_body_position(host, rng), unit)
            pairs = _pairs(size)
        skeleton.negative_unit_pairs += pairs
        skeleton.negative_kinds[kind] = skeleton.negative_kinds.get(kind, 0) + pairs

    # Near-duplicate documents: a syndicated copy of an earlier article, later in the input.
    for _ in range(syndicated):
        src = rng.choice([d for d in docs if d.kind in ("original", "seed")
                          and d.near_dup_of is None][: int(len(docs) * 0.8)])
        first, *rest = [u for u in src.units if not u.boilerplate]  # headline, then the page
        body = [u for u in rest if u.origin != first.origin]
        if rng.random() < 0.5:  # syndication often drops the photo
            body = [u for u in body if u.kind != "caption"]
        if len(body) >= 8 and rng.random() < 0.3:  # and sometimes a paragraph
            body = body[:-1] if rng.random() < 0.5 else [*body, gen.body_unit()]
        site = rng.choice([s for s in sites if s != src.site])
        copy = _article(gen, site, boiler[site], body=body, caption=False,
                        headline=first if rng.random() < 0.5 else None)
        copy.kind, copy.cluster, copy.near_dup_of = "syndicated", src.cluster, src
        docs.insert(rng.randint(docs.index(src) + 1, len(docs)), copy)
    skeleton.positive_doc_pairs = syndicated
    skeleton.negative_doc_pairs = template_families * _pairs(3)
    for i, doc in enumerate(docs):
        doc.ident = i
    skeleton.positive_unit_pairs = _count_positive_pairs(docs)
    return skeleton


def build_containment(seed: int = 1, documents: int = 60) -> Skeleton:
    """Documents for the containment check (``drop_contained``), half positive, half not.

    Positive: the page's caption or headline is also glued to the start or the end of a body
    paragraph (the standalone line should go). Negative: a headline and a paragraph that
    opens with another member of its template family (same wording, different facts), so
    most of the headline's words are in the paragraph but the line is not.
    """
    gen = _Generator(seed + 1000)
    rng = gen.rng
    sites = list(T.SITE_NAMES)
    boiler = _site_boilerplate(gen, sites)
    docs: list[Doc] = []
    for k in range(documents):
        site = rng.choice(sites)
        doc = _article(gen, site, boiler[site])
        body = [i for i, u in enumerate(doc.units) if u.kind == "body"]
        at = rng.choice(body)
        para = doc.units[at]
        if k % 2 == 0:
            line = next(u for u in doc.units if u.kind in ("caption", "headline"))
            glued = f"{line.text} {para.text}" if rng.random() < 0.7 else f"{para.text} {line.text}"
            doc.units[at] = Unit(glued, gen.origin("g"), "body")
            doc.units = [replace(u, contained=u.origin == line.origin) for u in doc.units]
        else:
            filled = None
            while filled is None:
                filled = gen.family([rng.choice(T.HEADLINE_TEMPLATES)], 2)
            head = next(i for i, u in enumerate(doc.units) if u.kind == "headline")
            doc.units[head] = Unit(filled[0][0], gen.origin("h"), "headline")
            doc.units[at] = Unit(f"{filled[1][0]}. {para.text}", gen.origin("g"), "body")
            doc.units = [u for i, u in enumerate(doc.units)
                         if u.kind != "headline" or i == head]  # no repeated headline
        doc.cluster = f"cont{k}"
        docs.append(doc)
    for i, doc in enumerate(docs):
        doc.ident = i
    return Skeleton(docs)


def _count_positive_pairs(docs: Sequence[Doc]) -> int:
    """Units that copy an earlier unit (same origin), outside near-duplicate documents."""
    seen: set[str] = set()
    count = 0
    for doc in docs:
        if doc.near_dup_of is not None:
            continue
        for unit in doc.units:
            if unit.origin in seen:
                count += 1
            seen.add(unit.origin)
    return count


# --------------------------------------------------------------------------------------------
# Noise
# --------------------------------------------------------------------------------------------


def _dateline(text: str, rng: random.Random) -> str:
    return text.replace("{hh}", f"{rng.randint(0, 23):02d}").replace(
        "{mm}", f"{rng.randint(0, 59):02d}")


def render(skeleton: Skeleton, level: Level, seed: int = 1) -> Rendered:
    """Every copy of every unit corrupted independently at ``level``; one unit per line."""
    rng = random.Random(f"{seed}:{level.name}")
    texts = []
    for doc in skeleton.docs:
        lines = []
        for unit in doc.units:
            text = _dateline(unit.text, rng) if unit.dateline else unit.text
            lines.append(_one_line(corrupt(text, level, rng, recasable=unit.recasable)))
        texts.append("\n".join(lines))
    return Rendered(texts, skeleton, level.name)


def _one_line(text: str) -> str:
    """Noise never splits a unit: any line break it made becomes a space."""
    out = " ".join(text.splitlines()) if len(text.splitlines()) > 1 else text
    return out if out.strip() else "x"


def iter_units(skeleton: Skeleton) -> Iterator[tuple[Doc, int, Unit]]:
    for doc in skeleton.docs:
        for i, unit in enumerate(doc.units):
            yield doc, i, unit


__all__ = ["Doc", "Rendered", "Skeleton", "Unit", "WordChain", "build_containment",
           "build_skeleton", "fill_family",
           "iter_units", "render", "seed_articles", "seed_line_lengths"]
