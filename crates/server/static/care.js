// Forms of the home-nursing and follow-up pages: <form data-care="/api/...">
// posts its fields as typed JSON (data-type="number" | "bool" | "list") and
// explains API errors in the page language; [data-locate] fills lat/lng.
(function () {
  'use strict';
  var texts = {};
  try { texts = JSON.parse(document.body.getAttribute('data-i18n') || '{}'); } catch (e) { texts = {}; }

  function explain(body) {
    if (body && body.error && texts[body.error]) return texts[body.error];
    if (body && body.message) return body.message;
    return texts.internal_error || 'Error';
  }

  function collect(form) {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) return;
      var type = el.getAttribute('data-type');
      if (type === 'list') {
        if (!data[el.name]) data[el.name] = [];
        if (el.type === 'checkbox' ? el.checked : el.value.trim() !== '') data[el.name].push(el.type === 'checkbox' ? el.value : el.value.trim());
        return;
      }
      if (el.type === 'checkbox') { data[el.name] = el.checked; return; }
      var v = String(el.value).trim();
      if (v === '') return;
      if (type === 'number') { data[el.name] = Number(v); return; }
      if (type === 'bool') { data[el.name] = v === 'true'; return; }
      data[el.name] = v;
    });
    return data;
  }

  document.querySelectorAll('form[data-care]').forEach(function (form) {
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var box = form.querySelector('.error');
      var button = form.querySelector('button[type=submit]');
      if (button) button.disabled = true;
      fetch(form.getAttribute('data-care'), {
        method: form.getAttribute('data-method') || 'POST',
        headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
        credentials: 'same-origin',
        body: JSON.stringify(collect(form))
      }).then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (body) {
          if (resp.ok) { window.location.assign(form.getAttribute('data-next') || window.location.href); return; }
          if (box) { box.textContent = explain(body); box.hidden = false; }
          if (body.field) {
            var input = form.querySelector('[name="' + body.field + '"]');
            if (input) input.setAttribute('aria-invalid', 'true');
          }
        });
      }).catch(function () {
        if (box) { box.textContent = texts.network_error || 'Network error'; box.hidden = false; }
      }).finally(function () { if (button) button.disabled = false; });
    });
  });

  document.querySelectorAll('[data-locate]').forEach(function (b) {
    b.addEventListener('click', function () {
      if (!navigator.geolocation) return;
      navigator.geolocation.getCurrentPosition(function (pos) {
        var form = b.closest('form');
        form.querySelector('[name=lat]').value = pos.coords.latitude.toFixed(6);
        form.querySelector('[name=lng]').value = pos.coords.longitude.toFixed(6);
      });
    });
  });
})();
