"""SQLite access: one connection per thread, WAL, one serialized write path, numbered migrations.

Readers never block each other or the writer (WAL). Writes go through `Database.write()`, which
holds a process-wide lock around a BEGIN IMMEDIATE transaction, so SQLite never sees two writers
and a crash at any moment leaves either the old or the new state, never half of one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lrr_lite.storage.db.schema import MIGRATIONS

log = logging.getLogger(__name__)

Params = Sequence[Any] | Mapping[str, Any]  # what sqlite3 binds: positional values or named ones

# File names are bytes. One that is not UTF-8 reaches Python as a str with surrogate escapes (os.fsdecode),
# which sqlite3 refuses to bind ("surrogates not allowed"): a watcher that met such a name stopped. So the
# escapes \udc80-\udcff are stored as the private-use characters U+F0080-U+F00FF and turned back when read:
# the path in the database opens the same file again. Names never shown to a client (titles and file names
# are made displayable by the ingest); real names practically never hold these private-use characters.
_SURROGATES = "".join(chr(c) for c in range(0xDC80, 0xDD00))
_PRIVATE = "".join(chr(c) for c in range(0xF0080, 0xF0100))
_TO_DB = str.maketrans(_SURROGATES, _PRIVATE)
_FROM_DB = str.maketrans(_PRIVATE, _SURROGATES)
_HAS_SURROGATE = re.compile("[\udc80-\udcff]")
_HAS_PRIVATE = re.compile("[\U000f0080-\U000f00ff]")


def _text_to_db(text: str) -> str:
    if text.isascii() or not _HAS_SURROGATE.search(text):
        return text
    return text.translate(_TO_DB)


def _text_from_db(raw: bytes) -> str:
    text = raw.decode("utf-8")
    if text.isascii() or not _HAS_PRIVATE.search(text):
        return text
    return text.translate(_FROM_DB)


# An adapter for str makes sqlite3 pass every str parameter through it (for every connection of the process).
sqlite3.register_adapter(str, _text_to_db)


class Database:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._writer: sqlite3.Connection | None = None  # see _writer_conn
        # Bumped by every committed write: the checkpointer runs only when it moved.
        self.generation = 0
        self._checkpointer: threading.Thread | None = None
        self._checkpoint_stop = threading.Event()
        self.migrate()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.text_factory = _text_from_db
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable against application crashes in WAL mode; only a power cut can lose the
        # last commits, never corrupt the file. FULL would cost an fsync per write on an SD card.
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        # Keep each connection's page cache small (1 MB): there is one per waitress thread, a Pi has little
        # memory, and the OS caches the file anyway. 4 MB each measured +3 MB RSS per thread at 10k archives.
        conn.execute("PRAGMA cache_size=-1000")
        # No mmap (mmap_size stays 0): mapped pages count in the process's RSS and PSS, and one full list
        # maps the whole file. At 100k (240 MB file) mmap_size=256 MB measured idle PSS 300 MB instead of
        # 56 MB with no search faster (scripts/bench_memory.py); the OS caches the file either way.
        # Checkpoints (copying the WAL back into the file) run in a background thread, not inside a
        # client's write; this high automatic one is only the backstop should that thread fall behind.
        conn.execute("PRAGMA wal_autocheckpoint=20000")
        return conn

    def start_checkpointer(self, every: float = 2.0) -> None:
        """Checkpoint the WAL in the background whenever writes happened (PASSIVE: never blocks them)."""
        if self._checkpointer is not None:
            return
        stop = self._checkpoint_stop = threading.Event()

        def run() -> None:
            seen = self.generation
            conn = self._connect()
            try:
                while not stop.wait(every):
                    if self.generation != seen:
                        seen = self.generation
                        try:
                            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                        except sqlite3.Error as exc:
                            log.warning("database: checkpoint failed: %s", exc)
            finally:
                conn.close()

        self._checkpointer = threading.Thread(target=run, name="db-checkpoint", daemon=True)
        self._checkpointer.start()

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection; inside this thread's write block, the writer (its reads see its writes)."""
        if getattr(self._local, "writing", False):
            return self._writer_conn()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def query(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        return self.conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        return self.conn.execute(sql, params).fetchone()

    def row(self, sql: str, params: Params = ()) -> sqlite3.Row:
        """The one row of a query that always has one (an aggregate: COUNT, MAX …)."""
        found = self.conn.execute(sql, params).fetchone()
        if found is None:
            raise LookupError(f"no row for {sql[:60]!r}")
        return found

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction. A nested block (same thread) is a SAVEPOINT inside the outer one: if it
        fails, only its own writes are undone, so an outer block that catches the error and goes on never
        commits half of the inner one; the outer block still commits or rolls back the whole."""
        with self._write_lock:
            conn = self._writer_conn()
            if getattr(self._local, "writing", False):
                depth = getattr(self._local, "write_depth", 0) + 1
                name = f"nested_write_{depth}"
                self._local.write_depth = depth
                conn.execute(f"SAVEPOINT {name}")
                try:
                    yield conn
                except BaseException:
                    conn.execute(f"ROLLBACK TO {name}")
                    conn.execute(f"RELEASE {name}")
                    raise
                else:
                    conn.execute(f"RELEASE {name}")
                finally:
                    self._local.write_depth = depth - 1
                return
            conn.execute("BEGIN IMMEDIATE")
            self._local.writing = True
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
                self.generation += 1
            finally:
                self._local.writing = False

    def _writer_conn(self) -> sqlite3.Connection:
        """The one connection every write transaction uses, whichever thread writes (under the write lock).
        Its page cache stays valid across its own commits, where each thread's connection threw its cache
        away after another's commit (WAL) and read the indexes' pages again: ~100 reads per metadata write
        with four writers, and the write lock was held ~3 times as long as with one."""
        if self._writer is None:
            self._writer = self._connect()
            with self._all_lock:
                self._all.append(self._writer)
        return self._writer

    def migrate(self) -> None:
        """Apply pending migrations, each in its own transaction (all of it or none of it)."""
        conn = self.conn
        applied = False
        for number, step in enumerate(MIGRATIONS, start=1):
            if number <= conn.execute("PRAGMA user_version").fetchone()[0]:
                continue
            log.info("database: applying migration %d", number)
            # Rebuilding a table means dropping it; with foreign keys on, that would cascade-delete every
            # row that refers to it. SQLite's documented procedure: keys off, rebuild, check, keys on.
            rebuild = getattr(step, "rebuilds_tables", False)
            if rebuild:
                conn.execute("PRAGMA foreign_keys=OFF")
            try:
                with self.write() as tx:
                    if callable(step):
                        step(tx)
                    else:
                        for statement in _split_sql(step):
                            tx.execute(statement)
                    if rebuild and tx.execute("PRAGMA foreign_key_check").fetchone() is not None:
                        raise sqlite3.IntegrityError(f"migration {number} broke a foreign key")
                    tx.execute(f"PRAGMA user_version={number}")
            finally:
                if rebuild:
                    conn.execute("PRAGMA foreign_keys=ON")
            applied = True
        if applied:
            # A migration can rewrite a whole table or build an index over it: copy that into the file
            # now, or every read would look its pages up in a large WAL until the first client write.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def release_memory(self) -> None:
        """Drop the unused pages of every connection's cache (the idle trimmer calls this). Safe beside a
        connection's own thread: SQLite serializes calls on a connection and frees only unpinned pages."""
        with self._all_lock:
            conns = list(self._all)
        for conn in conns:
            try:
                conn.execute("PRAGMA shrink_memory")
            except sqlite3.Error:  # closed meanwhile
                pass

    def memory(self) -> dict[str, Any]:
        """The connections this process holds and what SQLite says they use (the memory report)."""
        with self._all_lock:
            connections = len(self._all)
        return {"connections": connections + (self._checkpointer is not None), **sqlite_memory()}

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpoint_stop.set()
            self._checkpointer.join(5)
            self._checkpointer = None
        with self._all_lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._writer = None
        self._local = threading.local()


# SQLite's process-wide counters (sqlite3_status64): the memory of every connection's page cache, schema and
# statements. Python's sqlite3 module is linked to the shared library, so loading it again reaches the same
# counters; a statically linked build has its own copy, and then these read zero.
_SQLITE_STATUS = {"memory_used_mb": 0, "pagecache_overflow_mb": 2, "largest_malloc_mb": 5}


def _sqlite_lib() -> Any:
    name = ctypes.util.find_library("sqlite3")
    try:
        return ctypes.CDLL(name) if name else None
    except OSError:
        return None


def sqlite_memory() -> dict[str, float]:
    """SQLite's own count of the memory it holds (current and high-water, MB), for the memory report."""
    lib = _sqlite_lib()
    if lib is None or not hasattr(lib, "sqlite3_status64"):
        return {}
    out = {}
    for name, op in _SQLITE_STATUS.items():
        cur, high = ctypes.c_int64(), ctypes.c_int64()
        if lib.sqlite3_status64(op, ctypes.byref(cur), ctypes.byref(high), 0) == 0:
            out[name] = round(cur.value / 2**20, 2)
            out[name.replace("_mb", "_high_mb")] = round(high.value / 2**20, 2)
    return out


def _split_sql(script: str) -> Iterator[str]:
    # executescript() would COMMIT our transaction; run statements one by one inside it instead.
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                yield buf
            buf = ""
    if buf.strip():
        yield buf
