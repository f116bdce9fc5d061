// Prescribing form (several drug lines), visit payment and the sandbox checkout.
(function () {
  'use strict';
  var texts = {};
  try { texts = JSON.parse(document.body.getAttribute('data-i18n') || '{}'); } catch (e) { texts = {}; }
  function explain(body) {
    if (body && body.error && texts[body.error]) return texts[body.error];
    if (body && body.message) return body.message;
    return texts.internal_error || 'Error';
  }
  function show(id, msg) {
    var el = document.getElementById(id);
    if (el) { el.textContent = msg; el.hidden = false; }
  }
  function post(url, data) {
    return fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: JSON.stringify(data || {})
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        if (!resp.ok) throw body;
        return body;
      });
    });
  }
  function getJson(url) {
    return fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
      .then(function (r) { return r.json(); });
  }

  // ---- prescribing
  var form = document.getElementById('rx-form');
  if (form) {
    var tbody = form.querySelector('#rx-lines tbody');
    document.getElementById('rx-add-line').addEventListener('click', function () {
      var row = tbody.querySelector('tr').cloneNode(true);
      tbody.appendChild(row);
    });
    document.querySelectorAll('.rx-revise').forEach(function (b) {
      b.addEventListener('click', function () {
        form.setAttribute('data-endpoint', b.getAttribute('data-endpoint'));
        var t = document.getElementById('rx-form-title');
        if (t) t.textContent = b.textContent;
        form.scrollIntoView();
      });
    });
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var items = [];
      tbody.querySelectorAll('tr').forEach(function (tr) {
        items.push({
          drug_code: tr.querySelector('[name=drug_code]').value,
          quantity: Number(tr.querySelector('[name=quantity]').value),
          dosage: tr.querySelector('[name=dosage]').value,
          frequency: tr.querySelector('[name=frequency]').value,
          days: Number(tr.querySelector('[name=days]').value)
        });
      });
      var data = {
        kind: form.querySelector('[name=kind]').value,
        diagnosis: form.querySelector('[name=diagnosis]').value,
        note: form.querySelector('[name=note]').value,
        items: items
      };
      var w = form.querySelector('[name=weight_kg]').value;
      if (w !== '') data.weight_kg = Number(w);
      var button = document.getElementById('rx-submit');
      button.disabled = true;
      post(form.getAttribute('data-endpoint'), data)
        .then(function () { window.location.reload(); })
        .catch(function (body) { show('rx-error', explain(body)); })
        .finally(function () { button.disabled = false; });
    });
  }

  // ---- the patient goes to the visit's order
  var goPay = document.getElementById('go-pay');
  if (goPay) {
    goPay.addEventListener('click', function () {
      post('/api/v1/consultations/' + goPay.getAttribute('data-consultation') + '/order')
        .then(function (o) { window.location.assign('/orders/' + o.id); })
        .catch(function (body) { show('pay-error', explain(body)); });
    });
  }

  // ---- pay once / cancel
  var pay = document.getElementById('pay');
  if (pay) {
    pay.addEventListener('click', function () {
      pay.disabled = true;
      post('/api/v1/payment-orders/' + pay.getAttribute('data-order') + '/pay')
        .then(function (r) { window.location.assign(r.pay_url || window.location.href); })
        .catch(function (body) { show('pay-error', explain(body)); pay.disabled = false; });
    });
  }
  var cancel = document.getElementById('cancel-order');
  if (cancel) {
    cancel.addEventListener('click', function () {
      post('/api/v1/payment-orders/' + cancel.getAttribute('data-order') + '/cancel')
        .then(function () { window.location.reload(); })
        .catch(function (body) { show('pay-error', explain(body)); });
    });
  }

  // ---- sandbox checkout: authorise, then wait for the provider's callback
  var sandbox = document.getElementById('sandbox');
  if (sandbox) {
    var txn = sandbox.getAttribute('data-txn');
    var order = sandbox.getAttribute('data-order');
    var wait = function () {
      document.getElementById('sandbox-waiting').hidden = false;
      var tries = 0;
      var poll = function () {
        getJson('/api/v1/payment-orders/' + order).then(function (o) {
          if (o.status !== 'paying' || ++tries > 100) { window.location.assign('/orders/' + order); return; }
          setTimeout(poll, 300);
        });
      };
      poll();
    };
    [['sandbox-confirm', true], ['sandbox-decline', false]].forEach(function (p) {
      var b = document.getElementById(p[0]);
      if (!b) return;
      b.addEventListener('click', function () {
        b.disabled = true;
        post('/api/v1/payments/sandbox/' + txn + '/confirm', { succeed: p[1] })
          .then(wait)
          .catch(function (body) { show('pay-error', explain(body)); b.disabled = false; });
      });
    });
  }
})();
