"""The review page in a real browser: headless Chromium (the system's, never a download) driven
over the DevTools protocol by Playwright. Filters, partner links, pages, and a screenshot.

Outside CI the test skips when Chromium or Playwright is missing; with CI=true it must run.
Set DEDUPE_UPDATE_SCREENSHOT=1 to refresh docs/review-screenshot.png (the README's picture).
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dedupe.config import Config

from .conftest import FIXTURES, ROOT
from .test_review import SYLLABLES, WORDS, build_page

pytestmark = pytest.mark.browser

ARTIFACTS = ROOT / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


def _chromium() -> str | None:
    for candidate in (os.environ.get("DEDUPE_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _need(what: str) -> None:
    """Skip with a reason outside CI; in CI a missing browser is a failure, never a skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI=true: the browser test must run; .ci/run installs chromium)")
    pytest.skip(what)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Chromium context with a fresh profile; pages log their errors into ``ctx.errors``."""
    executable = _chromium()
    if executable is None:
        _need("no Chromium found (apt-get install chromium, or set DEDUPE_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("the playwright package is not installed (pip install playwright; no "
              "`playwright install` needed: the system Chromium is used)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True, args=FLAGS,
            viewport={"width": 1200, "height": 800}, offline=True,
        )
        try:
            yield context
        finally:
            context.close()


def open_page(browser: Any, path: Path) -> Any:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    page.errors = errors
    page.goto(path.resolve().as_uri())
    return page


def visible(page: Any, selector: str) -> list[bool]:
    return [page.locator(selector).nth(i).is_visible()
            for i in range(page.locator(selector).count())]


def assert_target(page: Any, anchor: str) -> None:
    # A link sets location.hash; the page follows it on "hashchange", which is asynchronous.
    page.wait_for_function(
        "(id) => { const e = document.getElementById(id);"
        " return e !== null && e.classList.contains('hit'); }", arg=anchor[1:])
    assert page.evaluate("location.hash") == anchor
    target = page.locator(anchor)
    assert target.is_visible() and "hit" in (target.get_attribute("class") or "").split()
    assert page.evaluate(
        "(id) => { const r = document.getElementById(id).getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= innerHeight; }", anchor[1:])


def test_filters_links_and_screenshot(browser: Any, tmp_path: Path) -> None:
    seed = os.path.relpath(FIXTURES / "news_scrape.noisy.txt")  # as a user names it
    report = build_page(tmp_path, [seed], Config(workers=1))
    page = open_page(browser, report)
    assert page.locator("nav.pager").first.inner_text().count("page 1 of 1") == 1
    assert all(visible(page, ".rm[data-reason=boilerplate]"))
    assert all(visible(page, ".rm[data-reason=repeated_in_document]"))

    # A reason filter hides that reason's removals (and only those).
    page.uncheck("input[data-filter-reason=boilerplate]")
    assert visible(page, ".rm[data-reason=boilerplate]") == [False, False]
    assert all(visible(page, ".rm[data-reason=repeated_in_document]"))
    assert all(visible(page, ".rm[data-reason=near_duplicate_document]"))
    # Hiding near-duplicates hides the dropped documents themselves.
    page.uncheck("input[data-filter-reason=near_duplicate_document]")
    assert visible(page, "article.doc") == [True, False, True, False]
    page.check("input[data-filter-reason=near_duplicate_document]")
    page.check("input[data-filter-reason=boilerplate]")

    # A partner link jumps to the kept item: the location hash names it, it is shown, in view
    # and highlighted.
    page.locator("#d-2-u-84 a.partner").click()  # a repeated headline -> the document's first
    assert_target(page, "#d-2-u-78")
    # ... also when the filters hide the target's document: the search below keeps only the
    # second story (and its near-copy), whose "TT" links to the first story's.
    page.fill("#search", "hypersonic")
    assert visible(page, "article.doc") == [False, False, True, True]
    page.locator("#d-2-u-82 a.partner").click()
    assert_target(page, "#d-0-u-5")
    page.fill("#search", "")
    # Most removed first: the two dropped near-copies lead.
    page.select_option("#sort", "share")
    order = page.eval_on_selector_all("article.doc.on", "els => els.map(e => e.id)")
    assert order[:2] == ["d-1", "d-3"] and sorted(order) == ["d-0", "d-1", "d-2", "d-3"]
    page.select_option("#sort", "input")
    assert page.errors == [], page.errors

    # The screenshot: the first story, its repairs opened, the "TT" just jumped to.
    page.locator("#d-0 details.repairs summary").click()
    page.evaluate("document.getElementById('d-0').scrollIntoView({block: 'start'})")
    page.evaluate("window.scrollBy(0, -110)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-document-view.png"))
    if os.environ.get("DEDUPE_UPDATE_SCREENSHOT") == "1":
        page.screenshot(path=str(ROOT / "docs" / "review-screenshot.png"))
    page.close()


def test_link_to_another_page_and_no_network(browser: Any, tmp_path: Path) -> None:
    """60 documents (three pages of 25) sharing a boilerplate line: a link from the last page
    switches to the page holding its target. The page loads nothing from anywhere."""
    rng = random.Random(60)
    docs = ["\n".join([" ".join(rng.choice(WORDS) for _ in range(6)), "Follow us on Facebook",
                       " ".join(rng.choice(SYLLABLES) + rng.choice(SYLLABLES) for _ in range(40))])
            for _ in range(60)]
    source = tmp_path / "sixty.txt"
    source.write_text("\n\n\n".join(docs) + "\n", encoding="utf-8")
    report = build_page(tmp_path, [str(source)], Config(workers=1))
    page = open_page(browser, report)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    pager = page.locator("nav.pager").first
    assert "page 1 of 3" in pager.inner_text()
    pager.get_by_text("next").click()
    pager.get_by_text("next").click()
    assert "page 3 of 3" in pager.inner_text()
    assert not page.locator("#d-0").is_visible() and page.locator("#d-59").is_visible()
    link = page.locator("#d-59 .rm[data-reason=boilerplate] a.partner")
    assert link.get_attribute("href") == "#d-0-u-2"
    link.click()  # the page follows the hash change, which the browser reports asynchronously
    page.wait_for_function(
        "() => document.querySelector('nav.pager').innerText.includes('page 1 of 3')")
    assert "page 1 of 3" in pager.inner_text()
    assert page.locator("#d-0-u-2").is_visible() and page.evaluate("location.hash") == "#d-0-u-2"
    assert [u for u in requests if not u.startswith("file:")] == []
    assert page.errors == [], page.errors
    page.close()
