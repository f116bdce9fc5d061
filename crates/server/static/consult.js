// Online consultation pages: triage, the request form, the doctor's and
// patient's actions, and the chat over a WebSocket that resumes from the last
// message seen and resends unacknowledged messages (the server drops repeats).
(function () {
  'use strict';
  var texts = {};
  try { texts = JSON.parse(document.body.getAttribute('data-i18n') || '{}'); } catch (e) { texts = {}; }

  function explain(body) {
    if (body && body.error && texts[body.error]) return texts[body.error];
    if (body && body.message) return body.message;
    return texts.internal_error || 'Error';
  }
  function showError(box, message) { if (box) { box.textContent = message; box.hidden = false; } }
  function api(method, url, body) {
    return fetch(url, {
      method: method, credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'Accept': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (b) {
        if (!resp.ok) { var e = new Error(explain(b)); e.body = b; throw e; }
        return b;
      });
    });
  }
  function upload(url, file) {
    return fetch(url, { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': file.type || 'application/octet-stream' }, body: file })
      .then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (b) {
          if (!resp.ok) throw new Error(explain(b));
          return b;
        });
      });
  }
  function newClientId() {
    return 'c-' + Date.now().toString(36) + '-' + Math.random().toString(36).slice(2, 10);
  }

  // ---- triage: an emergency or a crisis is a distinct alert with tap-to-call
  // links and never a department; a routine answer lists departments that link
  // to doctors with open slots.
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function t(key, fallback) { return texts[key] || fallback; }
  var triageBtn = document.getElementById('triage-btn');
  if (triageBtn) {
    triageBtn.addEventListener('click', function () {
      var out = document.getElementById('triage-result');
      var lang = document.documentElement.lang || 'zh-CN';
      api('POST', '/api/v1/triage', { complaint: document.getElementById('triage-text').value, lang: lang })
        .then(function (r) {
          out.textContent = '';
          if (r.level === 'emergency' || r.level === 'crisis') {
            var box = el('div', 'triage-alert triage-' + r.level);
            box.id = 'triage-alert';
            box.setAttribute('role', 'alert');
            box.appendChild(el('h3', '', r.level === 'crisis'
              ? t('c_triage_crisis', 'You are not alone: talk to someone now')
              : t('c_triage_emergency', 'This may be life-threatening: call 120 now')));
            var calls = el('div', 'triage-calls');
            (r.hotlines || []).forEach(function (h) {
              var a = el('a', 'call-btn', t('c_triage_call', 'Call') + ' ' + h.number);
              a.href = h.tel;
              a.title = h.label;
              a.setAttribute('aria-label', h.label);
              calls.appendChild(a);
            });
            box.appendChild(calls);
            box.appendChild(el('p', 'triage-advice', r.advice));
            if ((r.reasons || []).length) {
              var why = el('ul', 'triage-why');
              r.reasons.forEach(function (x) {
                why.appendChild(el('li', '', x.text + (x.matched.length ? '（' + x.matched.join('、') + '）' : '')));
              });
              box.appendChild(why);
            }
            out.appendChild(box);
            return;
          }
          // The advice ends with the cautions; the page shows them apart.
          var advice = r.advice;
          (r.cautions || []).forEach(function (c) { advice = advice.replace(c.text, '').trim(); });
          out.appendChild(el('p', 'ok', advice));
          (r.cautions || []).forEach(function (c) {
            out.appendChild(el('p', 'warn triage-caution', c.text));
          });
          if ((r.suggestions || []).length) {
            out.appendChild(el('h3', '', t('c_triage_departments', 'Suggested departments')));
            var ul = el('ul', 'triage-depts');
            r.suggestions.forEach(function (s) {
              var li = el('li');
              var a = el('a', 'triage-dept', s.name);
              a.href = s.booking_url;
              li.appendChild(a);
              li.appendChild(document.createTextNode(' — ' + s.reasons.join('、') + ' · '));
              var book = el('a', '', t('c_triage_book', 'Doctors with open slots'));
              book.href = s.booking_url;
              li.appendChild(book);
              ul.appendChild(li);
            });
            out.appendChild(ul);
          }
        })
        .catch(function (e) { out.textContent = e.message; });
    });
  }

  // ---- request form
  var requestForm = document.getElementById('request-form');
  if (requestForm) {
    requestForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var box = requestForm.querySelector('.error');
      var fd = new FormData(requestForm);
      var file = requestForm.querySelector('[name=evidence_file]').files[0];
      var body = {
        patient_id: fd.get('patient_id') || undefined,
        doctor_id: fd.get('doctor_id'),
        complaint: String(fd.get('complaint') || ''),
        guardian_present: !!fd.get('guardian_present')
      };
      var first = file ? upload('/api/v1/consultation-evidence', file) : Promise.resolve(null);
      first.then(function (att) {
        if (att) body.evidence = { kind: fd.get('evidence_kind'), reference: att.id, note: String(fd.get('evidence_note') || '') };
        return api('POST', '/api/v1/consultations', body);
      }).then(function (c) {
        window.location.assign('/consultations/' + c.id);
      }).catch(function (e) { showError(box, e.message); });
    });
  }

  // ---- consultation actions
  var root = document.getElementById('consultation');
  if (!root) return;
  var id = root.getAttribute('data-id');
  var me = root.getAttribute('data-me');
  var actionError = document.getElementById('action-error');
  document.querySelectorAll('form.c-action').forEach(function (form) {
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var body = {};
      form.querySelectorAll('input, textarea').forEach(function (el) {
        if (el.type === 'checkbox') body[el.name] = el.checked;
        else if (el.type === 'number') body[el.name] = Number(el.value);
        else if (el.name) body[el.name] = el.value;
      });
      api('POST', '/api/v1/consultations/' + id + '/' + form.getAttribute('data-action'), body)
        .then(function () { window.location.reload(); })
        .catch(function (e) { showError(actionError, e.message); });
    });
  });

  // ---- chat
  var list = document.getElementById('messages');
  var conn = document.getElementById('conn');
  var sendForm = document.getElementById('send-form');
  var text = document.getElementById('message-text');
  var picture = document.getElementById('picture');
  var last = 0;
  var pending = [];          // frames sent but not yet acknowledged, in order
  var ws = null;
  var delay = 300;

  function render(m) {
    if (m.seq <= last) return;   // already shown (resume or repeat)
    last = m.seq;
    var li = document.createElement('li');
    li.setAttribute('data-seq', String(m.seq));
    li.className = m.sender_id === me ? 'mine' : 'theirs';
    var who = document.createElement('span');
    who.className = 'who';
    who.textContent = (texts[m.sender_role] || m.sender_role) + ' · ' + new Date(m.at).toLocaleTimeString();
    li.appendChild(who);
    if (m.kind === 'picture' && m.attachment_id) {
      var img = document.createElement('img');
      img.alt = texts.c_picture || 'picture';
      img.src = '/api/v1/consultations/' + id + '/attachments/' + encodeURIComponent(m.attachment_id);
      li.appendChild(img);
    } else {
      var body = document.createElement('span');
      body.className = 'text';
      body.textContent = m.text || '';
      li.appendChild(body);
    }
    list.appendChild(li);
    list.scrollTop = list.scrollHeight;
  }

  function setOnline(on) {
    conn.textContent = on ? conn.getAttribute('data-online') : conn.getAttribute('data-offline');
    conn.setAttribute('data-state', on ? 'online' : 'offline');
  }

  function flush() {
    if (!ws || ws.readyState !== 1) return;
    pending.forEach(function (f) { ws.send(JSON.stringify(f)); });
  }

  function connect() {
    var proto = window.location.protocol === 'https:' ? 'wss://' : 'ws://';
    ws = new WebSocket(proto + window.location.host + '/api/v1/consultations/' + id + '/chat?after=' + last);
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === 'message') {
        render(f);
        // Our own message back from the server is its acknowledgement: it is stored.
        if (f.sender_id === me) pending = pending.filter(function (p) { return p.client_id !== f.client_id; });
      }
      else if (f.type === 'ready') { delay = 300; setOnline(true); flush(); }
      else if (f.type === 'ack') pending = pending.filter(function (p) { return p.client_id !== f.client_id; });
      else if (f.type === 'status') {
        document.getElementById('status').textContent = texts[f.status] || f.status;
        root.setAttribute('data-status', f.status);
      } else if (f.type === 'error') {
        pending = pending.filter(function (p) { return p.client_id !== f.client_id; });
        showError(sendForm.querySelector('.error'), explain({ error: f.code, message: f.message }));
      }
    };
    ws.onclose = function () {
      setOnline(false);
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 5000);
    };
  }

  function queue(frame) {
    pending.push(frame);
    if (ws && ws.readyState === 1) ws.send(JSON.stringify(frame));
  }

  sendForm.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var t = text.value.trim();
    if (!t) return;
    queue({ type: 'send', client_id: newClientId(), kind: 'text', text: t });
    text.value = '';
  });
  text.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); sendForm.requestSubmit(); }
  });
  picture.addEventListener('change', function () {
    var file = picture.files[0];
    if (!file) return;
    upload('/api/v1/consultations/' + id + '/attachments', file)
      .then(function (a) { queue({ type: 'send', client_id: newClientId(), kind: 'picture', attachment_id: a.id }); })
      .catch(function (e) { showError(sendForm.querySelector('.error'), e.message); })
      .finally(function () { picture.value = ''; });
  });

  connect();
})();
