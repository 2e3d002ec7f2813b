"""Schema migrations, applied in order; `PRAGMA user_version` records how many ran.

A migration is SQL text, or a function of the connection when rows must be recomputed in Python.
Never edit a migration that has shipped: append a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from lrr_lite.storage.db.frozen import index_keys, is_untagged, namespace_values, natural_key


def _search_columns(conn: sqlite3.Connection) -> None:
    """2: what search sorts and filters on, precomputed at write time so queries are index lookups."""

    for statement in (
        "ALTER TABLE archives ADD COLUMN title_lc TEXT NOT NULL DEFAULT ''",  # lower(trim(title)), globbed
        "ALTER TABLE archives ADD COLUMN sort_key TEXT NOT NULL DEFAULT ''",  # natural-order key of title
        "ALTER TABLE archives ADD COLUMN untagged INTEGER NOT NULL DEFAULT 1",
        "CREATE INDEX archives_sort ON archives(sort_key, id) WHERE path != ''",
        "CREATE INDEX archives_read ON archives(lastreadtime) WHERE path != '' AND lastreadtime > 0",
        # Value of each archive's namespace tags, as natural-order keys, for sortby=<namespace>.
        """CREATE TABLE ns_values (
            archive_id TEXT NOT NULL REFERENCES archives(id) ON DELETE CASCADE,
            ns         TEXT NOT NULL,
            value_key  TEXT NOT NULL,
            PRIMARY KEY (ns, archive_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX ns_values_key ON ns_values(ns, value_key)",
        # Distinct tags with their archive counts: substring terms scan this, stats read it.
        """CREATE TABLE tag_counts (
            tag TEXT PRIMARY KEY,
            n   INTEGER NOT NULL
        ) WITHOUT ROWID""",
        """CREATE TRIGGER tags_count_add AFTER INSERT ON tags BEGIN
            INSERT INTO tag_counts(tag, n) VALUES (new.tag, 1)
            ON CONFLICT(tag) DO UPDATE SET n = n + 1;
        END""",
        """CREATE TRIGGER tags_count_remove AFTER DELETE ON tags BEGIN
            UPDATE tag_counts SET n = n - 1 WHERE tag = old.tag;
            DELETE FROM tag_counts WHERE tag = old.tag AND n <= 0;
        END""",
        "INSERT INTO tag_counts(tag, n) SELECT tag, COUNT(*) FROM tags GROUP BY tag",
    ):
        conn.execute(statement)
    for row in conn.execute("SELECT id, title, filename, tags FROM archives").fetchall():
        title = (row["title"] or row["filename"]).strip()
        conn.execute("UPDATE archives SET title_lc=?, sort_key=?, untagged=? WHERE id=?",
                     (title.lower(), natural_key(title.lower()), int(is_untagged(row["tags"])), row["id"]))
    # (ns_values is filled by migration 3, which rebuilds it)


def _integer_keys(conn: sqlite3.Connection) -> None:
    """3: archives get an integer key; tag and sort tables refer to it instead of the 40-character ID.
    Measured at 100k archives: an exact tag with 45k hits took ~230 ms to intersect through text IDs."""

    columns = ("id, path, filename, extension, title, tags, summary, isnew, progress, pagecount, lastreadtime, "
               "size, thumbhash, added, title_lc, sort_key, untagged")
    for statement in (
        """CREATE TABLE archives_new (
            num          INTEGER PRIMARY KEY,
            id           TEXT NOT NULL UNIQUE,
            path         TEXT NOT NULL DEFAULT '',
            filename     TEXT NOT NULL,
            extension    TEXT NOT NULL DEFAULT '',
            title        TEXT NOT NULL DEFAULT '',
            tags         TEXT NOT NULL DEFAULT '',
            summary      TEXT NOT NULL DEFAULT '',
            isnew        INTEGER NOT NULL DEFAULT 1,
            progress     INTEGER NOT NULL DEFAULT 0,
            pagecount    INTEGER NOT NULL DEFAULT 0,
            lastreadtime INTEGER NOT NULL DEFAULT 0,
            size         INTEGER NOT NULL DEFAULT 0,
            thumbhash    TEXT,
            added        INTEGER NOT NULL DEFAULT 0,
            title_lc     TEXT NOT NULL DEFAULT '',
            sort_key     TEXT NOT NULL DEFAULT '',
            untagged     INTEGER NOT NULL DEFAULT 1
        )""",
        f"INSERT INTO archives_new({columns}) SELECT {columns} FROM archives ORDER BY added, id",
        "DROP TABLE tags",
        "DROP TABLE tag_counts",
        "DROP TABLE ns_values",
        "DROP TABLE archives",
        "ALTER TABLE archives_new RENAME TO archives",
        "CREATE INDEX archives_path ON archives(path)",
        "CREATE INDEX archives_sort ON archives(sort_key, num) WHERE path != ''",
        # narrow: counting visible archives and probing visibility read this, not the wide rows
        "CREATE INDEX archives_visible ON archives(num) WHERE path != ''",
        "CREATE INDEX archives_read ON archives(lastreadtime, num) WHERE path != '' AND lastreadtime > 0",
        # distinct lowercased tags with how many archives carry each
        """CREATE TABLE tag_names (
            tag_id INTEGER PRIMARY KEY,
            tag    TEXT NOT NULL UNIQUE,
            n      INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE archive_tags (
            tag_id INTEGER NOT NULL REFERENCES tag_names(tag_id),
            num    INTEGER NOT NULL REFERENCES archives(num) ON DELETE CASCADE,
            PRIMARY KEY (tag_id, num)
        ) WITHOUT ROWID""",
        "CREATE INDEX archive_tags_num ON archive_tags(num, tag_id)",
        """CREATE TRIGGER archive_tags_add AFTER INSERT ON archive_tags BEGIN
            UPDATE tag_names SET n = n + 1 WHERE tag_id = new.tag_id;
        END""",
        """CREATE TRIGGER archive_tags_remove AFTER DELETE ON archive_tags BEGIN
            UPDATE tag_names SET n = n - 1 WHERE tag_id = old.tag_id;
            DELETE FROM tag_names WHERE tag_id = old.tag_id AND n <= 0;
        END""",
        # what older code and people at the sqlite3 prompt expect to find
        """CREATE VIEW tags AS SELECT a.id AS archive_id, t.tag AS tag
            FROM archive_tags x JOIN tag_names t ON t.tag_id = x.tag_id JOIN archives a ON a.num = x.num""",
        """CREATE TABLE ns_values (
            ns        TEXT NOT NULL,
            num       INTEGER NOT NULL REFERENCES archives(num) ON DELETE CASCADE,
            value_key TEXT NOT NULL,
            PRIMARY KEY (ns, num)
        ) WITHOUT ROWID""",
        "CREATE INDEX ns_values_key ON ns_values(ns, value_key, num)",
        "CREATE INDEX ns_values_num ON ns_values(num)",
        # A narrow index to scan for title substrings instead of the wide rows. (SQLite 3.40's FTS5
        # trigram GLOB was tried: it misses short non-ASCII patterns and crashed on a fuzzed one.)
        "CREATE INDEX archives_title ON archives(title_lc, num)",
    ):
        conn.execute(statement)
    for row in conn.execute("SELECT num, tags FROM archives").fetchall():
        for key in index_keys(row["tags"]):
            conn.execute("INSERT OR IGNORE INTO tag_names(tag) VALUES (?)", (key,))
            conn.execute("INSERT OR IGNORE INTO archive_tags(tag_id, num) "
                         "SELECT tag_id, ? FROM tag_names WHERE tag = ?", (row["num"], key))
        conn.executemany("INSERT INTO ns_values(ns, num, value_key) VALUES (?, ?, ?)",
                         [(ns, row["num"], natural_key(v)) for ns, v in namespace_values(row["tags"]).items()])


_integer_keys.rebuilds_tables = True  # type: ignore[attr-defined]


# The searchable text of archive `num` (search_text, schema 17): the title as searched, then its index tags.
SEARCH_TEXT_SQL = ("SELECT a.num, a.title_lc || char(10) || COALESCE((SELECT group_concat(t.tag, char(10)) "
                   "FROM archive_tags x JOIN tag_names t ON t.tag_id = x.tag_id WHERE x.num = a.num), '') "
                   "FROM archives a")


def _search_text(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS search_text (num INTEGER PRIMARY KEY, text TEXT NOT NULL)")
    conn.execute("DELETE FROM search_text")
    conn.execute(f"INSERT INTO search_text(num, text) {SEARCH_TEXT_SQL}")
    conn.execute("CREATE TRIGGER IF NOT EXISTS search_text_insert AFTER INSERT ON archives BEGIN "
                 f"INSERT OR REPLACE INTO search_text(num, text) {SEARCH_TEXT_SQL} WHERE a.num = new.num; END")
    conn.execute("CREATE TRIGGER IF NOT EXISTS search_text_title AFTER UPDATE OF title_lc ON archives BEGIN "
                 f"INSERT OR REPLACE INTO search_text(num, text) {SEARCH_TEXT_SQL} WHERE a.num = new.num; END")
    conn.execute("CREATE TRIGGER IF NOT EXISTS search_text_delete AFTER DELETE ON archives BEGIN "
                 "DELETE FROM search_text WHERE num = old.num; END")


SEARCH_LOG_KEEP = 4096


def _search_log(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS search_log (seq INTEGER PRIMARY KEY, num INTEGER NOT NULL)")
    # seq is the rowid: one past the largest, never reused while the newest row is kept (the trim below
    # keeps it), so a cached hit set's seq orders it against every later change
    trim = f"DELETE FROM search_log WHERE seq <= (SELECT MAX(seq) FROM search_log) - {SEARCH_LOG_KEEP};"
    for name, event, num in (("search_log_text_insert", "AFTER INSERT ON search_text", "new.num"),
                             ("search_log_text_update", "AFTER UPDATE ON search_text", "new.num"),
                             ("search_log_text_delete", "AFTER DELETE ON search_text", "old.num"),
                             ("search_log_path", "AFTER UPDATE OF path ON archives WHEN (old.path = '') != "
                                                 "(new.path = '')", "new.num")):
        conn.execute(f"CREATE TRIGGER IF NOT EXISTS {name} {event} BEGIN "
                     f"INSERT INTO search_log(num) VALUES ({num}); {trim} END")


MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
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
    _search_columns,
    _integer_keys,
    # 4: a visibility index that carries the title, so a search can test one archive's title by its key
    # without reading the wide row (the narrow one stays: counting visible archives reads it)
    """
    CREATE INDEX archives_visible_title ON archives(num, title_lc) WHERE path != '';
    """,
    # 5: each distinct tag's namespace and text, split once at write time: /api/database/stats builds
    # its JSON from plain columns (3x faster than splitting 100k+ tags on every call)
    """
    ALTER TABLE tag_names ADD COLUMN ns TEXT NOT NULL DEFAULT '';
    ALTER TABLE tag_names ADD COLUMN text TEXT NOT NULL DEFAULT '';
    UPDATE tag_names SET
        ns = CASE WHEN instr(tag, ':') THEN substr(tag, 1, instr(tag, ':') - 1) ELSE '' END,
        text = CASE WHEN instr(tag, ':') THEN substr(tag, instr(tag, ':') + 1) ELSE tag END;
    """,
    # 6: the few titles that contain a ':'. A bare `ns:value` term also matches titles (§5.2), and in
    # practice only these can: a search reads this small index instead of every title.
    """
    CREATE INDEX archives_colon_titles ON archives(title_lc, num) WHERE instr(title_lc, ':') > 0;
    """,
    # 7: what a search's archive-level flags test (newonly, untaggedonly, hidecompleted, lastread, pages:
    # and read: terms), narrow: scanning it for 100k archives reads ~3 MB instead of the wide rows
    """
    CREATE INDEX archives_flags ON archives(num, isnew, untagged, pagecount, progress, lastreadtime)
        WHERE path != '';
    """,
    # 8: how many archives have their file, kept by triggers: every search's recordsTotal and /api/info
    # read one row instead of counting 100k index entries (~6 ms) after each write. (A migration that
    # rebuilds `archives` must recreate these triggers.)
    """
    CREATE TABLE counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO counters(name, n) SELECT 'visible', COUNT(*) FROM archives WHERE path != '';
    CREATE TRIGGER archives_count_add AFTER INSERT ON archives WHEN new.path != '' BEGIN
        UPDATE counters SET n = n + 1 WHERE name = 'visible';
    END;
    CREATE TRIGGER archives_count_remove AFTER DELETE ON archives WHEN old.path != '' BEGIN
        UPDATE counters SET n = n - 1 WHERE name = 'visible';
    END;
    CREATE TRIGGER archives_count_path AFTER UPDATE OF path ON archives
        WHEN (old.path != '') != (new.path != '') BEGIN
        UPDATE counters SET n = n + (new.path != '') - (old.path != '') WHERE name = 'visible';
    END;
    """,
    # 9: the web UI's logged-in sessions, by the random nonce in their cookie. A cookie authenticates only
    # while its row exists, so logout (delete one row) and a password change (delete all) end sessions at
    # once and for good, across restarts; a signed cookie alone stays valid until it expires.
    """
    CREATE TABLE web_sessions (
        nonce   TEXT PRIMARY KEY,
        created INTEGER NOT NULL,  -- epoch s of the login
        expires INTEGER NOT NULL   -- epoch s; expired rows are swept at the next login
    ) WITHOUT ROWID;
    """,
    # 10: covers that could not be made, with why and when to try again (back-off): the cover job skips them
    # until then instead of failing on the same undecodable archives after every import.
    """
    CREATE TABLE cover_failures (
        archive_id TEXT PRIMARY KEY REFERENCES archives(id) ON DELETE CASCADE,
        reason     TEXT NOT NULL,
        failures   INTEGER NOT NULL,  -- in a row; the wait doubles with each
        retry_at   INTEGER NOT NULL   -- epoch s
    ) WITHOUT ROWID;
    """,
    # 11: which version of today's code derived the stored values that are computed in Python (the title sort
    # keys: `sort_key_version`). A frozen migration can't call today's natural_key, and storage may not import
    # the library; so the library compares its version at open and re-keys the rows once (search/rekey.py).
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 12: which archives carry a tag of each namespace ('female:'), and a tag of it starting with each first
    # character ('artist:s'): a term like `female:` or `artist:s*` matches thousands of distinct tags, and
    # the union of their archive lists cost ~100 ms at 100k archives per search (2-7 s when excluded); its
    # hits are now one range of `tag_heads`, counted in `head_names.n`, tested per archive by one seek. A
    # head is stored by an integer key (the text repeated in 1.9M rows at 100k archives: 35 MB, as integers
    # 20 MB). Kept by triggers on archive_tags, from the tag's own text: everything up to its first ':' and
    # one more character (for a tag with an empty value, both are the tag itself: one head). The delete
    # trigger runs BEFORE the row goes, while tag_names still holds its tag (the count trigger may drop that
    # row after), and keeps a head another tag of the archive still gives.
    """
    CREATE TABLE head_names (
        head_id INTEGER PRIMARY KEY,
        head    TEXT NOT NULL UNIQUE,      -- 'ns:' or 'ns:' + the value's first character
        n       INTEGER NOT NULL DEFAULT 0 -- its rows in tag_heads: archives carrying it
    );
    INSERT INTO head_names(head)
        SELECT substr(tag, 1, instr(tag, ':')) FROM tag_names WHERE instr(tag, ':') > 0
        UNION
        SELECT substr(tag, 1, instr(tag, ':') + 1) FROM tag_names WHERE instr(tag, ':') > 0
        ORDER BY 1;
    CREATE TABLE tag_heads (
        head_id INTEGER NOT NULL,  -- head_names(head_id)
        num     INTEGER NOT NULL,  -- archives(num); rows go with the archive's archive_tags rows
        PRIMARY KEY (head_id, num)
    ) WITHOUT ROWID;
    INSERT INTO tag_heads(head_id, num)
        SELECT h.head_id, x.num FROM archive_tags x JOIN tag_names t ON t.tag_id = x.tag_id
            JOIN head_names h ON h.head = substr(t.tag, 1, instr(t.tag, ':')) WHERE instr(t.tag, ':') > 0
        UNION
        SELECT h.head_id, x.num FROM archive_tags x JOIN tag_names t ON t.tag_id = x.tag_id
            JOIN head_names h ON h.head = substr(t.tag, 1, instr(t.tag, ':') + 1) WHERE instr(t.tag, ':') > 0
        ORDER BY 1, 2;
    UPDATE head_names SET n = (SELECT COUNT(*) FROM tag_heads WHERE tag_heads.head_id = head_names.head_id);
    DELETE FROM head_names WHERE n = 0;
    CREATE TRIGGER tag_heads_add AFTER INSERT ON archive_tags BEGIN
        INSERT OR IGNORE INTO head_names(head)
            SELECT substr(t.tag, 1, instr(t.tag, ':')) FROM tag_names t
                WHERE t.tag_id = new.tag_id AND instr(t.tag, ':') > 0
            UNION ALL
            SELECT substr(t.tag, 1, instr(t.tag, ':') + 1) FROM tag_names t
                WHERE t.tag_id = new.tag_id AND instr(t.tag, ':') > 0;
        INSERT OR IGNORE INTO tag_heads(head_id, num)
            SELECT h.head_id, new.num FROM tag_names t JOIN head_names h
                ON h.head IN (substr(t.tag, 1, instr(t.tag, ':')), substr(t.tag, 1, instr(t.tag, ':') + 1))
                WHERE t.tag_id = new.tag_id AND instr(t.tag, ':') > 0;
    END;
    CREATE TRIGGER tag_heads_remove BEFORE DELETE ON archive_tags BEGIN
        DELETE FROM tag_heads WHERE num = old.num AND head_id IN (
            SELECT h.head_id FROM tag_names t JOIN head_names h
                ON h.head IN (substr(t.tag, 1, instr(t.tag, ':')), substr(t.tag, 1, instr(t.tag, ':') + 1))
                WHERE t.tag_id = old.tag_id AND instr(t.tag, ':') > 0
        ) AND NOT EXISTS (
            SELECT 1 FROM archive_tags x JOIN tag_names o ON o.tag_id = x.tag_id JOIN head_names h
                ON h.head IN (substr(o.tag, 1, instr(o.tag, ':')), substr(o.tag, 1, instr(o.tag, ':') + 1))
                WHERE x.num = old.num AND x.tag_id != old.tag_id AND instr(o.tag, ':') > 0
                AND h.head_id = tag_heads.head_id
        );
    END;
    CREATE TRIGGER head_names_count_add AFTER INSERT ON tag_heads BEGIN
        UPDATE head_names SET n = n + 1 WHERE head_id = new.head_id;
    END;
    CREATE TRIGGER head_names_count_remove AFTER DELETE ON tag_heads BEGIN
        UPDATE head_names SET n = n - 1 WHERE head_id = old.head_id;
        DELETE FROM head_names WHERE head_id = old.head_id AND n <= 0;
    END;
    """,
    # 13: KOReader progress sync (kosync, library/kosync.py). `doc_hashes`: the document fingerprints KOReader
    # computes for a file (kind 0 'binary': its partial MD5; 1 'filename': the MD5 of its name), written at
    # ingest, so a document hash finds its archive in one indexed lookup. Keyed (hash, archive): two archives
    # may share a file name, and the lookup must see that to refuse to guess. 16-byte hashes and the integer
    # archive key, as archive_tags does: 2 rows per archive, 12 MB with its index at 100k archives, 37 MB as
    # text (and a re-keyed archive keeps its `num`). Existing archives get theirs from a job (a migration cannot
    # read files). `kosync_progress`: the last position pushed for each document and the device that pushed it
    # (`page`: the archive page that push set, NULL if it set none); for a document no archive matches, the
    # only record. (IF NOT EXISTS: a test that winds user_version back to an older schema, dropping only that
    # schema's tables, runs this again.)
    """
    CREATE TABLE IF NOT EXISTS doc_hashes (
        hash BLOB NOT NULL,     -- the MD5's 16 bytes
        num  INTEGER NOT NULL REFERENCES archives(num) ON DELETE CASCADE,
        kind INTEGER NOT NULL,  -- 0 binary, 1 filename
        PRIMARY KEY (hash, num)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS doc_hashes_archive ON doc_hashes(num, kind);
    CREATE TABLE IF NOT EXISTS kosync_progress (
        document   TEXT PRIMARY KEY,
        progress   TEXT NOT NULL,
        percentage REAL NOT NULL,
        device     TEXT NOT NULL,
        device_id  TEXT NOT NULL,
        timestamp  INTEGER NOT NULL,  -- epoch s
        page       INTEGER
    ) WITHOUT ROWID;
    """,
    # 14: the web reader's choices per archive (mode, reading direction, fit), saved for a browser that is
    # logged in or uses the API key (other browsers keep theirs in localStorage). One row per archive; it goes
    # with the archive. Empty text = no choice made: the reader's default (ComicInfo.xml, page shape) applies.
    # IF NOT EXISTS: a database taken back to an earlier version by hand (tests do) may still hold it.
    """
    CREATE TABLE IF NOT EXISTS reader_prefs (
        archive_id TEXT PRIMARY KEY REFERENCES archives(id) ON DELETE CASCADE,
        mode       TEXT NOT NULL DEFAULT '',  -- 'single', 'double', 'double-nocover' or 'vertical'
        direction  TEXT NOT NULL DEFAULT '',  -- 'ltr' or 'rtl'
        fit        TEXT NOT NULL DEFAULT '',  -- 'screen', 'width', 'height' or 'original'
        updated    INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    """,
    # 15: each present archive's title sort key by its integer key. A page of collected hits in title order
    # (hits bunched along the order, where a walk of archives_sort would pass most of the library) sorts the
    # hits by their keys: read from the wide rows that touched a page per hit (at 1M, 100k hits of
    # `artist:s*`: ~100 ms); from this narrow index, ~9 MB per 100k archives, a few times fewer pages. (IF NOT
    # EXISTS: a test rolls user_version back past it to re-run an earlier migration.)
    """
    CREATE INDEX IF NOT EXISTS archives_num_sort ON archives(num, sort_key) WHERE path != '';
    """,
    # 16: the present archives read to the end (more than 85 % of their pages: what hidecompleted hides). The
    # search's count of a library less those was a pass over every archive's flags (at 1M archives ~70 ms);
    # they are few, and this partial index counts them at once. SQLite keeps it with the rows; the search
    # names its condition in exactly these words, so the index applies. (IF NOT EXISTS: a test rolls
    # user_version back past it to re-run an earlier migration.)
    """
    CREATE INDEX IF NOT EXISTS archives_completed ON archives(num)
        WHERE path != '' AND pagecount > 0 AND progress * 1.0 / pagecount > 0.85;
    """,    # 17: each archive's searchable text in one narrow row: its lowercased title and its index tags, one per line
    # (search_text). A bare word (`*ko`) hits every tag containing it — thousands of distinct tags in a big
    # library, whose posting lists overlap: counting their union meant reading and de-duplicating ~8 postings
    # per archive (at 100k, 78k postings + a pass over the titles); one pass over these rows tests each archive
    # once, titles included (2.7x faster side by side at 100k). Kept by triggers for titles and by
    # records.write_tags for tags (the only writer of archive_tags after this migration).
    _search_text,
    # 18: which archives' searchable state changed, in order (search_log): a new row for every change of an
    # archive's search_text (title or tags; inserted and deleted archives too) and of its presence (path). A
    # search's hit set kept in memory (library/search/hitcache.py) is brought up to date by testing only the
    # archives changed since it was computed, instead of computing it again after every metadata write (at 1M
    # archives `*ko` is a pass over every archive's text). Only the last SEARCH_LOG_KEEP changes are kept:
    # a hit set older than those is computed again.
    _search_log,
    # 19: how many present archives are new, kept by triggers like `visible` (schema 8): newonly alone (Mihon's
    # "Latest", §5.3) was counted by a pass over every archive's flags (at 1M archives ~150 ms on a slow core);
    # this reads one row. A bulk "clear new" pays one counter update per archive it clears.
    """
    INSERT OR REPLACE INTO counters(name, n)
        SELECT 'new', COUNT(*) FROM archives WHERE path != '' AND isnew = 1;
    CREATE TRIGGER IF NOT EXISTS archives_new_add AFTER INSERT ON archives
        WHEN new.path != '' AND new.isnew = 1 BEGIN
        UPDATE counters SET n = n + 1 WHERE name = 'new';
    END;
    CREATE TRIGGER IF NOT EXISTS archives_new_remove AFTER DELETE ON archives
        WHEN old.path != '' AND old.isnew = 1 BEGIN
        UPDATE counters SET n = n - 1 WHERE name = 'new';
    END;
    CREATE TRIGGER IF NOT EXISTS archives_new_change AFTER UPDATE OF path, isnew ON archives
        WHEN (old.path != '' AND old.isnew = 1) != (new.path != '' AND new.isnew = 1) BEGIN
        UPDATE counters SET n = n + (new.path != '' AND new.isnew = 1) - (old.path != '' AND old.isnew = 1)
            WHERE name = 'new';
    END;
    """,
]
