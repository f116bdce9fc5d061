// Cloud imaging: study list, SMS verification and a small viewer
// (series list, frame scrolling, window/level presets, report).
(function () {
  'use strict';
  var texts = {};
  try { texts = JSON.parse(document.body.getAttribute('data-i18n') || '{}'); } catch (e) { texts = {}; }
  function explain(body) {
    if (body && body.error && texts[body.error]) return texts[body.error];
    if (body && body.message) return body.message;
    return texts.internal_error || 'Error';
  }
  function api(method, url, data) {
    var opts = { method: method, credentials: 'same-origin', headers: { 'Accept': 'application/json' } };
    if (data !== undefined) { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(data); }
    return fetch(url, opts).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        if (!resp.ok) { var e = new Error(explain(body)); e.body = body; throw e; }
        return body;
      });
    });
  }
  function el(tag, text, attrs) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    return e;
  }
  function fmtDate(d) { return d && d.length === 8 ? d.slice(0, 4) + '-' + d.slice(4, 6) + '-' + d.slice(6) : (d || ''); }
  function showError(form, err) {
    var box = form.querySelector('.error');
    if (box) { box.textContent = err.message; box.hidden = false; }
  }

  // ---- list page
  var list = document.querySelector('[data-imaging="list"]');
  if (list) {
    api('GET', '/api/v1/imaging/studies').then(function (rows) {
      var tbody = document.getElementById('studies');
      document.getElementById('studies-empty').hidden = rows.length > 0;
      rows.forEach(function (s) {
        var tr = el('tr');
        tr.appendChild(el('td', fmtDate(s.study_date)));
        tr.appendChild(el('td', s.patient_name));
        tr.appendChild(el('td', s.modalities.replace(/,/g, ' ')));
        tr.appendChild(el('td', s.description));
        tr.appendChild(el('td', String(s.num_instances)));
        var td = el('td');
        td.appendChild(el('a', texts.open || '查看', { href: '/imaging/studies/' + encodeURIComponent(s.study_uid), 'class': 'open-study' }));
        tr.appendChild(td);
        tbody.appendChild(tr);
      });
    }).catch(function () {});
    api('GET', '/api/v1/imaging/review').then(function (items) {
      if (!items.length) return;
      document.getElementById('review').hidden = false;
      var ul = document.getElementById('review-items');
      items.forEach(function (i) {
        var li = el('li', fmtDate(i.study_date) + ' ' + i.patient_name + ' ' + i.patient_id_shown + ' (' + (i.link_issue || '') + ') ');
        var form = el('form', null, { 'class': 'inline link-patient' });
        var input = el('input', null, { name: 'resident_id', maxlength: '18', required: '', placeholder: texts.resident_id || '' });
        form.appendChild(input);
        form.appendChild(el('button', '✓', { type: 'submit' }));
        form.appendChild(el('span', null, { 'class': 'error', role: 'alert' }));
        form.addEventListener('submit', function (ev) {
          ev.preventDefault();
          api('POST', '/api/v1/imaging/studies/' + encodeURIComponent(i.study_uid) + '/patient', { resident_id: input.value.trim() })
            .then(function () { window.location.reload(); })
            .catch(function (e) { form.querySelector('.error').textContent = e.message; });
        });
        li.appendChild(form);
        ul.appendChild(li);
      });
    }).catch(function () {});
    api('GET', '/api/v1/imaging/consents').then(function (items) {
      if (!items.length) return;
      document.getElementById('consents').hidden = false;
      var ul = document.getElementById('consent-items');
      items.forEach(function (c) {
        var li = el('li', c.grantee_name + ' · ' + new Date(c.expires_at).toLocaleDateString() + ' · ' + (c.active ? '✔' : '✘') + ' ');
        if (c.active) {
          var b = el('button', '撤销 / Revoke', { type: 'button', 'class': 'link revoke' });
          b.addEventListener('click', function () {
            api('DELETE', '/api/v1/imaging/consents/' + c.id).then(function () { window.location.reload(); });
          });
          li.appendChild(b);
        }
        ul.appendChild(li);
      });
    }).catch(function () {});
  }

  // ---- viewer page
  var root = document.querySelector('[data-imaging="viewer"]');
  if (!root) return;
  var token = root.getAttribute('data-token');
  var studyUid = root.getAttribute('data-study');
  var state = { study: null, frames: [], index: 0 };
  var img = document.getElementById('frame');
  var slider = document.getElementById('slider');
  var preset = document.getElementById('preset');

  function frameUrl() {
    var f = state.frames[state.index];
    if (!f) return '';
    var url = '/dicom-web/studies/' + state.study.study_uid + '/series/' + f.series + '/instances/' + f.sop + '/frames/' + f.frame + '/rendered';
    if (preset.value) url += '?window=' + encodeURIComponent(preset.value);
    return url;
  }
  function show(i) {
    if (!state.frames.length) return;
    state.index = Math.max(0, Math.min(state.frames.length - 1, i));
    slider.value = String(state.index + 1);
    img.src = frameUrl();
    img.setAttribute('data-index', String(state.index + 1));
    document.getElementById('position').textContent = (state.index + 1) + ' / ' + state.frames.length;
  }
  function selectSeries(se) {
    state.frames = [];
    se.instances.forEach(function (i) {
      for (var f = 1; f <= i.frames; f++) state.frames.push({ series: se.series_uid, sop: i.sop_uid, frame: f });
    });
    slider.max = String(Math.max(1, state.frames.length));
    document.querySelectorAll('#series-list button').forEach(function (b) {
      b.setAttribute('aria-pressed', b.getAttribute('data-series') === se.series_uid ? 'true' : 'false');
    });
    show(0);
  }
  function load(uid) {
    api('GET', '/api/v1/imaging/studies/' + encodeURIComponent(uid)).then(function (s) {
      state.study = s;
      document.getElementById('study').hidden = false;
      document.getElementById('study-title').textContent = s.patient_name + ' · ' + (s.description || s.modalities.join(' '));
      document.getElementById('study-meta').textContent = fmtDate(s.study_date) + ' · ' + s.modalities.join(' ') + ' · ' + s.patient_id_shown + ' · ' + s.num_instances;
      var nav = document.getElementById('series-list');
      nav.textContent = '';
      s.series.forEach(function (se) {
        var b = el('button', (se.series_number !== null ? '#' + se.series_number + ' ' : '') + se.modality + ' ' + se.description + ' (' + se.instances.length + ')',
          { type: 'button', 'data-series': se.series_uid, 'class': 'series' });
        b.addEventListener('click', function () { selectSeries(se); });
        nav.appendChild(b);
      });
      if (s.series.length) selectSeries(s.series[0]);
      var rep = document.getElementById('report');
      rep.hidden = false;
      if (s.report) {
        document.getElementById('findings').textContent = s.report.findings;
        document.getElementById('impression').textContent = s.report.impression;
        document.getElementById('radiologist').textContent = s.report.author_name;
        document.getElementById('report-status').textContent = s.report.status === 'final' ? '' : (root.getAttribute('data-t-draft') || 'draft');
      } else {
        document.getElementById('findings').textContent = root.getAttribute('data-t-pending') || '';
      }
      var share = document.getElementById('share');
      if (share) share.hidden = false;
      var write = document.getElementById('write-report');
      if (write && !(s.report && s.report.status === 'final')) {
        write.hidden = false;
        if (s.report) {
          write.querySelector('[name=findings]').value = s.report.findings;
          write.querySelector('[name=impression]').value = s.report.impression;
        }
      }
    }).catch(function (e) {
      var sec = document.getElementById('study');
      sec.hidden = false;
      document.getElementById('study-title').textContent = e.message;
    });
  }
  slider.addEventListener('input', function () { show(Number(slider.value) - 1); });
  document.getElementById('prev').addEventListener('click', function () { show(state.index - 1); });
  document.getElementById('next').addEventListener('click', function () { show(state.index + 1); });
  preset.addEventListener('change', function () { show(state.index); });
  img.addEventListener('wheel', function (ev) { ev.preventDefault(); show(state.index + (ev.deltaY > 0 ? 1 : -1)); }, { passive: false });
  document.addEventListener('keydown', function (ev) {
    if (ev.target && ev.target.tagName === 'INPUT') return;
    if (ev.key === 'ArrowDown' || ev.key === 'ArrowRight') show(state.index + 1);
    if (ev.key === 'ArrowUp' || ev.key === 'ArrowLeft') show(state.index - 1);
  });

  var shareForm = document.getElementById('share-form');
  if (shareForm) {
    shareForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var fd = new FormData(shareForm);
      api('POST', '/api/v1/imaging/consents', {
        grantee_id: String(fd.get('grantee_id') || '').trim(),
        study_uid: state.study.study_uid,
        days: Number(fd.get('days'))
      }).then(function () { window.location.assign('/imaging'); }).catch(function (e) { showError(shareForm, e); });
    });
  }

  var reportForm = document.getElementById('report-form');
  if (reportForm) {
    reportForm.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var sign = ev.submitter && ev.submitter.value === 'true';
      api('POST', '/api/v1/imaging/studies/' + encodeURIComponent(state.study.study_uid) + '/report', {
        findings: reportForm.querySelector('[name=findings]').value,
        impression: reportForm.querySelector('[name=impression]').value,
        sign: sign
      }).then(function () { window.location.reload(); }).catch(function (e) { showError(reportForm, e); });
    });
  }

  if (token) {
    var sent = document.getElementById('code-sent');
    document.getElementById('send-code').addEventListener('click', function () {
      api('POST', '/api/v1/imaging/links/' + encodeURIComponent(token) + '/code').then(function (r) {
        sent.textContent = (root.getAttribute('data-t-sent') || '') + ' ' + r.sent_to;
        sent.hidden = false;
      }).catch(function (e) { sent.textContent = e.message; sent.hidden = false; });
    });
    var form = document.getElementById('code-form');
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      api('POST', '/api/v1/imaging/links/' + encodeURIComponent(token) + '/verify', { code: document.getElementById('code').value })
        .then(function (r) { document.getElementById('verify').hidden = true; load(r.study_uid); })
        .catch(function (e) { showError(form, e); });
    });
  } else if (studyUid) {
    load(studyUid);
  }
})();
