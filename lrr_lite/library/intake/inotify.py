"""Just enough of inotify(7) through ctypes: recursive directory watches and decoded events.

Names come back from the kernel as bytes; they are decoded with os.fsdecode (surrogate escapes), so a name
that is not UTF-8 still names the same file when it is opened again.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import struct

# inotify(7)
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
WATCH_MASK = (IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF
              | IN_MOVE_SELF | IN_ONLYDIR)
_EVENT = struct.Struct("iIII")


class Inotify:
    """Just enough of inotify(7) through ctypes: recursive directory watches and decoded events."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._add = libc.inotify_add_watch
        self._add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        self._rm = libc.inotify_rm_watch
        self._rm.argtypes = [ctypes.c_int, ctypes.c_int]
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_init1: {os.strerror(err)}")
        self.fd = fd
        self.paths: dict[int, str] = {}  # watch descriptor -> directory path

    def add(self, path: str) -> int | None:
        """Watch one directory; None if it vanished meanwhile. OSError(ENOSPC) at the watch limit."""
        wd = self._add(self.fd, os.fsencode(path), WATCH_MASK)
        if wd < 0:
            err = ctypes.get_errno()
            if err in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):
                return None
            raise OSError(err, f"inotify_add_watch {path}: {os.strerror(err)}")
        self.paths.setdefault(wd, path)  # a directory reached twice (symlink) keeps its first path
        return wd

    def add_tree(self, root: str) -> list[str]:
        """Watch root and every directory below it (symlinks followed, loops cut); returns the directories.

        Each directory is watched BEFORE it is listed: a subdirectory created in between is then either
        in the listing or announced by an event, never lost (os.walk lists first, which loses it)."""
        seen: set[tuple[int, int]] = set()
        dirs: list[str] = []
        stack = [root]
        while stack:
            dirpath = stack.pop()
            try:
                st = os.stat(dirpath)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            if self.add(dirpath) is None:
                continue
            dirs.append(dirpath)
            try:
                with os.scandir(dirpath) as entries:
                    stack.extend(sorted((e.path for e in entries if e.is_dir(follow_symlinks=True)), reverse=True))
            except OSError:
                pass
        return dirs

    def remove_tree(self, prefix: str) -> None:
        below = prefix.rstrip("/") + "/"
        for wd, path in list(self.paths.items()):
            if path == prefix or path.startswith(below):
                self._rm(self.fd, wd)  # the kernel answers with IN_IGNORED; the mapping goes now
                del self.paths[wd]

    def read(self) -> list[tuple[int, int, int, str]]:
        """All queued events as (wd, mask, cookie, name); [] when none are waiting."""
        events: list[tuple[int, int, int, str]] = []
        while True:
            try:
                buf = os.read(self.fd, 64 * 1024)
            except BlockingIOError:
                return events
            except InterruptedError:
                continue
            offset = 0
            while offset + _EVENT.size <= len(buf):
                wd, mask, cookie, length = _EVENT.unpack_from(buf, offset)
                offset += _EVENT.size
                raw = buf[offset:offset + length].split(b"\0", 1)[0]
                offset += length
                events.append((wd, mask, cookie, os.fsdecode(raw)))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.paths.clear()
