"""PrioritySlots: the bound on calls in flight, handed out by priority then arrival."""

from __future__ import annotations

import asyncio

from reconciler.aws.slots import PrioritySlots


async def test_never_more_holders_than_slots_and_chains_go_first() -> None:
    slots = PrioritySlots(2)
    release = asyncio.Event()
    order: list[str] = []
    holding = 0
    peak = 0

    async def job(name: str, priority: int) -> None:
        nonlocal holding, peak
        async with slots.hold(priority):
            holding += 1
            peak = max(peak, holding)
            order.append(name)
            await release.wait()
            holding -= 1

    first = [asyncio.create_task(job(f"early{i}", 1)) for i in range(2)]
    await asyncio.sleep(0)
    queued = [asyncio.create_task(job(f"leaf{i}", 1)) for i in range(3)]
    queued.append(asyncio.create_task(job("page", 0)))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(*first, *queued)
    assert peak == 2
    assert order[:2] == ["early0", "early1"]
    assert order[2] == "page"  # queued last, served first among the waiters
    assert order[3:] == ["leaf0", "leaf1", "leaf2"]  # arrival order among equals


async def test_a_cancelled_waiter_gives_up_nothing() -> None:
    slots = PrioritySlots(1)
    gate = asyncio.Event()

    async def hold() -> None:
        async with slots.hold(1):
            await gate.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(hold())
    await asyncio.sleep(0)
    waiter.cancel()
    gate.set()
    await holder
    await asyncio.gather(waiter, return_exceptions=True)
    async with slots.hold(0):  # the slot came back: this does not wait forever
        pass
    assert slots._free == 1 and not slots._waiters
