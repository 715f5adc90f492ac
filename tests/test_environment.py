"""environment.yml (conda users) and pyproject.toml (pip users) must name the same packages."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from packaging.requirements import Requirement

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]

# conda-forge names that differ from the PyPI distribution names
CONDA_TO_PYPI = {"pytorch": "torch"}
# conda-only entries that are not Python requirements of the project
CONDA_ONLY = {"python", "pip", "nodejs"}


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines += extra
    reqs = [Requirement(line) for line in lines]
    return {_normalise(r.name): str(r.specifier) for r in reqs}


def environment_requirements(path: str = "environment.yml") -> dict[str, str]:
    env = yaml.safe_load((ROOT / path).read_text())
    found: dict[str, str] = {}
    for entry in env["dependencies"]:
        if isinstance(entry, dict):  # the pip: section
            for line in entry["pip"]:
                if line.startswith("-e") or line.startswith("."):
                    continue
                r = Requirement(line)
                found[_normalise(r.name)] = str(r.specifier)
            continue
        # conda match spec "name>=1.0,<2" (a single "=" pin also allowed)
        name, spec = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", entry).groups()
        name = _normalise(name)
        if name in CONDA_ONLY:
            continue
        found[_normalise(CONDA_TO_PYPI.get(name, name))] = str(Requirement(f"x{spec}").specifier)
    return found


def test_environment_yml_names_the_same_packages_as_pyproject():
    pip_side, conda_side = pyproject_requirements(), environment_requirements()
    assert sorted(set(pip_side) - set(conda_side)) == [], "add these to environment.yml"
    assert sorted(set(conda_side) - set(pip_side)) == [], "add these to pyproject.toml"


def test_environment_yml_uses_the_same_version_bounds():
    pip_side, conda_side = pyproject_requirements(), environment_requirements()
    differ = {n: (pip_side[n], conda_side[n]) for n in pip_side if pip_side[n] != conda_side.get(n)}
    assert differ == {}, "pyproject.toml vs environment.yml version bounds differ"


def test_environment_yml_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lines = next(e["pip"] for e in env["dependencies"] if isinstance(e, dict))
    assert any(line.replace(" ", "").startswith("-e.") for line in pip_lines)


def test_binder_environment_has_the_same_packages_without_the_editable_install():
    """Binder copies the repository only after it has built the environment, so its file
    cannot say `pip: -e .`; binder/postBuild installs the package instead."""
    assert environment_requirements("binder/environment.yml") == environment_requirements()
    binder = yaml.safe_load((ROOT / "binder/environment.yml").read_text())
    assert not any(isinstance(entry, dict) for entry in binder["dependencies"])
    assert "pip install --no-deps -e ." in (ROOT / "binder/postBuild").read_text()


def test_a_built_wheel_ships_every_module_and_the_weights(tmp_path):
    """A practitioner's ``pip install .`` (not editable) must get the shipped model too."""
    import shutil
    import subprocess
    import sys
    import zipfile

    source = tmp_path / "source"  # pip builds in the source folder: keep the repository clean
    shutil.copytree(
        ROOT / "svrnn_lite", source / "svrnn_lite", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation"]
        + [str(source), "-w", str(tmp_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    # setuptools still copies a data folder missing from `packages`, but warns it will stop
    assert "absent from" not in build.stdout + build.stderr
    (wheel,) = tmp_path.glob("svrnn_lite-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "svrnn_lite"
    expected = {f"svrnn_lite/{p.relative_to(package)}" for p in package.glob("**/*.py")}
    expected |= {f"svrnn_lite/weights/{p.name}" for p in (package / "weights").glob("*.pt")}
    assert "svrnn_lite/weights/lite.pt" in expected
    assert expected | {"svrnn_lite/py.typed"} <= names


# import name -> distribution name, where they differ
IMPORT_TO_DIST = {"PIL": "pillow", "skimage": "scikit-image", "yaml": "pyyaml"}


def test_the_package_declares_exactly_what_it_imports():
    """Every third-party module svrnn_lite imports is a runtime dependency, and every runtime
    dependency is imported (what only the book uses belongs to the `book` extra)."""
    import ast
    import sys

    imported = set()
    for path in (ROOT / "svrnn_lite").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {
        _normalise(IMPORT_TO_DIST.get(name, name))
        for name in imported
        if name not in sys.stdlib_module_names and name not in ("svrnn_lite", "__future__")
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_normalise(Requirement(line).name) for line in project["dependencies"]}
    assert sorted(third_party - runtime) == [], "imported but not in [project] dependencies"
    assert sorted(runtime - third_party) == [], "declared but never imported by svrnn_lite"


def test_importing_the_package_loads_no_heavy_library_until_a_name_is_used():
    import subprocess
    import sys

    probe = (
        "import sys, svrnn_lite; heavy = ('torch', 'numba', 'skimage');"
        "print(sorted(m for m in heavy if m in sys.modules));"
        "from svrnn_lite import build_model; print('torch' in sys.modules, build_model.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True svrnn_lite.models"]
