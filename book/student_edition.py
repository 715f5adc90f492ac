"""Make the student edition of the book: the same chapters, solutions removed, code to write.

The instructor edition is the book itself (``book/``). Its exercises are ``{exercise}``
directives in markdown cells, each followed by a ``{solution}`` in a closed dropdown; some
exercises also have a code cell with a worked solution (hidden in a toggle on the site, run by
nbval like every cell) and, after it, a code cell that checks it. Cell tags say what changes:

``student-blank``
    a code cell whose top-level functions keep their signature and docstring in the student
    edition, while their bodies become ``raise NotImplementedError("exercise LABEL: write NAME")``
    (LABEL is the ``:label:`` of the nearest ``{exercise}`` above the cell). Everything else in
    the cell (imports, constants) stays. A tagged cell without a function is replaced as a whole
    by one such ``raise``. Its ``hide-input``-like tags are dropped, so students see the stub.
``solution``
    a cell that is left out of the student edition.

and in every markdown cell the ``{solution}`` directives (``` and ::: fences of any length, and
the gated ``{solution-start}`` ... ``{solution-end}`` form of sphinx-exercise) are cut out. The
code cells lose their outputs, execution counts and timing metadata, and the notebooks their saved
widget state.

``python book/student_edition.py`` writes the student book, a Jupyter Book source tree, into
``book/_build/student`` (the chapters, the reference pages, the bibliography and the chapters'
data files; the instructors' page is left out), and with ``--html`` also builds its site into
``book/_build/student/_build/html`` without executing anything: the pages show the text, the
exercises and the code to complete, and students run the notebooks themselves. ``make student``
does both.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import yaml

BOOK = Path(__file__).resolve().parent
DEFAULT_OUT = BOOK / "_build" / "student"
BLANK_TAG = "student-blank"
SOLUTION_TAG = "solution"
HIDING_TAGS = {"hide-input", "hide-cell", "remove-input", "remove-cell", "hide-output"}
# book/ entries that are not copied into the student book (build output, the npm pin file, this
# script) or that are rewritten (the chapters)
NOT_COPIED = {
    "_build",
    "_vendor",
    "vendor",
    "__pycache__",
    ".ipynb_checkpoints",
    Path(__file__).name,
}
INSTRUCTOR_PAGES = {"instructors"}
STUDENT_NOTE = """
```{note}
This is the **student edition**: the solutions are left out, and some exercises come with a code
cell to complete. Such a cell stops with `NotImplementedError` until you write the function it
describes; the cell after it checks your answer.
```
"""

_OPENING = re.compile(r"^\s*(`{3,}|:{3,})\{([\w-]+)\}")


def remove_solutions(markdown: str) -> str:
    """Cut every ``{solution}`` directive out of a MyST markdown text.

    Parameters
    ----------
    markdown : str
        The source of a markdown cell or page.

    Returns
    -------
    str
        The text without the solution directives (backtick or colon fences of any length, and the
        gated ``{solution-start}`` to ``{solution-end}`` form), runs of blank lines left behind
        shortened to one.

    Examples
    --------
    >>> text = "```{exercise} Sum\\n:label: ex\\n\\nAdd.\\n```\\n\\n"
    >>> text += "````{solution} ex\\n:class: dropdown\\n\\n```python\\n1 + 1\\n```\\n````\\n"
    >>> print(remove_solutions(text))
    ```{exercise} Sum
    :label: ex
    <BLANKLINE>
    Add.
    ```
    <BLANKLINE>
    """
    lines = markdown.split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        opening = _OPENING.match(lines[i])
        if opening and opening[2] in {"solution", "solution-start"}:
            end = _closing_line(lines, i, opening[1])
            if opening[2] == "solution-start":  # through the closing fence of {solution-end}
                while end < len(lines):
                    after = _OPENING.match(lines[end])
                    if after and after[2] == "solution-end":
                        end = _closing_line(lines, end, after[1])
                        break
                    end += 1
            i = end + 1
            continue
        kept.append(lines[i])
        i += 1
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")
    return text + "\n" if text and markdown.endswith("\n") else text


def _closing_line(lines: list[str], start: int, fence: str) -> int:
    """Index of the line closing the directive opened at ``start`` (or the last line)."""
    closing = re.compile(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$")
    end = start + 1
    while end < len(lines) and not closing.match(lines[end]):
        end += 1
    return min(end, len(lines) - 1)


def blank_code(code: str, label: str | None = None) -> str:
    """The student's version of a solution cell: every top-level function body becomes a stub.

    Parameters
    ----------
    code : str
        Python source of a code cell tagged ``student-blank``.
    label : str or None
        The exercise label named in the stub's message.

    Returns
    -------
    str
        The same cell with each top-level function's body (after its docstring) replaced by
        ``raise NotImplementedError(...)``; the rest of the cell is unchanged. A cell without a
        function becomes a single ``raise``. A trailing newline is kept or left out as in
        ``code``.

    Examples
    --------
    >>> solution = '''import numpy as np
    ...
    ... def double(x):
    ...     \"\"\"Twice x.\"\"\"
    ...     y = 2 * np.asarray(x)
    ...     return y
    ... '''
    >>> print(blank_code(solution, "demo-ex1"))
    import numpy as np
    <BLANKLINE>
    def double(x):
        \"\"\"Twice x.\"\"\"
        raise NotImplementedError("exercise demo-ex1: write double")
    <BLANKLINE>
    """
    exercise = f"exercise {label}" if label else "exercise"
    tree = ast.parse(code)
    functions = [
        node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.body
    ]
    if not functions:
        stub = f'raise NotImplementedError("{exercise}: your code here")'
        return stub + "\n" if code.endswith("\n") else stub
    lines = code.split("\n")
    for node in reversed(functions):  # from the bottom, so earlier line numbers stay valid
        first = node.body[0]
        has_docstring = (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        )
        if first.lineno == node.lineno:  # `def f(x): return x` on one line
            raise ValueError(
                f"{node.name}: write the body of a student-blank function on its own lines"
            )
        indent = " " * first.col_offset
        keep_until = first.end_lineno if has_docstring else first.lineno - 1  # 1-based, inclusive
        stub = f'{indent}raise NotImplementedError("{exercise}: write {node.name}")'
        lines[keep_until : node.end_lineno] = [stub]
    return "\n".join(lines)


def exercise_labels(markdown: str) -> list[str]:
    """The ``:label:`` of every ``{exercise}`` directive in a markdown text, in order.

    Examples
    --------
    >>> exercise_labels("```{exercise} A\\n:label: a-ex1\\n\\nText.\\n```")
    ['a-ex1']
    """
    labels, lines = [], markdown.split("\n")
    for i, line in enumerate(lines):
        opening = _OPENING.match(line)
        if opening and opening[2] in {"exercise", "exercise-start"}:
            for option in lines[i + 1 :]:
                found = re.match(r"^\s*:label:\s*(\S+)", option)
                if found:
                    labels.append(found[1])
                    break
                if not re.match(r"^\s*:[\w-]+:", option):
                    break
    return labels


def student_notebook(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student edition of one chapter notebook.

    Parameters
    ----------
    notebook : nbformat.NotebookNode
        An instructor notebook (it is not modified).

    Returns
    -------
    nbformat.NotebookNode
        A copy without solution directives and ``solution`` cells, with ``student-blank`` cells
        turned into stubs, and with every output, execution count and the widget state cleared.

    Examples
    --------
    >>> from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
    >>> nb = new_notebook(cells=[
    ...     new_markdown_cell("```{exercise} Double\\n:label: demo-ex1\\n\\nWrite it.\\n```"),
    ...     new_code_cell("def double(x):\\n    return 2 * x",
    ...                   metadata={"tags": ["student-blank", "hide-input"]}),
    ...     new_code_cell("assert double(2) == 4", execution_count=3),
    ...     new_markdown_cell("````{solution} demo-ex1\\n:class: dropdown\\n\\nTwice.\\n````"),
    ... ])
    >>> student = student_notebook(nb)
    >>> [cell.cell_type for cell in student.cells]
    ['markdown', 'code', 'code']
    >>> print(student.cells[1].source)
    def double(x):
        raise NotImplementedError("exercise demo-ex1: write double")
    >>> student.cells[1].metadata.tags, student.cells[2].execution_count
    (['student-blank'], None)
    """
    result = copy.deepcopy(notebook)
    result.metadata.pop("widgets", None)
    cells, label = [], None
    for cell in result.cells:
        tags = list(cell.get("metadata", {}).get("tags", []))
        if SOLUTION_TAG in tags:
            continue
        if cell.cell_type == "markdown":
            labels = exercise_labels(cell.source)
            label = labels[-1] if labels else label
            cell.source = remove_solutions(cell.source)
            if not cell.source.strip():
                continue
        elif cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
            if BLANK_TAG in tags:
                cell.source = blank_code(cell.source, label)
                cell.metadata["tags"] = [t for t in tags if t not in HIDING_TAGS]
        cells.append(cell)
    result.cells = cells
    return result


def build(out: Path = DEFAULT_OUT, book: Path = BOOK) -> list[Path]:
    """Write the student book, a Jupyter Book source tree, into ``out``.

    Parameters
    ----------
    out : Path
        The folder of the student book; it is emptied first.
    book : Path
        The instructor book (``book/`` of the repository).

    Returns
    -------
    list of Path
        The student notebooks written, in ``out/chapters``.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:  # about a second
    ...     written = build(Path(folder) / "student")
    ...     toc = (Path(folder) / "student" / "_toc.yml").read_text()
    >>> sorted(p.name for p in written)[:2]
    ['01_blur_synthesis.ipynb', '02_recursive_filter.ipynb']
    >>> "instructors" in toc
    False
    """
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    toc = yaml.safe_load((book / "_toc.yml").read_text(encoding="utf-8"))
    left_out = _drop_toc_entries(toc, INSTRUCTOR_PAGES)
    for entry in sorted(book.iterdir()):
        if entry.name in NOT_COPIED or (entry.stem in left_out and entry.suffix == ".md"):
            continue
        if entry.is_dir():
            shutil.copytree(entry, out / entry.name, ignore=_ignore_notebooks_and_caches)
        else:
            shutil.copy2(entry, out / entry.name)
    if (book / "_vendor").is_dir():  # MathJax and the widget manager, for an offline site
        shutil.copytree(book / "_vendor", out / "_vendor")
    (out / "_toc.yml").write_text(
        "# The student edition's table of contents, written by book/student_edition.py\n"
        + yaml.safe_dump(toc, sort_keys=False),
        encoding="utf-8",
    )
    config = yaml.safe_load((book / "_config.yml").read_text(encoding="utf-8"))
    config["title"] = f"{config['title']} (student edition)"
    config["execute"]["execute_notebooks"] = "off"  # the blanks stop with NotImplementedError
    (out / "_config.yml").write_text(
        "# The student edition's configuration, written by book/student_edition.py\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )
    intro = out / f"{toc['root']}.md"
    text = intro.read_text(encoding="utf-8")
    title_end = text.index("\n") + 1
    intro.write_text(text[:title_end] + STUDENT_NOTE + text[title_end:], encoding="utf-8")
    written = []
    for source in sorted(book.glob("chapters/*.ipynb")):
        notebook = nbformat.read(source, as_version=4)
        target = out / "chapters" / source.name
        nbformat.write(student_notebook(notebook), target)
        written.append(target)
    return written


def _ignore_notebooks_and_caches(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n.endswith(".ipynb") or n in NOT_COPIED]


def _drop_toc_entries(node, stems: set[str]) -> set[str]:
    """Remove the toc entries whose file is in ``stems`` (and parts left empty), in place."""
    dropped: set[str] = set()
    if isinstance(node, dict):
        for key in ("parts", "chapters", "sections"):
            if key not in node:
                continue
            kept = []
            for child in node[key]:
                if isinstance(child, dict) and Path(str(child.get("file", ""))).stem in stems:
                    dropped.add(Path(child["file"]).stem)
                    continue
                dropped |= _drop_toc_entries(child, stems)
                if key == "parts" and not child.get("chapters"):
                    continue
                kept.append(child)
            node[key] = kept
    return dropped


def build_html(out: Path = DEFAULT_OUT) -> Path:
    """Build the student book's site with Jupyter Book (nothing is executed); return its index."""
    here = Path(sys.executable).parent  # the environment's scripts folder (Scripts on Windows)
    found = [p for p in (here / "jupyter-book", here / "jupyter-book.exe") if p.exists()]
    command = str(found[0]) if found else "jupyter-book"
    subprocess.run([command, "build", str(out), "--builder", "html"], check=True)
    return Path(out) / "_build" / "html" / "index.html"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write the student edition of the book (solutions removed, blanks to fill).",
        epilog="example: python book/student_edition.py --html",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="folder of the student book (emptied first)"
    )
    parser.add_argument("--html", action="store_true", help="also build its site with jupyter-book")
    args = parser.parse_args(argv)
    written = build(args.out)
    blanks = sum(
        BLANK_TAG in cell.metadata.get("tags", [])
        for path in written
        for cell in nbformat.read(path, as_version=4).cells
    )
    print(
        f"student edition: {len(written)} chapters, {blanks} code cells to complete, in {args.out}"
    )
    if args.html:
        print(f"open {build_html(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
