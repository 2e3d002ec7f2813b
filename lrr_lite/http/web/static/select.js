// Selection mode on the library grid, for batch edits: loaded only for a browser that may edit (the page adds
// this file then), so a guest's library page carries none of it.
(function () {
  'use strict';
  // Selection mode for batch edits, offered to a browser that may edit (body data-select). The checkboxes
  // are made here, only in selection mode, so a page of 100 cards carries no extra markup. The chosen IDs
  // live in this tab's sessionStorage (they survive paging and searching); /batch?sel=1 reads them.
  // "All results" is a link: the server resolves the search, never a list of IDs sent from here.
  function selection() {
    var grid = document.getElementById('grid');
    var anchor = document.getElementById('summary');
    // the server's no-JS selection page (?select=1: a form of checkboxes) works as it is
    if (document.body.getAttribute('data-select') !== '1' || !grid || !anchor || document.getElementById('selform')) return;
    var plain = document.getElementById('selplain');  // the no-JS way in: this script's button replaces it
    if (plain) plain.hidden = true;
    var KEY = 'lrr-batch-ids';
    var base = document.body.getAttribute('data-base') || '';
    var picked;
    try { picked = JSON.parse(sessionStorage.getItem(KEY) || '[]'); } catch (e) { picked = []; }
    var set = {};
    picked.forEach(function (id) { set[id] = 1; });
    function el(tag, attrs, text) {
      var n = document.createElement(tag);
      for (var k in attrs) n.setAttribute(k, attrs[k]);
      if (text) n.textContent = text;
      return n;
    }
    function idOf(li) {
      var a = li.querySelector('a[href*="/reader?id="]');
      var m = a && /[?&]id=([0-9a-fA-F]{40})/.exec(a.getAttribute('href'));
      return m ? m[1].toLowerCase() : null;
    }
    var bar = el('div', { 'class': 'selbar', id: 'selbar' });
    var toggle = el('button', { type: 'button', id: 'selmode', 'aria-pressed': 'false' }, 'Select');
    var count = el('span', { id: 'selcount' });
    var page = el('button', { type: 'button', id: 'selpage' }, 'Select this page');
    var none = el('button', { type: 'button', id: 'selnone' }, 'Clear');
    var go = el('a', { id: 'selgo', 'class': 'btn', href: base + '/batch?sel=1' }, 'Edit selected');
    var toCat = el('a', { id: 'selcat', 'class': 'btn', href: base + '/batch?sel=1&op=category' }, 'Add to category');
    var toTank = el('a', { id: 'seltank', 'class': 'btn', href: base + '/batch?sel=1&op=tankoubon' },
      'New tankoubon');
    var q = new URLSearchParams(location.search);
    q.delete('p'); q.delete('sort'); q.delete('order'); q.set('all', '1');
    var found = /^(\d+)/.exec(anchor.textContent);
    var all = el('a', { id: 'selall', 'class': 'btn', href: base + '/batch?' + q.toString() },
      'All ' + (found ? found[1] + ' ' : '') + 'results of this search');
    var tools = el('span', { id: 'seltools', hidden: '' });
    [count, page, none, go, toCat, toTank, all].forEach(function (n) { tools.appendChild(n); });
    bar.appendChild(toggle); bar.appendChild(tools);
    anchor.parentNode.insertBefore(bar, anchor.nextSibling);
    function save() {
      // keys keep their insertion order (IDs are not array indexes): the order of selection, which a new
      // tankoubon keeps for its volumes
      var ids = Object.keys(set);
      try { sessionStorage.setItem(KEY, JSON.stringify(ids)); } catch (e) { /* private mode: page only */ }
      count.textContent = ids.length + ' selected';
      go.hidden = toCat.hidden = toTank.hidden = !ids.length;
    }
    function mark(li, on) {
      var box = li.querySelector('input.pick');
      if (box) box.checked = on;
      li.classList.toggle('picked', on);
    }
    function setMode(on) {
      toggle.setAttribute('aria-pressed', on ? 'true' : 'false');
      toggle.textContent = on ? 'Done' : 'Select';
      tools.hidden = !on;
      grid.classList.toggle('selecting', on);
      Array.prototype.forEach.call(grid.children, function (li) {
        var id = idOf(li);
        var box = li.querySelector('input.pick');
        if (!id) return;  // a tankoubon: select its volumes, or use "all results"
        if (on && !box) {
          box = el('input', { type: 'checkbox', 'class': 'pick', 'aria-label': 'Select', 'data-id': id });
          li.insertBefore(box, li.firstChild);
        }
        if (box) box.hidden = !on;
        mark(li, on && !!set[id]);
      });
      save();
    }
    toggle.addEventListener('click', function () { setMode(!grid.classList.contains('selecting')); });
    page.addEventListener('click', function () {
      Array.prototype.forEach.call(grid.querySelectorAll('input.pick'), function (box) {
        set[box.getAttribute('data-id')] = 1;
        mark(box.parentNode, true);
      });
      save();
    });
    none.addEventListener('click', function () {
      set = {};
      Array.prototype.forEach.call(grid.children, function (li) { mark(li, false); });
      save();
    });
    // one delegated handler: in selection mode a click on a card toggles it instead of opening it
    grid.addEventListener('click', function (e) {
      if (!grid.classList.contains('selecting')) return;
      var li = e.target.closest('li');
      var id = li && idOf(li);
      if (!id) return;
      if (e.target.tagName !== 'INPUT') e.preventDefault();
      if (set[id]) delete set[id]; else set[id] = 1;
      mark(li, !!set[id]);
      save();
    });
    if (picked.length) setMode(true);
  }
  selection();
})();
