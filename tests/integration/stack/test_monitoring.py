"""Prometheus and Grafana: the config and rules pass promtool, and every panel has data.

Static: `promtool check config`, `check rules`, `test rules` (alerts.test.yml); Grafana's
provisioning points at the compose services; every metric a rule or panel names exists
in the API. Live: a real Prometheus scrapes a real API (the `stack` fixture: PostgreSQL,
Redis, gateway-sim) every second while a short trading session runs, then every panel's
query is evaluated through Prometheus' HTTP API and must parse and return data.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import REGISTRY
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from stocks_api.broker.gateway.control import send_command
from stocks_api.core import metrics as _metrics  # noqa: F401  (registers the API's metrics)
from tests.factories import order_body
from tests.integration.stack.conftest import Stack
from tests.integration.stack.helpers import (
    COMPOSE_FILE,
    GRAFANA_DIR,
    PROMETHEUS_DIR,
    base_env,
    process,
    require_program,
    tail,
    wait_for,
)
from tests.redis_servers import free_port

DASHBOARDS = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
# Grafana's own variables, as Grafana would fill them for a short time range.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "${__rate_interval}": "1m",
    "$__interval": "15s",
    "${__interval}": "15s",
    "$__range": "5m",
    "${__range}": "5m",
}
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "bool", "offset"}
PROMQL_WORDS |= {"group_left", "group_right", "inf", "nan"}


def promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess[str]:
    program = require_program("promtool")
    return subprocess.run(
        [program, *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=base_env()
    )


# Where compose's Prometheus finds the API's METRICS_TOKEN (its command writes the file).
TOKEN_FILE = "/prometheus/metrics-token"


def with_token_file(config: dict[str, Any], token_file: Path, token: str = "") -> dict[str, Any]:
    """`config` with the stocks-api job reading its bearer token from `token_file`."""
    token_file.write_text(token)
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "stocks-api")
    assert job["authorization"]["credentials_file"] == TOKEN_FILE
    job["authorization"]["credentials_file"] = str(token_file)
    return config


def test_promtool_accepts_the_config_and_the_rules(tmp_path: Path) -> None:
    # As deployed: the token file exists (compose writes it before Prometheus starts).
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    (tmp_path / "prometheus.yml").write_text(
        yaml.safe_dump(with_token_file(config, tmp_path / "metrics-token"))
    )
    shutil.copy(PROMETHEUS_DIR / "alerts.yml", tmp_path / "alerts.yml")
    checked = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    rules = promtool("check", "rules", "alerts.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_the_alert_rules_pass_their_unit_tests() -> None:
    result = promtool("test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_unit_test() -> None:
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    alerts = {
        rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule
    }
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts.test.yml").read_text())["tests"]
    tested = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts - tested == set(), "alerts that no test sees firing"
    expected = {
        "StocksApiDown",
        "StocksApiHighErrorRate",
        "StocksApiHighLatency",
        "BrokerDisconnected",
        "IbConnectivityLost",
        "BrokerReconnectStorm",
        "TradingHalted",
        "DailyLossNearLimit",
        "RiskRejectionsSpike",
        "WebSocketClientsDropped",
    }
    assert expected <= alerts


# --- the metric names ---------------------------------------------------------------------


def known_metrics() -> set[str]:
    """Every series name the API exposes (its registry), and Prometheus' own `up`."""
    names = {"up"}
    for family in REGISTRY.collect():
        if family.type == "counter":
            names |= {f"{family.name}_total", f"{family.name}_created"}
        elif family.type == "histogram":
            names |= {f"{family.name}_{suffix}" for suffix in ("bucket", "sum", "count")}
        else:
            names.add(family.name)
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (labels, functions, keywords left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", text):
        name = match.group(1)
        if name.lower() not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhdwy]", name):
            names.add(name)
    return names


def rule_expressions() -> list[tuple[str, str]]:
    """(name, expr) of every rule in alerts.yml: its alerts and its recording rules."""
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    return [
        (rule.get("alert") or rule["record"], rule["expr"])
        for group in rules["groups"]
        for rule in group["rules"]
    ]


def recorded_series() -> set[str]:
    """The series alerts.yml's recording rules make (rules may read them as metrics)."""
    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    return {
        rule["record"] for group in rules["groups"] for rule in group["rules"] if "record" in rule
    }


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield item
        yield from panels(item.get("panels", []))


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel, expr) of every target of every panel, Grafana variables filled in."""
    queries = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in panels(board["panels"]):
            for target in panel.get("targets", []):
                expr = target["expr"]
                for variable, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(variable, value)
                assert "$" not in expr, f"{path.name}: {panel['title']}: unknown variable in {expr}"
                queries.append((board["title"], panel["title"], expr))
    return queries


def test_rules_and_panels_name_only_metrics_the_api_exposes() -> None:
    known = known_metrics() | {"process_resident_memory_bytes", "process_cpu_seconds_total"}
    known |= recorded_series()
    unknown = {}
    for where, expr in [(f"rule {n}", e) for n, e in rule_expressions()] + [
        (f"{board}: {panel}", expr) for board, panel, expr in panel_queries()
    ]:
        missing = metric_names(expr) - known
        if missing:
            unknown[where] = sorted(missing)
    assert unknown == {}


# --- Grafana's provisioning -----------------------------------------------------------------


def test_grafana_provisioning_matches_the_compose_mounts() -> None:
    compose = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    grafana = compose["grafana"]
    mounts = dict(reversed(volume.split(":")[:2]) for volume in grafana["volumes"])
    assert mounts["/etc/grafana/provisioning"] == "./monitoring/grafana/provisioning"
    provisioning = GRAFANA_DIR / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    assert (source["type"], source["uid"]) == ("prometheus", "prometheus")
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in compose
    providers = yaml.safe_load((provisioning / "dashboards" / "stocks.yml").read_text())
    (provider,) = providers["providers"]
    folder = provider["options"]["path"]
    assert mounts[folder] == "./monitoring/grafana/dashboards"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (GRAFANA_DIR / "dashboards" / Path(home).relative_to(folder)).is_file()


def test_the_dashboards_are_the_four_wanted_and_well_formed() -> None:
    boards = [json.loads(path.read_text()) for path in DASHBOARDS]
    titles = sorted(board["title"] for board in boards)
    assert titles == [
        "stocks · API",
        "stocks · Broker & system",
        "stocks · Trader",
        "stocks · Trading",
    ]
    assert len({board["uid"] for board in boards}) == len(boards)
    for board in boards:
        ids = [panel["id"] for panel in panels(board["panels"])]
        assert len(ids) == len(set(ids)), board["title"]
        for panel in panels(board["panels"]):
            position = panel["gridPos"]
            assert position["x"] + position["w"] <= 24, (board["title"], panel["title"])
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}
            assert panel["targets"], (board["title"], panel["title"])


# --- live: Prometheus scraping the API through a trading session ----------------------------


def prometheus_config(directory: Path, *, api_port: int, port: int, token: str = "") -> Path:
    """prometheus.yml scraping the test's API every second (sending `token`, as compose's
    Prometheus sends METRICS_TOKEN; empty: none is set); alerts.yml beside it."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"stocks-api", "prometheus"}
    jobs["stocks-api"]["static_configs"] = [{"targets": [f"127.0.0.1:{api_port}"]}]
    jobs["prometheus"]["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    with_token_file(config, directory / "metrics-token", token)
    shutil.copy(PROMETHEUS_DIR / "alerts.yml", directory / "alerts.yml")
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def query(prometheus: str, expr: str) -> dict[str, Any]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    body: dict[str, Any] = response.json()
    return body


async def _drain(ws: ClientConnection) -> None:
    with suppress(ConnectionClosed):
        async for _ in ws:
            pass


async def _until(check: Any, seconds: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.05)


async def trading_session(stack: Stack) -> None:
    """A few minutes of a trader's day in a few seconds, with what the panels count."""
    headers = {"X-API-Key": stack.key}
    ws_url = stack.api.replace("http://", "ws://") + "/api/v1/ws"
    async with (
        connect(ws_url, additional_headers=headers) as ws,
        httpx.AsyncClient(base_url=stack.api, headers=headers, timeout=15) as http,
    ):
        assert json.loads(await ws.recv())["type"] == "welcome"
        channels = ["orders", "fills", "positions", "account", "risk", "quotes:AAPL"]
        await ws.send(json.dumps({"op": "subscribe", "channels": channels}))
        reader = asyncio.create_task(_drain(ws))
        # A client with a wrong key is turned away (websocket_disconnects_total).
        async with connect(f"{ws_url}?token=stk_0_wrong") as intruder:
            with suppress(ConnectionClosed):
                await asyncio.wait_for(intruder.recv(), timeout=10)
        assert (await http.get("/api/v1/orders", headers={"X-API-Key": ""})).status_code == 401

        async def place(expect: int = 201, **fields: Any) -> dict[str, Any]:
            response = await http.post("/api/v1/orders", json=order_body(**fields))
            assert response.status_code == expect, response.text
            body: dict[str, Any] = response.json()
            return body

        await place(qty="10")  # bought at the market: a fill, a position
        quote = (await http.get("/api/v1/marketdata/quotes", params={"symbols": "MSFT"})).json()
        limit = f"{float(quote['quotes'][0]['bid']) * 0.95:.2f}"
        resting = await place(symbol="MSFT", type="limit", limit_price=limit, tif="gtc", qty="5")
        modified = await http.patch(f"/api/v1/orders/{resting['id']}", json={"qty": "6"})
        assert modified.status_code == 200, modified.text
        assert (await http.delete(f"/api/v1/orders/{resting['id']}")).status_code == 200
        await place(side="sell", qty="4")  # realized P&L
        refused = await place(expect=422, qty="20000")  # risk: max_order_qty
        assert refused["error"]["code"] == "RISK_REJECTED"
        # The broker refuses one (broker_order_errors_total).
        assert (await send_command("reject 201 stack test", port=stack.control_port)).startswith(
            "ok"
        )
        # Through IB the verdict comes as IB's answer to the order: 201, status rejected.
        assert (await place())["status"] == "rejected"

        # IB answers too slowly: the order gives up after BROKER_TIMEOUT_SECONDS, before
        # anything was sent (the quote of a symbol not quoted yet never came: a new line,
        # then a snapshot, both unanswered), so a 503 that says retry.
        await send_command("delay 3", port=stack.control_port)
        slow = await place(expect=503, symbol="IBM")
        assert slow["error"]["code"] == "BROKER_UNAVAILABLE"
        assert "nothing was placed" in slow["error"]["message"]
        await send_command("delay 0", port=stack.control_port)

        async def ready() -> bool:
            return (await http.get("/health/ready")).status_code == 200

        async def broker_down() -> bool:
            return bool((await http.get("/health")).json()["checks"]["broker"]["status"] != "up")

        await _until(ready, 20, "the API did not recover from the slow gateway")
        # The gateway drops every connection: the API notices and reconnects by itself.
        await send_command("refuse 1", port=stack.control_port)
        await send_command("drop", port=stack.control_port)
        await _until(broker_down, 5, "the API did not notice the dropped connection")
        await _until(ready, 20, "the API did not reconnect to gateway-sim")
        await place(qty="3")
        reader.cancel()
        with suppress(asyncio.CancelledError):
            await reader


@pytest.mark.postgres
def test_every_dashboard_panel_returns_data(stack: Stack, tmp_path: Path) -> None:
    binary = require_program("prometheus")
    port = free_port()
    config = prometheus_config(tmp_path, api_port=stack.api_port, port=port)
    prometheus = f"http://127.0.0.1:{port}"
    log = tmp_path / "prometheus.log"
    args = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    with process(args, log=log, env=base_env(), cwd=tmp_path):

        def scraping() -> bool:
            try:  # Prometheus answers 503 "Service Unavailable" while it starts
                result = query(prometheus, 'up{job="stocks-api"} == 1')
            except (httpx.TransportError, ValueError):
                return False
            return bool(result.get("data", {}).get("result"))

        wait_for(
            scraping,
            timeout=20,
            what="Prometheus did not scrape the API",
            explain=lambda: tail(log),
        )
        asyncio.run(trading_session(stack))
        # Two more scrapes, so the last changes are in, and the rules evaluated on them.
        time.sleep(2.5)

        problems = []
        for board, panel, expr in panel_queries():
            body = query(prometheus, expr)
            if body.get("status") != "success":
                problems.append(f"{board} / {panel}: {body.get('error')}: {expr}")
                continue
            result = body["data"]["result"]
            values = [float(series["value"][1]) for series in result]
            if not result:
                problems.append(f"{board} / {panel}: no data: {expr}")
            elif all(math.isnan(value) for value in values):
                problems.append(f"{board} / {panel}: only NaN: {expr}")
        assert problems == [], "\n".join(problems) + "\n" + stack.logs()

        rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        evaluated = [rule for group in rules for rule in group["rules"]]
        assert len(evaluated) == len(rule_expressions())
        assert [r["name"] for r in evaluated if r["health"] != "ok"] == []
        # Nothing in this healthy session may trip an alert already (recording rules have
        # no state).
        firing = [r["name"] for r in evaluated if r.get("state") == "firing"]
        assert firing == []
        reconnects = query(prometheus, 'broker_reconnects_total{job="stocks-api"}')
        assert float(reconnects["data"]["result"][0]["value"][1]) >= 1
