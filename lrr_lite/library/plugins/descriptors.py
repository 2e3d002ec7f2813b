"""Plugin descriptors in LANraragi's shape (GET /api/plugins/{type}), one per shipped plugin.

Texts, versions and parameter lists are those of LANraragi's lib/LANraragi/Plugin/Metadata/*.pm (as listed by
the reference server, SEMANTICS §16), so clients show the same settings. Icons are left out (optional in the
PluginInfo schema). `type` is added by the registry. Listed in
LANraragi's order (its plugin files' alphabetical order).
"""

from __future__ import annotations

from typing import Any

DESCRIPTORS: list[dict[str, Any]] = [{'author': 'Difegue & Plebs',
  'description': 'Collects metadata embedded into your archives as Chaika-style api.json files',
  'name': 'Chaika.moe api.json',
  'namespace': 'chaikafileplugin',
  'parameters': [{'desc': 'Add the following tags if available: download URL, gallery ID, category, '
                          'timestamp',
                  'type': 'bool'},
                 {'desc': "Add tags without a namespace to the 'other:' namespace instead, mirroring E-H's "
                          'behavior of namespacing everything',
                  'type': 'bool'},
                 {'desc': "Add a custom 'source:' tag to your archive. Example: chaika. Will NOT add a tag "
                          'if blank',
                  'type': 'string'}],
  'version': '0.3'},
 {'author': 'Gin-no-kami',
  'description': 'Parses metadata from ComicInfo.xml embedded in the archive',
  'name': 'ComicInfo',
  'namespace': 'comicinfo',
  'parameters': [],
  'version': '1.2'},
 {'author': 'IceBreeze',
  'description': 'Copy tags from another LRR archive given either the URI or the ID.',
  'name': 'Copy Archive Tags',
  'namespace': 'copy-archive-tags',
  'oneshot_arg': 'LRR Gallery URL or ID:',
  'parameters': [{'desc': "Enable to also copy the date (but it's up to you to remove the old one)",
                  'name': 'copy_date_added',
                  'type': 'bool'}],
  'to_named_params': ['copy_date_added'],
  'version': '1.2'},
 {'author': 'Difegue',
  'description': 'Add the specified tags to your metadata. Good for batch operations!',
  'name': 'Tag Copier',
  'namespace': 'copytags',
  'parameters': [{'desc': 'Tags to copy, separated by commas.', 'type': 'string'}],
  'version': '2.1'},
 {'author': 'Utazukin',
  'description': 'Adds a timestamp tag to your archive. <br> This plugin follows the server settings for '
                 'the timestamp tag and will use file modification time if the server setting is set to '
                 "'Use Last modified Time'.",
  'name': 'Add Timestamp Tag',
  'namespace': 'DateAddedPlugin',
  'oneshot_arg': 'Use file modified time (yes/true), or use current time (no/false). <br/>Leaving blank '
                 'uses the server setting (default: current time)',
  'parameters': [],
  'version': '1.0'},
 {'author': 'IceBreeze',
  'description': 'EHDL info.txt metadata parser',
  'name': 'EHDL info.txt',
  'namespace': 'ehd-info',
  'parameters': [{'desc': 'Use Japanese title if available', 'name': 'japanese_title', 'type': 'bool'},
                 {'desc': 'Save "description" as summary', 'name': 'save_summary', 'type': 'bool'},
                 {'desc': 'Replace the title with the one in the metadata file',
                  'name': 'replace_title',
                  'type': 'bool'}],
  'version': '1.0'},
 {'author': 'Difegue',
  'description': "Collects metadata from eze-style info.json files ({'gallery_info': {xxx} } syntax), "
                 'either embedded in your archive or in the same folder with the same name. '
                 '({archive_name}.json)',
  'name': 'eze',
  'namespace': 'ezeplugin',
  'parameters': [{'desc': 'Save the original title when available instead of the English or romanised '
                          'title',
                  'type': 'bool'},
                 {'desc': 'Fetch additional timestamp (time posted) and uploader metadata',
                  'type': 'bool'}],
  'version': '2.4'},
 {'author': 'Okaros',
  'description': 'Collects metadata from gallery-dl-created info.json files, either embedded in your '
                 'archive or in the same folder with the same name. ({archive_name}.json)',
  'name': 'GalleryDL',
  'namespace': 'gallerydlplugin',
  'parameters': [],
  'version': '1.0'},
 {'author': 'Pao, Squidy',
  'description': "Collects metadata embedded into your archives by HDoujin Downloader's JSON or TXT files.",
  'name': 'HDoujin',
  'namespace': 'Hdoujinplugin',
  'parameters': [],
  'version': '0.7'},
 {'author': 'lily',
  'description': "Collects metadata embedded into your archives by HentaiAtHome Downloader's galleryinfo "
                 'txt files.',
  'name': 'HentaiAtHome plugin',
  'namespace': 'hentaiathome',
  'parameters': [],
  'version': '0.2'},
 {'author': 'siliconfeces',
  'description': 'Parses Hentag info.json files embedded in archives. Achtung, no API calls!',
  'name': 'Hentag',
  'namespace': 'hentagplugin',
  'parameters': [],
  'version': '0.3'},
 {'author': 'CirnoT, Difegue',
  'description': 'Collects metadata embedded into your archives as Koromo-style Info.json files. ( '
                 "{'Tags': [xxx] } syntax)",
  'name': 'koromo',
  'namespace': 'koromoplugin',
  'parameters': [],
  'version': '2.2'},
 {'author': 'siliconfeces, Nixis198',
  'description': 'Collects metadata embedded into your archives as koushoku.yaml/info.yaml files.',
  'name': 'Koushoku/Koharu.yaml',
  'namespace': 'kskyamlmeta',
  'parameters': [{'desc': 'Assume english', 'type': 'bool'},
                 {'desc': "Add 'Released' tag", 'type': 'bool'}],
  'version': '0.004.1'},
 {'author': 'Difegue',
  'description': 'Derive tags from the filename of the given archive.<br><br>By default it follows the '
                 'doujinshi naming standard "(Event) [Artist] TITLE (Series) [Language]".<br><br>The '
                 'default regex '
                 'is:<br><code>(\\((?&lt;event&gt;[^([]+)\\))?\\s*(\\[(?&lt;artist&gt;[^]]+)\\])?\\s*(?&lt;title&gt;[^([]+)\\s*(\\((?&lt;series&gt;[^([)]+)\\))?\\s*(\\[(?&lt;language&gt;[^]]+)\\])?(?&lt;tail&gt;.*)?</code><br><br><code>()?</code> '
                 'indicates the field is optional<br><code>(\\((?&lt;event&gt;[^([]+)\\))?</code> returns '
                 'the content of (Event). Optional.<br><code>(\\[(?&lt;artist&gt;[^]]+)\\])?</code> '
                 'returns the content of [Artist]. Optional.<br><code>(?&lt;title&gt;[^([]+)</code> '
                 'returns the title. Mandatory.<br><code>(\\((?&lt;series&gt;[^([)]+)\\))?</code> returns '
                 'the content of (Series). Optional.<br><code>(\\[(?&lt;language&gt;[^]]+)\\])?</code> '
                 'returns the content of [Language]. Optional.<br><code>(?&lt;tail&gt;.*)?</code> returns '
                 'everything that is out of E-Hentai standard for further processing. '
                 'Optional.<br><code>\\s*</code> indicates zero or more whitespaces.<br><br>You can '
                 'provide a custom regex using named capture groups. The group name determines the tag '
                 'namespace:<br>&bull; <code>(?&lt;artist&gt;...)</code> &rarr; <code>artist:</code> (also '
                 'extracts <code>group:</code> from "Circle (Artist)" format)<br>&bull; '
                 '<code>(?&lt;series&gt;...)</code> &rarr; <code>series:</code><br>&bull; '
                 '<code>(?&lt;tag&gt;...)</code> &rarr; simple tag (no namespace)<br>&bull; '
                 '<code>(?&lt;anyname&gt;...)</code> &rarr; <code>anyname:</code><br>Use numbered suffixes '
                 'for multiple groups of the same type: <code>(?&lt;artist2&gt;...)</code>, '
                 '<code>(?&lt;tag3&gt;...)</code>, etc.<br>Special groups: <code>title</code> sets the '
                 'archive title, <code>tail</code> is used for trailing tag processing.<br><br>By '
                 'activating the plugin settings below, you can extend the capture to the content of each '
                 'bracket in the filename, even if it does not belong to the standard naming '
                 'format.<br>Non-standard tags will be made available to you associated with the '
                 '"<i>parsed:</i>" namespace so you can manage them as you please by creating your own set '
                 'of Tag Rules.<br>My only suggestion is that you should place the rule "<i>-parsed:*</i>" '
                 'as your last rule to cleanup all the unnecessary elements.',
  'name': 'Filename Parsing',
  'namespace': 'regexplugin',
  'parameters': [{'desc': 'If the filename ends with a pair of curly braces, return the contents inside '
                          'them as a list of simple tags, without the "parsed:" namespace',
                  'type': 'bool'},
                 {'desc': 'Capture everything you find between a pair of parentheses and make it available '
                          'under the "parsed:" namespace<BR />(use this in conjunction with Tag Rules)',
                  'type': 'bool'},
                 {'default_value': '(\\((?<event>[^([]+)\\))?\\s*(\\[(?<artist>[^]]+)\\])?\\s*(?<title>[^([]+)\\s*(\\((?<series>[^([)]+)\\))?\\s*(\\[(?<language>[^]]+)\\])?(?<tail>.*)?',
                  'desc': 'Regex to use for parsing',
                  'type': 'string'}],
  'version': '1.2'}]
