// Batch edit page: fills the form with the library's selection (sessionStorage), shows the fields of the
// chosen operation, asks before a deletion (naming the count), sends the form, and follows the job with a
// progress bar and the per-archive results. Without JS the form still posts "all results" of a search
// and the job page shows the progress as of its last reload.
(function () {
  'use strict';
  var base = document.body.getAttribute('data-base') || '';
  var KEY = 'lrr-batch-ids';
  var $ = function (id) { return document.getElementById(id); };
  function showError(text) {
    var box = $('b_error');
    box.textContent = text;
    box.hidden = !text;
  }
  var form = $('batchform');
  if (form) {
    var idsField = $('b_ids');
    var count = idsField ? 0 : parseInt($('b_count').textContent, 10) || 0;
    var fixed = idsField && idsField.getAttribute('data-fixed') === '1';  // ticked on the no-JS selection page
    if (fixed) count = parseInt($('b_count').textContent, 10) || 0;
    if (idsField && !fixed) {
      var ids = [];
      try { ids = JSON.parse(sessionStorage.getItem(KEY) || '[]'); } catch (e) { ids = []; }
      idsField.value = ids.join(',');
      count = ids.length;
      $('b_count').textContent = String(count);
      if (!count) showError('No archive is selected: choose some in the library (Select), then come back.');
    }
    var fields = form.querySelectorAll('[data-op]');
    var confirmBox = form.querySelector('#b_confirm');
    if (confirmBox) confirmBox.hidden = true;  // the dialog below asks instead
    var op = function () { var r = form.querySelector('input[name=op]:checked'); return r ? r.value : ''; };
    var sync = function () {
      for (var i = 0; i < fields.length; i++) {
        fields[i].hidden = fields[i].getAttribute('data-op').split(' ').indexOf(op()) < 0;
      }
      $('b_run').textContent = op() === 'delete' ? 'Delete ' + count + ' archives' :
        op() === 'tankoubon' ? 'Make a tankoubon of ' + count + ' archives' : 'Run on ' + count + ' archives';
    };
    form.addEventListener('change', sync);
    sync();
    form.addEventListener('submit', function (e) {
      e.preventDefault();
      showError('');
      var box = form.querySelector('input[name=confirmed]');
      if (op() === 'delete') {
        if (!window.confirm('Delete ' + count + ' archive' + (count === 1 ? '' : 's') +
                            ' and their files? This cannot be undone.')) return;
        box.value = String(count);
        box.checked = true;
      } else if (box) {
        box.checked = false;
      }
      var button = $('b_run');
      button.disabled = true;
      var data = new FormData(form);
      if (idsField) {  // as a file part: a form field over 100 KB is refused (10,000 IDs are 410 KB)
        data.delete('ids');
        data.append('ids', new Blob([idsField.value], { type: 'text/plain' }), 'ids.txt');
      }
      fetch(form.action, { method: 'POST', body: data,
                           headers: { Accept: 'application/json' }, credentials: 'same-origin' })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (res) {
          if (!res.ok) throw new Error(res.body.error || 'The server refused.');
          if (idsField && !fixed) { try { sessionStorage.removeItem(KEY); } catch (x) { /* nothing kept */ } }
          location.href = res.body.url;
        })
        .catch(function (err) { showError(err.message); button.disabled = false; });
    });
  }
  var view = $('batchjob');
  if (!view) return;
  var job = view.getAttribute('data-job');
  function row(r) {
    var li = document.createElement('li');
    li.className = r.ok ? 'ok' : 'bad';
    var a = document.createElement('a');
    a.href = base + '/archive?id=' + encodeURIComponent(r.id);
    a.textContent = r.title || r.id;
    var span = document.createElement('span');
    span.textContent = r.message;
    li.appendChild(a); li.appendChild(document.createTextNode(' ')); li.appendChild(span);
    return li;
  }
  function show(s) {
    var ended = s.state === 'finished' || s.state === 'failed';
    var pct = s.state === 'finished' ? 100 : (s.total ? Math.floor(s.done * 100 / s.total) : 0);
    $('b_bar').value = pct;
    $('b_bar').textContent = pct + ' %';
    $('b_pct').textContent = String(pct);
    $('b_done').textContent = String(s.done);
    $('b_total').textContent = String(s.total);
    $('b_failed').textContent = String(s.failed);
    $('b_state').textContent = s.state;
    view.setAttribute('data-state', s.state);
    if (s.error) showError(s.error);
    if (s.results) {
      var list = $('b_results');
      list.textContent = '';
      s.results.forEach(function (r) { list.appendChild(row(r)); });
      [['unlisted', 'succeeded'], ['unlisted_failed', 'failed']].forEach(function (k) {
        if (!s[k[0]]) return;
        var more = document.createElement('li');
        more.textContent = s[k[0]] + ' more ' + k[1] + ' (not listed).';
        list.appendChild(more);
      });
    }
    return ended;
  }
  function poll() {
    fetch(base + '/batch/status?job=' + encodeURIComponent(job), { headers: { Accept: 'application/json' },
                                                                   credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.error && !s.state) { showError(s.error); return; }
        if (!show(s)) setTimeout(poll, 600);
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  var state = view.getAttribute('data-state');
  if (state !== 'finished' && state !== 'failed') poll();
})();
