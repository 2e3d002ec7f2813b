"""What a URL download may reach, and connections pinned to the address that was checked (issue 11).

A download URL comes from a client, so without a guard it could make the server fetch its own
loopback services, the cloud metadata address (169.254.169.254) or scan ports. The rules:

- the host name is resolved here (getaddrinfo) and *every* address it resolves to is checked;
- the connection then goes to one of those checked addresses, never to the name again, so a DNS
  answer that changes between the check and the connect (rebinding) cannot switch the target;
  the name still goes in the Host header and, for https, in SNI and the certificate check;
- loopback, link-local, unspecified, multicast, reserved and this machine's own addresses are
  refused unless the `downloadallowlocal` setting allows them; private LAN ranges are allowed
  (a home server downloads from a NAS).

Refusals raise `Refused` with a reason meant for the server log only: callers show one generic
text for every network failure, so a job result cannot tell a refused address from a closed port.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# 0.0.0.0/8 is "this network": Linux connects 0.x addresses to the local host
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")


class Refused(Exception):
    """The URL may not be fetched from here; the message is for the log, not for the client."""


class DeadlineExceeded(Exception):
    """The overall download deadline passed."""


class Deadline:
    """One time limit over a whole download: resolving, connecting, TLS, headers and every read.

    Socket timeouts alone only bound each single operation (a server sending one byte every
    0.5 s never trips them), so a timer also shuts the current socket down when time is up,
    which ends whatever blocking call is running on it.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise DeadlineExceeded(f"deadline of {self.seconds:g} s passed")
        return left

    @property
    def passed(self) -> bool:
        return time.monotonic() >= self.ends

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
        if sock is not None and self.passed:
            self._expire()

    def _expire(self) -> None:
        with self._lock:
            sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()
        self.watch(None)


def _unwrap(ip: IPAddress) -> IPAddress:
    # ::ffff:127.0.0.1 reaches 127.0.0.1; Python < 3.13 does not classify it as loopback
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _nonlocal_bind(family: int) -> bool:
    """Linux's ip_nonlocal_bind lets any address be bound, which would make every address look
    like our own in `is_own_address`."""
    name = "ipv4" if family == socket.AF_INET else "ipv6"
    try:
        with open(f"/proc/sys/net/{name}/ip_nonlocal_bind", encoding="ascii") as fh:
            return fh.read().strip() != "0"
    except OSError:
        return False


def _hostname_addresses() -> set[IPAddress]:
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return set()
    return {_unwrap(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])) for info in infos}


def is_own_address(ip: IPAddress) -> bool:
    """True when `ip` is assigned to this machine. Binding a socket to an address succeeds only
    for the machine's own addresses, on every OS, with no interface list to parse."""
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    if _nonlocal_bind(family):
        return ip in _hostname_addresses()
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(ip), 0))
        return True
    except OSError:
        return False


@dataclass(frozen=True)
class AddressPolicy:
    """Which resolved addresses a download may connect to."""

    allow_local: bool = False

    def refusal(self, ip: IPAddress) -> str | None:
        """Why `ip` may not be reached (for the log), or None when it may."""
        if self.allow_local:
            return None
        ip = _unwrap(ip)
        if ip.is_loopback:
            return "loopback address"
        if ip.is_unspecified or (ip.version == 4 and ip in _THIS_NETWORK):
            return "unspecified address"
        if ip.is_link_local:
            return "link-local address"
        if ip.is_multicast:
            return "multicast address"
        if ip.is_reserved:  # 240/4 with the broadcast address, ::/8 (IPv4-compatible forms)
            return "reserved address"
        if is_own_address(ip):
            return "an address of this server"
        return None


@dataclass(frozen=True)
class Target:
    """A checked address to connect to: family and socket address as getaddrinfo gave them."""

    family: int
    sockaddr: tuple


def _getaddrinfo(host: str, port: int, deadline: Deadline) -> list[tuple]:
    # getaddrinfo cannot be interrupted: it runs in a helper thread we stop waiting for at the
    # deadline (the thread ends by itself when the resolver gives up)
    box: dict[str, object] = {}

    def run() -> None:
        try:
            box["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, name="download-resolve", daemon=True)
    thread.start()
    thread.join(deadline.remaining())
    if thread.is_alive():
        raise DeadlineExceeded(f"resolving {host!r} took too long")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["infos"]  # type: ignore[return-value]


def resolve(host: str, port: int, policy: AddressPolicy, deadline: Deadline) -> list[Target]:
    """Every address `host` resolves to, all checked; raises Refused if any one is refused (a name
    that resolves to a public and a loopback address is a rebinding attempt, not a choice)."""
    targets: list[Target] = []
    for family, _, _, _, sockaddr in _getaddrinfo(host, port, deadline):
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        reason = policy.refusal(ip)
        if reason:
            raise Refused(f"{host} resolves to {ip}: {reason}")
        mapped = _unwrap(ip)
        if mapped is not ip:  # connect to the IPv4 address itself: works without dual-stack IPv6
            targets.append(Target(socket.AF_INET, (str(mapped), port)))
        else:
            targets.append(Target(family, tuple(sockaddr)))
    if not targets:
        raise Refused(f"{host} has no IPv4 or IPv6 address")
    return targets


def _connect(targets: list[Target], idle_timeout: float, deadline: Deadline) -> socket.socket:
    last: Exception | None = None
    for target in targets:
        sock = socket.socket(target.family, socket.SOCK_STREAM)
        deadline.watch(sock)
        try:
            sock.settimeout(min(idle_timeout, deadline.remaining()))
            sock.connect(target.sockaddr)
            return sock
        except (OSError, DeadlineExceeded) as exc:
            sock.close()
            deadline.watch(None)
            if isinstance(exc, DeadlineExceeded) or deadline.passed:
                raise DeadlineExceeded(f"connecting to {target.sockaddr[0]} took too long") from None
            last = exc
    raise last or OSError("no address to connect to")


class PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection whose socket goes to checked addresses, whatever `host` resolves to now."""

    def __init__(self, host: str, port: int, targets: list[Target], idle_timeout: float,
                 deadline: Deadline) -> None:
        super().__init__(host, port, timeout=idle_timeout)
        self._targets = targets
        self._deadline = deadline
        self._idle = idle_timeout

    def connect(self) -> None:
        # kept apart from self.sock, which http.client drops once a response owns the socket
        self.sock = self.pinned_sock = _connect(self._targets, self._idle, self._deadline)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The https form: TLS on the checked address, with SNI and the certificate check for `host`."""

    def __init__(self, host: str, port: int, targets: list[Target], idle_timeout: float,
                 deadline: Deadline, context: ssl.SSLContext | None = None) -> None:
        self._tls = context or ssl.create_default_context()
        super().__init__(host, port, timeout=idle_timeout, context=self._tls)
        self._targets = targets
        self._deadline = deadline
        self._idle = idle_timeout

    def connect(self) -> None:
        sock = _connect(self._targets, self._idle, self._deadline)
        try:
            # wrap_socket takes the socket's descriptor over: watch the TLS socket before the
            # handshake, so the deadline can cut a server that stalls it
            tls = self._tls.wrap_socket(sock, server_hostname=self.host, do_handshake_on_connect=False)
        except BaseException:
            sock.close()
            raise
        self._deadline.watch(tls)
        try:
            tls.settimeout(min(self._idle, self._deadline.remaining()))
            tls.do_handshake()
        except BaseException:
            tls.close()
            raise
        self.sock = self.pinned_sock = tls


def open_connection(scheme: str, host: str, port: int, policy: AddressPolicy, idle_timeout: float,
                    deadline: Deadline) -> http.client.HTTPConnection:
    """A not yet connected HTTP(S) connection to `host`, pinned to its checked addresses."""
    targets = resolve(host, port, policy, deadline)
    if scheme == "https":
        return PinnedHTTPSConnection(host, port, targets, idle_timeout, deadline)
    return PinnedHTTPConnection(host, port, targets, idle_timeout, deadline)

