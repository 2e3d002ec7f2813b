"""Login throttling per client address: exponential back-off after failed attempts, in bounded memory.

The first FREE attempts are free; after that each failed attempt bars the address for 1 s, 2 s, 4 s …
up to CAP. A barred attempt is answered at once (429 + Retry-After) without checking the password, so
waiting never holds a server thread. An attempt is counted as a failure when it *starts* (under the lock)
and forgotten on success: parallel guesses cannot all slip through before the first one is recorded.

Addresses are REMOTE_ADDR. Behind a reverse proxy every client has the proxy's address and so shares
one counter (a guesser would then also slow down the real user's logins); X-Forwarded-For is not
trusted, as any client can write it (waitress's `trusted_proxy` option, were it ever set, is the place
to turn a proxy's header into REMOTE_ADDR). IPv6 clients are counted per /64, which one host usually owns.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

FREE = 5           # failed attempts before any back-off
CAP = 300.0        # s: the longest bar
FORGET = 3600.0    # s without a failure after which an address starts afresh
MAX_ADDRESSES = 4096  # LRU bound: ~200 bytes each, so well under 1 MB


def client_key(remote_addr: str) -> str:
    """What the counter is kept under: the address, or an IPv6 address's /64 network."""
    try:
        address = ipaddress.ip_address(remote_addr.split("%", 1)[0])
    except ValueError:
        return remote_addr or "?"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class LoginThrottle:
    def __init__(self, free: int = FREE, cap: float = CAP, forget: float = FORGET,
                 max_addresses: int = MAX_ADDRESSES, clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.cap, self.forget, self.max_addresses = free, cap, forget, max_addresses
        self.clock = clock
        self._lock = threading.Lock()
        # key -> [failures, barred until, last failure]; most recently touched last
        self._entries: OrderedDict[str, list[float]] = OrderedDict()

    def begin(self, remote_addr: str) -> int | None:
        """Start a login attempt: None if it may go ahead (and it now counts as a failure until
        `succeeded`), else the whole seconds to wait (for Retry-After)."""
        key = client_key(remote_addr)
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and now - entry[2] > self.forget and now >= entry[1]:
                entry = None
            if entry is not None and now < entry[1]:
                self._entries.move_to_end(key)
                return max(1, math.ceil(entry[1] - now))
            failures = (entry[0] if entry is not None else 0) + 1
            barred = now + min(2.0 ** (failures - self.free), self.cap) if failures >= self.free else 0.0
            self._entries[key] = [failures, barred, now]
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_addresses:
                self._entries.popitem(last=False)
            return None

    def succeeded(self, remote_addr: str) -> None:
        """The password was right: the address starts afresh."""
        with self._lock:
            self._entries.pop(client_key(remote_addr), None)

    def __len__(self) -> int:
        return len(self._entries)
