"""Schema migrations, applied in order; `PRAGMA user_version` records how many ran.

Never edit a migration that has shipped: append a new one.
"""

MIGRATIONS: list[str] = [
    # 1: the foundation
    """
    CREATE TABLE archives (
        id           TEXT PRIMARY KEY,          -- LANraragi ID: sha1 of the first 512000 bytes
        path         TEXT NOT NULL DEFAULT '',  -- absolute path on disk; '' = file gone or unlinked
        filename     TEXT NOT NULL,             -- file name without its last extension
        extension    TEXT NOT NULL DEFAULT '',  -- lowercased text after the last dot
        title        TEXT NOT NULL DEFAULT '',
        tags         TEXT NOT NULL DEFAULT '',  -- raw tag string as LANraragi stores it
        summary      TEXT NOT NULL DEFAULT '',
        isnew        INTEGER NOT NULL DEFAULT 1,
        progress     INTEGER NOT NULL DEFAULT 0,
        pagecount    INTEGER NOT NULL DEFAULT 0,
        lastreadtime INTEGER NOT NULL DEFAULT 0,
        size         INTEGER NOT NULL DEFAULT 0,
        thumbhash    TEXT,
        added        INTEGER NOT NULL DEFAULT 0  -- epoch s the row was created
    );
    CREATE INDEX archives_path ON archives(path);
    -- Lowercased trimmed tags, one row each: search, stats and untagged are index lookups.
    CREATE TABLE tags (
        archive_id TEXT NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
        tag        TEXT NOT NULL,
        PRIMARY KEY (archive_id, tag)
    ) WITHOUT ROWID;
    CREATE INDEX tags_tag ON tags(tag);
    -- Ordered page list, kept apart so whole-library listings don't drag it along.
    CREATE TABLE archive_pages (
        archive_id TEXT PRIMARY KEY REFERENCES archives(id) ON DELETE CASCADE,
        pages      TEXT NOT NULL                -- JSON array of in-archive paths, LANraragi order
    );
    CREATE TABLE toc (
        archive_id TEXT NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
        page       INTEGER NOT NULL,
        name       TEXT NOT NULL,
        PRIMARY KEY (archive_id, page)
    ) WITHOUT ROWID;
    -- The scanner's path -> ID map; a rescan skips files whose size and mtime are unchanged.
    CREATE TABLE files (
        path       TEXT PRIMARY KEY,
        archive_id TEXT NOT NULL,
        size       INTEGER NOT NULL,
        mtime_ns   INTEGER NOT NULL
    );
    CREATE INDEX files_archive ON files(archive_id);
    -- Files the scanner could not read, with the reason; retried when size or mtime change.
    CREATE TABLE bad_files (
        path     TEXT PRIMARY KEY,
        size     INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        reason   TEXT NOT NULL
    );
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE jobs (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        task     TEXT NOT NULL,
        args     TEXT NOT NULL DEFAULT '[]',
        state    TEXT NOT NULL DEFAULT 'inactive',
        result   TEXT,
        notes    TEXT NOT NULL DEFAULT '{}',
        priority INTEGER NOT NULL DEFAULT 0,
        queue    TEXT NOT NULL DEFAULT 'default',
        attempts INTEGER NOT NULL DEFAULT 1,
        retries  INTEGER NOT NULL DEFAULT 0,
        worker   INTEGER,
        created  REAL NOT NULL,
        started  REAL,
        finished REAL
    );
    CREATE INDEX jobs_state ON jobs(state);
    CREATE TABLE categories (
        id      TEXT PRIMARY KEY,
        name    TEXT NOT NULL,
        search  TEXT NOT NULL DEFAULT '',
        pinned  INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE category_archives (
        category_id TEXT NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
        archive_id  TEXT NOT NULL,               -- an archive or a tankoubon ID
        position    INTEGER NOT NULL,
        PRIMARY KEY (category_id, archive_id)
    ) WITHOUT ROWID;
    CREATE INDEX category_archives_archive ON category_archives(archive_id);
    CREATE TABLE tankoubons (
        id       TEXT PRIMARY KEY,
        name     TEXT NOT NULL,
        summary  TEXT NOT NULL DEFAULT '',
        tags     TEXT NOT NULL DEFAULT '',
        progress INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE tank_archives (
        tank_id    TEXT NOT NULL REFERENCES tankoubons(id) ON DELETE CASCADE,
        archive_id TEXT NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
        position   INTEGER NOT NULL,
        PRIMARY KEY (tank_id, archive_id)
    ) WITHOUT ROWID;
    CREATE INDEX tank_archives_archive ON tank_archives(archive_id);
    CREATE TABLE stamps (
        id         TEXT PRIMARY KEY,
        archive_id TEXT NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
        page       INTEGER NOT NULL,
        content    TEXT NOT NULL DEFAULT '',
        position   TEXT NOT NULL DEFAULT '0,0'
    );
    CREATE INDEX stamps_archive ON stamps(archive_id, page);
    """,
]
