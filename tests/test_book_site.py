"""The built book as a reader's browser shows it, offline.

Every page of the site built by ``make test`` (from the stored notebook outputs) is opened in
headless Chromium with all off-machine requests blocked: nothing may fail to load, the console
stays clean, images are not broken, math is typeset by the vendored MathJax, embedded widgets
are drawn by the vendored widget manager, and wide figures are not squeezed into the text column.
Screenshots go to book/_build/screenshots.
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


# --- a JavaScript-only slider on the static page (issue 14) ---------------------------------

JS_SLIDER_PAGE = "chapters/02_recursive_filter.html"


def sharp_signal() -> list[float]:
    """The sharp signal x of chapter 2 ("A recursion can undo a blur"), the slider's input."""
    return [
        (0.2 if k < 40 else 0.8) - 0.5 * (70 < k < 90) + 0.004 * max(k - 110, 0) for k in range(160)
    ]


def recursive_filter_1d(x: list[float], g: float, reverse: bool = False) -> list[float]:
    """h_k = (1 - g) x_k + g h_{k-1}, h_{-1} = 0 (from the other end when ``reverse``)."""
    h = [0.0] * len(x)
    previous = 0.0
    for k in reversed(range(len(x))) if reverse else range(len(x)):
        h[k] = (1 - g) * x[k] + g * previous
        previous = h[k]
    return h


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_javascript_slider_filters_the_signal_without_a_kernel(site, scheme):
    """Chapter 2's JavaScript slider redraws the filter output on every move, offline."""
    base_url, b = site
    page = b.new_page(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    log = PageLog(page, base_url)
    page.goto(f"{base_url}/{JS_SLIDER_PAGE}", wait_until="load")
    widget = page.locator(".svrnn-js-slider[data-ready]")
    assert widget.count() == 1, "no JavaScript slider (class svrnn-js-slider) on the page"
    widget.scroll_into_view_if_needed()
    slider = widget.locator("input.svrnn-g[type=range]")
    output = widget.locator("path.svrnn-output")

    def shown() -> dict:
        return {
            "g": widget.get_attribute("data-g"),
            "readout": widget.locator(".svrnn-readout").inner_text(),
            "d": output.get_attribute("d"),
            "h": [float(v) for v in output.get_attribute("data-h").split()],
        }

    def assert_filters(state: dict, g: float, reverse: bool = False) -> None:
        assert state["g"] == state["readout"] == f"{g:.2f}"
        expected = recursive_filter_1d(sharp_signal(), g, reverse)
        assert state["h"] == pytest.approx(expected, abs=2e-6), (
            f"the plotted output is not the recursion for g = {g}, reverse={reverse}"
        )

    x = [float(v) for v in widget.locator("path.svrnn-input").get_attribute("data-x").split()]
    assert x == pytest.approx(sharp_signal(), abs=2e-6), "the input is not the chapter's signal"
    before = shown()
    assert_filters(before, 0.8)  # the chapter's default gate

    slider.focus()
    for _ in range(30):  # the keyboard moves a range input and fires `input` by itself
        page.keyboard.press("ArrowLeft")
    assert float(slider.input_value()) == pytest.approx(0.5)
    smoother = shown()
    assert smoother["d"] != before["d"], "the plot did not change when the slider moved"
    assert_filters(smoother, 0.5)
    assert smoother["h"][0] == pytest.approx((1 - 0.5) * x[0], abs=2e-6)  # h_0 = (1 - g) x_0

    slider.fill("-0.6")  # a sharpening gate; fill dispatches `input` too
    sharpened = shown()
    assert_filters(sharpened, -0.6)
    assert max(sharpened["h"]) > 1.0, "a negative gate should overshoot the step"

    widget.locator("input.svrnn-reverse").check()
    assert_filters(shown(), -0.6, reverse=True)
    assert "right to left" in widget.locator(".svrnn-equation").inner_text()

    assert widget.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 255, 255)"
    for part in [".svrnn-readout", ".svrnn-equation", "label"]:
        ratio = widget.locator(part).first.evaluate(CONTRAST_JS)
        assert ratio >= 4.5, f"{part} of the JavaScript slider has contrast {ratio:.1f} in {scheme}"
    shot = widget.screenshot(
        path=str(SCREENSHOTS / f"js_slider__02_recursive_filter__{scheme}.png")
    )
    corner = Image.open(io.BytesIO(shot)).convert("RGB").getpixel((8, 8))
    assert min(corner) >= 250, f"the JavaScript slider is not on white in {scheme} mode: {corner}"
    page.close()
    assert log.problems() == {}, f"the JavaScript slider did not work cleanly offline ({scheme})"


# --- tables printed by cells (issue 14) -------------------------------------------------------


class CellOutputs(html.parser.HTMLParser):
    """The text inside each cell output block of a page, and the tables in those blocks."""

    def __init__(self):
        super().__init__()
        self.depth, self.texts, self.tables = 0, [], 0  # depth > 0: inside an output block

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += tag == "div"
            self.tables += tag == "table"
        elif tag == "div" and "cell_output" in (dict(attrs).get("class") or ""):
            self.depth = 1
            self.texts.append("")

    def handle_endtag(self, tag):
        if self.depth and tag == "div":
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.texts[-1] += data


@pytest.mark.parametrize("page_path", chapter_pages() or ["chapters"])
def test_tables_printed_by_cells_render_as_tables(page_path):
    """A cell that displays a Markdown table shows an HTML table, never its raw pipes."""
    parser = CellOutputs()
    parser.feed((BOOK_HTML / page_path).read_text(encoding="utf-8"))
    raw = [text[:200] for text in parser.texts if "|---|" in text]
    assert raw == [], f"{page_path}: Markdown tables shown as raw text: {raw}"
    notebook = ROOT / "book" / page_path.replace(".html", ".ipynb")
    printed = notebook.read_text(encoding="utf-8").count('"text/markdown"')
    assert parser.tables >= printed, (
        f"{page_path}: {printed} Markdown outputs but {parser.tables} tables"
    )


# --- wide figures at (close to) their own size (issue 14) -------------------------------------

FIGURES_JS = """() => Array.from(document.querySelectorAll('.cell_output img')).map(i => {
  const r = i.getBoundingClientRect();
  return {src: i.src.split('/').pop().slice(0, 40), natural: i.naturalWidth, shown: r.width,
          left: r.left, right: r.right};
})"""


@pytest.mark.parametrize("width", [1100, 1280, 1920])
@pytest.mark.parametrize("page_path", chapter_pages() or ["chapters"])
def test_wide_figures_are_not_squeezed_into_the_text_column(site, page_path, width):
    """A row of panels drawn 950 px wide was shown 688 px wide in a 1280-px window (the theme's
    text column), its titles shrunk to 6 px. Every figure of a chapter, widget figures included,
    is shown at 90 % of its own width or more, unless the window has no room for that: then it
    fills 90 % or more of the room from its left edge to the window's edge. No figure runs out
    of the window, and the page does not scroll sideways."""
    base_url, b = site
    page = b.new_page(viewport={"width": width, "height": 900})
    log = PageLog(page, base_url)
    page.goto(f"{base_url}/{page_path}", wait_until="load")
    if page.locator("script[type*='widget-view']").count():
        page.wait_for_selector(".widget-slider", timeout=20_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.cell_output img'))"
        ".every(i => i.complete && i.naturalWidth > 0)",
        timeout=20_000,
    )
    figures = [f for f in page.evaluate(FIGURES_JS) if f["shown"] > 0]  # 0: in a closed toggle
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    page.close()
    assert figures, f"{page_path} shows no figures"
    squeezed = [
        f"{f['src']}: {f['natural']} px shown {f['shown']:.0f} px"
        for f in figures
        if f["shown"] < 0.9 * min(f["natural"], width - f["left"])
    ]
    assert squeezed == [], f"{page_path} at {width} px squeezes figures: {squeezed}"
    outside = [f["src"] for f in figures if f["right"] > width]
    assert outside == [], f"{page_path} at {width} px: figures run out of the window: {outside}"
    assert scroll_width <= width, f"{page_path} at {width} px scrolls sideways ({scroll_width})"
    assert log.problems() == {}, f"{page_path} did not load cleanly offline"
