"""One way to call the broker from a service: with a timeout, and with API errors out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from stocks_api.broker.protocol import (
    BrokerNotSentError,
    BrokerRejectedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
)
from stocks_api.core.errors import (
    BrokerNotSentAppError,
    BrokerRejectedAppError,
    BrokerTimeoutAppError,
    BrokerUnavailableAppError,
)

T = TypeVar("T")


async def call_broker(call: Awaitable[T], *, timeout: float) -> T:
    """Await a broker call with a timeout, turning broker errors into API errors."""
    try:
        async with asyncio.timeout(timeout):
            return await call
    except TimeoutError as exc:
        raise BrokerTimeoutAppError() from exc
    except BrokerTimeoutError as exc:
        raise BrokerTimeoutAppError(str(exc) or None) from exc
    except BrokerNotSentError as exc:
        raise BrokerNotSentAppError(str(exc) or None) from exc
    except BrokerUnavailableError as exc:
        raise BrokerUnavailableAppError(str(exc) or None) from exc
    except BrokerRejectedError as exc:
        raise BrokerRejectedAppError(str(exc) or None) from exc
