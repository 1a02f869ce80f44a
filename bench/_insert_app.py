"""The database floor of the order benchmark: validate an order body, insert one row, answer.

A FastAPI app with one endpoint, `POST /orders`: it parses the body into the same model as
the bare baseline (bench/_bare_app.py), inserts one row into a table with the order's
fields, a unique `client_order_id` (generated when the body has none, as the API does) and
a creation time, with asyncpg through a pool of the API's default size, and answers 201
with the row. It is the simplest durable order endpoint there can be: what the stocks API
costs beyond it is its own (SPEC's targets are ratios to this endpoint, in the same run).

Run: ``.venv/bin/python bench/_insert_app.py --dsn postgresql://... --port 8002``
(bench/orders.py starts it on a fresh database).
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import uvicorn
from _bare_app import EchoOrder
from fastapi import FastAPI, Request, status

# The API's default pool (DATABASE_POOL_SIZE): the same number of connections to share.
POOL_SIZE = 40
TABLE = """
CREATE TABLE IF NOT EXISTS bench_order (
    id BIGSERIAL PRIMARY KEY,
    client_order_id VARCHAR(64) NOT NULL UNIQUE,
    symbol VARCHAR(16) NOT NULL,
    side VARCHAR(4) NOT NULL,
    qty NUMERIC NOT NULL,
    type VARCHAR(16) NOT NULL,
    limit_price NUMERIC,
    stop_price NUMERIC,
    tif VARCHAR(8) NOT NULL,
    outside_rth BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
INSERT = """
INSERT INTO bench_order
    (client_order_id, symbol, side, qty, type, limit_price, stop_price, tif, outside_rth)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING id, created_at
"""


def make_app(dsn: str) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=POOL_SIZE)
        async with pool.acquire() as connection:
            await connection.execute(TABLE)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(title="insert floor", lifespan=lifespan)

    @app.post("/orders", status_code=status.HTTP_201_CREATED)
    async def insert(order: EchoOrder, request: Request) -> dict[str, Any]:
        """Store the order as one row; answer with it."""
        client_order_id = order.client_order_id or uuid.uuid4().hex
        async with request.app.state.pool.acquire() as connection:
            row = await connection.fetchrow(
                INSERT,
                client_order_id,
                order.symbol,
                order.side,
                order.qty,
                order.type,
                order.limit_price,
                order.stop_price,
                order.tif,
                order.outside_rth,
            )
        return {
            "id": row["id"],
            **order.model_dump(mode="json"),
            "client_order_id": client_order_id,
            "created_at": row["created_at"].isoformat(),
        }

    return app


def main() -> None:
    """Serve the app with the uvicorn settings of `stocks-api serve`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True, help="PostgreSQL database (asyncpg DSN)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    uvicorn.run(
        make_app(args.dsn),
        host=args.host,
        port=args.port,
        log_config=None,
        proxy_headers=True,
        server_header=False,
        access_log=False,
    )


if __name__ == "__main__":
    main()
