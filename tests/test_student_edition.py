"""The student edition: book/student_edition.py (``make student``) removes the solutions and turns
the code cells tagged ``student-blank`` into stubs; the instructor edition's solutions pass their
checks and the stubs fail them.

The student book's site is built here as ``make student`` builds it (nothing is executed), with
warnings as errors: 15 to 50 s on two busy cores.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("chapters/*.ipynb"))
CHAPTERS_WITH_BLANKS = ["01_blur_synthesis", "05_training"]

_spec = importlib.util.spec_from_file_location("student_edition", BOOK / "student_edition.py")
student_edition = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(student_edition)
BLANK = student_edition.BLANK_TAG


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def blanks(path: Path) -> list[tuple[int, dict]]:
    notebook = nbformat.read(path, as_version=4)
    return [(i, c) for i, c in enumerate(notebook.cells) if BLANK in tags(c)]


BLANK_CELLS = [(path, cell.id) for path in CHAPTERS for _, cell in blanks(path)]
BLANK_IDS = [f"{path.stem}:{cell_id}" for path, cell_id in BLANK_CELLS]


@pytest.fixture(scope="module")
def student(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student") / "book"
    written = student_edition.build(out)
    assert sorted(p.name for p in written) == [p.name for p in CHAPTERS]
    return out


def read(path: Path):
    return nbformat.read(path, as_version=4)


# --- the student book ----------------------------------------------------------------------


def test_the_student_book_is_a_jupyter_book_without_the_instructors_page(student):
    toc = yaml.safe_load((student / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert files == [f"chapters/{p.stem}" for p in CHAPTERS] + ["notation", "bibliography"]
    assert not (student / "instructors.md").exists()
    config = yaml.safe_load((student / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["title"].endswith("(student edition)")
    assert "student edition" in (student / "intro.md").read_text()
    for name in ["references.bib", "_ext/offline_site.py", "chapters/data/campaign.csv"]:
        assert (student / name).is_file(), f"{name} was not copied"
    assert not (student / "student_edition.py").exists()


def test_no_solution_output_or_widget_state_is_left(student):
    for path in CHAPTERS:
        teacher, pupil = read(path), read(student / "chapters" / path.name)
        markdown = "\n".join(c.source for c in pupil.cells if c.cell_type == "markdown")
        assert "{solution" not in markdown, f"{path.name}: a solution is left"
        assert not [c for c in pupil.cells if student_edition.SOLUTION_TAG in tags(c)]
        exercises = [
            label
            for c in teacher.cells
            if c.cell_type == "markdown"
            for label in student_edition.exercise_labels(c.source)
        ]
        assert student_edition.exercise_labels(markdown) == exercises, "an exercise was lost"
        assert exercises, f"{path.name} has no exercise"
        code = [c for c in pupil.cells if c.cell_type == "code"]
        assert all(c.outputs == [] and c.execution_count is None for c in code)
        assert not any("execution" in c.metadata for c in code)
        assert "widgets" not in pupil.metadata
        originals = {c.id: c for c in teacher.cells}
        changed = [
            c.id for c in code if BLANK not in tags(c) and c.source != originals[c.id].source
        ]
        assert changed == [], f"{path.name}: code cells changed without the {BLANK} tag"
        kept = [c.id for c in pupil.cells]
        assert kept == [c.id for c in teacher.cells if c.id in kept], "cells out of order"


@pytest.mark.parametrize("chapter", CHAPTERS_WITH_BLANKS)
def test_chapters_one_and_five_have_code_to_complete(chapter):
    found = blanks(BOOK / "chapters" / f"{chapter}.ipynb")
    assert found, f"{chapter} has no code cell tagged {BLANK}"


@pytest.mark.parametrize(("path", "cell_id"), BLANK_CELLS, ids=BLANK_IDS)
def test_a_blank_keeps_signatures_and_docstrings_and_hides_nothing(student, path, cell_id):
    teacher = next(c for c in read(path).cells if c.id == cell_id)
    pupil = next(c for c in read(student / "chapters" / path.name).cells if c.id == cell_id)
    assert "hide-input" in tags(teacher), "the solution should be hidden on the instructors' site"
    assert tags(pupil) == [BLANK], "students should see the stub"
    solved = {f.name: f for f in ast.parse(teacher.source).body if isinstance(f, ast.FunctionDef)}
    stubs = {f.name: f for f in ast.parse(pupil.source).body if isinstance(f, ast.FunctionDef)}
    assert solved and stubs.keys() == solved.keys()
    for name, stub in stubs.items():
        assert ast.dump(stub.args) == ast.dump(solved[name].args), f"{name}: signature changed"
        assert ast.get_docstring(stub) == ast.get_docstring(solved[name]), name
        assert ast.get_docstring(stub), f"{name} needs a docstring: it is the student's brief"
        body = stub.body[1:]
        assert len(body) == 1 and isinstance(body[0], ast.Raise), f"{name}: not a stub"
        message = ast.literal_eval(body[0].exc.args[0])
        assert re.fullmatch(rf"exercise [\w-]+: write {name}", message), message
        for line in ast.unparse(solved[name].body[1:]).splitlines():
            assert line.strip() not in pupil.source, f"{name}: the solution shows: {line}"


# --- the solutions pass their checks, the stubs fail them ----------------------------------

RUNNER = textwrap.dedent(
    """
    import json, sys

    setup, cases = json.load(sys.stdin)
    shared = {}
    exec(compile(setup, "<first code cell>", "exec"), shared)
    def verdict(cell_id, code, check):
        namespace = dict(shared)
        try:
            exec(compile(code, f"<{cell_id}>", "exec"), namespace)
            exec(compile(check, f"<{cell_id}: check>", "exec"), namespace)
            return "passed"
        except Exception as error:
            return f"{type(error).__name__}: {error}"

    results = {}
    for cell_id, solution, stub, check in cases:
        results[cell_id] = [verdict(cell_id, solution, check), verdict(cell_id, stub, check)]
    print("RESULTS " + json.dumps(results))
    """
)


@pytest.fixture(scope="module")
def check_runs(tmp_path_factory) -> dict[str, list[str]]:
    """For every blank: the check's verdict on the solution and on the stub.

    Each chapter runs in a fresh interpreter from its own folder, as nbval runs it; a blank and
    its check may use what the chapter's first code cell (the imports) defines, nothing else.
    """
    results: dict[str, list[str]] = {}
    for path in CHAPTERS:
        notebook = read(path)
        code = [(i, c) for i, c in enumerate(notebook.cells) if c.cell_type == "code"]
        cases = []
        for position, (_, cell) in enumerate(code):
            if BLANK not in tags(cell):
                continue
            assert position + 1 < len(code), f"{path.name}:{cell.id} has no check after it"
            check = code[position + 1][1]
            assert BLANK not in tags(check)
            stub = student_edition.blank_code(cell.source, "x")
            cases.append([cell.id, cell.source, stub, check.source])
        if not cases:
            continue
        tmp = tmp_path_factory.mktemp(path.stem)
        env = {**os.environ, "MPLBACKEND": "Agg", "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
        run = subprocess.run(
            [sys.executable, "-c", RUNNER],
            input=json.dumps([code[0][1].source, cases]),
            capture_output=True,
            text=True,
            cwd=path.parent,
            env=env,
            timeout=300,
        )
        lines = [line for line in run.stdout.splitlines() if line.startswith("RESULTS ")]
        assert run.returncode == 0 and lines, f"{path.name}: {run.stderr[-3000:]}"
        results.update({f"{path.stem}:{k}": v for k, v in json.loads(lines[-1][8:]).items()})
    return results


@pytest.mark.parametrize("blank", BLANK_IDS)
def test_the_solution_passes_its_check_and_the_stub_fails_it(check_runs, blank):
    solved, stubbed = check_runs[blank]
    assert solved == "passed", f"the instructor's solution fails its check: {solved}"
    assert stubbed.startswith("NotImplementedError: exercise x: "), (
        f"the check should stop at the stub, not {stubbed!r}"
    )


# --- the conversion rules ------------------------------------------------------------------


def test_solutions_are_cut_in_every_fence_style():
    text = textwrap.dedent(
        """\
        :::{exercise} One
        :label: one
        Do it.
        :::
        :::{solution} one
        :class: dropdown
        Done.
        :::

        ```{solution-start} one
        :class: dropdown
        ```
        Gated solution, with code:
        ```python
        print(1)
        ```
        ```{solution-end}
        ```

        `````{solution} one
        ````{note}
        nested
        ````
        `````
        After.
        """
    )
    cut = student_edition.remove_solutions(text)
    assert cut == ":::{exercise} One\n:label: one\nDo it.\n:::\n\nAfter.\n"
    assert student_edition.remove_solutions("````{solution} one\nDone.\n````") == ""


def test_a_cell_without_functions_becomes_one_raise_and_one_line_defs_are_refused():
    assert student_edition.blank_code("answer = 42", "ex") == (
        'raise NotImplementedError("exercise ex: your code here")'
    )
    with pytest.raises(ValueError, match="own lines"):
        student_edition.blank_code("def f(x): return x", "ex")
    two = "import math\n\n\n@staticmethod\ndef f(x):\n    y = x\n    return y\n\n\n"
    two += "def g():\n    pass\n"
    assert student_edition.blank_code(two, "ex") == (
        'import math\n\n\n@staticmethod\ndef f(x):\n    raise NotImplementedError("exercise ex: '
        'write f")\n\n\ndef g():\n    raise NotImplementedError("exercise ex: write g")\n'
    )


def test_the_student_site_builds_without_warnings_and_shows_stubs_not_solutions(student):
    (student / "_vendor").mkdir(exist_ok=True)  # MathJax is not needed to check the pages
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    run = subprocess.run(
        [str(jupyter_book), "build", str(student), "--builder", "html", "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    site = student / "_build" / "html"
    assert not (site / "instructors.html").exists()
    for path in CHAPTERS:
        page = (site / "chapters" / f"{path.stem}.html").read_text(encoding="utf-8")
        assert 'class="solution' not in page, f"{path.stem}: a solution is on the page"
        assert 'class="exercise' in page, f"{path.stem}: no exercise on the page"
        if blanks(path):
            assert "NotImplementedError" in page, f"{path.stem}: the stubs are not on the page"


def test_make_student_writes_the_book_and_its_site():
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^student:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
    assert target, "no `student` target in the Makefile"
    assert "book/student_edition.py --html" in target[1]
    assert re.search(r"^\.PHONY:.*\bstudent\b", makefile, flags=re.MULTILINE)
