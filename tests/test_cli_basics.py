import subprocess
import sys

import pytest

import rag_otel
from rag_otel.cli import main


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert rag_otel.__version__ in capsys.readouterr().out


def test_console_script_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "rag_otel", "--help"], capture_output=True, text=True, check=True
    )
    assert "usage: rag-otel" in out.stdout
