"""docker-compose.yml: the API believes only nginx's X-Forwarded-For; Prometheus sends the
metrics token; the API's security settings pass through from .env."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.stack.helpers import PROMETHEUS_DIR
from tests.integration.stack.test_compose import config, env_file

TOKEN_FILE = "/prometheus/metrics-token"


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return config(env_file(tmp_path_factory.mktemp("compose-trust")))


def test_the_api_trusts_forwarded_headers_from_nginx_alone(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    trusted = services["stocks-api"]["environment"]["FORWARDED_ALLOW_IPS"]
    web = services["web"]["networks"]["default"]["ipv4_address"]
    assert trusted == web, "the API must believe X-Forwarded-For from nginx's address only"
    ipaddress.ip_address(trusted)  # one address, not Docker's whole range
    subnet = resolved["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(web) in ipaddress.ip_network(subnet)
    # nginx's own /metrics rule admits Docker's networks: the stack's range is among them.
    assert ipaddress.ip_network(subnet).subnet_of(ipaddress.ip_network("172.16.0.0/12"))


def test_the_stack_network_can_be_moved_from_env(tmp_path: Path) -> None:
    moved = config(env_file(tmp_path, STACK_SUBNET="10.77.0.0/24", STACK_WEB_ADDRESS="10.77.0.5"))
    assert moved["services"]["stocks-api"]["environment"]["FORWARDED_ALLOW_IPS"] == "10.77.0.5"
    assert moved["services"]["web"]["networks"]["default"]["ipv4_address"] == "10.77.0.5"


def test_prometheus_writes_the_metrics_token_where_its_config_reads_it(tmp_path: Path) -> None:
    token = "ab" * 32
    services = config(env_file(tmp_path, METRICS_TOKEN=token))["services"]
    prometheus = services["prometheus"]
    assert prometheus["environment"]["METRICS_TOKEN"] == token
    script = " ".join(prometheus["command"])
    assert f"> {TOKEN_FILE}" in script
    assert "umask 077" in script
    assert token not in script, "the token must not be on the command line"
    assert "exec /bin/prometheus --config.file=/etc/prometheus/prometheus.yml" in script
    assert services["stocks-api"]["environment"]["METRICS_TOKEN"] == token

    scrape = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    job = next(job for job in scrape["scrape_configs"] if job["job_name"] == "stocks-api")
    assert job["authorization"] == {"type": "Bearer", "credentials_file": TOKEN_FILE}


def test_the_security_settings_pass_through_from_env(tmp_path: Path) -> None:
    services = config(
        env_file(
            tmp_path,
            METRICS_ALLOW_IPS="172.29.71.0/24",
            AUTH_USERNAME_RATE_LIMIT="2/10seconds",
        )
    )["services"]
    environment = services["stocks-api"]["environment"]
    assert environment["METRICS_ALLOW_IPS"] == "172.29.71.0/24"
    assert environment["AUTH_USERNAME_RATE_LIMIT"] == "2/10seconds"
