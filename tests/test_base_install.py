"""`pip install rag-otel` then `rag-otel analyze` works: a fresh venv with the base install only.

The wheel built from this tree (session fixture `built_wheel`) goes into a new venv without
extras; there `analyze` (and its `--html` page) and `compare` run on a real span file (the
Python SDK's file exporter output), `analyze` reads a live Jaeger over HTTP, and what needs
an extra (demo, --plot, collector check) exits 2 with one line naming it. uv's cache keeps
this to seconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from built_wheel import make_venv, run, wheel_metadata
from rag_otel.cli.extras import EXTRA_MODULES, extra_message

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "traces"
SDK_FILE = FIXTURES / "python-sdk_otlp-json-file-exporter.jsonl"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base_bin(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_venv(tmp_path_factory.mktemp("base-venv") / "venv", built_wheel)


def rag_otel(bin_dir: Path, *args: str | Path) -> tuple[int, str, str]:
    result = run(bin_dir / "rag-otel", *args, timeout=120)
    return result.returncode, result.stdout, result.stderr


def test_base_install_has_no_numpy_yaml_or_matplotlib(base_bin: Path) -> None:
    probe = run(
        base_bin / "python",
        "-c",
        "import importlib.util as u; "
        "print([m for m in ('numpy', 'yaml', 'matplotlib', 'chromadb') if u.find_spec(m)])",
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "[]"


def test_analyze_a_real_span_file(base_bin: Path) -> None:
    code, out, err = rag_otel(base_bin, "analyze", SDK_FILE)
    assert code == 0, err
    assert "per-stage latency (ms)" in out
    assert "(turn)" in out
    code, out, err = rag_otel(base_bin, "analyze", SDK_FILE, "--format", "json")
    assert code == 0, err
    assert len(json.loads(out)["stages"]) == 6


def test_html_report_needs_no_extra(base_bin: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    code, out, err = rag_otel(base_bin, "analyze", SDK_FILE, "--format", "json", "--html", page)
    assert code == 0, err
    html = page.read_text(encoding="utf-8")
    assert all(e["trace_id"] in html for e in json.loads(out)["exemplars"])
    assert "<h2>Exemplar turns</h2>" in html


def test_compare_two_real_span_files(base_bin: Path) -> None:
    code, out, err = rag_otel(base_bin, "compare", SDK_FILE, SDK_FILE, "--fail-if-slower", "5")
    assert code == 0, err
    assert "no stage p50 or p95 significantly slower" in out
    code, out, err = rag_otel(base_bin, "compare", SDK_FILE, SDK_FILE, "--format", "json")
    assert code == 0, err
    deltas = json.loads(out)["deltas"]
    assert {d["stage"] for d in deltas} >= {"embed", "rerank", "(turn)"}
    assert all(d["change_pct"] == 0 for d in deltas)


@pytest.fixture
def live_jaeger() -> Iterator[tuple[str, str]]:
    """The Jaeger HTTP API test server of tests/analysis/test_jaeger_live.py: (url, service)."""
    from analysis.test_jaeger_live import SERVICE, FakeJaeger, make_traces

    with FakeJaeger(make_traces(5)) as jaeger:
        yield jaeger.url, SERVICE


def test_analyze_a_live_jaeger(base_bin: Path, live_jaeger: tuple[str, str]) -> None:
    url, service = live_jaeger
    code, out, err = rag_otel(
        base_bin, "analyze", url, "--service", service, "--since", "1h", "--format", "json"
    )
    assert code == 0, err
    assert json.loads(out)["turn"]["count"] == 5


def test_prometheus_source_runs_without_extras(base_bin: Path) -> None:
    # nothing listens on port 9: the reader runs and fails cleanly (no missing module)
    code, _, err = rag_otel(base_bin, "analyze", "prometheus+http://127.0.0.1:9")
    assert code == 2
    assert err.count("\n") == 1, err
    assert err.startswith("rag-otel: ")
    assert "127.0.0.1:9" in err


@pytest.mark.parametrize(
    ("args", "command", "extra"),
    [
        (("demo", "--questions", "1"), "demo", "demo"),
        (("analyze", str(SDK_FILE), "--plot", "out.png"), "analyze --plot", "plot"),
        (("collector", "check"), "collector check", "collector"),
    ],
)
def test_what_needs_an_extra_says_so_in_one_line(
    base_bin: Path, args: tuple[str, ...], command: str, extra: str
) -> None:
    code, out, err = rag_otel(base_bin, *args)
    assert code == 2
    assert err == extra_message(command, extra) + "\n"
    assert out == ""


def test_collector_init_works_without_extras(base_bin: Path, tmp_path: Path) -> None:
    code, out, err = rag_otel(base_bin, "collector", "init", tmp_path / "stack")
    assert code == 0, err
    assert (tmp_path / "stack" / "docker-compose.yml").is_file()
    assert (tmp_path / "stack" / "collector" / "jaeger-standalone.yaml").is_file()
    assert "next steps" in out


def _names(requires: dict[str | None, list[str]], extra: str | None) -> set[str]:
    """Distribution names an extra brings, nested ``rag-otel[a,b]`` extras expanded."""
    names: set[str] = set()
    for requirement in requires.get(extra, []):
        name = re.match(r"[a-z0-9._-]+", requirement)
        assert name is not None, requirement
        if name.group(0) == "rag-otel":
            for nested in requirement.partition("[")[2].partition("]")[0].split(","):
                names |= _names(requires, nested.strip())
        else:
            names.add(re.sub(r"[-_.]+", "-", name.group(0)))
    return names


def test_extras_modules_match_the_wheel_metadata(built_wheel: Path) -> None:
    # each module `rag-otel` looks for is brought by a distribution the extra requires
    from importlib.metadata import packages_distributions

    requires = wheel_metadata(built_wheel)
    base = _names(requires, None)
    assert {"rich", "orjson"} <= base
    assert not base & {"numpy", "pyyaml", "matplotlib"}
    provided_by = packages_distributions()
    for extra, modules in EXTRA_MODULES.items():
        wanted = _names(requires, extra)
        for module in modules:
            dists = {re.sub(r"[-_.]+", "-", d.lower()) for d in provided_by.get(module, [])}
            assert dists, f"{module} is not installed in the dev venv"
            assert dists & wanted, (extra, module, sorted(wanted))
