"""The ``svrnn-lite`` command line: the console script is installed and answers --help/--version."""

import shutil
import subprocess
import sys

import pytest

import svrnn_lite
from svrnn_lite.cli import main


def test_version_flag_prints_package_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"svrnn-lite {svrnn_lite.__version__}"


def test_no_command_prints_help_and_succeeds(capsys):
    assert main([]) == 0
    assert "usage: svrnn-lite" in capsys.readouterr().out


def test_unknown_command_fails_with_usage(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_console_script_is_installed():
    exe = shutil.which("svrnn-lite") or shutil.which("svrnn-lite", path=sys.prefix + "/bin")
    assert exe is not None, "the svrnn-lite console script is not on PATH: reinstall the package"
    result = subprocess.run([exe, "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "Example:" in result.stdout


def test_python_dash_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "svrnn_lite", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert svrnn_lite.__version__ in result.stdout
