// The reader: one page at a time from /api/archives/{id}/files, keyboard and tap navigation,
// preloading, a page strip, and progress sent only once a page has really been shown.
(function () {
  'use strict';
  var body = document.body;
  var id = body.dataset.id;
  var track = body.dataset.track === '1';
  var base = body.dataset.base || '';  // the server's URL prefix, when behind a proxy sub-path
  var api = base + '/api/archives/' + encodeURIComponent(id);
  var img = document.getElementById('page');
  var stage = document.getElementById('stage');
  var msg = document.getElementById('msg');
  var strip = document.getElementById('strip');
  var pn = document.getElementById('pn');
  var pc = document.getElementById('pc');
  var fitSel = document.getElementById('fit');
  var dirBtn = document.getElementById('dir');
  var title = document.getElementById('rtitle').textContent;
  var pages = [];
  var cur = 0;        // 1-based page on screen
  var sent = 0;       // last page reported
  var preloaded = [];
  var built = false;

  function store(key, value) { try { localStorage.setItem(key, value); } catch (e) { /* private mode */ } }
  function load(key) { try { return localStorage.getItem(key); } catch (e) { return null; } }

  var fit = load('lrr_fit') || 'width';
  var dir = load('lrr_dir') || 'ltr';

  function applyFit() {
    body.classList.remove('fit-width', 'fit-height', 'fit-original');
    body.classList.add('fit-' + fit);
    fitSel.value = fit;
  }
  function applyDir() {
    body.classList.toggle('rtl', dir === 'rtl');
    dirBtn.textContent = dir === 'rtl' ? 'RTL' : 'LTR';
  }

  function report(n) {
    if (n === sent) return;
    sent = n;
    if (!track) { store('lrr_progress_' + id, String(n)); return; }
    fetch(api + '/progress/' + n, { method: 'PUT', credentials: 'same-origin' }).catch(function () {});
  }

  function mark() {
    if (!built) return;
    var links = strip.querySelectorAll('a');
    for (var i = 0; i < links.length; i++) {
      links[i].classList.toggle('on', i + 1 === cur);
    }
    if (!strip.hidden && links[cur - 1]) links[cur - 1].scrollIntoView({ block: 'nearest', inline: 'center' });
  }

  function show(n) {
    if (!pages.length) return;
    n = Math.max(1, Math.min(pages.length, n));
    if (n === cur) return;
    cur = n;
    img.dataset.page = String(n);
    img.src = pages[n - 1];
    pn.textContent = String(n);
    document.title = n + '/' + pages.length + ' - ' + title;
    history.replaceState(null, '', base + '/reader?id=' + encodeURIComponent(id) + '&page=' + n);
    window.scrollTo(0, 0);
    mark();
    preloaded = [];
    for (var k = 1; k <= 2 && n + k <= pages.length; k++) {
      var next = new Image();
      next.src = pages[n + k - 1];
      preloaded.push(next);
    }
  }

  img.addEventListener('load', function () {
    var n = parseInt(img.dataset.page, 10);
    if (n === cur) report(n);  // only the page that is on screen counts as read
  });
  img.addEventListener('error', function () { msg.textContent = 'Page ' + img.dataset.page + ' could not be loaded.'; });

  function forward() { show(cur + 1); }
  function back() { show(cur - 1); }
  function left() { if (dir === 'rtl') forward(); else back(); }
  function right() { if (dir === 'rtl') back(); else forward(); }

  document.getElementById('prev').addEventListener('click', back);
  document.getElementById('next').addEventListener('click', forward);
  fitSel.addEventListener('change', function () { fit = fitSel.value; store('lrr_fit', fit); applyFit(); });
  dirBtn.addEventListener('click', function () { dir = dir === 'rtl' ? 'ltr' : 'rtl'; store('lrr_dir', dir); applyDir(); });

  stage.addEventListener('click', function (e) {
    var box = stage.getBoundingClientRect();
    if (e.clientX - box.left < box.width / 2) left(); else right();
  });

  document.addEventListener('keydown', function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var t = e.target && e.target.tagName;
    if (t === 'INPUT' || t === 'SELECT' || t === 'TEXTAREA') return;
    if (t === 'BUTTON' && (e.key === ' ' || e.key === 'Enter')) return;
    switch (e.key) {
      case 'ArrowRight': right(); break;
      case 'ArrowLeft': left(); break;
      case ' ': case 'PageDown': case 'n': forward(); break;
      case 'PageUp': case 'Backspace': case 'p': back(); break;
      case 'Home': show(1); break;
      case 'End': show(pages.length); break;
      case 'f': fit = fit === 'width' ? 'height' : fit === 'height' ? 'original' : 'width';
        store('lrr_fit', fit); applyFit(); break;
      default: return;
    }
    e.preventDefault();
  });

  function buildStrip() {
    if (built) return;
    built = true;
    var html = document.createDocumentFragment();
    pages.forEach(function (_, i) {
      var a = document.createElement('a');
      a.href = base + '/reader?id=' + encodeURIComponent(id) + '&page=' + (i + 1);
      var t = document.createElement('img');
      t.loading = 'lazy';
      t.alt = '';
      t.src = api + '/thumbnail?page=' + (i + 1);
      var label = document.createElement('span');
      label.textContent = String(i + 1);
      a.appendChild(t);
      a.appendChild(label);
      a.addEventListener('click', function (e) { e.preventDefault(); show(i + 1); });
      html.appendChild(a);
    });
    strip.appendChild(html);
    // page thumbnails are made on demand: ask for them, then reload the placeholders once the job ends
    fetch(api + '/files/thumbnails', { method: 'POST', credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (j) { if (j.job) poll(j.job, 0); })
      .catch(function () {});
  }
  function poll(job, tries) {
    fetch(base + '/api/minion/' + job, { credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (j.state === 'finished') {
          var thumbs = strip.querySelectorAll('img');
          for (var i = 0; i < thumbs.length; i++) thumbs[i].src = api + '/thumbnail?page=' + (i + 1) + '&t=' + job;
        } else if (j.state !== 'failed' && tries < 120) {
          setTimeout(function () { poll(job, tries + 1); }, 1000);
        }
      })
      .catch(function () {});
  }
  document.getElementById('stripbtn').addEventListener('click', function () {
    buildStrip();
    strip.hidden = !strip.hidden;
    mark();
  });

  applyFit();
  applyDir();
  if (body.dataset.new === '1') fetch(api + '/isnew', { method: 'DELETE', credentials: 'same-origin' }).catch(function () {});
  fetch(api + '/files', { credentials: 'same-origin' })
    .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
    .then(function (res) {
      if (!res.ok || !res.body.pages) throw new Error(res.body.error || 'no pages');
      pages = res.body.pages;
      pc.textContent = String(pages.length);
      if (!pages.length) { msg.textContent = 'This archive has no pages.'; return; }
      var start = parseInt(body.dataset.start, 10) || 1;
      if (!track && !/[?&]page=/.test(location.search)) start = parseInt(load('lrr_progress_' + id), 10) || start;
      show(start);
    })
    .catch(function (err) { msg.textContent = 'Could not open this archive: ' + err.message; });
})();
