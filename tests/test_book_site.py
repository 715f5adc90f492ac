"""The built book as a reader's browser shows it, offline.

Every page of the site built by ``make test`` (from the stored notebook outputs) is opened in
headless Chromium with all off-machine requests blocked: nothing may fail to load, the console
stays clean, images are not broken, math is typeset by the vendored MathJax, and embedded
widgets are drawn by the vendored widget manager. Screenshots go to book/_build/screenshots.
"""

from __future__ import annotations

import html.parser
import io
import json

import pytest
import yaml
from PIL import Image

from tests.browser import (
    BOOK_HTML,
    ROOT,
    SCREENSHOTS,
    PageLog,
    browser,
    require_chromium,
    serve,
)

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


# --- dark mode, downloads and launch buttons (issue 7) --------------------------------------


def chapter_pages() -> list[str]:
    return [p for p in book_pages() if p.startswith("chapters/")]


# WCAG contrast ratio of an element's text against the first opaque background behind it
CONTRAST_JS = """(el) => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let bg = null;
  for (let e = el; e && !bg; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] === 1)) bg = c.slice(0, 3);
  }
  bg = bg || rgb(getComputedStyle(document.body).backgroundColor).slice(0, 3);
  const [a, b] = [lum(rgb(getComputedStyle(el).color).slice(0, 3)), lum(bg)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


@pytest.mark.parametrize("page_path", chapter_pages() or ["chapters"])
def test_dark_mode_shows_figures_on_white_and_outputs_legibly(site, page_path):
    """In the theme's dark mode figures are not dimmed and keep their white background."""
    base_url, b = site
    page = b.new_page(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    log = PageLog(page, base_url)
    page.goto(f"{base_url}/{page_path}", wait_until="load")
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    if page.locator(".cell_output .jupyter-widgets, script[type*='widget-view']").count():
        page.wait_for_selector(".widget-slider", timeout=20_000)
    page.wait_for_load_state("networkidle")

    figures = page.evaluate(
        "Array.from(document.querySelectorAll('.cell_output img')).map(e => {"
        " const r = e.getBoundingClientRect();"
        " return {filter: getComputedStyle(e).filter, x: r.x + scrollX + r.width / 2,"
        " y: r.y + scrollY + 2, width: r.width}; })"
    )
    assert figures, f"{page_path} shows no figures"
    shot = page.screenshot(
        path=str(SCREENSHOTS / ("dark__" + page_path.replace("/", "__") + ".png")), full_page=True
    )
    shot = Image.open(io.BytesIO(shot)).convert("RGB")
    for i, figure in enumerate(figures):
        assert figure["filter"] == "none", f"figure {i} of {page_path} is dimmed"
        if figure["width"] == 0:  # inside a collapsed toggle
            continue
        top_edge = shot.getpixel((round(figure["x"]), round(figure["y"])))  # card or margin
        assert min(top_edge) >= 250, f"figure {i} of {page_path} is not on white: {top_edge}"

    text = page.locator(".widget-label, .widget-readout, .cell_output pre")
    for i in range(text.count()):
        ratio = text.nth(i).evaluate(CONTRAST_JS)
        assert ratio >= 4.5, f"output text {i} of {page_path} has contrast {ratio:.1f} < 4.5"
    page.close()
    assert log.problems() == {}, f"{page_path} did not load cleanly offline in dark mode"


class _DropdownLinks(html.parser.HTMLParser):
    """The links (text, href) inside the page header's launch and download dropdowns."""

    def __init__(self):
        super().__init__()
        self.links: dict[str, list[tuple[str, str]]] = {"launch": [], "download": []}
        self._divs: list[str] = []  # the dropdown each open <div> belongs to ("" if none)
        self._link: list | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "div":
            classes = (attrs.get("class") or "").split()
            kind = next(
                (k for k in self.links if f"dropdown-{k}-buttons" in classes),
                self._divs[-1] if self._divs else "",
            )
            self._divs.append(kind)
        elif tag == "a" and self._divs and self._divs[-1]:
            self._link = [self._divs[-1], "", attrs.get("href", "")]

    def handle_endtag(self, tag):
        if tag == "div" and self._divs:
            self._divs.pop()
        elif tag == "a" and self._link:
            kind, text, href = self._link
            self.links[kind].append((text.strip(), href))
            self._link = None

    def handle_data(self, data):
        if self._link:
            self._link[1] += data


@pytest.mark.parametrize("page_path", chapter_pages() or ["chapters"])
def test_chapter_offers_its_notebook_and_launch_links_from_one_setting(page_path):
    """The download button serves the .ipynb; Binder and Colab links follow repository.url."""
    config = yaml.safe_load((ROOT / "book/_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]
    owner_name = repo["url"].removeprefix("https://github.com/").strip("/")
    notebook = f"{repo['path_to_book']}/{page_path.removesuffix('.html')}.ipynb"
    launch = config["launch_buttons"]
    expected = {
        "Binder": f"{launch['binderhub_url']}/v2/gh/{owner_name}/{repo['branch']}"
        f"?urlpath=lab/tree/{notebook}",
        "Colab": f"{launch['colab_url']}/github/{owner_name}/blob/{repo['branch']}/{notebook}",
    }
    page = BOOK_HTML / page_path
    assert page.is_file(), f"{page} missing: run `make book-stored` first"
    parser = _DropdownLinks()
    parser.feed(page.read_text(encoding="utf-8"))
    assert dict(parser.links["launch"]) == expected, (
        "launch buttons do not follow repository.url in book/_config.yml"
    )

    downloads = dict(parser.links["download"])
    assert ".ipynb" in downloads, f"no .ipynb download button, only {sorted(downloads)}"
    served = (page.parent / downloads[".ipynb"]).resolve()
    assert served.is_relative_to(BOOK_HTML.resolve()) and served.is_file()
    chapter = (ROOT / "book" / page_path).with_suffix(".ipynb")
    source = json.loads(chapter.read_text(encoding="utf-8"))
    assert json.loads(served.read_text(encoding="utf-8"))["cells"] == source["cells"], (
        "the download is not the chapter's notebook"
    )
