// Library page helpers. The page works without this file: it shows dates in the browser's locale and time
// zone (the server writes them as ISO dates, in UTC), submits the search form when a sort or filter control
// changes, and focuses the search box on "/".
(function () {
  'use strict';
  var dates = document.querySelectorAll('time.date[datetime]');
  for (var d = 0; d < dates.length; d++) {
    var when = new Date(dates[d].getAttribute('datetime'));
    if (isNaN(when.getTime())) continue;
    var label = dates[d].textContent.split(' ')[0];  // "added", "posted"
    dates[d].textContent = label + ' ' +
      when.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
    dates[d].title = label + ' ' + when.toLocaleString();
  }
  // A card's mark menu (mark read / unread / clear NEW): sent in the background, then the page reloaded, so
  // the browser keeps the scroll position where the form's redirect would go back to the top.
  var marks = document.getElementById('marks');
  if (marks && window.fetch && window.FormData) {
    marks.addEventListener('submit', function (e) {
      var by = e.submitter;
      if (!by) return;  // no submitter known: the plain form POST does it
      e.preventDefault();
      var data = new FormData(marks);
      data.append(by.name, by.value);
      fetch(marks.action, { method: 'POST', body: data, credentials: 'same-origin',
                            headers: { Accept: 'application/json' } })
        .then(function (r) { return r.json(); })
        .then(function (j) { if (j.error) alert(j.error); location.reload(); })
        .catch(function () {  // the plain POST then, the button's choice carried by a field
          var f = document.createElement('input');
          f.type = 'hidden'; f.name = by.name; f.value = by.value;
          marks.appendChild(f);
          marks.submit();
        });
    });
  }
  var form = document.querySelector('form.search');
  if (!form) return;
  var controls = form.querySelectorAll('select, input[type=checkbox]');
  for (var i = 0; i < controls.length; i++) {
    controls[i].addEventListener('change', function () { form.submit(); });
  }
  document.addEventListener('keydown', function (e) {
    var t = e.target && e.target.tagName;
    if (e.key === '/' && t !== 'INPUT' && t !== 'SELECT' && t !== 'TEXTAREA') {
      e.preventDefault();
      document.getElementById('q').focus();
    }
  });
})();
