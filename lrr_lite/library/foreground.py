"""Background work gives way to the requests being answered.

One process answers clients and runs the watcher's walks, scans and cover jobs. Python runs one thread at a
time (the GIL), and a thread coming back from I/O waits for the running one to let go (every 5 ms): a
request beside a CPU-bound walk got far less than its half of the CPU. Measured on a 100k library: the first
full list took 3.4 s while the watcher's start-up walk ran, 0.8 s after it. On a one-core Pi it is worse.

So the HTTP layer marks every request (`begin()` … `end()`) and background loops call `give_way()` between units of
work (a few hundred files walked, one cover): while a request is being answered elsewhere, the loop waits
for it, at most `MOST_WAIT` each time, so a steady stream of requests slows background work but never stops it.
A request's own thread never waits (an upload ingests its file inside the request), and a request in flight
for longer than `LONGEST` (a client downloading a big archive) holds nothing back."""

from __future__ import annotations

import itertools
import threading
import time

MOST_WAIT = 0.5  # seconds a unit of background work waits for the requests in flight, at most
LONGEST = 3.0  # a request in flight for longer is a long transfer (a download), not an answer being made


class Foreground:
    """The requests being answered, and a way for background loops to wait until there are none."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._started: dict[int, float] = {}  # request token -> when it began (time.monotonic)
        self._tokens = itertools.count()
        self._here = threading.local()  # .serving: this thread is answering a request

    def begin(self) -> int:
        """A request is being answered on this thread, until `end(token)`: after its body is sent (the full
        list is made while it streams). One that takes longer than LONGEST no longer holds anything back."""
        token = next(self._tokens)
        with self._cond:
            self._started[token] = time.monotonic()
        self._here.serving = True
        return token

    def end(self, token: int) -> None:
        self._here.serving = False
        with self._cond:
            self._started.pop(token, None)
            self._cond.notify_all()

    def busy(self) -> int:
        """Requests being answered now (long transfers included)."""
        return len(self._started)

    def give_way(self, most: float | None = None) -> bool:
        """Wait (at most `most` seconds, default MOST_WAIT as it is at the call) until no request is being
        answered; at once from a request's own thread. True if it waited."""
        if not self._started or getattr(self._here, "serving", False):
            return False
        deadline = time.monotonic() + (MOST_WAIT if most is None else most)
        waited = False
        with self._cond:
            while True:
                now = time.monotonic()
                young = [t for t in self._started.values() if now - t < LONGEST]
                if now >= deadline or not young:
                    return waited
                waited = True
                self._cond.wait(min(deadline, min(young) + LONGEST) - now)
