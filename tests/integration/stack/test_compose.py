"""docker-compose.yml: valid for Debian's `docker-compose config`, and built as the issue says.

Every service healthchecked and restarted, started in order, data in named volumes, ports
bound to 127.0.0.1 (and overridable), no secret in the file, every variable in .env.example,
every service the docs name present.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.stack.helpers import (
    COMPOSE_FILE,
    DOCS,
    ENV_EXAMPLE,
    ROOT,
    base_env,
    require_program,
)

SERVICES = {
    "postgres",
    "redis",
    "migrate",
    "stocks-api",
    "gateway-sim",
    "ib-gateway",
    "web",
    "prometheus",
    "grafana",
}
# Host ports from SPEC.md ("Runtime modes"): service -> {host port: container port}.
HOST_PORTS = {
    "postgres": {5433: 5432},
    "redis": {6380: 6379},
    "stocks-api": {8000: 8000},
    "web": {8080: 8080},
    "prometheus": {9090: 9090},
    "grafana": {3000: 3000},
    # IB Gateway's paper API: the image relays it to 4004 for connections from outside.
    "ib-gateway": {5002: 4004, 5900: 5900},
}
REQUIRED_SECRETS = (
    "AUTH_JWT_SECRET",
    "POSTGRES_PASSWORD",
    "STOCKS_DB_OWNER_PASSWORD",
    "STOCKS_DB_PASSWORD",
    "REDIS_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
)
VOLUMES = {"postgres": "/var/lib/postgresql/data", "prometheus": "/prometheus"}
VOLUMES["grafana"] = "/var/lib/grafana"


def env_file(tmp_path: Path, **values: str) -> Path:
    """.env.example as a user's .env: the required secrets filled in, `values` changed."""
    text = ENV_EXAMPLE.read_text()
    for name, value in {**dict.fromkeys(REQUIRED_SECRETS, "0" * 40), **values}.items():
        text, count = re.subn(rf"(?m)^{name}=.*$", f"{name}={value}", text)
        assert count == 1, f"{name} is not in .env.example"
    path = tmp_path / "test.env"
    path.write_text(text)
    return path


def compose(env: Path, *args: str) -> subprocess.CompletedProcess[str]:
    program = require_program("docker-compose")
    files = ["--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), "--env-file", str(env)]
    return subprocess.run(
        [program, *files, *args],
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def config(env: Path) -> dict[str, Any]:
    result = compose(env, "--profile", "ibkr", "config")
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = yaml.safe_load(result.stdout)
    return parsed


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`docker-compose config` of the stack with .env.example's values."""
    return config(env_file(tmp_path_factory.mktemp("compose")))


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    """docker-compose.yml as written (anchors merged, nothing interpolated)."""
    parsed: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return parsed


def test_docker_compose_config_accepts_the_stack(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) == SERVICES
    profiles = {name: spec.get("profiles") for name, spec in services.items()}
    assert profiles.pop("ib-gateway") == ["ibkr"]
    assert set(profiles.values()) == {None}, "only ib-gateway waits for a profile"
    assert services["stocks-api"]["environment"]["BROKER"] == "ibkr"
    assert services["stocks-api"]["environment"]["IB_HOST"] == "gateway-sim"
    assert services["stocks-api"]["environment"]["ENVIRONMENT"] == "production"
    assert services["ib-gateway"]["environment"]["TRADING_MODE"] == "paper"
    assert services["postgres"]["image"].startswith("postgres:16.")
    assert services["redis"]["image"].startswith("redis:7.")


def test_a_missing_secret_stops_compose(tmp_path: Path) -> None:
    # .env.example as it is: every password empty, and nothing falls back to a default.
    plain = tmp_path / "plain.env"
    plain.write_text(ENV_EXAMPLE.read_text())
    result = compose(plain, "config")
    assert result.returncode != 0
    assert re.search(r"set \w+ in \.env", result.stderr), result.stderr


def test_every_service_is_healthchecked_restarted_and_started_in_order(
    resolved: dict[str, Any],
) -> None:
    services = resolved["services"]
    for name, spec in services.items():
        if name == "migrate":
            # A one-shot: its exit status is its health (service_completed_successfully).
            assert spec["restart"] == "no"
            # `disable: true`, which docker-compose 1.x prints as `test: [NONE]`.
            assert spec["healthcheck"] in ({"disable": True}, {"test": ["NONE"]})
            continue
        assert spec["restart"] == "unless-stopped", name
        check = spec.get("healthcheck", {})
        assert check.get("test"), f"{name} has no healthcheck"
        assert not check.get("disable"), f"{name}'s healthcheck is disabled"
        for dependency, condition in spec.get("depends_on", {}).items():
            one_shot = dependency == "migrate"
            wanted = "service_completed_successfully" if one_shot else "service_healthy"
            assert condition == {"condition": wanted}, (name, dependency)
    api = services["stocks-api"]["depends_on"]
    assert api["migrate"] == {"condition": "service_completed_successfully"}
    assert {"postgres", "redis", "gateway-sim"} <= set(api)
    assert set(services["migrate"]["depends_on"]) == {"postgres"}
    assert set(services["web"]["depends_on"]) == {"stocks-api"}
    assert set(services["grafana"]["depends_on"]) == {"prometheus"}


def test_data_lives_in_named_volumes(resolved: dict[str, Any]) -> None:
    for service, target in VOLUMES.items():
        mounts = {
            mount.split(":")[1]: mount.split(":")[0]
            for mount in resolved["services"][service]["volumes"]
        }
        assert mounts.get(target) in resolved["volumes"], f"{service}: {target} is not a volume"


def _ports(spec: dict[str, Any]) -> list[str]:
    return [str(port) for port in spec.get("ports", [])]


def test_ports_are_the_spec_ones_on_loopback(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    published = {name: spec for name, spec in services.items() if spec.get("ports")}
    assert set(published) == set(HOST_PORTS)
    for name, mapping in HOST_PORTS.items():
        expected = {f"127.0.0.1:{host}:{inside}/tcp" for host, inside in mapping.items()}
        assert set(_ports(services[name])) == expected


def test_ports_and_the_bind_address_come_from_env(tmp_path: Path) -> None:
    services = config(
        env_file(tmp_path, HOST_BIND="127.0.0.2", HOST_UI_PORT="18080", HOST_API_PORT="18000")
    )["services"]
    assert _ports(services["web"]) == ["127.0.0.2:18080:8080/tcp"]
    assert _ports(services["stocks-api"]) == ["127.0.0.2:18000:8000/tcp"]
    assert _ports(services["postgres"]) == ["127.0.0.2:5433:5432/tcp"]


def test_images_are_pinned(raw: dict[str, Any]) -> None:
    for name, spec in raw["services"].items():
        image = spec["image"]
        repository, _, tag = image.partition(":")
        if "build" in spec:
            assert "${STOCKS_IMAGE_TAG" in tag, f"{name} builds its own image: {image}"
            continue
        assert repository, image
        assert re.match(r"v?\d+(\.\d+)+", tag), f"{name}: {image} is not pinned"


def _interpolated(text: str) -> set[str]:
    text = text.replace("$$", "")
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text)) | set(
        re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", text)
    )


def _documented() -> set[str]:
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^#?\s*([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def test_every_variable_compose_uses_is_in_env_example(raw: dict[str, Any]) -> None:
    used = _interpolated(COMPOSE_FILE.read_text())
    # `NAME:` without a value passes the variable through from .env when it is set there.
    for spec in raw["services"].values():
        environment = spec.get("environment") or {}
        used |= {name for name, value in environment.items() if value is None}
    assert used, "no variable found: the parser is broken"
    assert used - _documented() == set()


def test_no_secret_is_written_in_the_file(raw: dict[str, Any]) -> None:
    secretive = re.compile(r"PASSWORD|SECRET|_URL$|REDISCLI_AUTH")
    for name, spec in raw["services"].items():
        for variable, value in (spec.get("environment") or {}).items():
            if not secretive.search(variable) or value is None:
                continue
            text = str(value)
            # Only interpolations from .env, or a URL whose password is one.
            assert text.startswith("${") or re.search(r":\$\{\w+PASSWORD[^}]*\}@", text), (
                f"{name}: {variable}={text}"
            )
    for secret in REQUIRED_SECRETS:
        assert re.search(rf"\$\{{{secret}:\?", COMPOSE_FILE.read_text()), (
            f"{secret} must be required (${{{secret}:?...}}), never defaulted"
        )


def _service_tables(markdown: str) -> set[str]:
    """Names in the first column of every markdown table whose header starts with 'service'."""
    names: set[str] = set()
    in_table = False
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.lstrip().startswith("|"):
            in_table = False
            continue
        if cells[0].lower() == "service":
            in_table = True
            continue
        if in_table and not set(cells[0]) <= set("-: "):
            names |= set(re.findall(r"`([a-z0-9-]+)`", cells[0]))
    return names


def test_every_service_the_docs_name_exists(resolved: dict[str, Any]) -> None:
    documented = _service_tables(DOCS.read_text())
    assert documented == SERVICES, "docs/full-stack.md's service table and the stack differ"
    readme = _service_tables((ROOT / "README.md").read_text())
    assert readme <= set(resolved["services"]), readme - set(resolved["services"])
