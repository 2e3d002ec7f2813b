// Upload page: files dropped on the page or chosen in the file input are sent at once, two at a time, each
// as the raw body of POST /upload/file with a progress bar of its own (XMLHttpRequest upload events); each
// row ends with the server's answer (the new archive, or the reason it was refused). URL downloads are
// queued as jobs and followed until they end. Without JS the same form posts the files in one request.
(function () {
  'use strict';
  var base = document.body.getAttribute('data-base') || '';
  var $ = function (id) { return document.getElementById(id); };
  var form = $('upform');
  if (!form) return;
  var csrf = form.querySelector('input[name=csrf]').value;
  var list = $('u_list');
  var input = $('u_files');
  var drop = $('drop');
  var PARALLEL = 2;
  var queue = [];
  var running = 0;
  $('u_send').hidden = true;  // files go as soon as they are chosen
  drop.querySelector('p').textContent = 'Drop archive files here (they upload at once), or';
  function size(n) {
    return n >= 1048576 ? (n / 1048576).toFixed(1) + ' MB' : Math.max(1, Math.round(n / 1024)) + ' KB';
  }
  function row(name, detail) {
    var li = document.createElement('li');
    li.setAttribute('data-state', 'queued');
    var b = document.createElement('b');
    b.textContent = name;
    var bar = document.createElement('progress');
    bar.max = 100; bar.value = 0;
    var msg = document.createElement('span');
    msg.className = 'note';
    msg.textContent = detail;
    li.appendChild(b); li.appendChild(bar); li.appendChild(msg);
    list.appendChild(li);
    return li;
  }
  function finish(li, ok, text, id) {
    li.setAttribute('data-state', ok ? 'done' : 'error');
    li.className = ok ? 'ok' : 'bad';
    var bar = li.querySelector('progress');
    if (ok) bar.value = 100;
    var msg = li.querySelector('.note');
    msg.textContent = text;
    if (ok && id) {
      var a = document.createElement('a');
      a.href = base + '/archive?id=' + encodeURIComponent(id);
      a.textContent = 'open';
      msg.appendChild(document.createTextNode(' '));
      msg.appendChild(a);
    }
  }
  function pump() {
    while (running < PARALLEL && queue.length) send(queue.shift());
  }
  function send(item) {
    running++;
    var li = item.li;
    li.setAttribute('data-state', 'sending');
    var q = new URLSearchParams({ name: item.file.name, title: item.title, tags: item.tags,
                                  category_id: item.cat });
    var xhr = new XMLHttpRequest();
    xhr.open('POST', base + '/upload/file?' + q.toString());
    xhr.setRequestHeader('X-CSRF-Token', csrf);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) li.querySelector('progress').value = Math.floor(e.loaded * 100 / e.total);
    };
    xhr.upload.onload = function () { li.querySelector('.note').textContent = 'Checking…'; };
    xhr.onload = function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = {}; }
      if (xhr.status === 200 && body.ok) finish(li, true, body.message, body.id);
      else finish(li, false, body.error || ('The server answered ' + xhr.status + '.'));
    };
    xhr.onerror = function () { finish(li, false, 'The connection failed.'); };
    xhr.onloadend = function () { running--; pump(); };
    xhr.send(item.file);
  }
  function add(files) {
    for (var i = 0; i < files.length; i++) {
      var f = files[i];
      queue.push({ file: f, li: row(f.name, size(f.size) + ', waiting'), title: $('u_title').value,
                   tags: $('u_tags').value, cat: $('u_cat').value });
    }
    pump();
  }
  input.addEventListener('change', function () { add(input.files); input.value = ''; });
  ['dragenter', 'dragover'].forEach(function (type) {
    document.addEventListener(type, function (e) { e.preventDefault(); drop.classList.add('over'); });
  });
  document.addEventListener('dragleave', function (e) {
    if (!e.relatedTarget) drop.classList.remove('over');
  });
  document.addEventListener('drop', function (e) {
    e.preventDefault();
    drop.classList.remove('over');
    if (e.dataTransfer && e.dataTransfer.files.length) add(e.dataTransfer.files);
  });
  form.addEventListener('submit', function (e) { e.preventDefault(); add(input.files); input.value = ''; });

  var urlForm = $('urlform');
  var jobs = $('u_jobs');
  function follow(li, job) {
    fetch(base + '/upload/job?job=' + job, { headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.state === 'finished' || s.state === 'failed') finish(li, !!s.ok, s.message || s.state, s.id);
        else { li.querySelector('.note').textContent = s.state; setTimeout(function () { follow(li, job); }, 1000); }
      })
      .catch(function () { setTimeout(function () { follow(li, job); }, 3000); });
  }
  urlForm.addEventListener('submit', function (e) {
    e.preventDefault();
    var button = $('u_fetch');
    button.disabled = true;
    fetch(urlForm.action, { method: 'POST', body: new URLSearchParams(new FormData(urlForm)),
                            headers: { Accept: 'application/json' }, credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (!body.ok) {
          var li = row('URLs', '');
          jobs.appendChild(li);
          finish(li, false, body.error || 'The server refused.');
          return;
        }
        body.jobs.forEach(function (j) {
          var li = row(j.url, 'queued');
          jobs.appendChild(li);
          li.querySelector('progress').removeAttribute('value');  // indeterminate: the job reports no bytes
          follow(li, j.job);
        });
        $('u_urls').value = '';
      })
      .catch(function (err) { var li = row('URLs', ''); jobs.appendChild(li); finish(li, false, err.message); })
      .then(function () { button.disabled = false; });
  });
})();
