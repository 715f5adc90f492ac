"""Repository-wide pytest hooks.

nbval runs every chapter notebook cell by cell; here we add up the time of each notebook's
cells and print a table against the classroom budget (about 2 minutes per chapter on 2 cores,
10 minutes for the whole book) at the end of the run. The budget is reported, not asserted:
speed targets live in benchmarks/, not in timed tests.
"""

from __future__ import annotations

import os
from collections import defaultdict

NOTEBOOK_BUDGET_S = 120.0
BOOK_BUDGET_S = 600.0

_notebook_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):
        _notebook_seconds[path] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _notebook_seconds:
        return
    tr = terminalreporter
    tr.section("notebook execution times (nbval)")
    total = sum(_notebook_seconds.values())
    for path, seconds in sorted(_notebook_seconds.items()):
        flag = "ok" if seconds <= NOTEBOOK_BUDGET_S else "OVER BUDGET"
        tr.write_line(f"{os.path.basename(path):40s} {seconds:7.1f} s  {flag}")
    flag = "ok" if total <= BOOK_BUDGET_S else "OVER BUDGET"
    tr.write_line(f"{'all chapters':40s} {total:7.1f} s  {flag}")
    tr.write_line(
        f"budget: {NOTEBOOK_BUDGET_S:.0f} s per chapter, {BOOK_BUDGET_S:.0f} s for the book "
        f"({os.cpu_count()} CPU cores here)"
    )
