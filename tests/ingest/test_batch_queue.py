"""BatchQueue: inputs in, batches out; a short queue lingers while a batch runs."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ingest.worker import BatchQueue


class Recorder:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.batches: list[list[int]] = []
        self.lock = threading.Lock()

    def __call__(self, batch: list[int]) -> list[object]:
        time.sleep(self.seconds)  # a worker recording the batch
        with self.lock:
            self.batches.append(batch)
        return []


async def trickle(queue: BatchQueue, count: int, gap: float) -> None:
    for n in range(count):
        queue.put(n)
        await asyncio.sleep(gap)
    await queue.close()


def run(linger: float) -> list[list[int]]:
    recorder = Recorder(0.01)
    with ThreadPoolExecutor(2) as pool:
        queue = BatchQueue(recorder, executor=pool, concurrency=2, linger=linger)
        asyncio.run(trickle(queue, 40, 0.004))  # one input every 4 ms, as from one SMTP client
    return recorder.batches


def test_every_input_is_processed_once_in_order_within_batches() -> None:
    for linger in (0.0, 0.03):
        batches = run(linger)
        assert sorted(n for b in batches for n in b) == list(range(40))
        assert all(b == sorted(b) and len(b) <= 20 for b in batches)


def test_lingering_gathers_inputs_into_fewer_batches() -> None:
    eager, lingering = run(0.0), run(0.03)
    assert len(lingering) < len(eager) / 2
    assert max(len(b) for b in lingering) >= 4


def test_a_batch_stops_at_max_bytes_but_always_takes_one() -> None:
    recorder = Recorder(0.0)

    async def fill() -> None:
        queue = BatchQueue(recorder, max_batch=10, max_bytes=100)
        for n, size in enumerate([60, 30, 20, 500, 5, 5, 5]):
            queue.put(n, size)  # all queued before the consumer first runs
        await queue.close()

    asyncio.run(fill())
    assert recorder.batches == [[0, 1], [2], [3], [4, 5, 6]]
