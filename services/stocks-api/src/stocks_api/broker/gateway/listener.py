"""gateway-sim's listening port and the client connections on it.

The `Listener` accepts connections, runs a `Session` for each (made by the factory it is
given) and knows them by clientId once startApi has named one (one connection per
clientId, as at IB). The port can stop listening and listen again on the same port number
(refused connections, a restart), which the fault injection (`faults.py`) drives.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from stocks_api.broker.gateway.session import Session

# Makes the session of a new connection.
SessionFactory = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Session]


class Listener:
    """The port and its connections; see the module docstring."""

    def __init__(self, host: str, port: int, new_session: SessionFactory) -> None:
        self.host = host
        self.port = port  # once started, the port bound (0 asks for any free one)
        self.sessions: dict[int, Session] = {}  # by clientId, once startApi has named one
        self.connections: set[Session] = set()  # every open connection, named or not
        self.stopped = asyncio.Event()  # closed for good: the port never listens again
        self._new_session = new_session
        self._server: asyncio.Server | None = None
        self._reopen: asyncio.TimerHandle | None = None
        self._background: set[asyncio.Task[None]] = set()

    # -- the port --------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen, and note the port (when 0 asked for any free one)."""
        self._server = await asyncio.start_server(
            self._accept, self.host, self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def listen(self) -> None:
        """Listen again on the same port, unless listening already or closed for good."""
        if self._server is None and not self.stopped.is_set():
            self._server = await asyncio.start_server(
                self._accept, self.host, self.port, reuse_address=True
            )

    def stop_listening(self) -> None:
        """Refuse new connections (the connected clients stay)."""
        if self._server is not None:
            self._server.close()
            self._server = None

    def listen_later(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        """Listen again `seconds` from now (`cancel_reopening` calls it off)."""
        self._reopen = loop.call_later(seconds, self._listen_again)

    def cancel_reopening(self) -> None:
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None

    def _listen_again(self) -> None:
        self._reopen = None
        task = asyncio.get_running_loop().create_task(self.listen())
        self._background.add(task)  # kept referenced until done, as asyncio asks
        task.add_done_callback(self._background.discard)

    def stop(self) -> None:
        """Never listen again (the first step of closing the gateway)."""
        self.stopped.set()
        if self._reopen is not None:
            self._reopen.cancel()

    async def close(self) -> None:
        """Stop listening and drop every connection (after `stop`)."""
        server = self._server
        if server is not None:
            server.close()
        self.drop()
        if server is not None:
            with contextlib.suppress(Exception):
                await server.wait_closed()

    # -- the connections -------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = self._new_session(reader, writer)
        self.connections.add(session)
        try:
            await session.run()
        finally:
            self.connections.discard(session)
            if session.client_id is not None and self.sessions.get(session.client_id) is session:
                del self.sessions[session.client_id]

    def register(self, session: Session, client_id: int) -> bool:
        """Take `client_id` for `session`; False when another connection holds it."""
        if client_id in self.sessions:
            return False
        self.sessions[client_id] = session
        return True

    @property
    def client_ids(self) -> list[int]:
        """The clientIds of the connected API clients, in order."""
        return sorted(self.sessions)

    def drop(self, *, discard: bool = False) -> None:
        """Close every connection at once; with `discard`, what the clients sent that was
        not read yet is never acted on."""
        for session in list(self.connections):
            session.abort(discard=discard)

    def forget_clients(self) -> None:
        """Free every clientId at once (a restart: the connections are going)."""
        self.sessions.clear()
