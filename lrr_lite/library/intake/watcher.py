"""Shinobu (SEMANTICS §14): after the start-up scan, keep the library in step with the content folder.

One thread of the server process. It learns about changes from inotify where the platform has it (Linux,
local disks) or from a cheap periodic walk (NFS/SMB/FUSE mounts, where events made by other machines never
arrive; also when inotify is unavailable or its watch limit is reached). Either way a changed path only goes
into a *pending* map; the same thread then settles and handles it:

- a file is imported once it is complete: after IN_CLOSE_WRITE or a rename into place, or, when only a walk
  saw it, once its size and mtime have stayed the same for `settle` seconds (checked by re-stat on each tick,
  never a fixed per-file sleep). A file created but not yet closed waits for its IN_CLOSE_WRITE;
- a vanished path leaves the file map (`Ingest.vanished`): the archive keeps its metadata;
- a rename is a vanish plus a new path whose content hashes to the known ID: the entry follows the file;
- changed content at a known path gives a new ID and the entry is re-keyed (metadata, categories, tanks,
  table of contents and stamps follow) unless another copy of the old content is still in the library;
- an inotify queue overflow, a rescan request and the start itself run a full walk (one stat per file);
- a folder of images (scan.is_folder_archive, setting `folder_archives`) is one archive: a page written,
  removed or renamed inside it marks the FOLDER, which is ingested once its synthesized stat (pages' total
  size, newest mtime) has stayed the same for `settle` seconds, so a folder copied in page by page becomes
  one archive when the copy is over (a page's close or its old mtime does not make the folder ready); a
  folder that stops being one (emptied, removed, given a sub-folder of images) is forgotten like a file.

Memory stays flat: the pending map only holds paths not yet handled, work is done in time-boxed batches on
this one thread, and a full walk imports settled files as it goes instead of queueing them.

Settings: config `watch` = auto|inotify|poll|off (LRR_WATCH) and `poll_interval` seconds (LRR_POLL_INTERVAL);
`Watcher.requested_mode` / `requested_interval` override them (tests).
"""

from __future__ import annotations

import logging
import os
import select
import stat
import threading
import time
from pathlib import Path

from lrr_lite.errors import ArchiveError
from lrr_lite.library.intake import scan
from lrr_lite.library.intake.ingest import archive_stat, shown
from lrr_lite.library.intake.inotify import (
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_IGNORED,
    IN_ISDIR,
    IN_MOVE_SELF,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_Q_OVERFLOW,
    Inotify,
)
from lrr_lite.media import formats
from lrr_lite.media.formats import folder as folders

log = logging.getLogger(__name__)

MODES = ("auto", "inotify", "poll", "off")
DEFAULT_MODE = "auto"
DEFAULT_POLL_INTERVAL = 30.0
SETTLE_SECONDS = 1.0  # a walked file must keep its size and mtime this long before it is imported
CLOSE_TIMEOUT = 30.0  # a file created but never closed (a hard link) is imported after this long unchanged
TICK = 0.2  # how often pending files are re-checked
BATCH_SECONDS = 0.5  # work done between two reads of the event queue
IMPORT_CHUNK = 32  # files recorded per write transaction (below the page-list memo's size)
NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph", "glusterfs", "davfs",
              "fuse", "fuseblk", "lustre", "gpfs", "beegfs", "virtiofs"}



def configured_mode(ctx) -> str:
    """The `watch` option: config attribute if the schema has it, else LRR_WATCH, else auto."""
    value = getattr(ctx.config, "watch", None) or os.environ.get("LRR_WATCH") or DEFAULT_MODE
    value = str(value).strip().lower()
    if value in ("0", "no", "false", "none", "disabled"):
        return "off"
    if value in ("1", "yes", "true", "on", "enabled"):
        return "auto"
    if value not in MODES:
        log.warning("watcher: unknown watch mode %r, using auto", value)
        return "auto"
    return value


def configured_interval(ctx) -> float:
    value = getattr(ctx.config, "poll_interval", None) or os.environ.get("LRR_POLL_INTERVAL") or DEFAULT_POLL_INTERVAL
    try:
        return max(0.1, float(value))
    except (TypeError, ValueError):
        log.warning("watcher: bad poll interval %r, using %s s", value, DEFAULT_POLL_INTERVAL)
        return DEFAULT_POLL_INTERVAL


def filesystem_type(path: Path) -> str:
    """The type of the mount holding path, from /proc/self/mountinfo ('' if unknown)."""
    try:
        target = os.path.realpath(path)
        best, fstype = "", ""
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) < 5 or not right:
                    continue
                mount = fields[4].replace("\\040", " ")
                inside = target == mount or target.startswith(mount.rstrip("/") + "/")
                if inside and len(mount) >= len(best):
                    best, fstype = mount, right.split()[0]
        return fstype
    except OSError:
        return ""


def is_network_fs(fstype: str) -> bool:
    return fstype in NETWORK_FS or fstype.startswith("fuse.") or fstype.startswith("nfs")


class _Pending:
    """A path waiting to be handled: its last seen size/mtime and when that last changed."""

    __slots__ = ("changed", "closed", "need_close", "sig")

    def __init__(self, sig: tuple[int, int] | None, now: float, closed: bool, need_close: bool) -> None:
        self.sig = sig
        self.changed = now
        self.closed = closed
        self.need_close = need_close


class Watcher:
    def __init__(self, ctx, mode: str | None = None, poll_interval: float | None = None,
                 settle: float = SETTLE_SECONDS) -> None:
        self.ctx = ctx
        self.requested_mode = mode
        self.requested_interval = poll_interval
        self.settle = settle
        self.mode = "off"  # what the running thread actually uses: inotify or poll
        self.poll_interval = DEFAULT_POLL_INTERVAL
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake_r = self._wake_w = -1
        self._rescan = False
        self._ino: Inotify | None = None
        self._pending: dict[str, _Pending] = {}
        self._new_archives = 0
        self._thumbs_due = 0.0
        self._more = False
        self.last_error: str | None = None
        self.restarts = 0  # times the supervisor started the watch loop again after an error

    # -- control (any thread) ----------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return os.getpid()

    def is_alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self, mode: str | None = None) -> int:
        """Start the watcher thread (no-op if it runs); returns the process id that carries it."""
        with self._lock:
            if self.is_alive():
                return self.pid
            chosen = mode or self.requested_mode or configured_mode(self.ctx)
            if chosen == "off":
                chosen = "auto"  # an explicit start (API restart) watches even if start-up watching is off
            self.poll_interval = self.requested_interval or configured_interval(self.ctx)
            self._close_pipe()
            self._stop = threading.Event()
            self._wake_r, self._wake_w = os.pipe()
            os.set_blocking(self._wake_r, False)
            self._pending = {}
            self._rescan = False
            self.last_error = None
            self._thread = threading.Thread(target=self._run, args=(chosen,), name="shinobu", daemon=True)
            self._thread.start()
            return self.pid

    def stop(self, timeout: float = 10.0) -> None:
        """Stop and join the thread; safe to call any number of times, from any thread."""
        with self._lock:
            thread = self._thread
            self._stop.set()
            self._wake()
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)
                if thread.is_alive():
                    log.warning("watcher: thread did not stop within %.0fs", timeout)
                    return
            self._thread = None
            self._close_pipe()

    def _close_pipe(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._wake_r = self._wake_w = -1

    def restart(self) -> int:
        self.stop()
        return self.start()

    def rescan(self) -> int:
        """Walk the whole folder again (IDs recomputed for files the map no longer vouches for)."""
        if not self.is_alive():
            return self.start()
        self._rescan = True
        self._wake()
        return self.pid

    def _wake(self) -> None:
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass

    # -- the thread --------------------------------------------------------------------------------------

    def _run(self, mode: str) -> None:
        """The thread: a supervisor around the watch loop. An error that escapes the loop (it catches what
        one turn raises) is logged, counted in `restarts` (shown by /api/shinobu) and the loop starts again
        after a pause that doubles up to a minute, so the thread itself never ends on an error."""
        pause = 1.0
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    self._watch(mode)
                    return
                except Exception as exc:
                    self.last_error = f"{exc.__class__.__name__}: {exc}"
                    self.restarts += 1
                    log.exception("watcher: stopped by an error; starting again in %.0f s", pause)
                finally:
                    if self._ino is not None:
                        self._ino.close()
                        self._ino = None
                pause = 1.0 if time.monotonic() - started > 300 else min(pause * 2, 60.0)
                self._wait(pause)
        finally:
            log.info("watcher: stopped")

    def _watch(self, mode: str) -> None:
        root = Path(self.ctx.config.content)
        self.mode = self._open(mode, root)
        log.info("watcher: watching %s (%s%s)", root, self.mode,
                 f", every {self.poll_interval:g}s" if self.mode == "poll" else "")
        self._wait_for_startup_scan()
        self._full_pass(root)
        next_poll = time.monotonic() + self.poll_interval
        while not self._stop.is_set():
            now = time.monotonic()
            if self._ready_work():
                timeout = 0.0
            elif self._pending:
                timeout = TICK
            elif self.mode == "poll":
                timeout = max(0.0, next_poll - now)
            else:
                timeout = 5.0
            self._wait(timeout)
            if self._stop.is_set():
                break
            try:
                self._read_events(root)
                if self._rescan or (self.mode == "poll" and time.monotonic() >= next_poll):
                    self._rescan = False
                    self._full_pass(root)
                    next_poll = time.monotonic() + self.poll_interval
                self._process_pending()
            except Exception as exc:  # one bad turn is logged; the watcher goes on with the next
                self.last_error = f"{exc.__class__.__name__}: {exc}"
                log.exception("watcher: error while handling changes (going on)")
                self._pending.clear()  # what caused it is met again by the next walk, not in a loop
                self._wait(1.0)

    def _open(self, mode: str, root: Path) -> str:
        if mode == "auto":
            fstype = filesystem_type(root)
            if is_network_fs(fstype):
                log.info("watcher: %s is on %s, where change events may not arrive: polling", root, fstype)
                mode = "poll"
            else:
                mode = "inotify"
        if mode == "inotify":
            try:
                self._ino = Inotify()
                if root.is_dir():
                    self._ino.add_tree(str(root))
            except (OSError, AttributeError) as exc:
                log.warning("watcher: inotify unavailable (%s): polling every %gs", exc, self.poll_interval)
                if self._ino is not None:
                    self._ino.close()
                self._ino = None
                mode = "poll"
        return mode

    def _wait(self, timeout: float) -> None:
        poller = select.poll()  # not select(): a busy server may hold descriptors above 1024
        poller.register(self._wake_r, select.POLLIN)
        if self._ino is not None:
            poller.register(self._ino.fd, select.POLLIN)
        try:
            ready = poller.poll(timeout * 1000)
        except InterruptedError:
            return
        if any(fd == self._wake_r for fd, _ in ready):
            try:
                while os.read(self._wake_r, 4096):
                    pass
            except (BlockingIOError, OSError):
                pass

    def _wait_for_startup_scan(self) -> None:
        """Let the start-up scan job finish first instead of hashing the same files twice at once."""
        jobs = self.ctx.jobs
        while not self._stop.is_set() and jobs.find_pending("scan_library", []) is not None:
            self._wait(0.5)
            self._read_events(Path(self.ctx.config.content))

    # -- events ------------------------------------------------------------------------------------------

    def _mark(self, path: str, *, closed: bool = False, need_close: bool = False, gone: bool = False) -> None:
        now = time.monotonic()
        entry = self._pending.get(path)
        if entry is None:
            sig = None
            if not gone:
                try:
                    st = os.stat(path)
                    sig = (st.st_size, st.st_mtime_ns)
                except OSError:
                    pass
            self._pending[path] = _Pending(sig, now, closed, need_close)
            return
        entry.changed = now
        if closed:
            entry.closed, entry.need_close = True, False
        elif need_close:
            entry.closed, entry.need_close = False, True

    def _known_under(self, prefix: str) -> list[str]:
        below = prefix.rstrip("/") + "/"
        n = len(below)
        rows = self.ctx.db.query("SELECT path FROM files WHERE substr(path, 1, ?) = ? "
                                 "UNION SELECT path FROM archives WHERE path != '' AND substr(path, 1, ?) = ?",
                                 (n, below, n, below))
        return [r["path"] for r in rows]

    def _read_events(self, root: Path) -> None:
        ino = self._ino
        if ino is None:
            return
        for wd, mask, _cookie, name in ino.read():
            if mask & IN_Q_OVERFLOW:
                log.warning("watcher: inotify queue overflowed; walking the whole folder")
                self._rescan = True
                continue
            if mask & IN_IGNORED:
                ino.paths.pop(wd, None)
                continue
            parent = ino.paths.get(wd)
            if parent is None:
                continue
            if mask & (IN_DELETE_SELF | IN_MOVE_SELF):
                if parent == str(root):
                    log.warning("watcher: the content folder itself was moved or deleted")
                    ino.remove_tree(parent)
                    self._rescan = True
                continue
            path = os.path.join(parent, name)
            if mask & IN_ISDIR:
                if mask & (IN_MOVED_FROM | IN_DELETE):
                    ino.remove_tree(path)
                    self._mark(path, gone=True)  # a folder archive itself, if it was one
                    for known in self._known_under(path):
                        self._mark(known, gone=True)
                elif mask & (IN_CREATE | IN_MOVED_TO):
                    try:
                        dirs = ino.add_tree(path)
                    except OSError as exc:
                        self._watch_limit(exc)
                        return
                    moved_in = bool(mask & IN_MOVED_TO)  # complete files; a new folder may still be filling
                    for d in dirs:  # files that arrived before the watch did
                        for entry in _scandir_files(d):
                            self._mark(entry, closed=moved_in)
                        if self._folders and folders.has_pages(Path(d)):
                            self._mark(d)  # a folder of images, perhaps: it waits until it settles
                continue
            if self._folders and parent != str(root) and _folder_member(name):
                self._mark_folder(parent)
                continue
            if not formats.is_archive_name(name):
                continue
            if self._folders:
                self._mark_if_known(parent)  # an archive file in a folder archive ends its being one
            if mask & (IN_MOVED_FROM | IN_DELETE):
                self._mark(path, gone=True)
            elif mask & (IN_CLOSE_WRITE | IN_MOVED_TO):
                self._mark(path, closed=True)
            elif mask & IN_CREATE:
                self._mark(path, need_close=True)

    @property
    def _folders(self) -> bool:
        return bool(getattr(self.ctx.ingest, "folder_archives", False))

    def _mark_folder(self, path: str) -> None:
        """A page of `path` changed: the folder waits to settle; so does its parent when that is a known
        archive (a sub-folder of images ends the parent's being one)."""
        self._mark(path)
        self._mark_if_known(os.path.dirname(path))

    def _mark_if_known(self, path: str) -> None:
        """Mark `path` when it is a recorded archive (a folder archive that a change inside may end)."""
        if path != str(self.ctx.config.content) and path not in self._pending:
            if self.ctx.db.query_one("SELECT 1 FROM files WHERE path=?", (path,)) is not None:
                self._mark(path)

    def _watch_limit(self, exc: OSError) -> None:
        log.warning("watcher: cannot watch every folder (%s; raise fs.inotify.max_user_watches): "
                    "polling every %gs instead", exc, self.poll_interval)
        if self._ino is not None:
            self._ino.close()
            self._ino = None
        self.mode = "poll"
        self._rescan = True

    # -- handling pending paths --------------------------------------------------------------------------

    def _ready_work(self) -> bool:
        return self._rescan or self._more or any(e.closed or e.sig is None for e in self._pending.values())

    def _process_pending(self) -> None:
        """Handle what has settled, for at most BATCH_SECONDS; the rest stays pending for the next turn."""
        self._more = False
        if not self._pending:
            self._finish_batch()
            return
        now = time.monotonic()
        wall = time.time()
        deadline = now + BATCH_SECONDS
        gone: set[str] = set()
        ready: list[tuple[str, os.stat_result]] = []
        for path, entry in list(self._pending.items()):
            try:
                st = os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                del self._pending[path]
                gone.add(path)
                continue
            except OSError as exc:
                log.warning("watcher: cannot stat %s: %s", path, exc)
                del self._pending[path]
                continue
            bundle = stat.S_ISDIR(st.st_mode)
            if bundle:
                if not (self._folders and scan.is_folder_archive(path, str(self.ctx.config.content),
                                                                str(self.ctx.ingest.thumbs))):
                    del self._pending[path]
                    gone.add(path)  # forgotten if it was a folder archive; nothing happens otherwise
                    continue
                try:
                    st = archive_stat(path, st)
                except (ArchiveError, OSError):
                    del self._pending[path]
                    gone.add(path)
                    continue
            elif not stat.S_ISREG(st.st_mode):
                del self._pending[path]
                continue
            sig = (st.st_size, st.st_mtime_ns)
            if sig != entry.sig:
                if entry.sig is not None and (bundle or not entry.closed):
                    entry.sig, entry.changed = sig, now
                    continue  # still being written
                entry.sig = sig
            stable = now - entry.changed
            if bundle:
                # Its pages may arrive with old mtimes (cp -p, rsync) and close one by one: only a folder
                # that stayed the same for `settle` seconds is complete.
                is_ready = entry.sig is not None and stable >= self.settle
            elif entry.need_close:
                is_ready = stable >= CLOSE_TIMEOUT
            else:
                is_ready = entry.closed or stable >= self.settle or wall - st.st_mtime >= self.settle
            if is_ready:
                ready.append((path, st))
        for start in range(0, len(ready), IMPORT_CHUNK):
            if time.monotonic() > deadline or self._stop.is_set():
                self._more = True
                break
            chunk = ready[start:start + IMPORT_CHUNK]
            self._import_chunk(chunk)
            for path, _ in chunk:
                self._pending.pop(path, None)
        if gone:
            self._forget(gone)
        self._finish_batch()

    def _import_chunk(self, chunk: list[tuple[str, os.stat_result]]) -> None:
        """Hand settled files to the ingest (read first, then recorded in one transaction). One file's
        error is the ingest's to record; anything else is logged and the watcher goes on with the next."""
        try:
            outcomes = self.ctx.ingest.files(chunk, queue_cover=False)
        except Exception:  # never let one batch end the thread: the files are retried on the next walk
            log.exception("watcher: could not import %s", _sample([p for p, _ in chunk]))
            return
        for outcome in outcomes:
            if outcome.is_new:
                self._note_new()  # a cover must be made
                log.info("watcher: %s %s", outcome.status, shown(outcome.path))

    def _finish_batch(self) -> None:
        # Covers are made once the burst is over, so the thumbnail job does not slow the imports down.
        if self._new_archives and (not self._pending or time.monotonic() - self._thumbs_due > 30):
            self._new_archives = 0
            self.ctx.ingest.request_covers()

    def _note_new(self) -> None:
        if not self._new_archives:
            self._thumbs_due = time.monotonic()
        self._new_archives += 1

    def _forget(self, paths: set[str]) -> None:
        known = self.ctx.ingest.vanished(paths)
        if known:
            log.info("watcher: %d file(s) gone: %s", known, _sample(sorted(paths)))

    def _full_pass(self, root: Path) -> None:
        """The scan's walk: settled changes are ingested on the way, fresh ones join the pending map."""
        if self._ino is not None and root.is_dir():
            try:
                self._ino.add_tree(str(root))  # directories created while events were lost
            except OSError as exc:
                self._watch_limit(exc)
        last_break = time.monotonic()

        def defer(path: str, st: os.stat_result) -> bool:
            nonlocal last_break
            if time.monotonic() - last_break >= 1.0:  # keep the event queue drained on long walks
                last_break = time.monotonic()
                self._read_events(root)
                self._finish_batch()
            if path in self._pending:
                return True
            if time.time() - st.st_mtime < self.settle:
                self._mark(path)  # still being written, perhaps: it waits for its turn in the pending map
                return True
            return False

        report = scan.scan(self.ctx.ingest, root, defer=defer, stop=self._stop.is_set)
        self._new_archives += report.added
        if report.added and not self._thumbs_due:
            self._thumbs_due = time.monotonic()
        self._finish_batch()
        log.info("watcher: walked %d files in %.1fs (%d new, %d gone, %d pending)", report.seen,
                 report.seconds, report.added, report.vanished, len(self._pending))


def _scandir_files(directory: str) -> list[str]:
    try:
        with os.scandir(directory) as it:
            return [e.path for e in it if formats.is_archive_name(e.name) and e.is_file()]
    except OSError:
        return []


def _folder_member(name: str) -> bool:
    """A name whose change changes a folder archive: a page (not a dot-file) or ComicInfo.xml."""
    return not name.startswith(".") and (formats.is_page_name(name) or name in folders.EXTRA_MEMBERS)


def _sample(paths: list[str], n: int = 3) -> str:
    shown = ", ".join(os.path.basename(p) for p in paths[:n])
    return shown + (f" and {len(paths) - n} more" if len(paths) > n else "")
