"""The built book as a reader's browser shows it, offline.

Every page of the site built by ``make test`` (from the stored notebook outputs) is opened in
headless Chromium with all off-machine requests blocked: nothing may fail to load, the console
stays clean, images are not broken, math is typeset by the vendored MathJax, and embedded
widgets are drawn by the vendored widget manager. Screenshots go to book/_build/screenshots.
"""

from __future__ import annotations

import pytest

from tests.browser import BOOK_HTML, SCREENSHOTS, PageLog, browser, require_chromium, serve

pytestmark = pytest.mark.browser

SKIP_PAGES = {"genindex.html", "search.html", "index.html"}  # index.html only redirects


def book_pages() -> list[str]:
    if not BOOK_HTML.is_dir():
        return []
    return sorted(
        p.relative_to(BOOK_HTML).as_posix()
        for p in BOOK_HTML.rglob("*.html")
        if not p.relative_to(BOOK_HTML).parts[0].startswith("_") and p.name not in SKIP_PAGES
    )


@pytest.fixture(scope="module")
def site():
    require_chromium()
    assert (BOOK_HTML / "index.html").exists(), (
        f"no built book in {BOOK_HTML}: run `make book-stored` (or `make test`) first"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serve(BOOK_HTML) as base_url, browser() as b:
        yield base_url, b


def test_the_book_has_pages():
    assert "intro.html" in book_pages(), f"intro.html missing from {BOOK_HTML}"


@pytest.mark.parametrize("page_path", book_pages() or ["intro.html"])
def test_page_renders_offline(site, page_path):
    base_url, b = site
    html = (BOOK_HTML / page_path).read_text(encoding="utf-8")
    page = b.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page, base_url)
    page.goto(f"{base_url}/{page_path}", wait_until="load")

    if 'class="math' in html:  # Sphinx marks every formula; MathJax turns each into mjx-container
        page.wait_for_selector("mjx-container", timeout=20_000)
        assert page.locator("mjx-container").count() >= html.count('class="math')
        assert page.locator("mjx-merror").count() == 0, "MathJax reported a TeX error"
    if "application/vnd.jupyter.widget-view+json" in html:
        page.wait_for_selector(".widget-slider, .jupyter-widgets", timeout=20_000)
        assert page.locator(".widget-slider").count() > 0, "widget sliders were not drawn"
    page.wait_for_load_state("networkidle")

    broken = page.evaluate(
        "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
        ".map(i => i.src)"
    )
    page.screenshot(path=str(SCREENSHOTS / (page_path.replace("/", "__") + ".png")), full_page=True)
    page.close()
    assert broken == [], f"broken images on {page_path}"
    assert log.problems() == {}, f"{page_path} did not load cleanly offline"


def test_intro_math_is_typeset_as_the_reader_sees_it(site):
    """The check the foundation issue names: typeset math on the intro page, no network."""
    base_url, b = site
    page = b.new_page()
    log = PageLog(page, base_url)
    page.goto(f"{base_url}/intro.html")
    page.wait_for_selector("mjx-container", timeout=20_000)
    # the recursion h_k = (1 - g_k) x_k + g_k h_{k-1} is typeset glyph by glyph
    first = page.locator("mjx-container").first
    assert first.bounding_box()["width"] > 0
    assert "\\" not in first.inner_text(), "raw TeX is showing instead of typeset math"
    assert log.blocked == [], "the page tried to reach another host"
    page.close()
