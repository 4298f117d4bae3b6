"""The bundled stack ships in the wheel (one copy: the top-level files) and `collector init`."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_otel.cli import main
from rag_otel.collector.stack import StackExists, init_stack, stack_files, stack_root

REPO = Path(__file__).resolve().parents[2]
SUBPATHS = {
    "docker-compose.yml",
    "docker-compose.vendor.yml",
    "docker-compose.clickhouse.yml",
    ".env.example",
    "collector/otel-collector.yaml",
    "collector/jaeger.yaml",
    "collector/jaeger-standalone.yaml",
    "collector/prometheus.yaml",
    "collector/clickhouse.yaml",
    "collector/data/.gitignore",
}


def test_the_source_tree_is_the_stack() -> None:
    assert stack_root() == REPO
    files = set(stack_files(REPO))
    assert files >= SUBPATHS
    assert sum(f.startswith("collector/vendors/") for f in files) == 8


def test_wheel_stack_is_the_top_level_files_byte_for_byte(built_wheel: Path) -> None:
    from built_wheel import stack_members

    members = stack_members(built_wheel)
    # every file of the stack, and nothing else (a new config must be added to pyproject.toml)
    assert sorted(members) == stack_files(REPO)
    for name, data in members.items():
        assert data == (REPO / name).read_bytes(), name


def test_init_then_check_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "obs"
    assert main(["collector", "init", str(dest)]) == 0
    out = capsys.readouterr().out
    for name in stack_files(REPO):
        assert (dest / name).read_bytes() == (REPO / name).read_bytes()
        assert f"wrote {dest / name}\n" in out
    assert "docker compose up -d" in out
    assert f"jaeger --config {dest / 'collector/jaeger-standalone.yaml'}" in out
    assert main(["collector", "check", str(dest)]) == 0
    err = capsys.readouterr().err
    assert "0 errors, 0 warnings" in err


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("collector/jaeger-standalone.yaml", "trace_storage: traces_store", "trace_storage: gone"),
        (
            "collector/vendors/honeycomb.yaml",
            "exporters: [otlp_http/honeycomb]",
            "exporters: [otlp_http/nope]",
        ),
    ],
)
def test_check_of_an_init_folder_covers_every_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, old: str, new: str
) -> None:
    # the standalone Jaeger config (not mounted by compose) and the vendor overlays (merged
    # onto the Collector config) are checked too
    init_stack(tmp_path)
    path = tmp_path / name
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    assert main(["collector", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{path.name}:") or f"/{path.name}:" in out, out


def test_init_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "obs"
    (dest / "collector").mkdir(parents=True)
    mine = dest / "collector" / "otel-collector.yaml"
    mine.write_text("# my own config\n")
    assert main(["collector", "init", str(dest)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "otel-collector.yaml" in err
    assert "--force" in err
    assert mine.read_text() == "# my own config\n"
    assert not (dest / "docker-compose.yml").exists()  # all or nothing
    with pytest.raises(StackExists):
        init_stack(dest)

    assert main(["collector", "init", str(dest), "--force"]) == 0
    assert "(overwritten)" in capsys.readouterr().out
    assert mine.read_bytes() == (REPO / "collector" / "otel-collector.yaml").read_bytes()
