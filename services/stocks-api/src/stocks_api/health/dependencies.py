"""Who may read /metrics: `METRICS_ALLOW_IPS` and `METRICS_TOKEN` (both unset: anyone).

With both set, a scrape must come from an allowed address and carry the token. The
address is the one uvicorn saw: a proxy's X-Forwarded-For counts only from the proxies
FORWARDED_ALLOW_IPS names.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import Request

from stocks_api.core.config import MetricsSettings
from stocks_api.health.exceptions import MetricsAddressError, MetricsTokenError


async def metrics_access(request: Request) -> None:
    """Refuse a scrape from outside METRICS_ALLOW_IPS (403) or without METRICS_TOKEN (401)."""
    config: MetricsSettings = request.app.state.settings.metrics
    networks = config.allowed_networks()
    if networks:
        address = request.client.host if request.client else None
        if not _in_networks(address, networks):
            raise MetricsAddressError(address)
    if config.token is not None:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        expected = config.token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            credentials.strip().encode(), expected
        ):
            raise MetricsTokenError()


def _in_networks(
    address: str | None, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # not an IP (a unix socket, a test client's name)
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)
