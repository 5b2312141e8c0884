"""An ETL job graph: dependencies between jobs, and a JobPipeline for staged concurrent work.

Run it:  python examples/etl_pipeline.py      (finishes in about a second)

1. Jobs that wait for other jobs (depends_on): two extracts run concurrently, the transform
   starts the moment both succeeded, the load after the transform.
2. A failing upstream job: its dependents are skipped with the reason, and run once it is fixed.
3. A JobPipeline (stages of callables run concurrently, each stage fed the previous stage's
   results) scheduled as a recurring job.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field

from asyncron import AsyncScheduler, JobPipeline, JobStatus

START = time.perf_counter()
_print_lock = threading.Lock()  # jobs print from the loop and from pool threads


def log(message: str) -> None:
    with _print_lock:
        print(f"{time.perf_counter() - START:6.3f}s  {message}", flush=True)


@dataclass
class Warehouse:
    orders: list[tuple[str, int]] = field(default_factory=list)  # (customer id, total)
    customers: dict[str, str] = field(default_factory=dict)  # customer id -> name
    totals: dict[str, int] = field(default_factory=dict)  # name -> total


warehouse = Warehouse()


# -- 1. dependencies ---------------------------------------------------------------------------


async def extract_orders() -> int:
    log("extract_orders: start")
    await asyncio.sleep(0.2)  # an API call
    warehouse.orders = [("c1", 30), ("c2", 12), ("c1", 8)]
    log("extract_orders: done")
    return len(warehouse.orders)


def extract_customers() -> int:  # sync: runs in the thread pool, concurrently with the above
    log("extract_customers: start")
    time.sleep(0.1)  # a slow database driver
    warehouse.customers = {"c1": "Ada", "c2": "Grace"}
    log("extract_customers: done")
    return len(warehouse.customers)


def transform() -> dict[str, int]:
    totals: dict[str, int] = {}
    for customer, amount in warehouse.orders:
        name = warehouse.customers[customer]
        totals[name] = totals.get(name, 0) + amount
    warehouse.totals = totals
    log(f"transform: {totals}")
    return totals


async def load() -> str:
    log(f"load: wrote {len(warehouse.totals)} rows")
    return "loaded"


# -- 2. a failing upstream job -------------------------------------------------------------------

source_online = False


def extract_inventory() -> int:
    if not source_online:
        raise OSError("inventory source offline")
    return 42


def restock(count_from: str = "inventory") -> str:
    log(f"restock: ran after {count_from} came back")
    return "restocked"


# -- 3. a pipeline ----------------------------------------------------------------------------


async def fetch(region: str) -> int:
    await asyncio.sleep(0.05)  # the three fetches of stage 1 overlap
    return {"emea": 10, "amer": 20, "apac": 5}[region]


async def fetch_emea() -> int:
    return await fetch("emea")


async def fetch_amer() -> int:
    return await fetch("amer")


async def fetch_apac() -> int:
    return await fetch("apac")


def total(results: list[int]) -> int:  # stage 2 gets stage 1's results, in callable order
    return sum(results)


pipeline = JobPipeline().add_stage([fetch_emea, fetch_amer, fetch_apac]).add_stage([total])


async def main() -> None:
    global source_online
    # Failures are logged (with their traceback) on the "asyncron" logger.
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    async with AsyncScheduler() as scheduler:
        # 1. no trigger: each runs once, as soon as its dependencies allow
        orders = await scheduler.schedule(extract_orders)
        customers = await scheduler.schedule(extract_customers)
        shaped = await scheduler.schedule(transform, depends_on=[orders, customers])
        loaded = await scheduler.schedule(load, depends_on=[shaped])
        job = await scheduler.wait_job(loaded)
        log(f"load job: {job.status.value}, result {job.result!r}")

        # 2. failure propagates as a skip, with the reason
        inventory = await scheduler.schedule(extract_inventory, name="extract_inventory")
        dependent = await scheduler.schedule(restock, name="restock", depends_on=[inventory])
        job = await scheduler.wait_job(dependent)
        assert job.status is JobStatus.SKIPPED
        log(f"restock: {job.status.value} because {job.skipped_because}")
        source_online = True
        log(f"fixed; run_now(extract_inventory) -> {await scheduler.run_now(inventory)}")
        job = await scheduler.wait_job(dependent)  # the skipped job ran once upstream succeeded
        log(f"restock: {job.status.value}, result {job.result!r}")

        # 3. the pipeline as a recurring job: twice, 0.3 s apart
        recurring = await scheduler.schedule(
            pipeline.run, name="regional totals", trigger=0.3, max_runs=2
        )
        job = await scheduler.wait_job(recurring)
        log(f"pipeline job: {job.run_count} runs, last result {job.result!r}")
        assert job.result == [[10, 20, 5], [35]]


if __name__ == "__main__":
    asyncio.run(main())
