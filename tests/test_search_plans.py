"""The search planner picks among several ways to answer the same query (an in-order index walk with
per-row probes, a collected hit set, a pass over every title, tags listed or referred to by subquery),
switching at size thresholds that a small test library never reaches. The answer a client sees must not
depend on the path taken: every query here is asked with the thresholds forcing each path, and the
replies must be identical. Identical is not enough (a bug common to every plan would pass), so each plan's
answers are also checked against a plain Python model for the terms whose meaning is simple enough to
restate (whole tags, namespace prefixes, negations, page counts): the IDs in order for title sorts (§5.4's
natural order, restated), the order of keys for a namespace sort, the set for lastread, and the counts.
"""

from __future__ import annotations

import random
import re

import pytest
from archive_factory import make_archive, make_image

from lrr_lite.library.search import engine, hitcache, hits, terms
from lrr_lite.library.search.query import Query

N_ARCHIVES = 160
ARTISTS = [f"artist:{name}" for name in ("aoi", "aoba", "kanna", "kou", "mimi", "nana", "rin", "sora")]
LANGUAGES = ["language:english", "language:japanese", "language:chinese"]
LONGTAIL = [f"female:{w}" for w in ("glasses", "ponytail", "maid", "nurse")] + [
    f"male:{w}" for w in ("glasses", "teacher")] + ["full color", "artbook", "webtoon"]
WORDS = ["summer", "night", "love", "school", "secret", "rain", "festival", "dream"]

# Thresholds forcing each plan. At this size the defaults walk an index with per-row probes, test
# titles row by row and list matching tags by ID.
PLANS = {
    "default": {},
    "deep_pages_by_value": {(engine, "DEEP_OFFSET"): 0},
    "collect_then_walk": {(engine, "PROBE_WALK_LIMIT"): -1, (engine, "WALK_RATIO"): 10**9,
                          (engine, "TITLE_WALK_RATIO"): 10**9,
                          (hits, "TITLE_PROBE_LIMIT"): -1, (engine, "DEEP_OFFSET"): 0},
    "collect_then_sort": {(engine, "PROBE_WALK_LIMIT"): -1, (engine, "WALK_RATIO"): -1,
                          (engine, "TITLE_WALK_RATIO"): -1, (hits, "TITLE_PROBE_LIMIT"): -1, (terms, "MAX_LISTED_TAGS"): 0},
    # `ns:` and `ns:c*` by their tags (listed, or by subquery) instead of the tag_heads index
    "without_tag_heads": {(terms, "USE_TAG_HEADS"): False},
    "without_tag_heads_by_subquery": {(terms, "USE_TAG_HEADS"): False, (terms, "MAX_LISTED_TAGS"): 0,
                                      (engine, "PROBE_WALK_LIMIT"): -1},
    # a title walk that gives up at once (hits bunched further along the order), or after the rows an even
    # spread of the hits would need: the hits are then collected and sorted
    "title_walk_gives_up": {(engine, "BUNCHING"): 0, (engine, "PROBE_WALK_LIMIT"): 1},
    "title_walk_tightly_bounded": {(engine, "BUNCHING"): 1, (engine, "PROBE_WALK_LIMIT"): 1},
    # a filter of single-list terms (one tag or one tag_heads key each, no title hit) collected by merging the
    # lists in archive order, always (every title listed first, so bare words qualify too) or never
    "collect_by_merge": {(hits, "MERGE_RATIO"): 10**9, (hits, "TITLE_PROBE_LIMIT"): -1,
                         (engine, "PROBE_WALK_LIMIT"): -1},
    "collect_without_merge": {(hits, "MERGE_RATIO"): -1, (engine, "PROBE_WALK_LIMIT"): -1},
    # a filter with many hits counted in one statement (hits.counted: a union of one term's tags and titles,
    # or a merge of single-list terms) and its page found by a walk testing each row; with the tags listed,
    # or referred to by subquery (the union then counts them through it)
    "count_then_walk": {(engine, "DENSE_HITS"): 0},
    "count_then_walk_by_subquery": {(engine, "DENSE_HITS"): 0, (terms, "MAX_LISTED_TAGS"): 0},
    # a bare word tested on each archive's search_text (title and tags in one row, schema 17) instead of its
    # tags' posting lists and the titles: walked with probes, counted in one pass, or collected and sorted
    "text_pass": {(terms, "TEXT_PASS_SHARE"): 0},
    "text_pass_counted": {(terms, "TEXT_PASS_SHARE"): 0, (engine, "DENSE_HITS"): 0},
    "text_pass_collected": {(terms, "TEXT_PASS_SHARE"): 0, (engine, "PROBE_WALK_LIMIT"): -1,
                            (engine, "WALK_RATIO"): -1, (engine, "TITLE_WALK_RATIO"): -1,
                            (hits, "TITLE_PROBE_LIMIT"): -1},
    "without_text_pass": {(terms, "TEXT_PASS_SHARE"): float("inf")},
    # a plain filter's hits kept by an earlier search of the same filter (hitcache.py): every other plan
    # computes them each time. The first case of a filter fills the entry (counted, or collected), the
    # next ones are answered from it: walked with probes, or read back into search_hits
    "kept_counted": {(hitcache, "ENABLED"): True, (engine, "DENSE_HITS"): 0},
    "kept_collected": {(hitcache, "ENABLED"): True, (engine, "PROBE_WALK_LIMIT"): -1, (engine, "WALK_RATIO"): -1,
                       (engine, "TITLE_WALK_RATIO"): -1},
    # kept hits whose title walk gives up (bunched): the search is noted, then sorts its hits (collected
    # again, or read back) without walking
    "kept_bunched": {(hitcache, "ENABLED"): True, (engine, "BUNCHING"): 0, (engine, "PROBE_WALK_LIMIT"): 1,
                     (engine, "READ_BACK_S"): 0.0},
    # a kept set's title pages read from its title order (built by the first such page, then patched),
    # one-tag filters included (their hits are read once for it)
    "kept_title_order": {(hitcache, "ENABLED"): True, (engine, "TITLE_ORDER_ROWS"): -1},
    # ... or from the prefix of it a walk passed (recorded, extended by the next deeper page, patched)
    "kept_title_prefix": {(hitcache, "ENABLED"): True, (engine, "TITLE_ORDER_ROWS"): -1,
                          (engine, "BUILD_S_PER_HIT"): 1.0},
}


def _plan(patch, srv, knobs) -> None:
    """Apply a plan's knobs, the hit cache off unless the plan keeps hits (then it starts empty)."""
    patch.setattr(hitcache, "ENABLED", False)
    for (module, name), value in knobs.items():
        patch.setattr(module, name, value)
    hitcache.cache_of(srv.ctx.db).clear()


def _library(rng: random.Random) -> list[tuple[str, str, int]]:
    """(title, tags, pages) per archive: Zipf-ish artists, two big languages, a long tail, some titles
    with a ':' (a bare `ns:value` term matches them too) and some untagged archives."""
    out = []
    for i in range(N_ARCHIVES):
        words = rng.sample(WORDS, 2)
        title = f"{words[0].title()} {words[1]} {i:03d}"
        if i % 23 == 0:
            title = f"Report: {rng.choice(ARTISTS)} {i:03d}"
        tags: list[str] = []
        if i % 17:
            tags.append(ARTISTS[min(int(rng.paretovariate(1.2)) - 1, len(ARTISTS) - 1)])
            tags.append(rng.choices(LANGUAGES, weights=(6, 3, 1))[0])
            tags += rng.sample(LONGTAIL, rng.randint(0, 3))
            tags.append(f"date_added:{1_600_000_000 + rng.randrange(12) * 86_400}")  # ties: title decides
        out.append((title, ", ".join(tags), 1 + i % 4))
    return out


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    from conftest import LiveServer

    rng = random.Random(7)
    srv = LiveServer(tmp_path_factory.mktemp("plans"))
    image = make_image(40, 40)
    spec = _library(rng)
    for i, (_title, _tags, pages) in enumerate(spec):
        members = {f"{p:02d}.jpg": image for p in range(pages)} | {"id.txt": str(i).encode()}
        make_archive(srv.content / f"a{i:03d}.cbz", members, "cbz")
    srv.start()
    by_file = {a["filename"]: a["arcid"] for a in srv.get("/api/archives").json()}
    model = {}
    for i, (title, tags, pages) in enumerate(spec):
        arcid = by_file[f"a{i:03d}"]
        reply = srv.put(f"/api/archives/{arcid}/metadata", params={"title": title, "tags": tags}, auth=True)
        assert reply.status_code == 200, reply.text
        read = i % 5 == 0  # read: these are what sortby=lastread lists, most recent first
        model[arcid] = (title.lower(), {t.strip().lower() for t in tags.split(",") if t.strip()}, pages, int(read))
        if read:
            assert srv.put(f"/api/archives/{arcid}/progress/1", auth=True).status_code == 200
    srv.ctx.settings.set("pagesize", 7)
    yield srv, model
    srv.stop()


FILTERS = [
    "", "artist:aoi", '"artist:aoi"$', "artist:", "language:english", "-language:english",
    "language:english, female:glasses", "language:english, female:glasses, -male:teacher",
    "female:, -female:maid", "-artist:aoi, -language:japanese", "summer", "summ?r*n*ght", "s%mer, -rain",
    "report", "{id}", "{id}, -language:japanese", "language:english, {id}", "-{id}", "artist:kanna, pages:>2", "pages:>=3", "pages:<2, -language:chinese", "full color",
    "artbook, webtoon", "date_added:16", "glasses", "-glasses", "*a*", "love, night", "nothing-at-all",
    # terms that are one tag_heads key (schema 12): a bare namespace, a namespace and one first character
    "female:", "-female:", "female:g*", "artist:k*", "-artist:a*", "female:, artist:k*", "language:english, -male:",
    "artist:k*, -female:n*", '"female:"$', "female:*", "report:", "-report:", "male:t*, pages:>1", "artist:ao*",
    # bare words hitting several tags and titles (the search_text pass): alone, excluded, beside other terms
    "ss", "-ss", "ol", "ss, -language:japanese", "language:english, ol", "ght", "na, -ss", "rt",
]


_SOME_ID: list[str] = []


def _with_id(srv, filter_: str) -> str:
    """`{id}` stands for a piece of an archive ID (bare terms match IDs too) that no title contains."""
    if "{id}" not in filter_:
        return filter_
    if not _SOME_ID:
        _SOME_ID.append(min(a["arcid"] for a in srv.get("/api/archives").json())[3:13])
    return filter_.replace("{id}", _SOME_ID[0])


def _ask(srv, filter_: str, **params) -> tuple[list[str], int, int]:
    """The search service's answer, as GET /api/search parses these parameters (api/search.py). Thousands of
    searches are asked here: in-process, they take a third of the time; _ask_http checks the route agrees."""
    query = Query(filter=_with_id(srv, filter_), start=int(params.get("start", 0)),
                  sortby=params.get("sortby", "title"), order=params.get("order", "asc"),
                  newonly=params.get("newonly") == "true", untaggedonly=params.get("untaggedonly") == "true",
                  hidecompleted=params.get("hidecompleted") == "true")
    result = engine.search(srv.ctx.db, query, int(srv.ctx.settings.get("pagesize")))
    return list(result.ids), result.filtered, result.total


def _ask_http(srv, filter_: str, **params) -> tuple[list[str], int, int]:
    reply = srv.get("/api/search", params={"filter": _with_id(srv, filter_), **params})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    return [row["arcid"] for row in body["data"]], body["recordsFiltered"], body["recordsTotal"]


@pytest.mark.parametrize("filter_", FILTERS)
def test_every_plan_gives_the_same_answer(library, monkeypatch, filter_):
    srv = library[0]
    cases = [{"sortby": "title"}, {"sortby": "title", "order": "desc", "start": 7},
             {"sortby": "date_added", "order": "desc"}, {"sortby": "artist", "start": 14},
             {"start": -1}, {"start": 150}, {"order": "desc", "start": 21}, {"sortby": "lastread"},
             {"sortby": "lastread", "order": "desc", "start": 7}, {"sortby": "artist", "start": 140},
             {"sortby": "date_added", "order": "desc", "start": 150}, {"sortby": "date_added", "start": 3},
             {"sortby": "date_added", "order": "desc", "newonly": "true", "start": 7},
             {"sortby": "artist", "hidecompleted": "true", "start": 14}, {"untaggedonly": "true"}]
    answers: dict[str, list] = {}
    for plan, knobs in PLANS.items():
        with monkeypatch.context() as patch:
            _plan(patch, srv, knobs)
            answers[plan] = [_ask(srv, filter_, **case) for case in cases]
    for ids, _filtered, _total in answers["default"][7:9]:  # lastread: read archives only
        assert all(srv.get(f"/api/archives/{arcid}").json()["lastreadtime"] > 0 for arcid in ids), filter_
    for plan in PLANS:
        assert answers[plan] == answers["default"], (plan, filter_)
    for case, answer in list(zip(cases, answers["default"], strict=True))[::4]:  # what a client gets is the same
        assert _ask_http(srv, filter_, **case) == answer, (filter_, case)


def _simple_model(model, filter_: str) -> int | None:
    """recordsFiltered of the plain model; None for filters it does not restate."""
    hits = _model_hits(model, filter_)
    return None if hits is None else len(hits)


def _model_hits(model, filter_: str) -> set[str] | None:
    """The IDs a filter matches, restating §5.2 for plain tag terms (whole `ns:value` hits as a prefix of a
    tag, a bare word as a substring of a tag or title) and `pages:` comparisons; None for other filters."""
    hits = set()
    # `ns:value*` (a trailing `*` only) is the prefix `ns:value`: what the plain term means
    terms = [t.strip().rstrip("*") if ":" in t else t.strip() for t in filter_.split(",") if t.strip()]
    if any(set(t) & set('"$*?%_') for t in terms):
        return None
    for arcid, (title, tags, pages, _progress) in model.items():
        ok = True
        for term in terms:
            negated = term.startswith("-")
            text = term.lstrip("-").lower()
            if text.startswith("pages:"):
                op, value = text[6:].rstrip("0123456789"), int(text[6:].lstrip("<>="))
                hit = {">": pages > value, ">=": pages >= value, "<": pages < value, "<=": pages <= value}[op]
            elif ":" in text:
                hit = any(tag.startswith(text) for tag in tags) or text in title
            else:
                hexish = set(text) <= set("0123456789abcdef")
                hit = any(text in tag for tag in tags) or text in title or (hexish and text in arcid)
            ok = ok and hit != negated
        if ok:
            hits.add(arcid)
    return hits


def _natural(text: str) -> tuple:
    """§5.4 restated: lowercase, delete the first run of non-word characters, then compare unit by unit —
    each other character by code point, each digit run by value, a character before a number at the same
    point, a side that runs out first before the other; all units equal: the text itself decides."""
    x = re.sub(r"\W+", "", text.lower(), count=1)
    units = [(1, int(run)) if run.isdigit() else (0, run) for run in re.findall(r"\d+|\D", x)]
    return (0 if x[:1].isdigit() else 1, units, text)


BASIC = ("artist:", "parody:", "series:", "language:", "event:", "group:", "date_added:", "timestamp:", "source:")


def _model_answer(model, filter_: str, page_size: int, sortby: str = "title", order: str = "asc", start: int = 0,
                  untaggedonly: bool = False, hidecompleted: bool = False) -> tuple[list[str], int, int]:
    """(IDs of the page, recordsFiltered, recordsTotal) by §5.3's steps over the model (no tanks here)."""
    hits = _model_hits(model, filter_)
    if untaggedonly:  # §4: no tag outside the basic set
        hits = {a for a in hits if all(any(b in tag for b in BASIC) for tag in model[a][1])}
    if hidecompleted:
        hits = {a for a in hits if not (model[a][2] > 0 and model[a][3] / model[a][2] > 0.85)}
    assert sortby == "title"
    ordered = sorted(hits, key=lambda a: (_natural(model[a][0]), a), reverse=order == "desc")
    page = ordered if start == -1 else ordered[max(start, 0):max(start, 0) + page_size]
    return page, len(hits), len(model)


def _date_added(model, arcid: str) -> int | None:
    values = [int(t.split(":", 1)[1]) for t in model[arcid][1] if t.startswith("date_added:")]
    return values[-1] if values else None


MODEL_CASES = [{}, {"order": "desc", "start": 7}, {"start": -1}, {"order": "desc", "start": -1}, {"start": 150},
               {"start": 14, "untaggedonly": "true"}, {"order": "desc", "hidecompleted": "true", "start": 7},
               {"hidecompleted": "true", "untaggedonly": "true", "start": -1}]


@pytest.mark.parametrize("filter_", [f for f in FILTERS if _simple_model({}, f.replace("{id}", "0")) is not None])
def test_every_plan_matches_the_plain_model(library, monkeypatch, filter_):
    """Each plan's replies against the model: title order (IDs in order and counts), a namespace sort
    (keys in order, unkeyed last, the same IDs), lastread (the read archives, as a set)."""
    srv, model = library
    concrete = _with_id(srv, filter_)
    hits = _model_hits(model, concrete)
    for plan, knobs in PLANS.items():
        with monkeypatch.context() as patch:
            _plan(patch, srv, knobs)
            for case in MODEL_CASES:
                flags = {k: v == "true" for k, v in case.items() if v == "true"}
                want = _model_answer(model, concrete, 7, order=case.get("order", "asc"),
                                     start=case.get("start", 0), **flags)
                assert _ask(srv, filter_, **case) == want, (plan, filter_, case)
            for order in ("asc", "desc"):
                ids, filtered, _ = _ask(srv, filter_, sortby="date_added", order=order, start=-1)
                keyed = sorted((_date_added(model, a) for a in hits if _date_added(model, a) is not None),
                               reverse=order == "desc")
                assert [_date_added(model, a) for a in ids] == keyed + [None] * (len(hits) - len(keyed)), plan
                assert sorted(ids) == sorted(hits) and filtered == len(hits), (plan, filter_, order)
            ids, filtered, _ = _ask(srv, filter_, sortby="lastread", start=-1)
            read = {a for a in hits if model[a][3]}
            assert sorted(ids) == sorted(read) and filtered == len(read), (plan, filter_)


@pytest.mark.parametrize("filter_", [f for f in FILTERS if _simple_model({}, f.replace("{id}", "0")) is not None])
def test_counts_match_a_plain_model(library, filter_):
    srv, model = library
    _ids, filtered, total = _ask(srv, filter_)
    assert total == N_ARCHIVES
    assert filtered == _simple_model(model, _with_id(srv, filter_)), filter_


def test_hidecompleted_count_follows_progress(library):
    """hidecompleted alone is counted from the partial index of archives read to the end (schema 16): a
    progress write that completes an archive, then un-completes it, moves recordsFiltered at once."""
    srv, model = library
    arcid = next(a for a, (_t, _tags, pages, read) in model.items() if read and pages == 4)
    _ids, before, _ = _ask(srv, "", hidecompleted="true")
    assert before == sum(1 for _t, _tags, pages, read in model.values() if not read / pages > 0.85)
    try:
        assert srv.put(f"/api/archives/{arcid}/progress/4", auth=True).status_code == 200
        ids, after, _ = _ask(srv, "", hidecompleted="true", start=-1)
        assert after == before - 1 and arcid not in ids and len(ids) == after
    finally:
        assert srv.put(f"/api/archives/{arcid}/progress/1", auth=True).status_code == 200
    assert _ask(srv, "", hidecompleted="true")[1] == before


def test_text_pass_follows_edits(library, monkeypatch):
    """search_text (schema 17) follows a tag edit and a title edit: the word the archive no longer carries
    finds it no more, the new one does, whichever plan answers."""
    srv, model = library
    arcid = sorted(model)[3]
    title, tags, _pages, _read = model[arcid]
    old_tags = srv.get(f"/api/archives/{arcid}").json()["tags"]
    for plan in ("text_pass", "text_pass_counted", "without_text_pass"):
        with monkeypatch.context() as m:
            for (module, name), value in PLANS[plan].items():
                m.setattr(module, name, value)
            try:
                assert srv.put(f"/api/archives/{arcid}/metadata", params={"title": "Quokka zebu",
                               "tags": old_tags + ", female:xylophonist"}, auth=True).status_code == 200
                for word in ("xylophon", "okka z"):
                    ids, filtered, _ = _ask(srv, word, start=0)
                    assert (ids, filtered) == ([arcid], 1), (plan, word)
                assert srv.put(f"/api/archives/{arcid}/metadata", params={"title": "Plain again",
                               "tags": old_tags}, auth=True).status_code == 200
                for word in ("xylophon", "okka z"):
                    assert _ask(srv, word, start=0)[:2] == ([], 0), (plan, word)
            finally:
                srv.put(f"/api/archives/{arcid}/metadata", params={"title": title, "tags": old_tags}, auth=True)


KEPT_FILTERS = ["ss", "-ss", "ol", "summ?r*n*ght", "female:", "language:english, female:glasses, -male:teacher",
                "artist:k*", "-language:english", "love, night", "language:english, -male:"]


@pytest.mark.parametrize("plan", ["kept_counted", "kept_collected", "kept_bunched", "kept_title_order",
                                  "kept_title_prefix"])
def test_kept_hits_follow_edits(library, monkeypatch, plan):
    """Hits kept by one search (hitcache.py) are patched by the archives changed since (search_log, schema
    18): after tag and title edits and a file hidden and back, every kept
    filter answers what the same search computed afresh answers, page and count; and each edit reached
    the kept entries by the log (not by emptying the cache)."""
    srv, model = library
    db = srv.ctx.db
    edited = sorted(model)[10:14]
    before = {a: srv.get(f"/api/archives/{a}").json() for a in edited}
    cases = [{}, {"start": 7}, {"sortby": "date_added", "order": "desc"}, {"start": -1}]

    def fresh(filter_):
        with monkeypatch.context() as off:
            off.setattr(hitcache, "ENABLED", False)
            return [_ask(srv, filter_, **case) for case in cases]

    edits = [
        (edited[0], {"title": "Glossy sunset", "tags": "language:english, female:glasses, artist:kou"}),
        (edited[1], {"title": "Summer night again", "tags": "male:teacher, language:english"}),
        (edited[2], {"title": "Plain", "tags": ""}),
        (edited[3], {"title": "Lollipop: ss", "tags": "female:maid, language:english, artist:kanna"}),
    ]
    with monkeypatch.context() as patch:
        _plan(patch, srv, PLANS[plan])
        try:
            for filter_ in KEPT_FILTERS:
                _ask(srv, filter_)  # kept from here on
            kept = hitcache.cache_of(db).keys()
            assert len(kept) >= 4, kept  # (one-tag filters are counted from stored counts: not kept)
            for arcid, fields in edits:
                assert srv.put(f"/api/archives/{arcid}/metadata", params=fields, auth=True).status_code == 200
                for filter_ in KEPT_FILTERS:
                    asked = [_ask(srv, filter_, **case) for case in cases]
                    assert asked == fresh(filter_), (plan, filter_, fields)
            # patched in place, none dropped (a bunched one-tag filter may be kept meanwhile, for its order)
            assert kept <= hitcache.cache_of(db).keys()
            # an archive hidden (its file gone: path emptied, as the watcher does) and back
            path = db.row("SELECT path FROM archives WHERE id = ?", (edited[0],))[0]
            for new_path in ("", path):
                with db.write() as conn:
                    conn.execute("UPDATE archives SET path = ? WHERE id = ?", (new_path, edited[0]))
                for filter_ in KEPT_FILTERS:
                    assert _ask(srv, filter_, start=-1) == fresh(filter_)[3], (plan, filter_, new_path)
            # more changes than are tested one by one: the entries are computed again
            patch.setattr(hitcache, "MAX_CHANGED", 0)
            assert srv.put(f"/api/archives/{edited[1]}/metadata", params={"tags": "artist:kanna"},
                           auth=True).status_code == 200
            for filter_ in KEPT_FILTERS:
                assert _ask(srv, filter_, start=-1) == fresh(filter_)[3], (plan, filter_)
        finally:
            for arcid, row in before.items():
                srv.put(f"/api/archives/{arcid}/metadata", params={"title": row["title"], "tags": row["tags"]},
                        auth=True)


def test_newonly_count_follows_flags(library):
    """newonly alone is counted from a counter kept by triggers (schema 19): clearing an archive's NEW flag,
    setting it again, and its file going and coming back move recordsFiltered at once, and it always equals
    the number of new archives the full list shows."""
    srv, model = library
    db = srv.ctx.db

    def listed_new() -> int:
        return sum(1 for a in srv.get("/api/archives").json() if a["isnew"] == "true")

    def counted() -> int:
        ids, filtered, _ = _ask(srv, "", newonly="true", start=-1)
        assert len(ids) == filtered
        return filtered

    arcid = sorted(model)[5]
    before = counted()
    assert before == listed_new()
    was_new = srv.get(f"/api/archives/{arcid}").json()["isnew"] == "true"
    try:
        assert srv.delete(f"/api/archives/{arcid}/isnew", auth=True).status_code == 200
        assert counted() == listed_new() == before - was_new
        path = db.row("SELECT path FROM archives WHERE id = ?", (arcid,))[0]
        with db.write() as conn:  # new again, then its file gone (hidden), then back
            conn.execute("UPDATE archives SET isnew = 1 WHERE id = ?", (arcid,))
        assert counted() == before + (not was_new)
        with db.write() as conn:
            conn.execute("UPDATE archives SET path = '' WHERE id = ?", (arcid,))
        assert counted() == before + (not was_new) - 1
        with db.write() as conn:
            conn.execute("UPDATE archives SET path = ? WHERE id = ?", (path, arcid))
        assert counted() == listed_new() == before + (not was_new)
    finally:
        with db.write() as conn:
            conn.execute("UPDATE archives SET isnew = ? WHERE id = ?", (int(was_new), arcid))
    assert counted() == before
