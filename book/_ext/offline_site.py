"""Small Sphinx fixes that keep the built book clean when read offline.

sphinx-thebe (pulled in by Jupyter Book 1) registers its inline configuration script twice
under Sphinx 7, so every page declared ``const THEBE_JS_URL`` twice and logged a SyntaxError
in the browser console. We drop exact duplicates from each page's script list.

It also adds ``static/dark-mode.css``: in the theme's dark mode, notebook figures keep their
white background and true colours, and widgets sit on a white card so their labels stay legible.

And it keeps wide figures readable. The theme's text column is about 690 px wide in a 1280-px
window, and a figure is scaled down to fit it: a 950-px row of panels shrank to 72 % of its size,
its titles and tick labels to 6 px. A code cell whose output holds a figure wider than
``WIDE_FIGURE_PX`` (an image, or the figure a widget shows in the notebook's stored widget state)
gets the class that the theme's ``full-width`` cell tag gives, which widens the cell into the right
margin (136 % of the column; the theme hides its "on this page" sidebar while such a cell is in
view), so the figure is shown at or close to its own size. ``static/wide-figures.css`` keeps it in
the window where the theme has no margin to widen into.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from pathlib import Path

from docutils import nodes

WIDE_FIGURE_PX = 720  # wider than the text column of a 1280-px window (~690 px) by over 4 %


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # the two copies differ only in filename None vs "" (both mean "inline")
        filename = getattr(script, "filename", script) or ""
        key = (str(filename), tuple(sorted(getattr(script, "attributes", {}).items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique


WIDGET_VIEW = re.compile(r'"model_id": "([0-9a-f]+)"')


def png_width(head: bytes) -> int | None:
    """The width in pixels of a PNG, from its first 24 bytes; ``None`` if it is not a PNG."""
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">I", head[16:20])[0]


def png_file_width(path: Path) -> int | None:
    try:
        with path.open("rb") as f:
            return png_width(f.read(24))
    except OSError:
        return None


def widget_figure_widths(state: dict, model_id: str, seen: set | None = None):
    """The widths of the PNG figures that the widget ``model_id`` and its children show, in a
    notebook's stored widget state (``metadata.widgets``): the outputs of its Output widgets."""
    seen = set() if seen is None else seen
    if model_id in seen or model_id not in state:
        return
    seen.add(model_id)
    model = state[model_id].get("state", {})
    for output in model.get("outputs", []):
        png = output.get("data", {}).get("image/png")
        if png:
            yield png_width(base64.b64decode("".join(png)[:32]))
    for child in model.get("children", []):
        yield from widget_figure_widths(state, child.removeprefix("IPY_MODEL_"), seen)


def _widget_state(app, docname: str) -> dict:
    notebook = Path(app.srcdir) / f"{docname}.ipynb"
    if not notebook.is_file():
        return {}
    widgets = json.loads(notebook.read_text(encoding="utf-8"))["metadata"].get("widgets", {})
    return widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})


def _widen_cells_with_wide_figures(app, doctree, docname):
    state = None
    for cell in doctree.findall(nodes.container):
        if "cell" not in cell["classes"]:
            continue
        widths = [
            png_file_width(Path(app.srcdir) / image.get("candidates", {}).get("*", image["uri"]))
            for image in cell.findall(nodes.image)
        ]
        for raw in cell.findall(nodes.raw):
            for model_id in WIDGET_VIEW.findall(raw.astext()):
                state = _widget_state(app, docname) if state is None else state
                widths.extend(widget_figure_widths(state, model_id))
        if any(width and width > WIDE_FIGURE_PX for width in widths):
            cell["classes"].append("tag_full-width")  # as a cell tag `full-width` would


def setup(app):
    app.connect("html-page-context", _drop_duplicate_scripts)
    app.add_css_file("dark-mode.css")  # from book/_ext/static, on html_static_path
    app.add_css_file("wide-figures.css")
    app.connect("doctree-resolved", _widen_cells_with_wide_figures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
