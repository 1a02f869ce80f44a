"""Stage timing of the order path: nested stages and concurrent tasks count their own time."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import REGISTRY

from stocks_api.core.stages import stage


def seconds(name: str, clock: str) -> float:
    value = REGISTRY.get_sample_value("order_stage_seconds_total", {"stage": name, "clock": clock})
    return value or 0.0


def busy(for_seconds: float) -> None:
    end = time.thread_time() + for_seconds
    while time.thread_time() < end:
        pass


def test_an_inner_stage_claims_its_own_time_and_the_outer_one_the_rest() -> None:
    before = {name: seconds(name, "cpu") for name in ("admission", "write_ahead")}
    with stage("admission"):
        busy(0.05)
        with stage("write_ahead"):
            busy(0.1)
        busy(0.05)
    admission = seconds("admission", "cpu") - before["admission"]
    write_ahead = seconds("write_ahead", "cpu") - before["write_ahead"]
    assert 0.09 <= admission <= 0.14
    assert 0.09 <= write_ahead <= 0.14


async def test_a_stage_waiting_while_another_task_works_does_not_count_that_work() -> None:
    before = {name: seconds(name, "cpu") for name in ("response", "consumer")}
    wall_before = seconds("response", "wall")

    async def consumer() -> None:
        with stage("consumer"):
            busy(0.1)

    with stage("response"):
        await asyncio.create_task(consumer())  # the response waits for the consumer
    response = seconds("response", "cpu") - before["response"]
    consumed = seconds("consumer", "cpu") - before["consumer"]
    assert 0.09 <= consumed <= 0.14
    assert response < 0.02  # waiting costs nothing
    assert seconds("response", "wall") - wall_before >= 0.09  # but its wall time counts
