// Library page helpers. The page works without this file: it only submits the search form when a
// sort or filter control changes, and focuses the search box on "/".
(function () {
  'use strict';
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
