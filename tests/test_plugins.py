"""Metadata plugins (SEMANTICS §16, §4 tag rules, §12 run_plugin, §22.5 vectors) on real archives built here."""

from __future__ import annotations

import itertools
import json
import os
import time

import pytest
from archive_factory import make_archive, make_image
from spec_data import SAMPLES

from lrr_lite.library.plugins import regexparse, runner, tagrules
from lrr_lite.library.plugins.kskyaml import parse_flat_yaml

ORACLE_COMICINFO = b"""<?xml version="1.0" encoding="utf-8"?>
<ComicInfo xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Title>The Oracle Chronicles</Title>
  <Series>Oracle Series</Series>
  <Number>1</Number>
  <Summary>A test comic with ComicInfo metadata.</Summary>
  <Writer>Jane Writer</Writer>
  <Penciller>John Artist</Penciller>
  <Publisher>Test Press</Publisher>
  <Genre>Action, Comedy</Genre>
  <Tags>oracle, differential testing</Tags>
  <LanguageISO>en</LanguageISO>
  <Year>2024</Year>
  <Month>1</Month>
  <Day>2</Day>
  <PageCount>4</PageCount>
</ComicInfo>
"""


def oracle(name: str):
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


_made = itertools.count()


def pages(n: int = 2) -> list[tuple[str, bytes]]:
    """Real JPEG pages, different on every call so no two test archives share an ID."""
    batch = next(_made)
    return [(f"{i:03d}.jpg", make_image(32, 48, color=(batch % 256, 60, 90), text=f"{batch}-{i}"))
            for i in range(1, n + 1)]


def start_library(make_server, archives: dict[str, list[tuple[str, bytes]]], sidecars: dict[str, bytes] | None = None):
    """A server whose content folder holds the given archives (file name -> members); returns (server, ids)."""
    server = make_server()
    for filename, members in archives.items():
        make_archive(server.content / filename, members, filename.rsplit(".", 1)[1])
    for filename, data in (sidecars or {}).items():
        (server.content / filename).write_bytes(data)
    server.start()
    listing = server.get("/api/archives").json()
    return server, {a["filename"]: a["arcid"] for a in listing}


def use(server, plugin: str, archive_id: str | None, arg: str | None = None) -> dict:
    params = {"plugin": plugin}
    if archive_id is not None:
        params["id"] = archive_id
    if arg is not None:
        params["arg"] = arg
    r = server.post("/api/plugins/use", params=params, auth=True)
    assert r.status_code == 200, r.text
    return r.json()


def tags_of(body: dict) -> list[str]:
    return sorted(t.strip() for t in body["data"]["new_tags"].split(",") if t.strip())


def set_params(server, namespace: str, values: list) -> None:
    r = server.put(f"/api/plugins/{namespace}/parameters", params={"values": json.dumps(values)}, auth=True)
    assert r.status_code == 200 and r.json()["success"] == 1, r.text


# -- descriptors ------------------------------------------------------------------------------------------


def test_list_plugins_matches_reference_descriptors(make_server):
    server, _ = start_library(make_server, {})
    r = server.get("/api/plugins/metadata", auth=True)
    assert r.status_code == 200
    ours = r.json()
    reference = {p["namespace"]: p for p in oracle("plugins_metadata.json")}
    assert len(ours) == 14
    for plugin in ours:
        ref = dict(reference[plugin["namespace"]])
        ref.pop("icon", None)
        assert plugin == ref  # same texts, versions, parameters, oneshot_arg, to_named_params
        assert "cooldown" not in plugin and "login_from" not in plugin  # no online plugins shipped
    order = [p["namespace"] for p in oracle("plugins_metadata.json") if p["namespace"] in {q["namespace"] for q in ours}]
    assert [p["namespace"] for p in ours] == order
    assert server.get("/api/plugins/all", auth=True).json() == ours
    for kind in ("download", "login", "script"):
        assert server.get(f"/api/plugins/{kind}", auth=True).json() == []
    bad = server.get("/api/plugins/nope", auth=True)
    assert bad.status_code == 400 and bad.json()["errors"][0]["path"] == "/type"
    assert server.get("/api/plugins/metadata").status_code == 401


# -- use / queue shapes (oracle) ----------------------------------------------------------------------------


def test_use_comicinfo_matches_oracle_and_leaves_archive_untouched(make_server):
    server, ids = start_library(make_server, {"Oracle Chronicles 01.cbz": [("ComicInfo.xml", ORACLE_COMICINFO)] + pages(4)})
    arcid = ids["Oracle Chronicles 01"]
    before = server.get(f"/api/archives/{arcid}/metadata").json()
    body = use(server, "comicinfo", arcid)
    assert body == oracle("plugin_use_comicinfo.json")
    assert server.get(f"/api/archives/{arcid}/metadata").json() == before


def test_queue_comicinfo_records_result_only(make_server):
    """A queued run previews: its result is in the job (/api/minion/{id}/detail), the archive is untouched."""
    server, ids = start_library(make_server, {"Oracle Chronicles 01.cbz": [("ComicInfo.xml", ORACLE_COMICINFO)] + pages(2)})
    arcid = ids["Oracle Chronicles 01"]
    before = server.get(f"/api/archives/{arcid}/metadata").json()
    r = server.post("/api/plugins/queue", params={"plugin": "comicinfo", "id": arcid}, auth=True)
    body = r.json()
    ref = oracle("plugin_queue_comicinfo.json")
    assert r.status_code == 200 and set(body) == set(ref) and isinstance(body["job"], int)
    assert body["operation"] == "queue_plugin_exec" and body["success"] == 1
    status = server.wait_job(body["job"])
    assert set(status) == set(oracle("minion_pluginjob.json"))
    assert status["state"] == "finished" and status["task"] == "run_plugin"
    detail = server.get(f"/api/minion/{body['job']}/detail", auth=True).json()
    assert detail["args"] == ["comicinfo", arcid, ""]
    expected = {k: v for k, v in oracle("plugin_use_comicinfo.json").items() if k != "operation"}
    assert detail["result"] == expected  # what /api/plugins/use answers, without `operation`
    assert server.get(f"/api/archives/{arcid}/metadata").json() == before  # nothing applied
    # the tags are still new to the archive: a preview changed nothing
    assert use(server, "comicinfo", arcid)["data"] == expected["data"]


def test_queue_unknown_plugin_finishes_with_error(make_server):
    server, ids = start_library(make_server, {"a.cbz": pages(1)})
    job = server.post("/api/plugins/queue", params={"plugin": "nhplugin", "id": ids["a"]}, auth=True).json()["job"]
    assert server.wait_job(job)["state"] == "finished"
    result = server.get(f"/api/minion/{job}/detail", auth=True).json()["result"]
    assert result["success"] == 0 and result["error"] == "Plugin not found on system."


# -- bad input --------------------------------------------------------------------------------------------


def test_bad_input_gives_errors_not_500(make_server):
    server, ids = start_library(make_server, {
        "broken.cbz": [("ComicInfo.xml", b"<ComicInfo><Title>x</Titl></ComicInfo>"), ("info.json", b"{not json")] + pages(1),
        "plain.cbz": pages(1),
        "entity.cbz": [("ComicInfo.xml", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                                         b"<ComicInfo><Title>&e;</Title></ComicInfo>")] + pages(1),
    })
    unknown = use(server, "nosuchplugin", ids["plain"])
    assert unknown == {"operation": "use_plugin", "success": 0, "error": "Plugin not found on system."}
    no_id = use(server, "comicinfo", None)
    assert no_id["success"] == 0 and no_id["type"] == "metadata"
    assert no_id["error"] == "Tried to call a metadata plugin without providing an id."
    missing = use(server, "comicinfo", "0" * 40)
    assert missing["success"] == 0 and missing["error"] == "This ID doesn't exist on the server."
    short = server.post("/api/plugins/use", params={"plugin": "comicinfo", "id": "abc"}, auth=True)
    assert short.status_code == 400 and short.json()["errors"][0]["path"] == "/id"
    for plugin in ("comicinfo", "ezeplugin", "gallerydlplugin", "Hdoujinplugin", "hentagplugin"):
        body = use(server, plugin, ids["broken"])
        assert body["success"] == 0 and body["error"].startswith(("Couldn't parse", "Not ")), (plugin, body)
    for plugin in ("comicinfo", "ezeplugin", "koromoplugin", "hentaiathome", "ehd-info", "chaikafileplugin",
                   "kskyamlmeta", "Hdoujinplugin"):
        body = use(server, plugin, ids["plain"])
        assert body["success"] == 0 and "found" in body["error"], (plugin, body)
    entity = use(server, "comicinfo", ids["entity"])  # external entities are never resolved
    assert "root:" not in json.dumps(entity)
    assert server.post("/api/plugins/use", params={"plugin": "comicinfo", "id": ids["plain"]}).status_code == 401


# -- each plugin on real archives ----------------------------------------------------------------------------

EZE = {"gallery_info": {"title": "Eze Title", "title_original": "原題", "category": "Doujinshi",
                        "tags": {"language": ["english", "translated"], "artist": ["foo"], "misc": ["bare"]},
                        "source": {"site": "exhentai", "gid": 123, "token": "abcdef"}},
       "gallery_info_full": {"uploader": "up", "date_uploaded": 1600000000000}}


def test_eze_embedded_and_sidecar(make_server):
    server, ids = start_library(
        make_server,
        {"embedded.cbz": [("info.json", json.dumps(EZE).encode())] + pages(1), "side.cbz": pages(1)},
        {"side.json": json.dumps({"gallery_info": {"title": "Side", "tags": {"parody": ["x"]}}}).encode()})
    body = use(server, "ezeplugin", ids["embedded"])
    assert body["success"] == 1 and body["data"]["title"] == "Eze Title"
    # default tag rules remove the bare "translated"; language:translated is not bare and stays
    assert tags_of(body) == ["artist:foo", "bare", "category:Doujinshi", "language:english", "language:translated",
                             "source:exhentai.org/g/123/abcdef"]
    set_params(server, "ezeplugin", [1, 1])
    body = use(server, "ezeplugin", ids["embedded"])
    assert body["data"]["title"] == "原題"
    assert "timestamp:1600000000" in tags_of(body) and "uploader:up" in tags_of(body)
    side = use(server, "ezeplugin", ids["side"])
    assert side["data"] == {"new_tags": " parody:x", "title": "Side"}


def test_gallerydl(make_server):
    info = {"category": "exhentai", "gid": 1, "title": "GDL Title", "eh_category": "Manga", "lang": "ja",
            "tags": ["language:japanese", "female:glasses", "general"], "gallery_url": "https://e-hentai.org/g/1/x/"}
    server, ids = start_library(make_server, {"g.cbz": [("sub/info.json", json.dumps(info).encode())] + pages(1)})
    body = use(server, "gallerydlplugin", ids["g"])
    assert body["success"] == 1 and body["data"]["title"] == "GDL Title"
    assert tags_of(body) == ["category:Manga", "female:glasses", "general", "language:japanese",
                             "source:https://e-hentai.org/g/1/x/"]


def test_hdoujin_json_and_txt(make_server):
    info = {"manga_info": {"title": "HD Title", "artist": ["A1", "A2"], "circle": ["C"], "parody": ["P"],
                           "characters": ["ch"], "language": "English", "url": "https://x/1",
                           "description": "desc", "tags": {"female": ["f1"], "misc": ["m"]}}}
    txt = b"Title: TXT Title\r\nArtist: Bob, Alice\r\nCircle: Circ\r\nTags: male:beard, plain\r\nURL: https://y/2\r\n"
    server, ids = start_library(make_server, {"j.cbz": [("info.json", json.dumps(info).encode())] + pages(1),
                                              "t.cbz": [("info.txt", txt)] + pages(1)})
    body = use(server, "Hdoujinplugin", ids["j"])
    assert body["data"]["title"] == "HD Title" and body["data"]["summary"] == "desc"
    assert tags_of(body) == ["artist:A1", "artist:A2", "character:ch", "female:f1", "group:C", "language:English",
                             "m", "series:P", "source:https://x/1"]
    body = use(server, "Hdoujinplugin", ids["t"])
    assert body["data"]["title"] == "TXT Title"
    assert tags_of(body) == ["artist:Alice", "artist:Bob", "group:Circ", "male:beard", "plain", "source:https://y/2"]


def test_koromo(make_server):
    info = {"Title": "Koromo T", "Artists": ["ka"], "Groups": ["kg"], "Series": ["ks"], "Characters": ["kc"],
            "Tags": ["female:x", "y"], "Language": "korean", "Types": "doujinshi", "URL": "https://hitomi.la/1"}
    server, ids = start_library(make_server, {"k.cbz": [("Info.json", json.dumps(info).encode())] + pages(1),
                                              "lower.cbz": [("info.json", json.dumps(info).encode())] + pages(1)})
    body = use(server, "koromoplugin", ids["k"])
    assert body["data"]["title"] == "Koromo T"
    assert tags_of(body) == ["artist:ka", "category:doujinshi", "character:kc", "female:x", "group:kg",
                             "language:korean", "series:ks", "source:https://hitomi.la/1", "y"]
    assert use(server, "koromoplugin", ids["lower"])["success"] == 0  # "Info.json" is matched case-sensitively


def test_hentag(make_server):
    info = {"title": "Hentag T", "parodies": ["hp"], "circles": ["hc"], "artists": ["ha"], "characters": ["hch"],
            "maleTags": ["m1"], "femaleTags": ["f1"], "otherTags": ["o1"], "language": "english",
            "category": "doujinshi", "locations": ["https://hentag.com/1"]}
    server, ids = start_library(make_server, {"h.cbz": [("info.json", json.dumps(info).encode())] + pages(1)})
    body = use(server, "hentagplugin", ids["h"])
    assert body["data"]["title"] == "Hentag T"
    assert tags_of(body) == ["artist:ha", "category:doujinshi", "character:hch", "female:f1", "group:hc",
                             "language:english", "male:m1", "o1", "series:hp", "source:https://hentag.com/1"]


def test_hentaiathome(make_server):
    txt = (b"Title:       HatH Title\nUpload Time: 2020-01-02 03:04\nUploaded By: uploader1\n"
           b"Downloaded:  2020-02-02 00:00\nTags:        language:english, female:x, other\n\n"
           b"Uploader's Comments:\n\nHello there\n")
    server, ids = start_library(make_server, {"h.cbz": [("galleryinfo.txt", txt)] + pages(1)})
    body = use(server, "hentaiathome", ids["h"])
    assert body["data"]["title"] == "HatH Title" and body["data"]["summary"] == "Hello there"
    assert tags_of(body) == ["female:x", "language:english", "other", "timestamp:1577934240", "uploader:uploader1"]


EHDL = """Some English Title
ある日本語タイトル
https://e-hentai.org/g/999/abc123/

Category: Doujinshi
Uploader: someone
Posted: 2021-05-06 07:08
Language: English  TR

Tags:
> language: english, translated
> female: big breasts, sole female
> misc: full color

Uploader Comment: nice one

Page 1: https://e-hentai.org/s/aaa/999-1
Image 1: 001.jpg

Generated by E-Hentai Downloader. https://github.com/ccloli/E-Hentai-Downloader
"""


def test_ehd_info_with_parameters(make_server):
    server, ids = start_library(make_server, {"e.cbz": [("info.txt", EHDL.encode())] + pages(1)})
    body = use(server, "ehd-info", ids["e"])
    assert body["success"] == 1 and "title" not in body["data"] and "summary" not in body["data"]
    assert tags_of(body) == ["category:Doujinshi", "female:big breasts", "female:sole female", "full color",
                             "language:english", "language:translated", "source:https://e-hentai.org/g/999/abc123/",
                             "timestamp:1620284880", "uploader:someone"]
    set_params(server, "ehd-info", [1, 1, 1])
    body = use(server, "ehd-info", ids["e"])
    assert body["data"]["title"] == "ある日本語タイトル" and body["data"]["summary"] == "nice one"
    set_params(server, "ehd-info", [0, 0, 1])
    assert use(server, "ehd-info", ids["e"])["data"]["title"] == "Some English Title"


def test_chaika_api_json(make_server):
    api = {"id": 5, "gallery": 77, "title": "Chaika T", "tags": ["artist:some_one", "female:big_breasts", "loli_free"],
           "category": "Manga", "posted": 1500000000, "download": "/archive/5/download/"}
    server, ids = start_library(make_server, {"c.cbz": [("api.json", json.dumps(api).encode())] + pages(1)})
    body = use(server, "chaikafileplugin", ids["c"])
    assert body["data"]["title"] == "Chaika T"
    assert tags_of(body) == ["artist:some one", "female:big breasts", "loli free"]
    set_params(server, "chaikafileplugin", [1, 1, "chaika"])
    assert tags_of(use(server, "chaikafileplugin", ids["c"])) == [
        "artist:some one", "category:Manga", "download:/archive/5/download/", "female:big breasts",
        "gallery:77", "other:loli free", "source:chaika", "timestamp:1500000000"]


KSK = """# koushoku
Title: "KSK: Title"
Artist:
- Art One
- 'Art Two'
Circle: Circ
Description: A story
Magazine: Mag
Parody: Original
Released: 1650000000
Tags:
  - tag one
  - tag two
URL:
  Koushoku: https://ksk.moe/view/1
"""


def test_kskyamlmeta(make_server):
    server, ids = start_library(make_server, {"y.cbz": [("info.yaml", KSK.encode()), ("001.jpg", pages(1)[0][1])],
                                              "bad.cbz": [("koushoku.yaml", b"Title: [flow, list]\n")] + pages(1)})
    body = use(server, "kskyamlmeta", ids["y"])
    assert body["data"]["title"] == "KSK: Title" and body["data"]["summary"] == "A story"
    assert tags_of(body) == ["artist:Art One", "artist:Art Two", "group:Circ", "magazine:Mag", "series:Original",
                             "source:https://ksk.moe/view/1", "tag one", "tag two"]
    set_params(server, "kskyamlmeta", [1, 1])
    assert {"language:english", "released:1650000000"} <= set(tags_of(use(server, "kskyamlmeta", ids["y"])))
    bad = use(server, "kskyamlmeta", ids["bad"])
    assert bad["success"] == 0 and "Unsupported YAML" in bad["error"]


def test_parse_flat_yaml_against_pyyaml():
    yaml = pytest.importorskip("yaml")
    ours = parse_flat_yaml(KSK)
    ref = yaml.safe_load(KSK)
    assert ours["Title"] == ref["Title"] and ours["Artist"] == ref["Artist"] and ours["Tags"] == ref["Tags"]
    assert ours["URL"] == list(ref["URL"].values()) and ours["Released"] == str(ref["Released"])


VECTOR_1 = "(C24) [Atomic Diver Henshuubu (Tajima Shinobu, Yoko)] ART DANGER II (Various) [En,Textless]"
VECTOR_2 = "[Yanyo] Reijo no Rei no... [english] {Team} Cap.01 (Digital) [Ongoing] [ ] () { } {big breasts, sole female}"


def test_filename_parsing_vectors():
    out = regexparse.parse_filename(VECTOR_1)
    assert out.title == "ART DANGER II"
    assert ", ".join(sorted(out.tags)) == ("artist:Tajima Shinobu, artist:Yoko, event:C24, group:Atomic Diver "
                                           "Henshuubu, language:En, language:Textless, series:Various")
    out = regexparse.parse_filename(VECTOR_2)
    assert ", ".join(sorted(out.tags)) == ("artist:Yanyo, big breasts, language:english, parsed:Digital, "
                                           "parsed:Ongoing, parsed:Team, sole female")
    out = regexparse.parse_filename(VECTOR_2, trailing_tags=False, keep_all=False)
    assert ", ".join(sorted(out.tags)) == "artist:Yanyo, language:english"
    custom = regexparse.parse_filename("Foo - Bar [x,y]", r"(?<tag>\w+) - (?<artist2>\w+) \[(?<thing>[^]]+)\]",
                                       trailing_tags=False, keep_all=False)
    assert custom.tags == ["Foo", "artist:Bar", "thing:x,y"]


def test_regexplugin_on_archive(make_server):
    server, ids = start_library(make_server, {VECTOR_1 + ".cbz": pages(1), "plain name.zip": pages(1)})
    body = use(server, "regexplugin", ids[VECTOR_1])
    assert body["data"]["title"] == "ART DANGER II"
    # the plugin's own defaults: both bool parameters off; tag rules on (series:Various is namespaced, kept)
    assert tags_of(body) == ["artist:Tajima Shinobu", "artist:Yoko", "event:C24", "group:Atomic Diver Henshuubu",
                             "language:En", "language:Textless", "series:Various"]
    assert use(server, "regexplugin", ids["plain name"])["data"] == {"new_tags": "", "title": "plain name"}
    set_params(server, "regexplugin", [0, 0, "(unclosed"])
    bad = use(server, "regexplugin", ids["plain name"])
    assert bad["success"] == 0 and bad["error"].startswith("Invalid regex")


def test_date_added(make_server):
    server, ids = start_library(make_server, {"d.cbz": pages(1)})
    path = server.content / "d.cbz"
    os.utime(path, (1234567890, 1234567890))
    # the scan's own date_added:<now> would hide "now" from new_tags (substring test): clear it
    server.put(f"/api/archives/{ids['d']}/metadata", params={"tags": "other:tag"}, auth=True)
    body = use(server, "DateAddedPlugin", ids["d"], "yes")
    assert body["data"]["new_tags"] == " date_added:1234567890"
    now = int(time.time())
    stamp = int(use(server, "DateAddedPlugin", ids["d"], "false")["data"]["new_tags"].split(":")[1])
    assert abs(stamp - now) < 60
    assert use(server, "DateAddedPlugin", ids["d"], "maybe")["success"] == 0


def test_copytags_and_copy_archive_tags(make_server):
    server, ids = start_library(make_server, {"src.cbz": pages(1), "dst.cbz": pages(1)})
    r = server.put(f"/api/archives/{ids['src']}/metadata", params={"tags": "artist:Src,date_added:5,Plain"}, auth=True)
    assert r.status_code == 200
    set_params(server, "copytags", ["batch:one, translated, batch:two"])
    assert use(server, "copytags", ids["dst"])["data"]["new_tags"] == " batch:one, batch:two"
    body = use(server, "copy-archive-tags", ids["dst"], f"http://lrr.local/reader?id={ids['src'].upper()}")
    assert body["data"]["new_tags"] == " artist:Src, Plain"
    set_params(server, "copy-archive-tags", [1])
    assert "date_added:5" in use(server, "copy-archive-tags", ids["dst"], ids["src"])["data"]["new_tags"]
    assert use(server, "copy-archive-tags", ids["dst"], "")["success"] == 0
    assert use(server, "copy-archive-tags", ids["dst"], "f" * 40)["error"].endswith("not found.")


# -- result rules: existing tags, tag rules, title replacement --------------------------------------------------


def test_new_tags_filter_rules_and_title_setting(make_server):
    server, ids = start_library(make_server, {"Oracle.cbz": [("ComicInfo.xml", ORACLE_COMICINFO)] + pages(1)})
    arcid = ids["Oracle"]
    server.put(f"/api/archives/{arcid}/metadata", params={"tags": "ARTIST:john artist,group:Jane Writer Team"},
               auth=True)
    new = use(server, "comicinfo", arcid)["data"]["new_tags"]
    # case-insensitive substring test against the archive's tag string
    assert "artist:John Artist" not in new and "group:Jane Writer" not in new and new.startswith(" series:")
    ctx = server.ctx
    tagrules.store_rules(ctx.db, "-publisher:*\r\nseries:* -> parody:*\n~language\ncomedy -> Funny\naction => ACTION")
    assert tags_of(use(server, "comicinfo", arcid)) == ["ACTION", "Funny", "differential testing", "en", "oracle",
                                                        "parody:Oracle Series"]
    ctx.settings.set("tagruleson", 0)
    assert "publisher:Test Press" in tags_of(use(server, "comicinfo", arcid))
    runner.write_setting(ctx.db, "replacetitles", "0")
    assert "title" not in use(server, "comicinfo", arcid)["data"]


def test_tag_rule_vectors():
    tags = ["group:alpha", "group:beta", "namespace:ONE", "namespace:Two and Three", "namespace-fake", "flip", "ping",
            "cat", "with space", "SCREAM"]
    rules = tagrules.parse_rules
    assert tagrules.apply_rules(tags, rules("-namespace:*")) == [t for t in tags if not t.startswith("namespace:")]
    assert tagrules.apply_rules(tags, rules("group:* -> block:*"))[:2] == ["block:alpha", "block:beta"]
    assert tagrules.apply_rules(tags, rules("~NameSpace\nscream -> Please Stop\none => Hello\n-PING")) == [
        "group:alpha", "group:beta", "Hello", "Two and Three", "namespace-fake", "flip", "cat", "with space",
        "Please Stop"]
    parsed = rules("  With Space  ->  Keep  Inner  \r\n-Foo Bar\r\nbare")
    assert parsed == [tagrules.Rule("replace", "with space", "Keep  Inner"), tagrules.Rule("remove", "foo bar"),
                      tagrules.Rule("remove", "bare")]
    assert tagrules.apply_rules(["animal:ant"], rules("animal:ant => animal:bird\nanimal:ant => animal:penguin")) == [
        "animal:penguin"]
    defaults = tagrules.apply_rules(["Translated", "digital", "language:chinese", "keep", "Already Uploaded"],
                                    rules(tagrules.DEFAULT_RULES))
    assert defaults == ["language:chinese", "keep"]
    assert rules("-a;~b") == [tagrules.Rule("remove", "a"), tagrules.Rule("strip_ns", "b")]  # LANraragi's ;-form


# -- auto-run on new archives -------------------------------------------------------------------------------------


def test_enable_switch_and_auto_run(make_server, tmp_path):
    server, _ = start_library(make_server, {})
    assert server.put("/api/plugins/comicinfo/enabled", params={"value": "1"}).status_code == 401
    for ns in ("comicinfo", "regexplugin"):
        r = server.put(f"/api/plugins/{ns}/enabled", params={"value": "1"}, auth=True)
        assert r.status_code == 200 and r.json()["success"] == 1 and r.json()["enabled"] == 1
    assert server.put("/api/plugins/nope/enabled", params={"value": "1"}, auth=True).status_code == 400
    assert server.put("/api/plugins/comicinfo/enabled", params={"value": "x"}, auth=True).status_code == 400
    assert [p.namespace for p in runner.enabled_plugins(server.ctx)] == ["regexplugin", "comicinfo"]

    src = make_archive(tmp_path / f"{VECTOR_1}.cbz", [("ComicInfo.xml", ORACLE_COMICINFO)] + pages(1), "cbz")
    with open(src, "rb") as fh:
        r = server.put("/api/archives/upload", files={"file": (src.name, fh)}, auth=True)
    assert r.status_code == 200, r.text
    arcid = r.json()["id"]
    meta = server.get(f"/api/archives/{arcid}/metadata").json()  # the upload ran the enabled plugins
    tags = meta["tags"].split(",")
    assert tags[0].startswith("date_added:")
    # regexplugin ran first, comicinfo's tags were appended after; comicinfo's title replaced regex's title
    assert tags[1:4] == ["event:C24", "group:Atomic Diver Henshuubu", "artist:Tajima Shinobu"]
    assert tags[-1] == "differential testing" and "series:Oracle Series" in tags and "series:Various" in tags
    assert meta["title"] == "The Oracle Chronicles"
    assert runner.auto_run(server.ctx, arcid) == {"successes": 2, "failures": 0, "title": "The Oracle Chronicles"}
    assert server.get(f"/api/archives/{arcid}/metadata").json()["tags"] == meta["tags"]  # nothing duplicated

    server.put("/api/plugins/comicinfo/enabled", params={"value": "0"}, auth=True)
    assert [p.namespace for p in runner.enabled_plugins(server.ctx)] == ["regexplugin"]


def test_scan_runs_enabled_plugins_on_new_archives(make_server):
    server = make_server(scan=False)
    make_archive(server.content / "[Some Artist] Scanned Book.cbz", pages(1), "cbz")
    server.start()
    server.put("/api/plugins/regexplugin/enabled", params={"value": "1"}, auth=True)
    server.rescan()
    meta = server.get("/api/archives").json()[0]
    assert "artist:Some Artist" in meta["tags"].split(",")
