"""The chapter widgets are live in JupyterLab: a slider moved by keyboard redraws the figure.

A headless JupyterLab server (127.0.0.1, a random token, a throw-away root folder and Jupyter
config, data and runtime folders) opens a copy of the recursive-filter chapter in Debian
Chromium; every request to another host is blocked. After *Run All* the test focuses the
chapter's recurrence-weight slider ``g1`` and moves it with the arrow keys and End. The slider's
readout must follow the keys and the widget's figure must change with it: after each move it must
be exactly the figure that the chapter's plotting function draws for the new value, which the
copy renders in extra cells appended at its end. The server and its kernel are always stopped,
also when the test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.browser import ROOT, SCREENSHOTS, browser, require_chromium

pytestmark = pytest.mark.browser

CHAPTER = ROOT / "book/chapters/02_recursive_filter.ipynb"
PLOT = "plot_two_gates"  # the chapter's widget calls plot_two_gates(g1, g2) through interact
SLIDER = "g1 (left)"  # the description of the recurrence-weight slider g1
G1, G2, STEP, G_MAX = 0.8, -0.4, 0.05, 0.95  # its default, the other gate's default, step, max
SERVER_START_S = 60
RUN_ALL_S = 90


# --- the JupyterLab server -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """Process ids below ``pid`` (Linux /proc; the kernel runs in a session of its own)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _stop(process: subprocess.Popen, base_url: str, token: str) -> None:
    """Shut the server down (it stops its kernels), then make sure every process is gone."""
    kernels = _descendants(process.pid)
    with contextlib.suppress(OSError, urllib.error.URLError):
        request = urllib.request.Request(
            f"{base_url}/api/shutdown", method="POST", headers={"Authorization": f"token {token}"}
        )
        urllib.request.urlopen(request, timeout=5).close()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)  # the server's own process group
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
    for pid in kernels:  # kernels run in their own sessions: end each one by its id
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def jupyter_lab(root_dir: Path, home: Path) -> Iterator[str]:
    """Start JupyterLab on 127.0.0.1 serving ``root_dir``; yield the URL with the token."""
    token = secrets.token_hex(16)
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    for name, sub in [
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ]:
        env[name] = str(home / sub)
        (home / sub).mkdir(parents=True, exist_ok=True)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    # every cell in the DOM (no virtual scrolling), so the test can read any cell's output
    settings = home / "config/lab/user-settings/@jupyterlab/notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    log = (home / "server.log").open("wb")
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.token={token}",
        "--ServerApp.allow_root=True",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run commands, read the model
        "--LabApp.news_url=None",  # no announcements or update checks (no network)
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    process = subprocess.Popen(
        command, cwd=root_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with {process.returncode}:\n"
                    + (home / "server.log").read_text(errors="replace")[-3000:]
                )
            try:
                with urllib.request.urlopen(f"{base_url}/api/status?token={token}", timeout=2):
                    break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"JupyterLab did not answer on {base_url}") from None
                time.sleep(0.3)
        yield base_url, token
    finally:
        _stop(process, base_url, token)
        log.close()


# --- the notebook copy ---------------------------------------------------------------------


def copy_chapter_with_references(target: Path, g1_values: list[float]) -> Path:
    """The chapter, plus one cell per ``g1`` value drawing the widget's figure for that value."""
    notebook = json.loads(CHAPTER.read_text(encoding="utf-8"))
    for g1 in g1_values:
        notebook["cells"].append(
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"reference-{g1:.2f}".replace(".", "-"),
                "metadata": {},
                "outputs": [],
                "source": [f"{PLOT}({g1!r}, {G2!r})"],
            }
        )
    path = target / CHAPTER.name
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return path


# --- the test ------------------------------------------------------------------------------

# Run All, then wait until every cell has run and the kernel is idle. Returns what went wrong.
RUN_ALL_JS = """async (timeoutMs) => {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  await panel.context.ready;
  await panel.sessionContext.ready;
  await app.commands.execute("notebook:run-all-cells");
  const cells = panel.content.model.cells;
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    let done = true;
    for (let i = 0; i < cells.length; i++) {
      const cell = cells.get(i);
      if (cell.type === "code" && !cell.executionCount) done = false;
    }
    if (done && kernel && kernel.status === "idle") {
      const errors = [];
      for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== "code") continue;
        for (let j = 0; j < cell.outputs.length; j++) {
          const out = cell.outputs.get(j);
          if (out.type === "error") errors.push(out.toJSON().ename + ": " + out.toJSON().evalue);
        }
      }
      return errors;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return ["Run All did not finish in " + timeoutMs + " ms"];
}"""


def cell_image(page, index: int) -> str:
    """The data: URL of the PNG the ``index``-th cell (from the end when negative) shows."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    image = cell.locator(".jp-OutputArea-output img").first
    image.wait_for(timeout=30_000)
    return image.get_attribute("src")


@pytest.fixture(scope="module")
def live_chapter(tmp_path_factory):
    require_chromium()
    root = tmp_path_factory.mktemp("lab-root")
    home = tmp_path_factory.mktemp("lab-home")
    references = [G1 + STEP, G_MAX, G1]
    notebook = copy_chapter_with_references(root, references)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    blocked: list[str] = []
    with jupyter_lab(root, home) as (base_url, token), browser() as b:

        def only_this_machine(route):
            url = route.request.url
            if url.startswith(("data:", "blob:")) or urlparse(url).hostname == "127.0.0.1":
                route.continue_()
            else:
                blocked.append(url)
                route.abort()

        page = b.new_page(viewport={"width": 1400, "height": 1000})
        page.route("**/*", only_this_machine)
        page.goto(f"{base_url}/lab/tree/{notebook.name}?token={token}")
        page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
            " && window.jupyterapp.shell.currentWidget.content"
            " && window.jupyterapp.shell.currentWidget.content.model",
            timeout=60_000,
        )
        errors = page.evaluate(RUN_ALL_JS, RUN_ALL_S * 1000)
        assert errors == [], f"the chapter failed in JupyterLab: {errors}"
        expected = {g1: cell_image(page, -len(references) + i) for i, g1 in enumerate(references)}
        yield page, expected, blocked
        page.close()


def test_the_recurrence_weight_slider_redraws_the_figure(live_chapter):
    page, expected, blocked = live_chapter
    assert len(set(expected.values())) == len(expected), "the reference figures should differ"

    slider = page.locator(".jupyter-widgets.widget-slider").filter(has_text=SLIDER)
    assert slider.count() == 1, f"expected one slider labelled {SLIDER!r}"
    handle = slider.locator(".noUi-handle")
    readout = slider.locator(".widget-readout")
    widget = slider.locator("xpath=ancestor::div[contains(@class, 'widget-interact')]")
    figure = widget.locator(".widget-output img")

    def shown_after_update(previous: str | None) -> str:
        # the widget redraws the Output area: wait until it holds a new, complete image
        page.wait_for_function(
            "([widget, previous]) => { const img = widget.querySelector('.widget-output img');"
            " return img && img.complete && img.naturalWidth > 0 && img.src !== previous; }",
            arg=[widget.element_handle(), previous],
            timeout=20_000,
        )
        return figure.get_attribute("src")

    initial = shown_after_update(None)
    assert readout.inner_text().strip() == f"{G1:.2f}"
    assert initial == expected[G1], "at its default the widget should draw the static twin's figure"
    widget.screenshot(path=str(SCREENSHOTS / "live_widget_02_before.png"))

    handle.focus()
    page.keyboard.press("ArrowRight")  # one step up
    after_step = shown_after_update(initial)
    assert readout.inner_text().strip() == f"{G1 + STEP:.2f}"
    # the handle's accessible value (aria-valuenow is rounded to one decimal, valuetext is not)
    assert float(handle.get_attribute("aria-valuetext")) == pytest.approx(G1 + STEP)
    assert after_step == expected[G1 + STEP], "the figure is not the one for the new g1"

    page.keyboard.press("End")  # to the maximum
    at_max = shown_after_update(after_step)
    assert readout.inner_text().strip() == f"{G_MAX:.2f}"
    assert at_max == expected[G_MAX], "the figure is not the one for g1 at its maximum"
    widget.screenshot(path=str(SCREENSHOTS / "live_widget_02_after.png"))

    for _ in range(round((G_MAX - G1) / STEP)):  # back down, one key press per step
        page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "([el, text]) => el.textContent.trim() === text",
        arg=[readout.element_handle(), f"{G1:.2f}"],
        timeout=20_000,
    )
    page.wait_for_function(
        "([widget, src]) => { const img = widget.querySelector('.widget-output img');"
        " return img && img.src === src; }",
        arg=[widget.element_handle(), expected[G1]],
        timeout=20_000,
    )
    assert blocked == [], f"JupyterLab or the chapter tried to reach other hosts: {blocked}"
