"""Celery beat and rollout ticks inside the server process when there is no broker.

With the embedded defaults (no REDIS_URL, CELERY_TASK_ALWAYS_EAGER) there is no worker and no
beat: a deployment would stop after its first batch, plain-HTTP gateways would never be marked
offline and the dashboard would record no fleet snapshots. `python -m flowgate_site.serve`
(`make run`) then does their work itself:

- every entry of CELERY_BEAT_SCHEDULE, at its interval, the first round STARTUP_DELAY after
  the server starts. Without a broker the schedule holds a tick-rollouts entry too (settings.py):
  every FLOWGATE_ROLLOUT_TICK_SECONDS, one tick of each rolling-out deployment, what a worker's
  chain of `advance_rollout` tasks does. This module names no app: it runs what the settings list.

The tasks run through Celery's Task.apply(), the code a worker runs, one at a time in one
thread of their own (through sync_to_async), never on the event loop. A failing task is logged and runs again at its
next time. With a broker (REDIS_URL) none of this runs: `make worker` (a Celery worker with
beat) does. FLOWGATE_EMBEDDED_BEAT=false turns it off.
"""

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)
STARTUP_DELAY = 1.0


@dataclass
class Job:
    name: str
    seconds: float
    run: Callable[[], object]


def wanted() -> bool:
    """True when tasks run in-process (no broker) and the embedded beat is not turned off."""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER and settings.FLOWGATE_EMBEDDED_BEAT)


def _seconds(schedule):
    if isinstance(schedule, timedelta):
        return schedule.total_seconds()
    if isinstance(schedule, int | float):
        return float(schedule)
    return None


def jobs() -> list[Job]:
    """The beat schedule's entries with a fixed interval."""
    found = []
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        seconds = _seconds(entry["schedule"])
        if seconds is None:
            logger.warning("embedded beat: %s has no fixed interval and does not run without a worker", name)
            continue
        task = import_string(entry["task"])
        found.append(Job(name, seconds, lambda task=task, entry=entry: task.apply(entry.get("args", ()))))
    return found


class EmbeddedBeat:
    """Runs jobs at their intervals from the event loop, each in the one worker thread."""

    def __init__(self, jobs, *, first_delay=STARTUP_DELAY):
        self.jobs = list(jobs)
        self.first_delay = first_delay
        self.task = None

    def start(self):
        """Start on the running event loop; returns the asyncio task."""
        self.task = asyncio.get_running_loop().create_task(self.run())
        return self.task

    async def run(self):
        loop = asyncio.get_running_loop()
        due = {job.name: loop.time() + self.first_delay for job in self.jobs}
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedded-beat")
        try:
            while True:
                for job in self.jobs:
                    if due[job.name] <= loop.time():
                        await self.call(job, executor)
                        due[job.name] = loop.time() + job.seconds
                await asyncio.sleep(max(0.0, min(due.values()) - loop.time()))
        finally:
            executor.submit(connections.close_all)  # the thread's database connection
            executor.shutdown(wait=False)

    async def call(self, job, executor):
        # Through sync_to_async, so that what the task sends over the channel layer
        # (async_to_sync, e.g. a config push) comes back to this loop, where the in-memory
        # layer's queues live.
        await sync_to_async(self.run_job, thread_sensitive=False, executor=executor)(job)

    @staticmethod
    def run_job(job):
        try:
            job.run()
        except Exception:
            logger.exception("embedded beat: %s failed", job.name)
        finally:
            close_old_connections()


def start():
    """Start the embedded beat on the running event loop (called by flowgate_site.serve)."""
    beat = EmbeddedBeat(jobs())
    names = ", ".join(job.name for job in beat.jobs)
    logger.info("embedded beat: no broker, this process runs %s", names)
    return beat.start()
