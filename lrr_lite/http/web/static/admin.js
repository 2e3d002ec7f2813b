// Maintenance page: the job list refreshes itself (GET /admin/jobs.json) and its progress bars move; a
// maintenance button queues its job without leaving the page. Without this file the buttons post and the page
// comes back with the job listed.
(function () {
  'use strict';
  var rows = document.getElementById('jobrows');
  if (!rows) return;
  var base = document.body.getAttribute('data-base') || '';
  var timer = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function row(j) {
    var tr = el('tr', j.state);
    tr.setAttribute('data-id', String(j.id));
    tr.appendChild(el('td', '', String(j.id)));
    tr.appendChild(el('td', '', j.label));
    tr.appendChild(el('td', 'state', j.state));
    var td = el('td'), bar = el('progress');
    bar.max = j.max;
    if (j.value !== null) bar.value = j.value;
    td.appendChild(bar);
    td.appendChild(document.createTextNode(' '));
    td.appendChild(el('span', 'jt', j.text));
    tr.appendChild(td);
    var when = new Date(j.created * 1000);
    tr.appendChild(el('td', 'dim', when.toLocaleString()));
    return tr;
  }
  function refresh() {
    fetch(base + '/admin/jobs.json', { credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (!body.jobs) return;
        rows.textContent = '';
        body.jobs.forEach(function (j) { rows.appendChild(row(j)); });
        var none = document.getElementById('nojobs');
        if (none) none.hidden = body.jobs.length > 0;
        var running = body.jobs.some(function (j) { return j.state === 'active' || j.state === 'inactive'; });
        schedule(running ? 1000 : 5000);
      })
      .catch(function () { schedule(5000); });
  }
  function schedule(ms) { clearTimeout(timer); timer = setTimeout(refresh, ms); }

  // buttons that queue a job: stay on the page, show the reason of a refusal under the button
  Array.prototype.forEach.call(document.querySelectorAll('form.tool[action$="/admin/run"]'), function (f) {
    f.addEventListener('submit', function (e) {
      e.preventDefault();
      var msg = f.querySelector('.msg') || el('span', 'msg');
      f.appendChild(msg);
      msg.textContent = 'Working\u2026';
      msg.className = 'msg';
      fetch(f.getAttribute('action'), { method: 'POST', body: new URLSearchParams(new FormData(f)), credentials: 'same-origin',
                        headers: { Accept: 'application/json' } })
        .then(function (r) { return r.json().catch(function () { return { error: 'The server answered ' + r.status + '.' }; }); },
              function () { return { error: 'The server could not be reached.' }; })
        .then(function (res) {
          if (!res.ok) { msg.textContent = res.error || 'Not done.'; msg.className = 'msg error'; return; }
          if (!res.job) { location.assign(res.next); return; }  // done at once (clean, new flags): the page says how
          msg.textContent = 'Queued as job ' + res.job + '.';
          msg.className = 'msg ok';
          refresh();
        });
    });
  });
  schedule(1000);
})();
