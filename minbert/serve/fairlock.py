"""A mutex granted in arrival order.

threading.Lock makes no promise of order: a thread that releases it and asks again at once usually wins.
The Predictor splits long jobs (integrated gradients, whole files) into short chunks and takes this lock once
per chunk, so a short request that arrives meanwhile waits for one chunk, not for the whole job.
"""
from __future__ import annotations

import threading


class FairLock:
    def __init__(self):
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> "FairLock":
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._cond.wait_for(lambda: self._serving == ticket)
        return self

    def __exit__(self, *exc) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()
