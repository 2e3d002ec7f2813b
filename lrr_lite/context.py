"""The server's state in one object, passed explicitly: nothing lives at module level."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from . import formats, thumbs
from .config import Config
from .db import Database
from .jobs import JobQueue
from .settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Context:
    config: Config
    db: Database
    settings: Settings
    jobs: JobQueue
    cache: formats.PageCache
    watcher: Any = None  # lrr_lite.watcher.Watcher, made by api/shinobu.mount, started by serve

    @classmethod
    def open(cls, config: Config) -> Context:
        for folder in (config.data, config.thumbs, config.temp):
            folder.mkdir(parents=True, exist_ok=True)
        db = Database(config.db_path)
        settings = Settings(db)
        if config.api_key is not None:
            settings.set("apikey", config.api_key)
        thumbs.set_decode_concurrency(config.decode_concurrency)
        ctx = cls(config=config, db=db, settings=settings, jobs=JobQueue(db, config.job_workers),
                  cache=formats.PageCache(config.temp / "pages", settings.temp_max_bytes))
        from . import collections, tasks  # imported here to keep import time light

        collections.ensure_default_favorites(db)
        tasks.register_all(ctx)
        return ctx

    def start(self) -> None:
        self.db.start_checkpointer()
        self.jobs.start()

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()  # idempotent; joins the thread
        self.jobs.stop()
        self.db.close()
