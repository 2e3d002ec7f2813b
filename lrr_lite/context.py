"""The server's state in one object, passed explicitly: nothing lives at module level."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from lrr_lite.config import Config
from lrr_lite.library import collections, housekeeping, tasks
from lrr_lite.library.archives import Archives
from lrr_lite.library.foreground import Foreground
from lrr_lite.library.intake.ingest import Ingest
from lrr_lite.library.jobs import JobQueue
from lrr_lite.library.locks import Locks
from lrr_lite.library.plugins.runner import auto_run
from lrr_lite.library.search import hitcache, rekey
from lrr_lite.media import formats, thumbs
from lrr_lite.storage.db import Database
from lrr_lite.storage.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Context:
    config: Config
    db: Database
    settings: Settings
    jobs: JobQueue
    cache: formats.PageCache
    locks: Locks
    ingest: Ingest
    collections: collections.Collections
    foreground: Foreground  # the requests being answered: background loops give way to them
    archives: Archives = field(init=False)
    watcher: Any = None  # library.intake.watcher.Watcher, made by http/api/shinobu.mount, started by serve

    @classmethod
    def open(cls, config: Config) -> Context:
        for folder in (config.data, config.thumbs, config.temp):
            folder.mkdir(parents=True, exist_ok=True)
        db = Database(config.db_path)
        rekey.ensure_current(db)  # before anything sorts: keys written by an older natural_key, once
        settings = Settings(db)
        if config.api_key is not None:
            settings.set("apikey", config.api_key)
        thumbs.set_decode_concurrency(config.decode_concurrency)
        jobs = JobQueue(db, config.job_workers)
        locks = Locks()
        categories = collections.Collections(db, settings, locks, thumbs=config.thumbs, jobs=jobs)
        foreground = Foreground()
        ctx = cls(config=config, db=db, settings=settings, jobs=jobs,
                  cache=formats.PageCache(config.temp / "pages", settings.temp_max_bytes), locks=locks,
                  ingest=Ingest(db, settings, config.thumbs, jobs=jobs, categories=categories,
                                folder_archives=config.folder_archives, foreground=foreground),
                  collections=categories, foreground=foreground)
        ctx.archives = Archives(ctx)
        ctx.ingest.plugins = lambda archive_id: auto_run(ctx, archive_id)
        collections.ensure_default_favorites(db)
        tasks.register_all(ctx)
        return ctx

    def start(self) -> None:
        """Start the server's threads. Only the serving process calls this (not `lrr-lite set` or `scan`,
        which may run beside a live server): what a killed server left in the temp folder is removed here."""
        housekeeping.remove_crash_leftovers(self.db, self.config.temp)
        self.db.start_checkpointer()
        self.jobs.start()

    def release_memory(self) -> None:
        """What an idle server gives back (the idle trimmer calls this before malloc_trim): kept hit sets too
        outdated to be patched, and the unused pages of every SQLite connection's cache."""
        hitcache.cache_of(self.db).drop_outdated(self.db)
        self.db.release_memory()

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()  # idempotent; joins the thread
        self.jobs.stop()
        self.db.close()
