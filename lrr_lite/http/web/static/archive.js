// Archive page helpers. The page works without this file (panels open with CSS :target, forms post); this adds
// local dates, tag chips with autocomplete, saving in place with a conflict prompt, the plugin diff, the page
// picker for the cover and inline errors. Every write is the page's own form (with its CSRF token), sent with
// Accept: application/json; the server answers {"ok": 1, ...} or {"error": "<reason>"}.
(function () {
  'use strict';
  var root = document.getElementById('archive');
  if (!root) return;
  var base = document.body.getAttribute('data-base') || '';
  var id = root.getAttribute('data-id');
  var api = base + '/api/archives/' + encodeURIComponent(id);
  var page = base + '/archive?id=' + encodeURIComponent(id);

  var days = document.querySelectorAll('time.day[datetime]');
  for (var d = 0; d < days.length; d++) {
    var when = new Date(days[d].getAttribute('datetime'));
    if (isNaN(when.getTime())) continue;
    days[d].textContent = when.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
    days[d].title = when.toLocaleString();
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function split(raw) {
    return raw.split(',').map(function (t) { return t.replace(/[\r\n]/g, '').trim(); }).filter(Boolean);
  }
  // the same index as archive_page.ns_colour, so a namespace keeps its colour with and without JS
  function nsColour(ns) {
    var h = 0;
    Array.from(ns.toLowerCase()).forEach(function (ch) { h = (h * 31 + ch.codePointAt(0)) % 1000003; });
    return h % 8;
  }
  function tagClass(tag) {
    var i = tag.indexOf(':');
    return 'tag n' + (i > 0 ? nsColour(tag.slice(0, i).trim()) : 'x');
  }
  function post(form, extra) {
    var data = new URLSearchParams(new FormData(form));
    Object.keys(extra || {}).forEach(function (k) { data.set(k, extra[k]); });
    return fetch(form.action, { method: 'POST', body: data, credentials: 'same-origin',
                                headers: { Accept: 'application/json' } })
      .then(function (r) {
        return r.json().catch(function () { return { error: 'The server answered ' + r.status + '.' }; })
          .then(function (body) { return { status: r.status, body: body }; });
      }, function () { return { status: 0, body: { error: 'The server could not be reached: nothing was changed.' } }; });
  }
  function say(node, text, bad) {
    node.textContent = text;
    node.className = bad ? 'error' : 'ok';
  }

  // -- tag chips with autocomplete ------------------------------------------------------------------------
  var editForm = document.getElementById('editform');
  var area = document.getElementById('e_tags');
  var tags = [], input, list, known = null, loading = false, hi = -1;
  function renderTags() {
    var box = input.parentNode;
    Array.prototype.slice.call(box.querySelectorAll('.tag')).forEach(function (c) { box.removeChild(c); });
    tags.forEach(function (t, i) {
      var chip = el('span', tagClass(t), t);
      var x = el('button', '', '\u00d7');
      x.type = 'button';
      x.setAttribute('aria-label', 'Remove ' + t);
      x.addEventListener('click', function () { tags.splice(i, 1); renderTags(); input.focus(); });
      chip.appendChild(x);
      box.insertBefore(chip, input);
    });
    area.value = tags.join(', ');
  }
  function addTag(t) {
    t = t.replace(/[\r\n]/g, '').trim();
    if (t && tags.indexOf(t) < 0) tags.push(t);
  }
  function flush() {
    if (input && input.value.trim()) { split(input.value).forEach(addTag); input.value = ''; renderTags(); }
    hide();
  }
  function hide() { if (list) { list.hidden = true; hi = -1; } }
  function loadKnown() {
    if (known || loading) return;
    // fetched once per page, filtered here on every key press. Without the namespaces the statistics leave out
    // (date_added, source by default: one distinct tag per archive) a 100k library's list is ~2 MB, not ~8.
    loading = true;
    fetch(base + '/api/database/stats?minweight=1&hide_excluded_namespaces=true', { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (rows) {
        rows.sort(function (a, b) { return b.weight - a.weight; });
        known = rows.map(function (r) { return { tag: r.namespace ? r.namespace + ':' + r.text : r.text, n: r.weight }; });
        suggest();
      })
      .catch(function () { known = []; });
  }
  function suggest() {
    var q = input.value.trim().toLowerCase();
    list.textContent = '';
    hi = -1;
    if (!q || !known) { list.hidden = true; return; }
    var starts = [], inside = [];
    for (var i = 0; i < known.length && starts.length < 10; i++) {
      var t = known[i].tag, at = t.toLowerCase().indexOf(q);
      if (at < 0 || tags.indexOf(t) >= 0) continue;
      if (at === 0 || t.charAt(at - 1) === ':') starts.push(known[i]); else if (inside.length < 10) inside.push(known[i]);
    }
    starts.concat(inside).slice(0, 10).forEach(function (k) {
      var li = el('li', '', k.tag);
      li.appendChild(el('small', '', String(k.n)));
      li.addEventListener('mousedown', function (e) { e.preventDefault(); pick(k.tag); });
      list.appendChild(li);
    });
    list.hidden = !list.firstChild;
  }
  function pick(t) { input.value = ''; addTag(t); renderTags(); hide(); input.focus(); }
  function move(step) {
    var items = list.querySelectorAll('li');
    if (!items.length) return;
    if (hi >= 0) items[hi].className = '';
    hi = (hi + step + items.length) % items.length;
    items[hi].className = 'on';
    items[hi].scrollIntoView({ block: 'nearest' });
  }
  if (editForm && area) {
    tags = split(area.value);
    var box = el('div', 'tagedit');
    box.id = 'e_chips';
    input = el('input');
    input.type = 'text';
    input.id = 'e_taginput';
    input.placeholder = 'Add a tag\u2026';
    input.autocomplete = 'off';
    input.setAttribute('aria-label', 'Add a tag');
    list = el('ul', 'suggest');
    list.id = 'e_suggest';
    list.hidden = true;
    box.appendChild(input);
    box.appendChild(list);
    area.hidden = true;
    area.parentNode.insertBefore(box, area.nextSibling);
    var lab = editForm.querySelector('label[for=e_tags]');
    if (lab) lab.htmlFor = 'e_taginput';
    box.addEventListener('click', function (e) { if (e.target === box) input.focus(); });
    input.addEventListener('focus', loadKnown);
    // leaving the box keeps what was typed as a tag (unless the focus came back, e.g. from a chip's button)
    input.addEventListener('blur', function () {
      setTimeout(function () { if (document.activeElement !== input) flush(); }, 150);
    });
    input.addEventListener('input', function () {
      if (input.value.indexOf(',') >= 0) {
        var parts = input.value.split(',');
        input.value = parts.pop();
        parts.forEach(addTag);
        renderTags();
      }
      suggest();
    });
    input.addEventListener('keydown', function (e) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') { e.preventDefault(); move(e.key === 'ArrowDown' ? 1 : -1); }
      else if (e.key === 'Enter') {
        e.preventDefault();  // Enter adds a tag; it never submits half-typed
        var on = list.querySelector('li.on');
        if (on) pick(on.firstChild.textContent); else flush();
      } else if (e.key === 'Escape') hide();
      else if (e.key === 'Backspace' && !input.value && tags.length) { tags.pop(); renderTags(); }
    });
    renderTags();
  }

  // -- save, and what a conflicting save shows ---------------------------------------------------------------
  var status = document.getElementById('e_status');
  var conflict = document.getElementById('e_conflict');
  var fTitle = document.getElementById('e_title'), fSummary = document.getElementById('e_summary');
  var fVersion = document.getElementById('e_version');
  function setTags(raw) { tags = []; split(raw).forEach(addTag); renderTags(); }
  function showConflict(cur) {
    conflict.textContent = '';
    conflict.appendChild(el('p', 'error', 'Not saved: this archive was changed (another tab, person or job) since ' +
      'you opened it. What is stored now:'));
    var dl = el('dl', 'facts');
    var row = el('dd', 'tagrow');
    split(cur.tags || '').forEach(function (t) { row.appendChild(el('span', tagClass(t), t)); });
    [['Title', el('dd', '', cur.title || '')], ['Tags', row], ['Summary', el('dd', 'pre', cur.summary || '')]]
      .forEach(function (p) { dl.appendChild(el('dt', '', p[0])); dl.appendChild(p[1]); });
    conflict.appendChild(dl);
    conflict.appendChild(el('p', '', 'Your edit is still in the form. Choose:'));
    var r = el('div', 'row');
    function button(label, bid, fn) {
      var b = el('button', '', label);
      b.type = 'button';
      b.id = bid;
      b.addEventListener('click', function () { fVersion.value = cur.version; conflict.hidden = true; fn(); });
      r.appendChild(b);
    }
    button('Save mine over it', 'c_mine', function () { editForm.requestSubmit(); });
    button('Add their tags to mine', 'c_merge', function () {
      split(cur.tags || '').forEach(addTag);
      renderTags();
      say(status, 'Their tags were added to yours: check, then Save.');
    });
    button('Take theirs', 'c_theirs', function () {
      fTitle.value = cur.title || ''; fSummary.value = cur.summary || ''; setTags(cur.tags || '');
      say(status, 'The form now holds the stored values.');
    });
    conflict.appendChild(r);
    conflict.hidden = false;
  }
  if (editForm) {
    editForm.addEventListener('submit', function (e) {
      e.preventDefault();
      flush();
      say(status, 'Saving\u2026');
      post(editForm).then(function (res) {
        if (res.status === 200 && res.body.ok) { location.assign(page + '&saved=1'); return; }
        if (res.status === 409 && res.body.version) { say(status, res.body.error, true); showConflict(res.body); return; }
        say(status, res.body.error || 'Not saved.', true);
      });
    });
  }

  // -- plugin preview: a diff the user accepts or discards (never applied by itself) ---------------------------
  var plugForm = document.getElementById('pluginform');
  if (plugForm) {
    var sel = document.getElementById('p_plugin'), arg = document.getElementById('p_arg');
    var out = document.getElementById('p_result');
    var syncArg = function () {
      var opt = sel.options[sel.selectedIndex], hint = opt ? opt.getAttribute('data-arg') : '';
      // the descriptor's hint is HTML: shown as text, parsed in an inert document (nothing loads or runs)
      var text = new DOMParser().parseFromString(hint || '', 'text/html').body.textContent;
      arg.placeholder = text || 'No argument';
      arg.hidden = !hint;
    };
    sel.addEventListener('change', syncArg);
    syncArg();
    plugForm.addEventListener('submit', function (e) {
      e.preventDefault();
      flush();
      out.hidden = false;
      var name = sel.options[sel.selectedIndex].text;
      say(out, 'Running ' + name + '\u2026');
      post(plugForm).then(function (res) {
        if (!(res.status === 200 && res.body.ok)) { say(out, res.body.error || 'The plugin failed.', true); return; }
        var data = res.body, have = tags.map(function (t) { return t.toLowerCase(); });
        var added = split(data.new_tags || '').filter(function (t) { return have.indexOf(t.toLowerCase()) < 0; });
        var title = data.title && data.title !== fTitle.value ? data.title : null;
        var summary = data.summary && data.summary !== fSummary.value ? data.summary : null;
        out.textContent = '';
        out.className = 'diff';
        if (!added.length && !title && !summary) { out.appendChild(el('p', '', name + ' found nothing new.')); return; }
        out.appendChild(el('p', '', name + ' proposes (nothing is changed until you accept and save):'));
        var dl = el('dl', 'facts');
        if (added.length) {
          var row = el('dd', 'tagrow');
          row.id = 'p_added';
          added.forEach(function (t) { row.appendChild(el('span', 'chip add', '+ ' + t)); });
          dl.appendChild(el('dt', '', 'Tags'));
          dl.appendChild(row);
        }
        if (title) {
          var dd = el('dd');
          dd.id = 'p_title';
          dd.appendChild(el('del', '', fTitle.value));
          dd.appendChild(document.createTextNode(' \u2192 '));
          dd.appendChild(el('ins', '', title));
          dl.appendChild(el('dt', '', 'Title'));
          dl.appendChild(dd);
        }
        if (summary) { dl.appendChild(el('dt', '', 'Summary')); dl.appendChild(el('dd', 'pre', summary)); }
        out.appendChild(dl);
        var r = el('div', 'row');
        var ok = el('button', 'main', 'Accept');
        ok.type = 'button';
        ok.id = 'p_accept';
        ok.addEventListener('click', function () {
          added.forEach(addTag);
          renderTags();
          if (title) fTitle.value = title;
          if (summary) fSummary.value = summary;
          out.hidden = true;
          say(status, 'The proposal is in the form: Save to store it.');
        });
        var no = el('button', '', 'Discard');
        no.type = 'button';
        no.id = 'p_discard';
        no.addEventListener('click', function () { out.hidden = true; });
        r.appendChild(ok);
        r.appendChild(no);
        out.appendChild(r);
      });
    });
  }

  // -- cover from a page: a picker of page thumbnails ------------------------------------------------------
  var picker = document.getElementById('c_pick'), coverForm = document.getElementById('coverform');
  var built = false;
  function load(tag) {
    var imgs = picker.querySelectorAll('img');
    for (var k = 0; k < imgs.length; k++) imgs[k].src = api + '/thumbnail?page=' + (k + 1) + tag;
  }
  function poll(job, tries) {
    fetch(base + '/api/minion/' + job, { credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (j.state === 'finished') load('&t=' + job);
        else if (j.state !== 'failed' && tries < 120) setTimeout(function () { poll(job, tries + 1); }, 1000);
      })
      .catch(function () {});
  }
  function setCover(n) {
    var msg = document.getElementById('c_status') || el('p');
    msg.id = 'c_status';
    picker.parentNode.insertBefore(msg, picker);
    say(msg, 'Setting page ' + n + ' as the cover\u2026');
    post(coverForm, { page: String(n) }).then(function (res) {
      if (!(res.status === 200 && res.body.ok)) { say(msg, res.body.error || 'Not changed.', true); return; }
      // the server's versioned URL: the grid shows the same URL, so the browser caches the new cover once
      document.getElementById('acover').src = res.body.cover || api + '/thumbnail?t=' + Date.now();
      say(msg, 'Page ' + n + ' is the cover now.');
    });
  }
  function buildPicker() {
    if (built || !picker) return;
    built = true;
    var n = parseInt(picker.getAttribute('data-pages'), 10) || 0;
    picker.parentNode.insertBefore(el('p', '', 'Or pick a page:'), picker);
    for (var i = 1; i <= n; i++) {
      var b = el('button');
      b.type = 'button';
      b.setAttribute('data-page', String(i));
      var img = el('img');
      img.loading = 'lazy';
      img.alt = 'Page ' + i;
      b.appendChild(img);
      b.appendChild(el('span', '', String(i)));
      b.addEventListener('click', setCover.bind(null, i));
      picker.appendChild(b);
    }
    // page thumbnails are made on demand: ask for all first (then the images load what exists: the thumbnails
    // when there is no job, placeholders that are reloaded when the job ends)
    fetch(api + '/files/thumbnails', { method: 'POST', credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (j) { load(''); if (j.job) poll(j.job, 0); })
      .catch(function () { load(''); });
  }
  if (coverForm) {
    coverForm.addEventListener('submit', function (e) {
      e.preventDefault();
      setCover(parseInt(document.getElementById('c_page').value, 10) || 1);
    });
  }

  // -- delete: the panel is the confirmation; errors stay on the page -------------------------------------
  var delForm = document.getElementById('deleteform');
  if (delForm) {
    delForm.addEventListener('submit', function (e) {
      e.preventDefault();
      var msg = document.getElementById('d_status') || el('p');
      msg.id = 'd_status';
      delForm.appendChild(msg);
      say(msg, 'Deleting\u2026');
      post(delForm).then(function (res) {
        if (res.status === 200 && res.body.ok) { location.assign(res.body.next || base + '/'); return; }
        say(msg, res.body.error || 'Not deleted.', true);
      });
    });
  }

  // a panel the server opened (a conflict, a proposal sent back) closes with its Close link like the others
  Array.prototype.forEach.call(document.querySelectorAll('.panel a[href="#"]'), function (a) {
    a.addEventListener('click', function () {
      var p = a.closest('.panel');
      if (p) p.classList.remove('open');
    });
  });

  function onHash() {
    if (location.hash === '#cover') buildPicker();
    if (location.hash === '#edit' && input) input.focus();
  }
  window.addEventListener('hashchange', onHash);
  onHash();
})();
