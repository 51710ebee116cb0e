"""The review page, read as a machine reads it: parsed HTML checked against the run's audit and
stats, its links, its escaping of hostile text, its selection bound, and the command."""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from bs4 import BeautifulSoup, Tag
from typer.testing import CliRunner

import dedupe.review as review_module
from dedupe.cli import app
from dedupe.config import Config
from dedupe.io import InputError, read_inputs
from dedupe.jobs import run_job
from dedupe.prepare import prepare
from dedupe.review import build_review, load_stats, script_json, segment, write_review

from .conftest import FIXTURES, run_cli

SEEDS = ["news_scrape.noisy.txt", "news_scrape.txt"]
CONFIG = Config(workers=1)
VALID_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


def clean_run(tmp_path: Path, inputs: list[str], config: Config = CONFIG) -> tuple[Path, Path]:
    """A real `dedupe clean` run (in process): its audit and stats files."""
    audit, stats = tmp_path / "audit.jsonl", tmp_path / "stats.json"
    run_job(inputs, str(tmp_path / "out.txt"), config, audit=str(audit), stats_path=str(stats))
    return audit, stats


def build_page(tmp_path: Path, inputs: list[str], config: Config = CONFIG,
               name: str = "review.html", **options: Any) -> Path:
    """The review page of ``inputs`` written to tmp_path/name; its parsed tree is soup(path)."""
    page = tmp_path / name
    write_review(inputs, str(page), config, **options)
    return page


def soup(page: Path) -> BeautifulSoup:
    return BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")


def audit_records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def lookup(data: dict[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        value = value.get(part, 0)
    return value


@pytest.fixture(params=SEEDS)
def seed_run(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path, Path, Path]:
    """A seed fixture cleaned, and its review page built from the audit and stats."""
    source = str(FIXTURES / request.param)
    audit, stats = clean_run(tmp_path, [source])
    page = build_page(tmp_path, [source], audit=str(audit), stats=load_stats(str(stats)),
                      stats_path=str(stats))
    return source, audit, stats, page


def test_counts_shown_equal_the_stats(seed_run: tuple[str, Path, Path, Path]) -> None:
    _source, _audit, stats_path, page = seed_run
    stats = json.loads(stats_path.read_text(encoding="utf-8"))
    tree = soup(page)
    cells = tree.select("[data-stat]")
    keys = {cell["data-stat"] for cell in cells}
    assert {"documents.in", "documents.out", "documents.dropped", "characters.removed",
            "units.in", "repairs.documents"} <= keys
    assert {f"units.removed.{r}" for r in stats["units"]["removed"]} <= keys
    for cell in cells:
        expected = lookup(stats, str(cell["data-stat"]))
        assert int(cell.get_text().replace(",", "")) == expected, cell
    shown = tree.select_one("[data-count=shown]")
    total = tree.select_one("[data-count=total]")
    assert shown is not None and total is not None
    assert int(shown.get_text()) == int(total.get_text()) == stats["documents"]["in"]
    assert f"dedupe {stats['version']}" in tree.get_text()


def test_each_removal_marked_exactly_once(seed_run: tuple[str, Path, Path, Path]) -> None:
    _source, audit, _stats, page = seed_run
    records = audit_records(audit)
    assert records, "the seeds have removals"
    marks = soup(page).select("[data-audit]")
    numbers = Counter(int(str(m["data-audit"])) for m in marks)
    assert numbers == Counter(range(1, len(records) + 1))
    for mark in marks:
        record = records[int(str(mark["data-audit"])) - 1]
        assert mark["data-reason"] == record["reason"]
        article = mark.find_parent("article")
        assert isinstance(article, Tag)
        assert article.select_one(".did").get_text() == record["doc_id"]
        if record["position"] is not None:  # a unit: its anchor is its position, text struck
            assert mark["id"] == f"{article['id']}-u-{record['position']}"
            assert mark.select_one("del.tx").get_text() == record["text"]
        else:
            assert "rmd" in mark["class"]


def test_partner_links_and_ids(seed_run: tuple[str, Path, Path, Path]) -> None:
    _source, audit, _stats, page = seed_run
    tree = soup(page)
    ids = [str(el["id"]) for el in tree.select("[id]")]
    assert len(ids) == len(set(ids)), "ids are unique"
    assert all(VALID_ID.match(i) for i in ids), [i for i in ids if not VALID_ID.match(i)]
    links = [str(a["href"]) for a in tree.select("a[href]")]
    assert links and all(h.startswith("#") and h[1:] in set(ids) for h in links)
    # Each removal's partner link names the kept item of its audit record.
    by_doc = {a.select_one(".did").get_text(): a["id"] for a in tree.select("article.doc")}
    records = audit_records(audit)
    for mark in tree.select("[data-audit]"):
        ref = records[int(str(mark["data-audit"])) - 1].get("duplicate_of")
        link = mark.select_one("a.partner")
        if ref is None:
            assert link is None
            continue
        assert link is not None
        target = f"#{by_doc[ref['doc_id']]}"
        if "position" in ref:
            target += f"-u-{ref['position']}"
        assert link["href"] == target


@pytest.mark.parametrize("unit", ["line", "paragraph"])
def test_segments_as_the_run_does(unit: str) -> None:
    """The page re-cuts documents itself (without the matching work): it must cut them as
    pass one does, or audit positions would land on the wrong lines."""
    config = CONFIG.replace(unit=unit)
    for name in SEEDS:
        for doc in read_inputs([str(FIXTURES / name)], config):
            ours, theirs = segment(doc, config), prepare(doc, config)
            assert (ours.text, ours.repairs, ours.lines, ours.spans) == \
                (theirs.text, theirs.repairs, theirs.lines, theirs.spans)


def test_repairs_shown_before_and_after(tmp_path: Path) -> None:
    page = build_page(tmp_path, [str(FIXTURES / "news_scrape.noisy.txt")])
    tree = soup(page)
    rows = tree.select("details.repairs table.diff tr:has(td.before)")
    assert rows, "the noisy seed has mojibake paragraphs"
    befores = [r.select_one("td.before").get_text() for r in rows]
    afters = [r.select_one("td.after").get_text() for r in rows]
    assert any("â€" in b for b in befores) and not any("â€" in a for a in afters)


def test_run_here_equals_audit_mode(tmp_path: Path) -> None:
    """Without --audit the page runs the cleaning itself; with it (and with or without
    --stats) it re-reads the run: the same counts and the same document view."""
    source = str(FIXTURES / "news_scrape.noisy.txt")
    audit, stats = clean_run(tmp_path, [source])
    pages = [
        build_page(tmp_path, [source], name="run.html"),
        build_page(tmp_path, [source], name="audit.html", audit=str(audit)),
        build_page(tmp_path, [source], name="both.html", audit=str(audit),
                   stats=load_stats(str(stats))),
    ]
    bodies = [str(soup(p).select_one(".overview")) + str(soup(p).select_one("main"))
              for p in pages]
    assert bodies[0] == bodies[1] == bodies[2]


HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "</div></article></main><b onclick=\"alert(1)\">bold</b>",
    "</script><script>alert(2)</script><!--",
    "\" onmouseover=\"alert(3)\" x=\"",
    "control \x1b[31m and \u2028 separator & <style>*{display:none}</style>",
]


def test_hostile_text_is_inert(tmp_path: Path) -> None:
    """Scraped markup shows as text: no element, attribute or script from the corpus."""
    lines = [f"Line {i}: {h}" for i, h in enumerate(HOSTILE)]
    records = [
        {"id": "<img src=x onerror=alert('id')>", "text": "\n".join([*lines, lines[0]])},
        {"id": "\"><script>alert('id2')</script>", "text": "\n".join([*lines[:3], "unique " * 9])},
        {"id": "plain", "text": "\n".join(lines[:2])},
    ]
    source = tmp_path / "hostile.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    page = build_page(tmp_path, [str(source)], CONFIG.replace(repair=False))
    raw = page.read_text(encoding="utf-8")
    tree = BeautifulSoup(raw, "html.parser")
    scripts = tree.find_all("script")
    assert len(scripts) == 3  # the page's own: the class switch, the data, the behaviour
    assert scripts[2].get_text() == review_module._JS
    assert json.loads(scripts[1].get_text())["total"] == 3
    assert not tree.find_all("img") and len(tree.find_all("style")) == 1
    assert not [b for b in tree.find_all("b") if b.get_text() == "bold"]
    for el in tree.find_all(True):
        assert not [a for a in el.attrs if a.startswith("on")], el.name
        assert el.name in ALLOWED_TAGS, el.name
    text = tree.get_text()
    for hostile in HOSTILE[:4]:
        assert hostile in text
    assert "<script>alert(1)</script>" not in raw and "&lt;script&gt;alert(1)" in raw
    assert "\x1b" not in raw and "\u241b" in text  # control characters are made visible
    removed = tree.select("[data-audit]")
    assert removed, "the repeated hostile lines are removed and marked"
    ids = {a.select_one(".did").get_text() for a in tree.select("article.doc")}
    assert ids == {r["id"] for r in records}


ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "script", "body", "header", "h1", "h2", "h3", "p",
    "section", "div", "table", "tr", "th", "td", "span", "details", "summary", "svg", "g",
    "rect", "text", "a", "label", "input", "nav", "main", "article", "b", "del", "q", "mark",
    "select", "option",
}


def test_script_json_cannot_close_its_block() -> None:
    value = {"text": "</script><!-- a & b > c \u2028\u2029", "n": [1, 2]}
    encoded = script_json(value)
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in encoded
    assert json.loads(encoded) == value


def test_page_needs_no_network(seed_run: tuple[str, Path, Path, Path]) -> None:
    raw = seed_run[3].read_text(encoding="utf-8")
    tree = BeautifulSoup(raw, "html.parser")
    assert not re.search(r"https?://", raw), "no external reference (no CDN, no xmlns)"
    assert not tree.find_all(["link", "iframe", "img", "object", "embed"])
    assert not tree.select("script[src], [src]")
    assert all(str(a["href"]).startswith("#") for a in tree.select("[href]"))
    assert "@import" not in raw and "url(" not in raw
    csp = tree.select_one("meta[http-equiv=Content-Security-Policy]")
    assert csp is not None and "default-src 'none'" in str(csp["content"])


WORDS = ["harbour", "storm", "frost", "apricot", "valley", "council", "budget", "railway",
         "strike", "museum", "opera", "river", "bridge", "vote", "mayor", "school"]


SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


def _many_documents(tmp_path: Path, n: int) -> Path:
    """n documents: a shared boilerplate line, every fifth a near-copy of its predecessor,
    some with a headline repeated, all with a distinct body."""
    docs = []
    for i in range(n):
        rng = random.Random(i)
        body = "Report: " + " ".join(rng.choice(SYLLABLES) + rng.choice(SYLLABLES)
                                     for _ in range(40))
        if i % 5 == 4:
            body = docs[-1].split("\n")[-1].replace("w", "W", 1)
        head = "Headline: " + " ".join(rng.choice(WORDS) for _ in range(6))
        lines = [head, "Follow us on Facebook", body]
        if i % 3 == 0:
            lines.insert(2, head)
        docs.append("\n".join(lines))
    path = tmp_path / "many.txt"
    path.write_text("\n\n\n".join(docs) + "\n", encoding="utf-8")
    return path


def test_selection_is_bounded_closed_and_deterministic(tmp_path: Path) -> None:
    source = str(_many_documents(tmp_path, 300))
    review = build_review([source], CONFIG, max_documents=40)
    assert len(review.views) <= 40 and len(review.infos) == 300
    again = build_review([source], CONFIG, max_documents=40)
    assert [v.info.ordinal for v in again.views] == [v.info.ordinal for v in review.views]
    reasons = {i.removal.reason for v in review.views for i in v.items}
    assert {"boilerplate", "near_duplicate_document", "repeated_in_document"} <= reasons
    page = tmp_path / "page.html"
    page.write_text("".join(review_module.render_page(review)), encoding="utf-8")
    tree = soup(page)
    ids = {str(el["id"]) for el in tree.select("[id]")}
    assert all(str(a["href"])[1:] in ids for a in tree.select("a[href]"))
    assert len(tree.select("article.doc")) == len(review.views)
    showing = tree.select_one("#showing")
    assert showing is not None
    assert re.match(rf"showing {len(review.views)} of 300 documents", showing.get_text())


def test_long_document_is_elided_but_link_targets_stay(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(review_module, "DOC_CHARS_SHOWN", 200)
    rng = random.Random(7)
    filler = [" ".join(rng.choice(WORDS) + rng.choice(SYLLABLES) for _ in range(8))
              for _ in range(40)]
    shared = "A line shared with the second document, long enough to be content."
    first = "\n".join([*filler, shared])
    second = "\n".join(["Something else entirely, at the start.", shared])
    source = tmp_path / "long.txt"
    source.write_text(first + "\n\n\n" + second + "\n", encoding="utf-8")
    tree = soup(build_page(tmp_path, [str(source)]))
    assert tree.select(".elided"), "kept text beyond the budget is elided"
    link = tree.select_one("#d-1 a.partner")
    assert link is not None and tree.select_one(str(link["href"])) is not None


def test_duplicate_ids_align_and_link(tmp_path: Path) -> None:
    """Record ids need not be unique: the audit's records still land on the right document,
    and a near-copy links to the earlier document of that id, not to itself."""
    body = "a paragraph long enough to be content, about the harbour and its storm walls"
    texts = [f"x\n{body}\nx", f"x\n{body}\nx", "z\nsomething else entirely, the valley\nz"]
    source = tmp_path / "dup.jsonl"
    source.write_text("".join(json.dumps({"id": "a", "text": t}) + "\n" for t in texts),
                      encoding="utf-8")
    audit, _stats = clean_run(tmp_path, [str(source)])
    tree = soup(build_page(tmp_path, [str(source)], audit=str(audit)))
    marks = {str(m["data-audit"]): m for m in tree.select("[data-audit]")}
    assert len(marks) == len(audit_records(audit)) == 3
    assert [m.find_parent("article")["id"] for m in marks.values()] == ["d-0", "d-1", "d-2"]
    near = tree.select_one("#d-1 .rmd a.partner")
    assert near is not None and near["href"] == "#d-0"


@pytest.mark.parametrize("on_error", ["skip", "pass"])
def test_bad_records_are_counted_and_marked(tmp_path: Path, on_error: str) -> None:
    source = tmp_path / "bad.txt"
    source.write_bytes(b"good line one here\nbad \xff byte\n\n\nanother document\n")
    config = CONFIG.replace(on_error=on_error)
    audit, stats_path = clean_run(tmp_path, [str(source)], config)
    tree = soup(build_page(tmp_path, [str(source)], config, audit=str(audit)))
    stats = json.loads(stats_path.read_text(encoding="utf-8"))
    for cell in tree.select("[data-stat]"):
        assert int(cell.get_text().replace(",", "")) == lookup(stats, str(cell["data-stat"]))
    mark = tree.select_one("#d-0 .rmd[data-audit]")
    reason = {"skip": "skipped_bad_input", "pass": "passed_bad_input"}[on_error]
    assert mark is not None and mark["data-reason"] == reason
    assert "bad \ufffd byte" in tree.select_one("#d-0 .body").get_text()


def test_audit_of_other_inputs_is_an_input_error(tmp_path: Path) -> None:
    audit, _stats = clean_run(tmp_path, [str(FIXTURES / "news_scrape.noisy.txt")])
    other = tmp_path / "other.txt"
    other.write_text("One document.\n\n\nAnother one.\n", encoding="utf-8")
    with pytest.raises(InputError, match="does not match the inputs"):
        build_review([str(other)], CONFIG, audit=str(audit))


# --- the command -------------------------------------------------------------------------------


def test_cli_writes_the_page_and_fails_cleanly(tmp_path: Path) -> None:
    """The real command (a subprocess): a page and a summary line; bad input: exit 1, one line,
    no page."""
    page = tmp_path / "report.html"
    proc = run_cli(["review", "fixtures/news_scrape.noisy.txt", "-o", str(page), "--workers", "1"])
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b""
    assert b"showing 4 of 4 documents" in proc.stderr
    assert len(soup(page).select("[data-audit]")) == 12
    missing = tmp_path / "missing.html"
    proc = run_cli(["review", str(tmp_path / "missing.txt"), "-o", str(missing)])
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert err.startswith("dedupe: error: ") and err.count("\n") == 1 and "no such file" in err
    assert not missing.exists()


def invoke(args: list[str]) -> tuple[int, str]:
    """The command in process (fast): exit code and stderr."""
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.stderr


def test_cli_from_audit_and_stats(tmp_path: Path) -> None:
    audit, stats = clean_run(tmp_path, ["fixtures/news_scrape.txt"],
                             CONFIG.replace(boilerplate_min_docs=3))
    page = tmp_path / "report.html"
    code, err = invoke(["review", "fixtures/news_scrape.txt", "--audit", str(audit), "--stats",
                        str(stats), "-o", str(page)])
    assert code == 0, err
    tree = soup(page)
    assert len(tree.select("[data-audit]")) == len(audit_records(audit))
    # The run's recorded config is the one used and shown (here: TT kept, not boilerplate).
    assert not tree.select("[data-reason=boilerplate][data-audit]")
    setting = tree.find("th", string="boilerplate_min_docs")
    assert isinstance(setting, Tag) and setting.find_next_sibling("td").get_text() == "3"


def test_cli_usage_and_input_errors(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    bad_audit = tmp_path / "bad.jsonl"
    bad_audit.write_text('{"doc_id": "x", "reason": "boilerplate"\n', encoding="utf-8")
    code, err = invoke(["review", "fixtures/news_scrape.txt", "--audit", str(bad_audit), "-o",
                        str(page), "--sample", "1"])
    assert code == 2 and "--sample" in err
    code, err = invoke(["review", "fixtures/news_scrape.txt", "--audit", str(bad_audit), "-o",
                        str(page)])
    assert code == 1 and "bad.jsonl:1: malformed JSON" in err and err.count("\n") == 1
    code, err = invoke(["review", "fixtures/news_scrape.txt", "-o", "fixtures/news_scrape.txt"])
    assert code == 2 and "overwrite" in err
    code, err = invoke(["review", "fixtures/news_scrape.txt", "--stats", str(bad_audit), "-o",
                        str(page)])
    assert code == 1 and "malformed JSON" in err
    assert not page.exists()
