"""The analysis's one ISO-8601 parser (`rag_otel.analysis.isotime`): span times, first-chunk
times and the ``since``/``until`` options, "Z" included on Python 3.10, the declared floor
(whose ``datetime.fromisoformat`` refuses "Z")."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from rag_otel.analysis.first_token import LANGFUSE_COMPLETION_START_TIME, first_chunk_ns
from rag_otel.analysis.isotime import iso_ns, option_time_ns, parse_duration_ns, rfc3339
from rag_otel.analysis.model import InputError

SECOND = 1_000_000_000
BASE = 1_796_119_200 * SECOND  # 2026-12-01T10:00:00Z
NOW = BASE + 3600 * SECOND
ANALYSIS = Path(__file__).resolve().parents[2] / "src" / "rag_otel" / "analysis"


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2026-12-01T10:00:00Z", BASE),
        ("2026-12-01T10:00:00z", BASE),
        ("2026-12-01T10:00Z", BASE),  # seconds left out
        ("2026-12-01T10:00:00.25Z", BASE + SECOND // 4),
        ("2026-12-01T10:00:00.123456789Z", BASE + 123_456_789),
        ("2026-12-01T11:00:00+01:00", BASE),
        ("2026-12-01T09:30:00-0030", BASE),
        ("2026-12-01 10:00:00", BASE),  # no offset: UTC
    ],
)
def test_iso_ns_reads_z_offsets_and_fractions(text: str, ns: int) -> None:
    assert iso_ns(text) == ns


@pytest.mark.parametrize("text", ["2026-12-01", "10:00:00Z", "2026-13-01T10:00:00Z", "soon"])
def test_iso_ns_refuses_what_is_no_date_time(text: str) -> None:
    with pytest.raises(ValueError, match=r"ISO-8601|out of range"):
        iso_ns(text)


def test_since_and_until_read_z_durations_and_datetimes() -> None:
    assert option_time_ns("2026-12-01T10:00:00Z", "since", NOW, "src") == BASE
    assert option_time_ns("1h", "since", NOW, "src") == BASE
    assert option_time_ns(timedelta(hours=1), "since", NOW, "src") == BASE
    assert option_time_ns(datetime(2026, 12, 1, 10, tzinfo=timezone.utc), "u", NOW, "s") == BASE
    assert option_time_ns(datetime(2026, 12, 1, 10), "until", NOW, "src") == BASE  # naive: UTC
    with pytest.raises(InputError, match="option since: expected a duration"):
        option_time_ns("yesterday", "since", NOW, "src")
    assert parse_duration_ns("1h30m") == 5400 * SECOND
    assert iso_ns(rfc3339(BASE + 7)) == BASE + 7


def test_first_chunk_times_use_the_same_parser() -> None:
    attributes = {LANGFUSE_COMPLETION_START_TIME: json.dumps("2026-12-01T10:00:00.5Z")}
    assert first_chunk_ns(BASE, attributes, None) == BASE + SECOND // 2
    attributes = {LANGFUSE_COMPLETION_START_TIME: "2026-12-01T10:00:00.000000250Z"}
    assert first_chunk_ns(BASE, attributes, None) == BASE + 250  # nanoseconds kept


def _python_310() -> str | None:
    """A working Python 3.10 interpreter, if this machine has one."""
    candidates = [shutil.which("python3.10"), os.environ.get("RAG_OTEL_PYTHON_310")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.10*/bin/python3.10")))
    for exe in filter(None, candidates):
        probe = subprocess.run(
            [exe, "-c", "import sys; print(sys.version_info[:2] == (3, 10))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return exe
    return None


_ON_310 = """
import importlib.util, sys, types
from datetime import datetime
analysis = sys.argv[1]
for name in ("rag_otel", "rag_otel.analysis"):  # bare packages: no __init__ side effects
    sys.modules[name] = types.ModuleType(name)
    sys.modules[name].__path__ = []
for name in ("inputs", "isotime"):
    spec = importlib.util.spec_from_file_location(
        f"rag_otel.analysis.{name}", f"{analysis}/{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
try:
    datetime.fromisoformat("2026-12-01T10:00:00Z")
    print("fromisoformat-reads-z")
except ValueError:
    print("fromisoformat-refuses-z")
isotime = sys.modules["rag_otel.analysis.isotime"]
print(isotime.iso_ns("2026-12-01T10:00:00.123456789Z"))
print(isotime.option_time_ns("2026-12-01T10:00:00Z", "since", 0, "src"))
"""


def test_z_on_python_310() -> None:
    """The parser itself, run by a real Python 3.10: "Z" is read there too."""
    exe = _python_310()
    if exe is None:
        if sys.version_info[:2] == (3, 10):
            exe = sys.executable
        else:
            pytest.skip("no Python 3.10 interpreter here (set RAG_OTEL_PYTHON_310)")
    run = subprocess.run(
        [exe, "-c", _ON_310, str(ANALYSIS)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.split()
    assert lines == ["fromisoformat-refuses-z", str(BASE + 123_456_789), str(BASE)]
