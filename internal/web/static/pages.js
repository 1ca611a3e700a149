// castwatch Users, Connectors and Search pages: small behaviours (no inline script under the CSP).
(function () {
  'use strict';
  // A select marked data-autosubmit reloads its form without running the search, so the column lists follow the
  // chosen table.
  document.addEventListener('change', function (ev) {
    var el = ev.target;
    if (!el.matches || !el.matches('select[data-autosubmit]')) { return; }
    var form = el.form;
    var run = form.querySelector('input[name="run"]');
    if (run) { run.disabled = true; }
    form.submit();
  });
})();
