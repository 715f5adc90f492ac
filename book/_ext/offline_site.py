"""Small Sphinx fixes that keep the built book clean when read offline.

sphinx-thebe (pulled in by Jupyter Book 1) registers its inline configuration script twice
under Sphinx 7, so every page declared ``const THEBE_JS_URL`` twice and logged a SyntaxError
in the browser console. We drop exact duplicates from each page's script list.

It also adds ``static/dark-mode.css``: in the theme's dark mode, notebook figures keep their
white background and true colours, and widgets sit on a white card so their labels stay legible.
"""

from __future__ import annotations


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


def setup(app):
    app.connect("html-page-context", _drop_duplicate_scripts)
    app.add_css_file("dark-mode.css")  # from book/_ext/static, on html_static_path
    return {"parallel_read_safe": True, "parallel_write_safe": True}
