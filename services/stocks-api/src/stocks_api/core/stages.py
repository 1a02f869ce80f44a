"""Where an order's time goes: CPU and wall time per stage of the order path, as counters.

`with stage("admission"):` adds the block's wall time and this thread's CPU time to
`order_stage_seconds_total{stage,clock}`. Stages nest: an inner stage's time is its own,
not also its outer stage's (the outer one pauses meanwhile), so the order handler counts
as `admission` all that its inner stages do not claim. The order benchmark reads the
counters before and after each pass and divides by the orders it sent, so a regression is
found by its stage. The stages: `admission` (look-ups, quote, marks, the risk gate),
`write_ahead` (the row and its commit), `broker` (the call that sends it), `consumer`
(applying broker events, per batch), `response` (waiting for the consumer, reading the
order back, building the answer). What is outside them (HTTP, FastAPI's parsing and
encoding, middleware, background tasks) is the process's CPU minus their sum.

CPU time is the event loop thread's (`time.thread_time`), and each stage counts only what
no other stage claimed meanwhile: a request waiting in `response` while the consumer's
batch runs does not count the consumer's CPU again, and concurrent requests do not count
each other's stages. What no stage claims (HTTP parsing of another request, a background
task) still lands on a stage awaiting at the time, so a serial pass (one order at a time)
splits CPU most cleanly. Wall time includes every wait (the lock, the database, the broker).
A few clock reads per block: cheap enough to stay on.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from prometheus_client import Counter

from stocks_api.core import metrics

STAGES = ("admission", "write_ahead", "broker", "consumer", "response")


# CPU seconds counted by every stage of every task so far: a stage subtracts what others
# claimed while it ran. One event loop thread runs the stages, so no lock is needed.
_claimed = 0.0


class _Running:
    """One stage being timed in this task; paused while an inner stage runs."""

    __slots__ = ("claimed", "cpu", "name", "task", "wall")

    def __init__(self, name: str) -> None:
        self.name = name
        self.task = _task()
        self.resume()

    def resume(self) -> None:
        self.wall, self.cpu, self.claimed = time.perf_counter(), time.thread_time(), _claimed

    def count(self) -> None:
        """Add the time since the last start (or resume) to this stage's counters."""
        global _claimed
        wall, cpu = time.perf_counter(), time.thread_time()
        own = max(cpu - self.cpu - (_claimed - self.claimed), 0.0)
        _claimed += own
        cpu_counter, wall_counter = _counters(self.name)
        cpu_counter.inc(own)
        wall_counter.inc(wall - self.wall)
        self.resume()


@functools.cache
def _counters(name: str) -> tuple[Counter, Counter]:
    """The stage's two counters (cpu, wall), looked up once rather than per block."""
    return (
        metrics.ORDER_STAGE_SECONDS.labels(stage=name, clock="cpu"),
        metrics.ORDER_STAGE_SECONDS.labels(stage=name, clock="wall"),
    )


_current: ContextVar[_Running | None] = ContextVar("order_stage", default=None)


def _task() -> asyncio.Task[object] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no event loop running: synchronous code
        return None


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Count the block's wall and CPU time under `name` (one of `STAGES`)."""
    outer = _current.get()
    if outer is not None and outer.task is not _task():
        outer = None  # a task started inside another task's stage: that one is not its outer
    if outer is not None:
        outer.count()  # the outer stage's time so far; it pauses while this one runs
    running = _Running(name)
    token = _current.set(running)
    try:
        yield
    finally:
        running.count()
        _current.reset(token)
        if outer is not None:
            outer.resume()
