"""``clickhouse://`` over HTTP, through the real ``clickhouse-connect`` client.

No ClickHouse server can be installed on this machine, so the server side is a small HTTP
front on 127.0.0.1 that runs each query in chDB, the same engine (`clickhouse_front`): the
client, its requests, formats and error handling are the real ones.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("chdb")
pytest.importorskip("clickhouse_connect")

from clickhouse_front import chdb_runner, make_server
from clickhouse_tables import create_and_load, rows_from_otlp
from netutil import free_port
from rag_otel.analysis import clickhouse as ch
from rag_otel.analysis.model import InputError
from rag_otel.analysis.sources import load

PEERS = Path(__file__).parent.parent / "fixtures" / "peers"
FIXTURE = PEERS / "openinference-parallel.otlp.jsonl"
PASSWORD = "s3cret"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    datadir = tmp_path_factory.mktemp("chdb-http")
    session = ch._chdb_session(str(datadir))
    create_and_load(
        lambda sql: session.query(sql),
        "otel",
        "otel_traces",
        "current",
        rows_from_otlp([FIXTURE], "current"),
    )
    port = free_port()
    httpd = make_server(chdb_runner(session), port, PASSWORD)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield port
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def test_http_gives_the_file_analysis(server: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", PASSWORD)
    over_http = load([f"clickhouse://default@127.0.0.1:{server}/"]).to_dict()
    from_file = load([str(FIXTURE)]).to_dict()
    assert over_http["sources"][0].startswith(
        f"clickhouse://default@127.0.0.1:{server}/otel.otel_traces"
    )
    assert PASSWORD not in over_http["sources"][0]
    for key in ("turn", "first_token", "stages", "critical_path", "verdict"):
        assert over_http[key] == from_file[key], key


def test_http_password_in_the_url_and_a_wrong_one(
    server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLICKHOUSE_PASSWORD", raising=False)
    report = load([f"clickhouse://default:{PASSWORD}@127.0.0.1:{server}/otel?table=otel_traces"])
    assert report.turn.count == 20
    with pytest.raises(InputError, match="wrong user or password for 'default'") as info:
        load([f"clickhouse://default:nope@127.0.0.1:{server}/otel"])
    assert "\n" not in str(info.value)


def test_http_unreachable_and_missing(server: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", PASSWORD)
    closed = free_port()
    with pytest.raises(InputError, match=f"cannot connect to 127.0.0.1:{closed}") as info:
        load([f"clickhouse://127.0.0.1:{closed}/"])
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="no table 'spans' in otel or default"):
        load([f"clickhouse://127.0.0.1:{server}/?table=spans"])
    with pytest.raises(InputError, match="found no spans"):  # data, not SQL
        load([f"clickhouse://127.0.0.1:{server}/otel"], service="x' OR '1'='1")
