"""gateway-sim's fault injection: the operations that make it do wrong on purpose.

`FaultInjector` carries out, on a running gateway and its listener, the faults that
`faults.Faults` records: drop every connection, refuse new ones for a while, reject the
next order with an IB error code, lose the next orders on the way in or keep their client
from hearing of them, delay every message, announce 1100/1102, an outage as IB has them
(1100, then nothing reaches the clients and nothing they send reaches the engine, which
trades on, then 1101 or 1102) and a timed restart (every client dropped, connections
refused, back with its state). `server.GatewaySim` offers the operations as its own
methods, which tests and the control port (`control.py`) call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog

from stocks_api.broker.gateway.codes import (
    CONNECTIVITY_TEXTS,
    IB_LOST,
    IB_RESTORED,
    IB_RESTORED_DATA_LOST,
    ORDER_REJECTED,
)
from stocks_api.broker.gateway.faults import Faults
from stocks_api.broker.gateway.listener import Listener

log = structlog.get_logger(__name__)


class FaultInjector:
    """The fault operations on a gateway's listener and clients; see the module docstring.

    What a restart does to the gateway's state is the gateway's: `forget_untransmitted`
    drops the orders not transmitted yet, `reload` (only with a `state_file`) reloads the
    engine and the books from the state file; `flush_state` writes the state file before
    an outage begins.
    """

    def __init__(
        self,
        faults: Faults,
        listener: Listener,
        *,
        state_file: Path | None,
        flush_state: Callable[[], None],
        forget_untransmitted: Callable[[], None],
        reload: Callable[[], Awaitable[None]],
    ) -> None:
        self.faults = faults
        self._listener = listener
        self._state_file = state_file
        self._flush_state = flush_state
        self._forget_untransmitted = forget_untransmitted
        self._reload = reload
        self._outage_timer: asyncio.TimerHandle | None = None
        self.restart_task: asyncio.Task[None] | None = None

    # -- connections -----------------------------------------------------------------------

    def drop_connections(self) -> None:
        """Close every client connection at once (as a gateway restart would)."""
        self._listener.drop()

    def refuse_connections(self, seconds: float) -> None:
        """Refuse new connections for `seconds`: the port stops listening, as a gateway
        that is down does (0 listens again at once). Connected clients stay."""
        self.faults.refuse_until = time.monotonic() + seconds
        listener = self._listener
        listener.cancel_reopening()
        loop = asyncio.get_running_loop()  # the port reopens on it
        if seconds > 0:
            listener.stop_listening()
        if not listener.listening and not self.restarting:
            listener.listen_later(loop, max(seconds, 0))

    # -- orders and messages ---------------------------------------------------------------

    def reject_next_order(self, code: int = ORDER_REJECTED, message: str = "") -> None:
        """Reject the next order placed with IB error `code`."""
        self.faults.reject_next = (code, message or "Order rejected - reason:simulated rejection")

    def lose_next_orders(self, count: int = 1) -> None:
        """Lose the next `count` orders on the way in (as a connection that died would)."""
        self.faults.lose_next = count

    def mute_next_orders(self, count: int = 1) -> None:
        """Let the next `count` orders trade while telling their client nothing about them
        (as if its connection died just after sending); reconnecting replays them."""
        self.faults.mute_next = count

    def delay_responses(self, seconds: float) -> None:
        """Hold every outgoing message for `seconds` (0 to stop)."""
        self.faults.delay_seconds = seconds

    # -- connectivity and outages ----------------------------------------------------------

    def announce_connectivity(self, code: int) -> None:
        """Send IB's connectivity message 1100 (lost), 1101 or 1102 (restored) to everyone
        (the message only: `start_outage` makes IB unreachable as well)."""
        for session in list(self._listener.sessions.values()):
            session.error(-1, code, CONNECTIVITY_TEXTS.get(code, "connectivity"))

    @property
    def in_outage(self) -> bool:
        """Whether IB is unreachable (an outage is in force)."""
        return self.faults.outage

    def start_outage(self) -> None:
        """IB is lost: send 1100 to every client, then withhold every message to clients
        (dropped, not queued: lost, as at IB) and every order, modification and cancel they
        send (never reaching the engine, never answered) until `end_outage`. The engine
        trades on: resting orders fill, and the fills are booked (reqExecutions and the
        order requests tell of them after the outage). Nothing happens if one is in force."""
        if self.faults.outage:
            return
        self._flush_state()
        for session in list(self._listener.sessions.values()):
            session.error(-1, IB_LOST, CONNECTIVITY_TEXTS[IB_LOST], through_outage=True)
        self.faults.outage = True
        log.info("gateway_outage_started", clients=self._listener.client_ids)

    def end_outage(self, code: int = IB_RESTORED) -> None:
        """IB is back: 1102 (data maintained), or 1101 (data lost: every client's market
        data, account updates and positions subscriptions are dropped, as IB drops them, and
        must be made again) to every client.

        Raises:
            ValueError: `code` is not 1101 or 1102, or no outage is in force.
        """
        if code not in (IB_RESTORED_DATA_LOST, IB_RESTORED):
            raise ValueError(f"an outage ends with 1101 or 1102, not {code}")
        if not self.faults.outage:
            raise ValueError("no outage is in force")
        self._cancel_outage_timer()
        self.faults.outage = False
        for session in list(self._listener.sessions.values()):
            if code == IB_RESTORED_DATA_LOST:
                session.drop_subscriptions()
            session.error(-1, code, CONNECTIVITY_TEXTS[code])
        log.info("gateway_outage_ended", code=code, clients=self._listener.client_ids)

    def outage(self, seconds: float, code: int = IB_RESTORED) -> None:
        """An outage of `seconds` that ends with `code` (1101 or 1102); while one is in
        force, it ends `seconds` from now instead.

        Raises:
            ValueError: `code` is not 1101 or 1102, or `seconds` is negative.
        """
        if code not in (IB_RESTORED_DATA_LOST, IB_RESTORED):
            raise ValueError(f"an outage ends with 1101 or 1102, not {code}")
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, got {seconds}")
        self.start_outage()
        self._cancel_outage_timer()
        self.faults.outage_ends_at = time.monotonic() + seconds
        self.faults.outage_code = code
        self._outage_timer = asyncio.get_running_loop().call_later(seconds, self.end_outage, code)

    def _cancel_outage_timer(self) -> None:
        if self._outage_timer is not None:
            self._outage_timer.cancel()
            self._outage_timer = None
        self.faults.outage_ends_at = None
        self.faults.outage_code = IB_RESTORED

    # -- restart ---------------------------------------------------------------------------

    @property
    def restarting(self) -> bool:
        """Whether a `restart` is under way."""
        return self.restart_task is not None and not self.restart_task.done()

    def restart(self, seconds: float) -> asyncio.Task[None]:
        """Restart as IB Gateway does every day: drop every client, refuse connections for
        `seconds`, then listen again with the state kept (orders keep working meanwhile).

        With a state file the engine and the books are reloaded from it (proving what a
        killed process would keep; the market starts afresh from the seed, as a new
        process does); without, they stay in memory. Untransmitted orders (transmit=False)
        and an outage in force end with the restart. Returns the task that ends when the
        gateway listens again.

        Raises:
            RuntimeError: a restart is under way already.
            ValueError: `seconds` is negative.
        """
        if self.restarting:
            raise RuntimeError("a restart is under way")
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, got {seconds}")
        self._cancel_outage_timer()
        self.faults.outage = False
        self.faults.refuse_until = time.monotonic() + seconds
        listener = self._listener
        listener.cancel_reopening()
        listener.stop_listening()
        listener.drop(discard=True)  # what they sent but was not read yet dies with them
        listener.forget_clients()
        self._forget_untransmitted()
        log.info("gateway_restarting", seconds=seconds, reload=self._state_file is not None)
        self.restart_task = asyncio.get_running_loop().create_task(
            self._come_back(seconds), name="gateway-restart"
        )
        return self.restart_task

    async def _come_back(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        back_at = loop.time() + seconds
        try:
            if self._state_file is not None:
                await self._reload()
            await asyncio.sleep(max(back_at - loop.time(), 0))
            await self._listener.listen()
        except Exception:  # stays down, as a gateway that cannot start does
            log.exception("gateway_restart_failed", state_file=str(self._state_file))
            raise
        log.info("gateway_restarted", port=self._listener.port)

    # -- shutting down ---------------------------------------------------------------------

    def close(self) -> None:
        """The gateway is closing: a timed outage no longer ends (nothing is told of it)."""
        if self._outage_timer is not None:
            self._outage_timer.cancel()
