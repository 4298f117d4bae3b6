from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from rag_otel.analysis.model import Span
from rag_otel.cli import main

FIXTURE = Path(__file__).parent.parent / "fixtures" / "traces"
SDK_FILE = FIXTURE / "python-sdk_otlp-json-file-exporter.jsonl"
OtlpFile = Callable[[str, list[Span]], Path]
Pipeline = Callable[..., list[Span]]


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag_otel", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_end_to_end_on_the_sdk_file_exporter_fixture(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(SDK_FILE), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    stages = {s["name"]: s for s in doc["stages"]}
    assert len(stages) == 6
    assert sum(s["errors"] for s in stages.values()) == 1
    assert all(s["count"] == 1 and s["turns"] == 1 for s in stages.values())
    assert doc["turn"]["count"] == 1
    cp = doc["critical_path"]["overall"]
    assert sum(cp["stages"].values()) + cp["untraced"] == pytest.approx(1.0)
    # the stages run one after another there: each is charged its whole duration
    total = doc["turn"]["mean_ms"]
    for name, s in stages.items():
        assert cp["stages"][name] * total == pytest.approx(s["mean_ms"], rel=1e-6)
    assert doc["verdict"]["stage"] == max(stages, key=lambda n: stages[n]["mean_ms"])


@pytest.mark.parametrize("path", sorted(p.name for p in FIXTURE.glob("*.json*")))
def test_every_fixture_analyses_or_fails_cleanly(
    path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["analyze", str(FIXTURE / path), "--format", "json"])
    out, err = capsys.readouterr()
    if code == 0:
        json.loads(out)
    else:  # the api_v3 trace-summaries response holds counts, not spans
        assert code == 2
        assert path == "jaeger_apiv3_FindTraceSummaries.json"
        assert err.count("\n") == 1
        assert "no spans" in err


def test_formats_output_file_and_plot(
    otlp_file: OtlpFile, make_pipeline: Pipeline, tmp_path: Path
) -> None:
    src = otlp_file("run.jsonl", make_pipeline(40))
    for fmt in ("table", "json", "csv", "markdown"):
        out = tmp_path / f"report.{fmt}"
        assert main(["analyze", str(src), "--format", fmt, "--output", str(out)]) == 0
        assert "generate" in out.read_text()
    png = tmp_path / "stages.png"
    assert main(["analyze", str(src), "--plot", str(png), "--output", str(tmp_path / "t")]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_several_sources_and_stdin(otlp_file: OtlpFile, make_pipeline: Pipeline) -> None:
    a = otlp_file("a.jsonl", make_pipeline(10, seed=1))
    b = otlp_file("b.jsonl", make_pipeline(15, seed=2))
    proc = run_cli("analyze", str(a), "-", "--format", "json", stdin=b.read_bytes())
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["turn"]["count"] == 25


def test_table_in_a_subprocess(otlp_file: OtlpFile, make_pipeline: Pipeline) -> None:
    src = otlp_file("run.jsonl", make_pipeline(30))
    proc = run_cli("analyze", str(src))
    assert proc.returncode == 0, proc.stderr
    assert "optimise this next: generate" in proc.stdout
    assert "vector_search" in proc.stdout  # stage names are never truncated


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"not json at all\n", "line 1"),
        (b'{"resourceSpans": [{"scopeSpans": [', "truncated"),
        (b"", "empty"),
        (b'{"hello": "world"}\n', "expected"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, content: bytes, needle: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    proc = run_cli("analyze", str(bad))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert str(bad) in proc.stderr
    assert needle in proc.stderr.lower()


def test_missing_file_unreachable_url_and_usage_errors(tmp_path: Path) -> None:
    proc = run_cli("analyze", str(tmp_path / "nope.jsonl"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    proc = run_cli("analyze", "http://127.0.0.1:9/", "--service", "faq-bot")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert "127.0.0.1:9" in proc.stderr
    proc = run_cli("analyze")  # no SOURCE
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    proc = run_cli("compare", "only-one")
    assert proc.returncode == 2


def test_compare_exit_codes(otlp_file: OtlpFile, make_pipeline: Pipeline) -> None:
    base = otlp_file("base.jsonl", make_pipeline(150, seed=1))
    same = otlp_file("same.jsonl", make_pipeline(150, seed=3))
    slow = otlp_file("slow.jsonl", make_pipeline(150, seed=2, slow={"rerank": 2.0}))
    proc = run_cli("compare", str(base), str(slow), "--fail-if-slower", "10")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "REGRESSION" in proc.stdout
    assert "rerank" in proc.stdout
    assert main(["compare", str(base), str(same), "--fail-if-slower", "10"]) == 0
    # without a threshold compare only reports
    assert main(["compare", str(base), str(slow), "--format", "json"]) == 0


def test_compare_bad_input_exit_2(
    tmp_path: Path, otlp_file: OtlpFile, make_pipeline: Pipeline
) -> None:
    base = otlp_file("base.jsonl", make_pipeline(5))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{]\n")
    proc = run_cli("compare", str(base), str(bad), "--fail-if-slower", "5")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr


def test_phoenix_and_langfuse_inputs_and_their_flags(tmp_path: Path) -> None:
    from rag_otel.analysis.readers import FORMATS
    from rag_otel.cli.analyze import FORMATS as CLI_FORMATS

    assert CLI_FORMATS == FORMATS  # the CLI's copy (no analysis import at start-up)
    phoenix = FIXTURE / "phoenix-20.26.1_rest-spans.json"
    langfuse = FIXTURE / "langfuse-5.0.4_observations-v2.json"
    proc = run_cli("analyze", str(phoenix), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert {s["name"] for s in json.loads(proc.stdout)["stages"]} == {
        "embed",
        "retrieve.vector",
        "retrieve.bm25",
        "fuse",
        "rerank",
        "generate",
    }
    assert (
        main(["analyze", str(langfuse), "--input-format", "langfuse", "-o", str(tmp_path / "r")])
        == 0
    )
    proc = run_cli("analyze", str(phoenix), "--input-format", "langfuse")  # forced, wrong
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    proc = run_cli("analyze", "phoenix+http://127.0.0.1:9/faq", "--service", "x")
    assert proc.returncode == 2
    assert "options service apply only to a live Jaeger URL" in proc.stderr
    proc = run_cli("analyze", "phoenix+http://127.0.0.1:9/faq", "--limit", "3")
    assert proc.returncode == 2
    assert "expected a reachable Phoenix server" in proc.stderr
    assert proc.stderr.count("\n") == 1
