// Posts every <form data-api> as JSON and explains API errors in the page language.
(function () {
  'use strict';
  var texts = {};
  try { texts = JSON.parse(document.body.getAttribute('data-i18n') || '{}'); } catch (e) { texts = {}; }

  function explain(body) {
    if (body && body.error && texts[body.error]) return texts[body.error];
    if (body && body.message) return body.message;
    return texts.internal_error || 'Error';
  }

  function showError(form, message, field) {
    var box = form.querySelector('.error');
    form.querySelectorAll('[aria-invalid]').forEach(function (el) { el.removeAttribute('aria-invalid'); });
    if (field) {
      var input = form.querySelector('[name="' + field + '"]');
      if (input) { input.setAttribute('aria-invalid', 'true'); input.focus(); }
    }
    if (box) { box.textContent = message; box.hidden = false; }
  }

  document.querySelectorAll('form[data-api]').forEach(function (form) {
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var data = {};
      new FormData(form).forEach(function (v, k) {
        var s = String(v).trim();
        if (s !== '' || form.querySelector('[name="' + k + '"]').required) data[k] = s;
      });
      var button = form.querySelector('button[type=submit]');
      if (button) button.disabled = true;
      fetch(form.getAttribute('data-api'), {
        method: form.getAttribute('data-method') || 'POST',
        headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
        credentials: 'same-origin',
        body: JSON.stringify(data)
      }).then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (body) {
          if (resp.ok) { window.location.assign(form.getAttribute('data-next') || window.location.href); return; }
          showError(form, explain(body), body.field);
        });
      }).catch(function () {
        showError(form, texts.network_error || 'Network error');
      }).finally(function () { if (button) button.disabled = false; });
    });
  });

  var logout = document.getElementById('logout');
  if (logout) {
    logout.addEventListener('click', function () {
      fetch('/api/v1/sessions/current', { method: 'DELETE', credentials: 'same-origin' })
        .finally(function () { window.location.assign('/'); });
    });
  }
})();
