// The reader: single page, double page (cover alone, wide pages alone) or one vertical strip; fit, zoom and
// pan; keyboard, tap zones, swipes, a seek slider with thumbnails; right-to-left mirrors all of them.
// Pages are decoded before they are shown, and the next two views are decoded ahead, so a turn is a swap of
// ready elements. Progress is sent only for pages really shown; reaching page 2 clears the NEW flag (DELETE).
(function () {
  'use strict';
  var body = document.body, ds = body.dataset;
  var id = ds.id, base = ds.base || '', track = ds.track === '1';
  var api = base + '/api/archives/' + encodeURIComponent(id);
  function $(x) { return document.getElementById(x); }
  var stage = $('stage'), spread = $('spread'), vlist = $('vlist'), msg = $('msg'), strip = $('strip');
  var pn = $('pn'), pc = $('pc'), pos = $('pos'), gotoIn = $('goto'), seek = $('seek'), tip = $('tip');
  var modeSel = $('mode'), fitSel = $('fit'), dirBtn = $('dir');
  var title = $('rtitle').textContent;
  var pages = [], n = 0, cur = 0, view = [], cache = {}, dims = {}, zoom = 1, token = 0;
  var isNew = ds.new === '1', sentPage = 0, reportTimer = 0, vbuilt = false, vobs = null, vtick = 0;

  function store(k, v) { try { localStorage.setItem(k, v); } catch (e) { /* private mode */ } }
  function load(k) { try { return localStorage.getItem(k); } catch (e) { return null; } }

  // -- choices: saved (server or localStorage), else ComicInfo's defaults, else the page shape decides ------
  var server = ds.prefs === 'server';
  var saved = server ? { mode: ds.mode, dir: ds.dir, fit: ds.fit } : (function () {
    try { return JSON.parse(load('lrr_reader_' + id) || '{}') || {}; } catch (e) { return {}; }
  })();
  var mode = saved.mode || ds.defmode || '';
  var autoMode = !mode;  // nothing chosen: the first page's shape may still pick vertical
  if (!mode) mode = 'single';
  var dir = saved.dir || ds.defdir || 'ltr';
  var fit = saved.fit || load('lrr_fit') || 'screen';

  function savePrefs() {
    autoMode = false;
    if (!server) { store('lrr_reader_' + id, JSON.stringify({ mode: mode, dir: dir, fit: fit })); return; }
    var f = new FormData();
    f.append('id', id); f.append('mode', mode); f.append('dir', dir); f.append('fit', fit); f.append('csrf', ds.csrf);
    var key = new URLSearchParams(location.search).get('key');
    fetch(base + '/reader/prefs' + (key ? '?key=' + encodeURIComponent(key) : ''),
      { method: 'POST', body: f, credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .catch(function () {});
  }

  // -- progress and the NEW flag -------------------------------------------------------------------------
  function clearNew() {
    if (!isNew) return;
    isNew = false;
    fetch(api + '/isnew', { method: 'DELETE', credentials: 'same-origin' }).catch(function () {});
  }
  function report(p) {
    if (p === sentPage) return;
    sentPage = p;
    clearTimeout(reportTimer);
    // a quick run of turns (the slider, a held key) sends only where it stopped
    reportTimer = setTimeout(function () {
      // NEW goes at page 2 through the public DELETE, as LANraragi's reader does: progress itself never
      // clears it (SEMANTICS 6), so Mihon and the API behave as they do against LANraragi
      if (p >= 2) clearNew();
      if (!track) { store('lrr_progress_' + id, String(p)); return; }
      fetch(api + '/progress/' + p, { method: 'PUT', credentials: 'same-origin' }).catch(function () {});
    }, 150);
  }

  // -- pages: decoded ahead, kept near the current one -------------------------------------------------------
  function get(p) {
    var e = cache[p];
    if (e) return e;
    var img = new Image();
    img.alt = 'Page ' + p;
    img.decoding = 'async';
    e = cache[p] = { el: img, ok: false, w: 0, h: 0 };
    img.src = pages[p - 1];
    function done() {
      if (!img.naturalWidth) return;
      e.ok = true; e.w = img.naturalWidth; e.h = img.naturalHeight;
      dims[p] = e;  // the shape outlives the image: pairing and the strip's layout need it later
    }
    e.ready = img.decode().then(done, done).then(function () { return e; });
    return e;
  }
  // decoded pages cost width x height x 4 bytes each: only those around the one being read are kept
  function drop(k) { cache[k].el.removeAttribute('src'); cache[k].el.remove(); delete cache[k]; }
  function prune() { for (var k in cache) if (k < cur - 3 || k > cur + 6) drop(k); }
  function wide(p) { var e = dims[p]; return !!(e && e.w > e.h); }

  // double page: views from page 1 on, with what is known of the page shapes (unknown = portrait)
  function two() { return mode === 'double' || mode === 'double-nocover'; }
  // the cover stands alone unless the mode says otherwise (a book whose spreads start on page 1)
  function paired(i) { return (i > 1 || mode === 'double-nocover') && i < n && !wide(i) && !wide(i + 1); }
  function starts() {
    var s = [], i = 1;
    while (i <= n) { s.push(i); i += paired(i) ? 2 : 1; }
    return s;
  }
  function viewAt(p) {
    if (!two()) return [p];
    var s = starts(), a = 1;
    for (var k = 0; k < s.length && s[k] <= p; k++) a = s[k];
    return paired(a) ? [a, a + 1] : [a];
  }
  function nextStart(p, step) {  // the first page of the view `step` views after (or before) the one at p
    if (!two()) return p + step;
    var s = starts(), k = 0;
    while (k + 1 < s.length && s[k + 1] <= p) k++;
    k += step;
    return k < 0 || k >= s.length ? (step > 0 ? n + 1 : 0) : s[k];
  }

  // -- sizes ----------------------------------------------------------------------------------------------
  function box() { return { w: stage.clientWidth, h: stage.clientHeight }; }
  function sizeView() {
    var b = box(), ok = [], r = 0;
    view.forEach(function (p) { var e = cache[p]; if (e && e.ok) { ok.push(e); r += e.w / e.h; } });
    var H = fit === 'width' ? b.w / r : fit === 'height' ? b.h : Math.min(b.h, b.w / r);
    ok.forEach(function (e) {
      var h = fit === 'original' ? e.h : H;
      e.el.style.height = Math.floor(h * zoom) + 'px';
      e.el.style.width = Math.floor(h * zoom * e.w / e.h) + 'px';
    });
  }
  function vsize(div) {
    var b = box(), e = dims[div.dataset.n], w = e ? e.w : 0, ratio = e ? e.h / e.w : vratio;
    var width = fit === 'width' || !w ? b.w : fit === 'original' ? w : Math.min(b.w, w);
    div.style.width = Math.floor(width * zoom) + 'px';
    div.style.height = Math.floor(width * zoom * ratio) + 'px';
  }
  var vratio = 1.5;
  function resize() {
    if (mode === 'vertical') { Array.prototype.forEach.call(vlist.children, vsize); } else sizeView();
  }

  // -- showing a view -------------------------------------------------------------------------------------
  function broken(p) {
    var d = document.createElement('div');
    d.className = 'broken';
    d.textContent = 'Page ' + p + " can't be shown: it is missing, empty or not an image.";
    return d;
  }
  function render(v) {
    view = v;
    cur = v[0];
    var els = v.map(function (p, i) {
      var e = cache[p], el = e.ok ? e.el : broken(p);
      el.id = i ? 'page2' : 'page';
      el.dataset.page = String(p);
      return el;
    });
    Array.prototype.forEach.call(spread.children, function (c) { if (els.indexOf(c) < 0) c.removeAttribute('id'); });
    spread.replaceChildren.apply(spread, els);
    zoom = 1;
    sizeView();
    stage.scrollTop = 0;
    stage.scrollLeft = dir === 'rtl' ? stage.scrollWidth : 0;
    showPos();
    body.dataset.shown = v.join('-');
    report(v[v.length - 1]);
    prefetch();
  }
  function showPos() {
    var last = two() ? view[view.length - 1] : cur;
    pn.textContent = last > cur ? cur + '-' + last : String(cur);
    seek.value = String(cur);
    document.title = cur + '/' + n + ' - ' + title;
    history.replaceState(null, '', base + '/reader?id=' + encodeURIComponent(id) + '&page=' + cur);
    markStrip();
  }
  function prefetch() {  // the next two views, and the one before
    var p = cur;
    for (var k = 0; k < 2; k++) {
      p = nextStart(p, 1);
      if (p > n) break;
      get(p); if (two() && p < n) get(p + 1);
    }
    if (cur > 1) get(two() ? Math.max(1, cur - 2) : cur - 1);
    prune();
  }

  function show(p) {
    if (!n) return;
    p = Math.max(1, Math.min(n, p));
    if (mode === 'vertical') { vgo(p); return; }
    var t = ++token;
    var need = [get(p).ready];
    if (two()) { if (p < n) need.push(get(p + 1).ready); if (p > 1) need.push(get(p - 1).ready); }
    Promise.all(need).then(function () {
      if (t !== token) return;  // a later turn won
      if (autoMode && cache[p].ok && cache[p].h > 3 * cache[p].w) { setMode('vertical', p, true); return; }
      var v = viewAt(p);
      var more = v.filter(function (q) { return !cache[q]; });
      if (!more.length) { render(v); return; }
      Promise.all(more.map(function (q) { return get(q).ready; })).then(function () { if (t === token) render(viewAt(p)); });
    });
  }

  // -- vertical: one column, pages loaded as they come near, position from the scroll -----------------------
  function vbuild() {
    if (vbuilt) return;
    vbuilt = true;
    var frag = document.createDocumentFragment();
    for (var i = 1; i <= n; i++) {
      var d = document.createElement('div');
      d.className = 'vp';
      d.dataset.n = String(i);
      frag.appendChild(d);
    }
    vlist.appendChild(frag);
    vobs = new IntersectionObserver(function (entries) {
      entries.forEach(function (en) {
        var d = en.target, p = +d.dataset.n;
        if (en.isIntersecting) vfill(d);
        else if (d.firstChild && p !== cur) {  // out of reach: its size stays, its pixels go
          if (cache[p]) drop(p);
          d.replaceChildren();
        }
      });
    }, { root: stage, rootMargin: '150% 0px' });
    Array.prototype.forEach.call(vlist.children, function (d) { vsize(d); vobs.observe(d); });
  }
  function vfill(d) {
    if (d.firstChild) return;
    var p = +d.dataset.n, e = get(p);
    d.appendChild(document.createComment(''));  // taken: a second sighting while it loads adds nothing
    e.ready.then(function () {
      if (cache[p] !== e || !d.parentNode) return;  // dropped meanwhile
      d.replaceChildren();
      if (e.ok) { vratio = e.h / e.w; d.appendChild(e.el); e.el.removeAttribute('id'); } else d.appendChild(broken(p));
      vsize(d);
      if (p === cur) vscrolled();  // the page being read has just appeared: now it counts
    });
  }
  function vgo(p) {
    var d = vlist.children[p - 1];
    if (!d) return;
    cur = p;
    stage.scrollTop = d.offsetTop;  // the stage is the pages' offsetParent
    vscrolled();
  }
  function vscrolled() {
    // the page under the upper third of the screen is the one being read
    var y = stage.scrollTop + stage.clientHeight / 3, kids = vlist.children, lo = 0, hi = kids.length - 1;
    while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (kids[mid].offsetTop <= y) lo = mid; else hi = mid - 1; }
    if (!kids.length) return;
    cur = lo + 1;
    view = [cur];
    showPos();
    if (kids[lo].firstChild && kids[lo].firstChild.tagName === 'IMG') {
      body.dataset.shown = String(cur);
      report(cur);
    }
  }
  stage.addEventListener('scroll', function () {
    if (mode !== 'vertical' || vtick) return;
    vtick = requestAnimationFrame(function () { vtick = 0; vscrolled(); });
  }, { passive: true });

  // -- choices --------------------------------------------------------------------------------------------
  function applyFit() { body.dataset.fit = fit; fitSel.value = fit; }
  function applyDir() {
    body.classList.toggle('rtl', dir === 'rtl');
    dirBtn.textContent = dir === 'rtl' ? 'RTL' : 'LTR';
    $('prev').title = dir === 'rtl' ? 'Next page' : 'Previous page';
    $('next').title = dir === 'rtl' ? 'Previous page' : 'Next page';
  }
  function setMode(m, p, auto) {
    mode = m;
    modeSel.value = m;
    body.dataset.mode = m;
    var v = m === 'vertical';
    spread.hidden = v;
    vlist.hidden = !v;
    if (!auto) savePrefs();
    if (v) {
      if (vbuilt) { vobs.disconnect(); vlist.replaceChildren(); vbuilt = false; }  // its images may have moved
      vbuild();
    }
    show(p || cur || 1);
  }

  // -- navigation -----------------------------------------------------------------------------------------
  function forward() {
    if (mode === 'vertical') { stage.scrollBy(0, stage.clientHeight * 0.9); return; }
    var p = nextStart(cur, 1);
    if (p <= n) show(p);
  }
  function back() {
    if (mode === 'vertical') { stage.scrollBy(0, -stage.clientHeight * 0.9); return; }
    var p = nextStart(cur, -1);
    if (p >= 1) show(p);
  }
  function left() { if (dir === 'rtl') forward(); else back(); }
  function right() { if (dir === 'rtl') back(); else forward(); }
  function fullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(function () {});
    else if (document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(function () {});
  }

  // the arrow buttons point where they go: in right-to-left reading the left one goes forward
  $('prev').addEventListener('click', function () { left(); });
  $('next').addEventListener('click', function () { right(); });
  $('fs').addEventListener('click', fullscreen);
  fitSel.addEventListener('change', function () {
    fit = fitSel.value; store('lrr_fit', fit); savePrefs(); applyFit(); zoom = 1; resize();
  });
  modeSel.addEventListener('change', function () { setMode(modeSel.value, cur); });
  dirBtn.addEventListener('click', function () { dir = dir === 'rtl' ? 'ltr' : 'rtl'; savePrefs(); applyDir(); });

  // after a click on a control the keys belong to the pages again (space would press the button once more)
  $('rbar').addEventListener('click', function (e) {
    if (e.target.tagName === 'BUTTON' && e.target !== pos) stage.focus({ preventScroll: true });
  });
  $('rbar').addEventListener('change', function () { stage.focus({ preventScroll: true }); });

  document.addEventListener('keydown', function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    var t = e.target && e.target.tagName;
    if (t === 'INPUT' || t === 'SELECT' || t === 'TEXTAREA') return;
    if (t === 'BUTTON' && (e.key === ' ' || e.key === 'Enter')) return;
    switch (e.key) {
      case 'ArrowRight': right(); break;
      case 'ArrowLeft': left(); break;
      case ' ': if (e.shiftKey) back(); else forward(); break;
      case 'PageDown': case 'n': forward(); break;
      case 'PageUp': case 'Backspace': case 'p': back(); break;
      case 'Home': show(1); break;
      case 'End': show(n); break;
      case 'f': fullscreen(); break;
      default: return;
    }
    e.preventDefault();
  });

  // tap zones: the outer thirds turn (mirrored right to left), the middle shows or hides the bars
  var drag = null, dragged = false;
  stage.addEventListener('click', function (e) {
    if (dragged) { dragged = false; return; }
    var b = stage.getBoundingClientRect(), x = (e.clientX - b.left) / b.width;
    if (x < 1 / 3) left(); else if (x > 2 / 3) right(); else { body.classList.toggle('bare'); resize(); }
  });
  // pan with the mouse when the page is bigger than the screen
  stage.addEventListener('pointerdown', function (e) {
    if (e.pointerType === 'mouse' && e.button === 0) drag = { x: e.clientX, y: e.clientY, l: stage.scrollLeft, t: stage.scrollTop };
  });
  window.addEventListener('pointermove', function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 6) dragged = true;
    if (dragged) { stage.scrollLeft = drag.l - dx; stage.scrollTop = drag.t - dy; }
  });
  window.addEventListener('pointerup', function () { drag = null; });
  // zoom: ctrl + wheel, or two fingers; the point under the cursor stays put
  function zoomTo(z, cx, cy) {
    z = Math.max(0.5, Math.min(6, z));
    var b = stage.getBoundingClientRect(), x = cx - b.left, y = cy - b.top, k = z / zoom;
    zoom = z;
    resize();
    stage.scrollLeft = (stage.scrollLeft + x) * k - x;
    stage.scrollTop = (stage.scrollTop + y) * k - y;
  }
  stage.addEventListener('wheel', function (e) {
    if (!e.ctrlKey) return;
    e.preventDefault();
    zoomTo(zoom * Math.exp(-e.deltaY * 0.002), e.clientX, e.clientY);
  }, { passive: false });
  var touch = null;
  function dist(t) { return Math.hypot(t[0].clientX - t[1].clientX, t[0].clientY - t[1].clientY); }
  stage.addEventListener('touchstart', function (e) {
    var t = e.touches;
    touch = t.length === 2 ? { d: dist(t), z: zoom, pinch: true }
      : t.length === 1 ? { x: t[0].clientX, y: t[0].clientY, at: Date.now() } : null;
  }, { passive: true });
  stage.addEventListener('touchmove', function (e) {
    if (!touch || !touch.pinch || e.touches.length !== 2) return;
    e.preventDefault();
    var t = e.touches;
    zoomTo(touch.z * dist(t) / touch.d, (t[0].clientX + t[1].clientX) / 2, (t[0].clientY + t[1].clientY) / 2);
  }, { passive: false });
  stage.addEventListener('touchend', function (e) {
    var s = touch;
    touch = null;
    if (!s || s.pinch || mode === 'vertical' || !e.changedTouches.length) return;
    var dx = e.changedTouches[0].clientX - s.x, dy = e.changedTouches[0].clientY - s.y;
    // a swipe turns only when the page fits across: otherwise the finger is panning
    if (Math.abs(dx) < 50 || Math.abs(dx) < 2 * Math.abs(dy) || Date.now() - s.at > 800) return;
    if (stage.scrollWidth > stage.clientWidth + 1) return;
    if (dx < 0) right(); else left();
  });

  // -- seek slider, with the page's thumbnail over the cursor ------------------------------------------------
  seek.addEventListener('change', function () { show(+seek.value); });
  seek.addEventListener('input', function () { tipAt(+seek.value); });
  seek.addEventListener('mousemove', function (e) {
    var b = seek.getBoundingClientRect(), f = (e.clientX - b.left) / b.width;
    if (dir === 'rtl') f = 1 - f;
    tipAt(Math.max(1, Math.min(n, Math.round(1 + f * (n - 1)))), e.clientX);
  });
  seek.addEventListener('mouseleave', function () { tip.hidden = true; });
  seek.addEventListener('blur', function () { tip.hidden = true; });
  function tipAt(p, x) {
    if (!n) return;
    var b = seek.getBoundingClientRect(), f = (p - 1) / Math.max(1, n - 1);
    if (x === undefined) x = b.left + b.width * (dir === 'rtl' ? 1 - f : f);
    tip.hidden = false;
    tip.style.left = Math.max(0, Math.min(window.innerWidth - tip.offsetWidth, x - tip.offsetWidth / 2)) + 'px';
    thumbs();
    var img = tip.firstChild, src = api + '/thumbnail?page=' + p + thumbVer;
    if (img.getAttribute('src') !== src) img.src = src;
    tip.lastChild.textContent = String(p);
  }

  // -- page number entry ------------------------------------------------------------------------------------
  pos.addEventListener('click', function () {
    if (!n) return;
    pos.hidden = true; gotoIn.hidden = false; gotoIn.max = String(n); gotoIn.value = String(cur);
    gotoIn.focus(); gotoIn.select();
  });
  function closeGoto() { gotoIn.hidden = true; pos.hidden = false; }
  gotoIn.addEventListener('keydown', function (e) {
    if (e.key === 'Enter') { var p = parseInt(gotoIn.value, 10); closeGoto(); if (p) show(p); stage.focus(); } else if (e.key === 'Escape') closeGoto();
  });
  gotoIn.addEventListener('blur', closeGoto);

  // -- page strip -----------------------------------------------------------------------------------------
  var built = false;
  function markStrip() {
    if (!built) return;
    var links = strip.children;
    for (var i = 0; i < links.length; i++) links[i].classList.toggle('on', view.indexOf(i + 1) >= 0);
    if (!strip.hidden && links[cur - 1]) links[cur - 1].scrollIntoView({ block: 'nearest', inline: 'center' });
  }
  function buildStrip() {
    if (built) return;
    built = true;
    var frag = document.createDocumentFragment();
    pages.forEach(function (_, i) {
      var a = document.createElement('a'), t = document.createElement('img'), label = document.createElement('span');
      a.href = base + '/reader?id=' + encodeURIComponent(id) + '&page=' + (i + 1);
      t.loading = 'lazy'; t.alt = ''; t.src = api + '/thumbnail?page=' + (i + 1);
      label.textContent = String(i + 1);
      a.appendChild(t); a.appendChild(label);
      a.addEventListener('click', function (e) { e.preventDefault(); show(i + 1); });
      frag.appendChild(a);
    });
    strip.appendChild(frag);
    thumbs();
  }
  // page thumbnails (the strip, the slider's tip) are made on demand: ask for them once, then reload the
  // placeholders once the job ends
  var thumbsAsked = false, thumbVer = '';
  function thumbs() {
    if (thumbsAsked) return;
    thumbsAsked = true;
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
          thumbVer = '&t=' + job;
          var imgs = strip.querySelectorAll('img');
          for (var i = 0; i < imgs.length; i++) imgs[i].src = api + '/thumbnail?page=' + (i + 1) + thumbVer;
        } else if (j.state !== 'failed' && tries < 120) {
          setTimeout(function () { poll(job, tries + 1); }, 1000);
        }
      })
      .catch(function () {});
  }
  $('stripbtn').addEventListener('click', function () {
    buildStrip();
    strip.hidden = !strip.hidden;
    markStrip();
  });

  // the stage changes size with the window, the strip, the bars and fullscreen: the fit follows it
  if (window.ResizeObserver) new ResizeObserver(function () { resize(); }).observe(stage);
  else window.addEventListener('resize', resize);

  applyFit();
  applyDir();
  modeSel.value = mode;
  fetch(api + '/files', { credentials: 'same-origin' })
    .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
    .then(function (res) {
      if (!res.ok || !res.body.pages) throw new Error(res.body.error || 'no pages');
      pages = res.body.pages;
      n = pages.length;
      if (!n) {
        pos.textContent = 'No pages';
        body.classList.add('nopages');
        msg.textContent = 'This archive has no pages: it holds no image the reader can show.';
        spread.hidden = true;
        seek.disabled = true;
        return;
      }
      pc.textContent = String(n);
      pos.replaceChildren(pn, ' / ', pc);  // the server may not have known the count: no separator then
      seek.max = String(n);
      seek.disabled = false;
      var start = parseInt(ds.start, 10) || 1;
      if (!track && !/[?&]page=/.test(location.search)) start = parseInt(load('lrr_progress_' + id), 10) || start;
      setMode(mode, Math.min(start, n), true);
      stage.focus({ preventScroll: true });
    })
    .catch(function (err) { msg.textContent = 'Could not open this archive: ' + err.message; });
})();
