"""The baseline of the order benchmark: a bare FastAPI app with one endpoint, `POST /echo`.

It parses a body with the fields of an order into a pydantic model and returns it as JSON,
with no middleware, database or broker, and runs under uvicorn with the settings
`stocks-api serve` uses (one process, uvicorn's default loop and HTTP parser). What the
API costs beyond this is what the stocks API itself adds to placing an order.

Run: ``.venv/bin/python bench/_bare_app.py --port 8001`` (bench/orders.py starts it).
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import Literal

import uvicorn
from fastapi import FastAPI, status
from pydantic import BaseModel


class EchoOrder(BaseModel):
    """The fields of an order (as `POST /api/v1/orders` takes them), without the checks."""

    symbol: str
    side: Literal["buy", "sell"]
    qty: Decimal
    type: Literal["market", "limit", "stop", "stop_limit"]
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    tif: Literal["day", "gtc", "ioc"] = "day"
    outside_rth: bool = False
    client_order_id: str | None = None


app = FastAPI(title="bare echo")


@app.post("/echo", status_code=status.HTTP_201_CREATED)
async def echo(order: EchoOrder) -> EchoOrder:
    """Return the order as parsed."""
    return order


def main() -> None:
    """Serve the app with the uvicorn settings of `stocks-api serve`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_config=None,
        proxy_headers=True,
        server_header=False,
        access_log=False,  # the API disables uvicorn's access log too
    )


if __name__ == "__main__":
    main()
