"""/metrics behind METRICS_TOKEN: a real Prometheus, configured as the stack configures it,
scrapes a real API with the token, and a job without it is refused."""

from __future__ import annotations

from pathlib import Path

import httpx
import yaml

from tests.api_servers import api_server
from tests.integration.stack.helpers import base_env, process, require_program, tail, wait_for
from tests.integration.stack.test_monitoring import prometheus_config, query
from tests.redis_servers import free_port

TOKEN = "5f" * 32


def test_prometheus_scrapes_a_protected_api_with_the_token(tmp_path: Path) -> None:
    binary = require_program("prometheus")
    with api_server(tmp_path / "api", METRICS_TOKEN=TOKEN) as api:
        assert httpx.get(f"{api.url}/metrics").status_code == 401
        wrong = httpx.get(f"{api.url}/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert wrong.json()["error"]["code"] == "UNAUTHORIZED"
        good = httpx.get(f"{api.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert good.status_code == 200
        assert "api_requests_total" in good.text
        assert httpx.get(f"{api.url}/health").status_code == 200  # only /metrics is guarded

        port = free_port()
        path = prometheus_config(tmp_path, api_port=api.port, port=port, token=TOKEN)
        # The same scrape without the stack's `authorization`: the API must refuse it.
        config = yaml.safe_load(path.read_text())
        bare = {**config["scrape_configs"][0], "job_name": "no-token"}
        assert bare.pop("authorization")
        config["scrape_configs"].append(bare)
        path.write_text(yaml.safe_dump(config))
        prometheus = f"http://127.0.0.1:{port}"
        log = tmp_path / "prometheus.log"
        args = [
            binary,
            f"--config.file={path}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        with process(args, log=log, env=base_env(), cwd=tmp_path):

            def scraped_both() -> bool:
                try:  # Prometheus answers 503 "Service Unavailable" while it starts
                    result = query(prometheus, "up").get("data", {}).get("result", [])
                except ValueError:
                    return False
                return {series["metric"]["job"] for series in result} >= {"stocks-api", "no-token"}

            wait_for(
                scraped_both,
                timeout=20,
                what="Prometheus did not scrape",
                explain=lambda: tail(log),
            )
            up = {
                series["metric"]["job"]: series["value"][1]
                for series in query(prometheus, "up")["data"]["result"]
            }
            assert up["stocks-api"] == "1", tail(api.log)
            assert up["no-token"] == "0"
