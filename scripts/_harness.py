"""What the server benchmarks share: `lrr-lite serve` in a subprocess on a free loopback port, its RSS and PSS."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LRR_LITE = ROOT / ".venv" / "bin" / "lrr-lite"


def require_installed() -> None:
    """Exit with a hint unless `lrr-lite` is installed in the project's virtualenv."""
    if not LRR_LITE.exists():
        raise SystemExit(f"{LRR_LITE} not found: run scripts/bootstrap.sh first")


def clean_env() -> dict[str, str]:
    """This process's environment without LRR_* settings, so only the flags given here apply."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LRR_")}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _limit_as(limit: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class ServerProcess:
    """`lrr-lite serve --no-scan-on-start` on a free loopback port (log in `log`); always stop() it."""

    def __init__(self, content: Path, data: Path, log: Path, *extra: str, limit_as: int | None = None,
                 prefix: tuple[str, ...] = ()) -> None:
        """limit_as: an address-space cap (bytes, RLIMIT_AS) for the server, a safety net for hostile runs.
        prefix: a command the server runs under, e.g. ("taskset", "-c", "0"); it must exec the server in
        its own process (taskset does), so `proc.pid` stays the server's PID for /proc readings."""
        self.port = free_port()
        self.log = open(log, "ab")  # a file, not a pipe: a full pipe would stall the server
        self.proc = subprocess.Popen(
            [*prefix, str(LRR_LITE), "serve", "--content", str(content), "--data", str(data), "--port", str(self.port),
             "--host", "127.0.0.1", "--no-scan-on-start", *extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=clean_env(),
            preexec_fn=(lambda: _limit_as(limit_as)) if limit_as else None)

    def wait_until(self, answers: Callable[[], bool], timeout: float) -> float:
        """Seconds until `answers()` is true (connection errors count as not yet); exits if the server does."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if answers():
                    return time.perf_counter() - start
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"server not ready after {timeout}s; see {self.log.name}")

    def status_kb(self, field: str) -> int:
        with open(f"/proc/{self.proc.pid}/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))

    def reset_peak(self) -> None:
        """Reset VmHWM to the current RSS (Linux: writing 5 to clear_refs)."""
        with open(f"/proc/{self.proc.pid}/clear_refs", "w") as fh:
            fh.write("5")

    def rss_mb(self) -> float:
        return self.status_kb("VmRSS") / 1024

    def smaps_rollup_kb(self) -> dict[str, int]:
        """The kB lines of /proc/PID/smaps_rollup (Rss, Pss, Pss_Anon, Pss_File, Swap ...): PSS charges shared
        pages (libraries, the mmapped database) by share, so it is the process's fair part of memory."""
        out: dict[str, int] = {}
        with open(f"/proc/{self.proc.pid}/smaps_rollup") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "kB":
                    out[parts[0].rstrip(":")] = int(parts[1])
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
