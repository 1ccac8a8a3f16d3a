"""The thread that turns data-plane events into stream messages.

The data plane calls back from its packet and ageing threads and must not be
kept waiting (runtime_api.py), so callbacks only post work here. This thread
runs the posted work in order and wakes up for timed work (digest list
deadlines). Digest samples are the exception: they are booked on the packet
thread (DigestLists.offer), which posts a wake-up only when a list is sealed
or begins, so a burst of new flows costs a wake-up per list, not per flow.
The queue is bounded: when a flood of events outruns the controller, new
events are dropped and counted rather than eating memory.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

MAX_QUEUED_EVENTS = 65536


class NotificationLoop:
    def __init__(self, next_deadline: Callable[[], int | None]) -> None:
        """``next_deadline`` runs due timed work and returns the next deadline
        (time.monotonic_ns) or None."""
        self._next_deadline = next_deadline
        self._queue: queue.Queue = queue.Queue(MAX_QUEUED_EVENTS)
        self._stopping = False
        self.dropped_events = 0
        self._thread = threading.Thread(target=self._run, name="p4rt-notifications",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def post(self, work: Callable[[], None]) -> None:
        try:
            self._queue.put_nowait(work)
        except queue.Full:
            self.dropped_events += 1

    def wake(self) -> None:
        """Re-read the next deadline (after a digest config changed)."""
        self.post(_nothing)

    def stop(self) -> None:
        self._stopping = True
        try:
            self._queue.put(None, timeout=1)
        except queue.Full:
            pass
        self._thread.join(timeout=5)

    def _run(self) -> None:
        deadline: int | None = None
        while not self._stopping:
            timeout = None
            if deadline is not None:
                timeout = max(0.0, (deadline - time.monotonic_ns()) / 1e9)
            try:
                work = self._queue.get(timeout=timeout)
            except queue.Empty:
                work = _nothing
            if work is None:
                break
            try:
                work()
                deadline = self._next_deadline()
            except Exception:
                log.exception("a data-plane notification failed")


def _nothing() -> None:
    pass
