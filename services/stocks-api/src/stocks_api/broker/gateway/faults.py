"""gateway-sim's fault state: what it does wrong on purpose, for tests and manual checks.

`Faults` is what is in force; the session (sending) and the order entry (placing) read it
where each fault bites. `injection.py` carries out the operations that change it on a
running gateway.
"""

from __future__ import annotations

from dataclasses import dataclass

from stocks_api.broker.gateway.codes import IB_RESTORED


@dataclass
class Faults:
    """What the simulator does wrong on purpose (tests and manual checks)."""

    refuse_until: float = 0.0  # monotonic time before which connections are refused
    reject_next: tuple[int, str] | None = None  # the next order gets this IB error
    delay_seconds: float = 0.0  # every outgoing message waits this long
    lose_next: int = 0  # orders lost on the way: the engine never sees them, nobody answers
    mute_next: int = 0  # orders that trade, but whose client hears nothing of them
    outage: bool = False  # IB unreachable: nothing reaches the clients, nor their orders IB
    outage_ends_at: float | None = None  # monotonic time a timed outage ends
    outage_code: int = IB_RESTORED  # how a timed outage ends: 1101 or 1102
