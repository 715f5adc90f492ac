"""Every chapter follows the book's teaching template (static checks of the notebook files).

The chapters are the notebooks listed in book/_toc.yml, so a new chapter is checked as soon as
it is in the table of contents. For each one: a title and an opening admonition with learning
objectives, prerequisites and a time estimate; a summary, at least three exercises whose
solutions are hidden in dropdowns, and further reading, in that order at the end; nbval markers
are cell tags (``nbval-check-output``, ``nbval-ignore-output``, ``nbval-skip``), not comments in
the code students read, and at least one cell's output is checked; every widget cell is tagged
``nbval-ignore-output``, has its state saved for the static page and is followed by a static twin
figure drawn by the same function; the stored outputs come from one clean run (every code cell
executed, in order, no errors); the file stays small.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
MAX_NOTEBOOK_BYTES = 2 * 1024 * 1024
MIN_EXERCISES = 3
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def toc_files(toc_path: Path = BOOK / "_toc.yml") -> list[str]:
    """Every ``file:`` entry of the table of contents (root first), in reading order."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []):
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(toc)
    return files


def resolve(entry: str) -> Path | None:
    """The source file of a toc entry (entries may leave out the suffix)."""
    path = BOOK / entry
    candidates = [path] if path.suffix in {".md", ".ipynb"} else []
    candidates += [path.with_name(path.name + suffix) for suffix in (".ipynb", ".md")]
    return next((c for c in candidates if c.is_file()), None)


CHAPTERS = [
    path for path in map(resolve, toc_files()) if path is not None and path.suffix == ".ipynb"
]
CHAPTER_IDS = [path.stem for path in CHAPTERS]


# --- reading a notebook --------------------------------------------------------------------


@dataclass
class Directive:
    name: str
    argument: str
    options: dict[str, str]
    body: str
    position: tuple[int, int]  # (cell index, line index) of the opening fence


@dataclass
class Chapter:
    path: Path
    cells: list[dict]
    metadata: dict
    directives: list[Directive] = field(default_factory=list)
    headings: list[tuple[tuple[int, int], int, str]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Chapter:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        chapter = cls(path, notebook["cells"], notebook.get("metadata", {}))
        for index, cell in enumerate(chapter.cells):
            if cell["cell_type"] == "markdown":
                chapter._parse_markdown(index, source(cell))
        return chapter

    def _parse_markdown(self, cell_index: int, text: str) -> None:
        lines = text.splitlines()
        i = 0
        while i < len(lines):
            opening = re.match(r"^\s*(`{3,}|:{3,})\{([\w-]+)\}\s*(.*)$", lines[i])
            if opening:
                fence, name, argument = opening.groups()
                end = i + 1
                while end < len(lines) and not re.fullmatch(
                    rf"\s*{re.escape(fence[0])}{{{len(fence)},}}\s*", lines[end]
                ):
                    end += 1
                options, body = parse_options(lines[i + 1 : end])
                self.directives.append(
                    Directive(name, argument.strip(), options, body, (cell_index, i))
                )
                i = end + 1
                continue
            if lines[i].startswith("```") or lines[i].startswith("~~~"):  # a plain code block
                fence = lines[i][:3]
                i += 1
                while i < len(lines) and not lines[i].startswith(fence):
                    i += 1
            heading = re.match(r"^(#{1,6})\s+(.*?)\s*$", lines[i]) if i < len(lines) else None
            if heading:
                self.headings.append(((cell_index, i), len(heading[1]), heading[2]))
            i += 1

    def named(self, name: str) -> list[Directive]:
        return [d for d in self.directives if d.name == name]

    def heading(self, pattern: str) -> tuple[int, int] | None:
        """Position of the first section heading (level >= 2) matching ``pattern``."""
        for position, level, text in self.headings:
            if level >= 2 and re.fullmatch(pattern, text, flags=re.IGNORECASE):
                return position
        return None

    @property
    def code_cells(self) -> list[tuple[int, dict]]:
        return [(i, c) for i, c in enumerate(self.cells) if c["cell_type"] == "code"]


def source(cell: dict) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def parse_options(lines: list[str]) -> tuple[dict[str, str], str]:
    """MyST directive options, as ``:key: value`` lines or a ``---`` YAML block."""
    options: dict[str, str] = {}
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), len(lines))
        loaded = yaml.safe_load("\n".join(lines[1:end])) or {}
        return {str(k): str(v) for k, v in loaded.items()}, "\n".join(lines[end + 1 :])
    i = 0
    while i < len(lines):
        option = re.match(r"^\s*:([\w-]+):\s*(.*)$", lines[i])
        if not option:
            break
        options[option[1]] = option[2].strip()
        i += 1
    return options, "\n".join(lines[i:])


def outputs(cell: dict) -> list[dict]:
    return cell.get("outputs", [])


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def is_widget_cell(cell: dict) -> bool:
    """A code cell that creates ipywidgets (shows a widget view, or builds sliders/interact)."""
    if any(WIDGET_VIEW in out.get("data", {}) for out in outputs(cell)):
        return True
    code = source(cell)
    return bool(re.search(r"\bwidgets\.[A-Z]\w*\(|\binteract(ive|_manual)?\s*\(", code))


def has_png(cell: dict) -> bool:
    return any("image/png" in out.get("data", {}) for out in outputs(cell))


@pytest.fixture(scope="module", params=CHAPTERS, ids=CHAPTER_IDS)
def chapter(request) -> Chapter:
    return Chapter.load(request.param)


# --- the table of contents -----------------------------------------------------------------


def test_the_toc_lists_chapters_that_exist():
    missing = [entry for entry in toc_files() if resolve(entry) is None]
    assert missing == [], f"toc entries without a .md or .ipynb file in book/: {missing}"
    assert len(CHAPTERS) >= 1, "no chapter notebooks found in book/_toc.yml"


# --- opening -------------------------------------------------------------------------------


def test_opens_with_title_objectives_prerequisites_and_time(chapter):
    first = next((c for c in chapter.cells if c["cell_type"] == "markdown"), None)
    assert first is not None, "the chapter has no markdown cell"
    assert chapter.cells[0] is first, "the first cell should be the markdown title cell"
    text = source(first)
    assert re.match(r"#\s+\S", text.lstrip()), "the first cell should start with '# Title'"
    opening = [d for d in chapter.directives if d.position[0] == chapter.cells.index(first)]
    admonitions = [d for d in opening if d.name in {"admonition", "note", "tip", "important"}]
    assert admonitions, "the first cell needs an admonition with objectives, prerequisites, time"
    body = admonitions[0].body
    assert re.search(r"learn|objective", body, re.IGNORECASE), "no learning objectives"
    assert re.search(r"prerequisite", body, re.IGNORECASE), "no prerequisites"
    assert re.search(r"\btime\b", body, re.IGNORECASE) and re.search(
        r"\d+\s*(minutes?|min|hours?|h)\b", body
    ), "no time estimate (e.g. 'Time: about 45 minutes')"


def test_first_code_cell_sets_the_book_style(chapter):
    _, first_code = chapter.code_cells[0]
    assert "use_book_style()" in source(first_code), (
        "the first code cell should call use_book_style() (white figure backgrounds)"
    )


# --- closing -------------------------------------------------------------------------------


def test_has_a_summary_exercises_with_dropdown_solutions_and_further_reading(chapter):
    summary = chapter.heading(r"summary")
    reading = chapter.heading(r"further reading")
    assert summary is not None, "no '## Summary' section"
    assert reading is not None, "no '## Further reading' section"

    exercises = chapter.named("exercise")
    solutions = {d.argument: d for d in chapter.named("solution")}
    labels = [d.options.get("label") for d in exercises]
    assert len(exercises) >= MIN_EXERCISES, (
        f"{len(exercises)} {{exercise}} directives, at least {MIN_EXERCISES} expected"
    )
    assert None not in labels, "every {exercise} needs a :label: for its {solution}"
    for label in labels:
        assert label in solutions, f"exercise {label!r} has no {{solution}} {label}"
        classes = solutions[label].options.get("class", "").split()
        assert "dropdown" in classes, f"solution {label!r} is not hidden (:class: dropdown)"
    assert set(solutions) <= set(labels), "a {solution} refers to no exercise of this chapter"

    first = min(d.position for d in exercises)
    last = max(d.position for d in [*exercises, *solutions.values()])
    assert summary < first, "the summary should come before the exercises"
    assert reading > last, "further reading should come after the exercises"


def test_exercise_labels_are_unique_across_the_book():
    labels = [
        d.options.get("label") for path in CHAPTERS for d in Chapter.load(path).named("exercise")
    ]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    assert duplicates == [], f"exercise labels used twice: {duplicates}"


# --- widgets -------------------------------------------------------------------------------


def test_widgets_are_ignored_by_nbval_saved_and_have_a_static_twin(chapter):
    code_cells = chapter.code_cells
    widget_state = chapter.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for position, (index, cell) in enumerate(code_cells):
        if not is_widget_cell(cell):
            continue
        where = f"widget cell {index}"
        assert "nbval-ignore-output" in tags(cell), (
            f"{where} should carry the cell tag 'nbval-ignore-output'"
        )
        views = [out["data"][WIDGET_VIEW] for out in outputs(cell) if WIDGET_VIEW in out["data"]]
        assert views, f"{where} shows no widget in the stored outputs"
        for view in views:
            assert view["model_id"] in widget_state, (
                f"{where}: widget state not saved in the notebook metadata, the static page "
                "cannot draw it (execute with nbconvert, which stores the state)"
            )
        # the twin: the next code cell, with only markdown in between
        assert position + 1 < len(code_cells), f"{where} has no static twin figure after it"
        twin_index, twin = code_cells[position + 1]
        assert not is_widget_cell(twin) and has_png(twin), (
            f"{where} should be followed by a static twin: a code cell showing a PNG figure "
            f"(cell {twin_index} is not)"
        )
        shown = re.search(r"\binteract(?:ive)?\s*\(\s*([A-Za-z_]\w*)\s*,", source(cell))
        if shown:
            assert re.search(rf"\b{shown[1]}\s*\(", source(twin)), (
                f"the static twin (cell {twin_index}) should call {shown[1]}(), "
                f"the function the widget of cell {index} shows"
            )


# --- nbval markers -------------------------------------------------------------------------


def test_nbval_markers_are_cell_tags_and_some_outputs_are_checked(chapter):
    """Markers live in the cell tags, so students never see them; `make test` runs nbval in
    lax mode, which checks only the outputs of cells tagged ``nbval-check-output``."""
    comments = [i for i, cell in chapter.code_cells if "NBVAL_" in source(cell)]
    assert comments == [], (
        f"code cells {comments} hold an NBVAL_ comment: remove it and add the cell tag "
        "nbval-check-output, nbval-ignore-output or nbval-skip instead"
    )
    checked = [i for i, cell in chapter.code_cells if "nbval-check-output" in tags(cell)]
    assert checked, (
        "no code cell is tagged nbval-check-output, so nbval --nbval-lax compares none of this "
        "chapter's outputs: tag the cells whose printed numbers matter"
    )


# --- stored outputs ------------------------------------------------------------------------


def test_outputs_come_from_one_clean_run(chapter):
    counts = [cell.get("execution_count") for _, cell in chapter.code_cells]
    unexecuted = [i for i, cell in chapter.code_cells if cell.get("execution_count") is None]
    assert unexecuted == [], f"code cells never executed (no stored output): {unexecuted}"
    assert counts == list(range(1, len(counts) + 1)), (
        "code cells were not executed top to bottom in one fresh kernel "
        f"(execution counts {counts}); re-run with nbconvert --execute --inplace"
    )
    errors = [
        f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
        for i, cell in chapter.code_cells
        for out in outputs(cell)
        if out["output_type"] == "error"
        or (out.get("name") == "stderr" and "Traceback" in "".join(out.get("text", "")))
    ]
    assert errors == [], f"stored outputs hold errors: {errors}"


def test_notebook_is_small_and_runs_the_python3_kernel(chapter):
    size = chapter.path.stat().st_size
    assert size < MAX_NOTEBOOK_BYTES, f"{size / 1e6:.2f} MB, keep chapters under 2 MB"
    kernel = chapter.metadata.get("kernelspec", {}).get("name")
    assert kernel == "python3", f"kernelspec name should be 'python3', got {kernel!r}"


# --- the reference pages -------------------------------------------------------------------


@pytest.mark.parametrize("page", ["notation.md", "instructors.md"])
def test_reference_pages_cover_every_chapter(page):
    """The notation page has a section, the instructors' page a run time, for every chapter."""
    text = (BOOK / page).read_text(encoding="utf-8")
    linked = set(re.findall(r"\{doc\}`([^`<>]+)`", text))
    missing = [str(p.relative_to(BOOK).with_suffix("")) for p in CHAPTERS]
    missing = [doc for doc in missing if doc not in linked]
    assert missing == [], f"book/{page} does not cover the chapters {missing}"


def test_the_notation_table_has_one_source():
    """intro.md and notation.md include the shared table; no page keeps a copy of it."""
    snippet = (BOOK / "_notation_common.md").read_text(encoding="utf-8")
    first_row = snippet.strip().splitlines()[2]  # the first symbol row
    for page in ["intro.md", "notation.md"]:
        text = (BOOK / page).read_text(encoding="utf-8")
        assert re.search(r"```\{include\}\s+_notation_common\.md", text), (
            f"book/{page} should include _notation_common.md"
        )
    copies = [
        str(p.relative_to(BOOK))
        for p in BOOK.rglob("*.md")
        if "_build" not in p.parts
        and p.name != "_notation_common.md"
        and first_row in p.read_text()
    ]
    assert copies == [], f"copies of the notation table in {copies}: include the snippet instead"
