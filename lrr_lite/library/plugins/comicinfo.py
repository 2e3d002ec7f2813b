"""comicinfo: ComicInfo.xml embedded in the archive (LANraragi Plugin/Metadata/ComicInfo.pm 1.2).

Writer -> group:, Penciller -> artist:, Web -> source:, Characters -> character:, Series -> series:,
Publisher -> publisher:, LanguageISO -> language: (each comma-split), then Genre and Tags as bare tags,
Title as the title. Element names are matched on their local name, so a default namespace on the root
(some taggers write one) does not hide them. Parsed with lxml without entity expansion or network access.
"""

from __future__ import annotations

from lxml import etree

from lrr_lite.library.plugins.base import ArchiveInfo, PluginError, PluginOutput, prefixed

FIELDS = (("Writer", "group"), ("Penciller", "artist"), ("Web", "source"), ("Characters", "character"),
          ("Series", "series"), ("Publisher", "publisher"), ("LanguageISO", "language"),
          ("Genre", ""), ("Tags", ""))


def parse_comicinfo(data: bytes) -> PluginOutput:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise PluginError(f"Couldn't parse ComicInfo.xml: {exc}") from None
    if root is None:
        raise PluginError("Couldn't parse ComicInfo.xml: empty document")
    values: dict[str, str] = {}
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        local = etree.QName(el).localname
        if local not in values and el.text and el.text.strip():
            values[local] = el.text.strip()
    out = PluginOutput()
    for element, namespace in FIELDS:
        out.tags += prefixed(namespace, values.get(element))
    out.title = values.get("Title")
    return out


def comicinfo(info: ArchiveInfo, params: dict, oneshot: str) -> PluginOutput:
    found = info.embedded("ComicInfo.xml")
    if found is None:
        raise PluginError("No ComicInfo.xml file found in archive")
    return parse_comicinfo(found[1])


PLUGINS = {"comicinfo": comicinfo}
