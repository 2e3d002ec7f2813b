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
