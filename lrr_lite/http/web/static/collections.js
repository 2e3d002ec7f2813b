// Tankoubon editor: reorder the volumes by drag & drop, or with each volume's up/down buttons without leaving
// the page (the buttons are plain forms that work without this file; keyboard users Tab to them). A new order
// is sent whole with the order the page showed: the server refuses it (409) if the tank changed meanwhile, and
// the list goes back to what it was, with the server's reason.
(function () {
  'use strict';
  var list = document.getElementById('members');
  if (!list || list.tagName !== 'OL') return;
  var base = document.body.getAttribute('data-base') || '';
  var status = document.getElementById('m_status');
  var csrf = document.querySelector('input[name=csrf]').value;
  var dragged = null, busy = false;

  function items() { return Array.prototype.slice.call(list.children); }
  function order() { return items().map(function (li) { return li.getAttribute('data-id'); }); }
  function say(text, bad) { status.textContent = text; status.className = bad ? 'error' : 'ok'; }
  function renumber() { items().forEach(function (li, i) { li.querySelector('.pos').textContent = String(i + 1); }); }
  function restore(ids) {
    var by = {};
    items().forEach(function (li) { by[li.getAttribute('data-id')] = li; });
    ids.forEach(function (id) { if (by[id]) list.appendChild(by[id]); });
    renumber();
  }
  function save(focus) {
    var before = list.getAttribute('data-order'), now = order().join(',');
    renumber();
    if (now === before) return;
    busy = true;
    say('Saving the order\u2026');
    var body = new URLSearchParams({ csrf: csrf, id: list.getAttribute('data-id'), archives: now, expected: before });
    fetch(base + '/tankoubons/order', { method: 'POST', body: body, credentials: 'same-origin',
                                        headers: { Accept: 'application/json' } })
      .then(function (r) {
        return r.json().catch(function () { return { error: 'The server answered ' + r.status + '.' }; });
      }, function () { return { error: 'The server could not be reached: the order was not saved.' }; })
      .then(function (res) {
        busy = false;
        if (res.ok) { list.setAttribute('data-order', now); say('Order saved.'); }
        else { restore(before.split(',')); say(res.error || 'The order was not saved.', true); }
        if (focus) focus.focus();
      });
  }

  items().forEach(function (li) {
    li.addEventListener('dragstart', function (e) {
      dragged = li;
      li.classList.add('drag');
      e.dataTransfer.effectAllowed = 'move';
      e.dataTransfer.setData('text/plain', li.getAttribute('data-id'));
    });
    li.addEventListener('dragend', function () {
      li.classList.remove('drag');
      items().forEach(function (x) { x.classList.remove('over'); });
      dragged = null;
    });
    li.addEventListener('dragover', function (e) {
      if (!dragged || dragged === li) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'move';
      items().forEach(function (x) { x.classList.toggle('over', x === li); });
    });
    li.addEventListener('drop', function (e) {
      if (!dragged || dragged === li || busy) return;
      e.preventDefault();
      var box = li.getBoundingClientRect();
      var after = e.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? li.nextSibling : li);
      li.classList.remove('over');
      save(null);
    });
    // the up/down buttons move in place (the same result as their forms' POST, without a reload)
    Array.prototype.forEach.call(li.querySelectorAll('button.up, button.down'), function (b) {
      b.form.addEventListener('submit', function (e) {
        e.preventDefault();
        if (busy) return;
        var up = b.classList.contains('up');
        var other = up ? li.previousElementSibling : li.nextElementSibling;
        if (!other) { say(up ? 'Already the first volume.' : 'Already the last volume.'); return; }
        list.insertBefore(li, up ? other : other.nextSibling);
        save(b);
      });
    });
  });
})();
