/* libtsa dashboard: plain JavaScript, no build step, no outside resources.
 * Every model operation goes to the REST API through the dashboard's /api/
 * proxy; /status.json gives the health of the five services. Charts are
 * drawn as inline SVG. */
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const COLORS = ['#1d5fd6', '#0f8a5f', '#c77700', '#7b3fc4', '#c2306b', '#0a8ca6'];
  const MEMBER_COLORS = ['#8d99ae', '#b08968', '#6d597a', '#588157', '#9c6644', '#457b9d'];
  const ANOMALY = '#d32f2f';
  const MAX_FEATURES_DRAWN = 6;
  const COMPONENT_STRIP = 64;  // px per component strip under the forecast
  const STATUS_EVERY_MS = 5000;
  const JOB_POLL_MS = 400;

  const state = {
    rows: null,           // (n, F) numbers or null
    timestamps: null,     // n strings, or null
    featureNames: null,
    labels: null,         // n 0/1 from the generator, or null
    modelTypes: [],
    models: [],
    job: null,            // {id, timer}
    nameTouched: false,
    charts: {},           // last spec per svg id, redrawn on resize
    domains: {},          // x range per chart, so the score strip lines up
  };

  /* ---------------------------------------------------------------- API */

  class ApiError extends Error {
    constructor(message, status, code, field, requestId) {
      super(message);
      this.status = status;
      this.code = code || '';
      this.field = field || '';
      this.requestId = requestId || '';
    }
  }

  function apiKey() {
    return $('api-key').value.trim();
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const key = apiKey();
    if (key) headers.Authorization = 'Bearer ' + key;
    let resp;
    try {
      resp = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (e) {
      throw new ApiError('The dashboard server did not answer (' + e.message + ').', 0, 'network');
    }
    const text = await resp.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (e) {
      json = null;
    }
    if (!resp.ok) {
      const err = json && json.error;
      if (err && typeof err === 'object') {
        throw new ApiError(err.message || ('HTTP ' + resp.status), resp.status, err.code, err.field, err.request_id);
      }
      throw new ApiError('HTTP ' + resp.status + (text ? ': ' + text.slice(0, 300) : ''), resp.status);
    }
    return json;
  }

  /* ------------------------------------------------------------ DOM helpers */

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') el.textContent = v;
      else if (k === 'className') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function s(tag, attrs) {
    const el = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === 'text') el.textContent = v;
      else el.setAttribute(k, String(v));
    }
    return el;
  }

  function clearError(box, form) {
    box.hidden = true;
    box.textContent = '';
    if (form) form.querySelectorAll('[aria-invalid="true"]').forEach((el) => el.removeAttribute('aria-invalid'));
  }

  /* Shows the API's message, with its status, code and the field it names;
   * the input for that field (when the form has one) is marked invalid. */
  function showError(box, err, form) {
    box.textContent = '';
    const msg = err instanceof Error ? err.message : String(err);
    box.append(h('strong', { text: msg }));
    const bits = [];
    if (err.status) bits.push('HTTP ' + err.status);
    if (err.code) bits.push(err.code);
    if (err.field) bits.push('field: ' + err.field);
    if (err.requestId) bits.push('request ' + err.requestId);
    if (bits.length) box.append(h('br'), h('span', { className: 'code', text: bits.join(' · ') }));
    box.hidden = false;
    if (form && err.field) {
      const base = String(err.field).split(/[.[]/)[0];
      const names = [err.field, base, String(err.field).replace(/^params\./, '')];
      for (const n of names) {
        const el = form.querySelector('[name="' + CSS.escape(n) + '"]');
        if (el) {
          el.setAttribute('aria-invalid', 'true');
          break;
        }
      }
    }
  }

  function fmtNum(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return '–';
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
    return Number(v.toFixed(digits === undefined ? 3 : digits)).toString();
  }

  function fmtSeconds(sec) {
    if (sec < 0.001) return (sec * 1e6).toFixed(0) + ' µs';
    if (sec < 1) return (sec * 1000).toFixed(1) + ' ms';
    return sec.toFixed(sec < 10 ? 2 : 1) + ' s';
  }

  function fmtUptime(sec) {
    if (typeof sec !== 'number' || !Number.isFinite(sec)) return '';
    sec = Math.max(0, Math.floor(sec));
    const d = Math.floor(sec / 86400), hh = Math.floor((sec % 86400) / 3600);
    const m = Math.floor((sec % 3600) / 60), ss = sec % 60;
    if (d) return d + 'd ' + hh + 'h';
    if (hh) return hh + 'h ' + m + 'm';
    if (m) return m + 'm ' + ss + 's';
    return ss + 's';
  }

  function fmtBytes(n) {
    if (typeof n !== 'number') return '';
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1048576).toFixed(1) + ' MiB';
  }

  function fmtDate(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    return d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  }

  /* ---------------------------------------------------------- status panel */

  async function refreshStatus() {
    const list = $('services');
    let doc;
    try {
      const resp = await fetch('/status.json', { cache: 'no-store' });
      doc = await resp.json();
    } catch (e) {
      list.querySelectorAll('.service').forEach((li) => {
        li.dataset.state = 'down';
        const badge = li.querySelector('.badge');
        badge.className = 'badge down';
        badge.textContent = 'Unknown';
        badge.setAttribute('aria-label', 'state unknown');
      });
      $('status-summary').textContent = 'The dashboard server is not answering';
      $('status-time').textContent = '';
      return;
    }
    list.textContent = '';
    for (const svc of doc.services || []) {
      const st = svc.state || 'down';
      const label = st === 'up' ? 'Up' : st === 'degraded' ? 'Degraded' : 'Down';
      const info = [];
      if (svc.version) info.push('v' + svc.version);
      if (typeof svc.uptime_seconds === 'number') info.push('up ' + fmtUptime(svc.uptime_seconds));
      if (svc.store && svc.store.backend) info.push(svc.store.backend);
      const detail = st === 'down' ? (svc.error || 'no answer') : info.join(' · ');
      const where = svc.url + (svc.key !== 'web' && typeof svc.latency_ms === 'number' ? ' · ' + Math.round(svc.latency_ms) + ' ms' : '');
      list.append(h('li', { className: 'service', id: 'svc-' + svc.key, 'data-state': st, title: st === 'down' ? (svc.error || '') : '' },
        h('div', { className: 'name' }, h('span', { text: svc.title || svc.name }),
          h('span', { className: 'badge ' + st, text: label, 'aria-label': (svc.title || svc.name) + ' is ' + label.toLowerCase() })),
        h('div', { className: 'meta', text: detail || '\u00a0' }),
        h('div', { className: 'meta', text: where })));
    }
    /* Only the count is announced, and only when it changes. */
    const count = (doc.services_up || 0) + ' of ' + (doc.services_total || 0) + ' services up';
    if ($('status-summary').textContent !== count) $('status-summary').textContent = count;
    $('status-time').textContent = doc.checked_at ? '· ' + new Date(doc.checked_at).toLocaleTimeString() : '';
  }

  /* ------------------------------------------------------------------ data */

  function parseNumber(cell, where) {
    const t = cell.trim();
    if (t === '' || /^(nan|null|na|none)$/i.test(t)) return null;
    const v = Number(t);
    if (!Number.isFinite(v)) throw new Error(where + ': "' + t + '" is not a number');
    return v;
  }

  function rowsFromJson(value) {
    let timestamps = null;
    if (typeof value === 'string') value = JSON.parse(value);
    if (value && !Array.isArray(value) && typeof value === 'object') {
      if (!Array.isArray(value.values)) throw new Error('a JSON object needs a "values" array');
      if (Array.isArray(value.timestamps)) timestamps = value.timestamps.map(String);
      value = value.values;
    }
    if (!Array.isArray(value) || value.length === 0) throw new Error('the JSON holds no rows');
    const rows = value.map((r, i) => {
      const row = Array.isArray(r) ? r : [r];
      if (row.length === 0) throw new Error('row ' + i + ' is empty');
      return row.map((v, j) => {
        if (v === null) return null;
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error('row ' + i + ', column ' + j + ': not a number');
        return v;
      });
    });
    return { rows, timestamps, names: null };
  }

  function rowsFromCsv(text) {
    const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    if (!lines.length) throw new Error('no rows');
    const delim = lines[0].includes('\t') ? '\t' : lines[0].includes(';') ? ';' : ',';
    let cells = lines.map((l) => l.split(delim));
    let names = null;
    const isNum = (c) => c.trim() !== '' && Number.isFinite(Number(c.trim()));
    if (cells[0].some((c) => c.trim() !== '' && !isNum(c) && !/^(nan|null|na|none)$/i.test(c.trim()))) {
      names = cells[0].map((c) => c.trim());
      cells = cells.slice(1);
    }
    if (!cells.length) throw new Error('a header but no rows');
    let timestamps = null;
    const firstIsTime = cells[0].length > 1 && !isNum(cells[0][0]) && cells[0][0].trim() !== '';
    if (firstIsTime) {
      timestamps = cells.map((c) => c[0].trim());
      cells = cells.map((c) => c.slice(1));
      if (names) names = names.slice(1);
    }
    const width = cells[0].length;
    const rows = cells.map((c, i) => {
      if (c.length !== width) throw new Error('line ' + (i + 1 + (names ? 1 : 0)) + ' has ' + c.length + ' columns, expected ' + width);
      return c.map((v, j) => parseNumber(v, 'line ' + (i + 1 + (names ? 1 : 0)) + ', column ' + (j + 1)));
    });
    return { rows, timestamps, names };
  }

  function parseSeries(text) {
    const t = text.trim();
    if (!t) return null;
    const parsed = t[0] === '[' || t[0] === '{' || t[0] === '"' ? rowsFromJson(JSON.parse(t)) : rowsFromCsv(t);
    const width = parsed.rows[0].length;
    parsed.rows.forEach((r, i) => {
      if (r.length !== width) throw new Error('row ' + i + ' has ' + r.length + ' values, row 0 has ' + width);
    });
    if (parsed.timestamps && parsed.timestamps.length !== parsed.rows.length) parsed.timestamps = null;
    return parsed;
  }

  function toCsv(rows, timestamps, names) {
    const width = rows[0].length;
    const header = (timestamps ? ['timestamp'] : []).concat(names || Array.from({ length: width }, (_, j) => 'x' + j));
    const out = [header.join(',')];
    rows.forEach((r, i) => {
      const vals = r.map((v) => (v === null ? '' : String(Number(v.toPrecision(7)))));
      out.push((timestamps ? [timestamps[i]] : []).concat(vals).join(','));
    });
    return out.join('\n');
  }

  function setData(parsed, labels) {
    state.rows = parsed ? parsed.rows : null;
    state.timestamps = parsed ? parsed.timestamps : null;
    state.featureNames = parsed && parsed.names && parsed.names.length === parsed.rows[0].length ? parsed.names : null;
    state.labels = labels || null;
    const info = $('data-info');
    if (!state.rows) {
      info.textContent = 'No data yet: generate a sample or paste a series.';
      drawChart($('data-chart'), null);
      return;
    }
    const n = state.rows.length, f = state.rows[0].length;
    const missing = state.rows.reduce((acc, r) => acc + r.filter((v) => v === null).length, 0);
    info.textContent = n + ' rows × ' + f + (f === 1 ? ' feature' : ' features') +
      (state.timestamps ? ', with timestamps' : '') + (missing ? ', ' + missing + ' missing values' : '') +
      (state.labels ? ', ' + state.labels.filter((x) => x).length + ' injected anomalies' : '');
    drawChart($('data-chart'), { rows: state.rows, start: 0, mini: true, label: 'Preview of the series: ' + info.textContent });
  }

  function onDataInput() {
    clearError($('data-error'));
    try {
      setData(parseSeries($('data-input').value), null);
    } catch (e) {
      setData(null);
      showError($('data-error'), new ApiError('The series cannot be read: ' + e.message, 0));
    }
  }

  /* The series as the API takes it: rows, or values with timestamps. */
  function dataPayload() {
    if (!state.rows) throw new ApiError('No data: generate a sample or paste a series first.', 0, 'no_data', 'data');
    if (state.timestamps) return { values: state.rows, timestamps: state.timestamps };
    return state.rows;
  }

  async function onGenerate(ev) {
    ev.preventDefault();
    const form = $('generate-form');
    const btn = $('generate');
    clearError($('data-error'), form);
    const body = { trend: true, seasonality: true, noise_level: 0.1 };
    for (const el of form.querySelectorAll('input')) {
      if (el.value === '') continue;
      body[el.name] = Number(el.value);
    }
    btn.disabled = true;
    try {
      const out = await api('POST', '/api/v1/data/generate', body);
      const parsed = { rows: out.data, timestamps: out.timestamps || null, names: null };
      $('data-input').value = toCsv(parsed.rows, parsed.timestamps, null);
      setData(parsed, out.labels || null);
      if (!state.nameTouched) suggestName();
    } catch (e) {
      showError($('data-error'), e, form);
    } finally {
      btn.disabled = false;
    }
  }

  /* ------------------------------------------------------------ training */

  const KEY_PARAMS = ['max_lags', 'ic', 'sequence_length', 'window', 'hidden_size', 'channels', 'd_model', 'epochs',
    'learning_rate', 'n_states', 'covariance', 'period', 'trend', 'season', 'growth', 'n_changepoints', 'theta'];

  function typeByName(name) {
    return state.modelTypes.find((t) => t.name === name);
  }

  function typesFor(task) {
    const cap = task === 'anomaly' ? 'score' : 'forecast';
    return state.modelTypes.filter((t) => (t.capabilities || []).includes(cap));
  }

  function renderTypeOptions() {
    const sel = $('train-type');
    const prev = sel.value;
    sel.textContent = '';
    for (const t of typesFor($('train-task').value)) {
      const multi = (t.capabilities || []).includes('multivariate');
      sel.append(h('option', { value: t.name, text: t.name + (multi ? '' : ' (univariate)') }));
    }
    if ([...sel.options].some((o) => o.value === prev)) sel.value = prev;
    else if ([...sel.options].some((o) => o.value === 'multivariate')) sel.value = 'multivariate';
    renderParams();
  }

  function paramInput(spec) {
    const id = 'param-' + spec.name;
    const def = spec.default;
    const common = { id, name: spec.name, 'data-param': spec.name, 'data-type': spec.type, 'data-default': def === undefined ? '' : String(def), title: spec.description || '' };
    if (spec.type === 'bool') {
      const input = h('input', Object.assign({ type: 'checkbox' }, common));
      input.checked = !!def;
      return h('div', { className: 'param bool' }, input, h('label', { for: id, text: spec.name, title: spec.description || '' }));
    }
    let input;
    if (Array.isArray(spec.choices) && spec.choices.length) {
      input = h('select', common, ...spec.choices.map((c) => h('option', { value: c, text: c })));
      input.value = String(def);
    } else if (spec.type === 'int' || spec.type === 'double') {
      input = h('input', Object.assign({
        type: 'number',
        step: spec.type === 'int' ? '1' : 'any',
        min: spec.minimum, max: spec.maximum,
        inputmode: spec.type === 'int' ? 'numeric' : 'decimal',
      }, common));
      input.value = def === undefined ? '' : String(def);
    } else {
      input = h('input', Object.assign({ type: 'text', autocomplete: 'off' }, common));
      input.value = def === undefined ? '' : String(def);
    }
    return h('div', { className: 'param' }, h('label', { for: id, text: spec.name, title: spec.description || '' }), input);
  }

  function renderParams() {
    const t = typeByName($('train-type').value);
    const key = $('train-params-key'), more = $('train-params-more');
    key.textContent = '';
    more.textContent = '';
    $('train-type-help').textContent = t ? t.description || '' : '';
    if (!t) return;
    const params = t.params || [];
    let keys = params.filter((p) => KEY_PARAMS.includes(p.name));
    if (!keys.length) keys = params.filter((p) => p.name !== 'seed').slice(0, 3);
    keys = keys.slice(0, 6);
    for (const p of params) (keys.includes(p) ? key : more).append(paramInput(p));
    $('train-params').hidden = !keys.length;
    $('train-more').hidden = params.length === keys.length;
    if (!state.nameTouched) suggestName();
  }

  function suggestName() {
    const type = $('train-type').value || 'model';
    const taken = new Set(state.models.map((m) => m.model_name));
    let k = 1;
    while (taken.has(type + '_' + k)) k++;
    $('train-name').value = type + '_' + k;
  }

  /* Only values changed from the defaults are sent: the API fills the rest. */
  function collectParams(form) {
    const params = {};
    for (const el of form.querySelectorAll('[data-param]')) {
      const name = el.dataset.param, type = el.dataset.type, def = el.dataset.default;
      if (type === 'bool') {
        if (String(el.checked) !== def) params[name] = el.checked;
        continue;
      }
      const raw = el.value.trim();
      if (raw === '' || raw === def) continue;
      if (type === 'int' || type === 'double') {
        const v = Number(raw);
        if (!Number.isFinite(v)) throw new ApiError(name + ': "' + raw + '" is not a number', 0, 'invalid_field', name);
        if (v !== Number(def)) params[name] = v;
      } else {
        params[name] = raw;
      }
    }
    return params;
  }

  function setProgress(fraction, text) {
    $('train-progress').value = Math.max(0, Math.min(1, fraction || 0));
    $('train-progress-text').textContent = text;
  }

  function endJob() {
    if (state.job && state.job.timer) clearTimeout(state.job.timer);
    state.job = null;
    $('train-submit').disabled = false;
    $('train-cancel').hidden = true;
  }

  function describeTrained(res) {
    const bits = ['Trained "' + res.model_name + '" (' + res.model_type + ')'];
    if (res.n_samples) bits.push('on ' + res.n_samples + ' × ' + res.n_features);
    if (typeof res.training_time_s === 'number') bits.push('in ' + fmtSeconds(res.training_time_s));
    const v = res.metrics && res.metrics.validation;
    if (v && typeof v.rmse === 'number') bits.push('· validation RMSE ' + fmtNum(v.rmse));
    return bits.join(' ');
  }

  async function pollJob() {
    const job = state.job;
    if (!job) return;
    let j;
    try {
      j = await api('GET', '/api/v1/jobs/' + encodeURIComponent(job.id));
    } catch (e) {
      showError($('train-error'), e);
      endJob();
      return;
    }
    if (state.job !== job) return;
    const p = j.progress || {};
    const frac = typeof p.fraction === 'number' ? p.fraction : 0;
    if (j.status === 'queued') {
      setProgress(0, 'Queued…');
    } else if (j.status === 'running') {
      let text = 'Training ' + Math.round(frac * 100) + '%';
      if (p.total_epochs) text += ' · epoch ' + (p.epoch || 0) + '/' + p.total_epochs;
      if (typeof p.eta_seconds === 'number' && p.eta_seconds > 0) text += ' · about ' + Math.ceil(p.eta_seconds) + ' s left';
      setProgress(frac, text);
    } else if (j.status === 'completed') {
      setProgress(1, 'Done');
      const msg = $('train-message');
      msg.textContent = describeTrained(j.result || { model_name: j.model_name, model_type: '' });
      msg.hidden = false;
      endJob();
      await refreshModels(j.model_name);
      return;
    } else {
      setProgress(frac, j.status === 'canceled' ? 'Canceled' : j.status === 'interrupted' ? 'Interrupted' : 'Failed');
      if (j.status === 'failed' || j.status === 'interrupted') {
        showError($('train-error'), new ApiError(j.error || ('the training job ' + j.status), 0, j.status));
      } else {
        const msg = $('train-message');
        msg.textContent = 'Training of "' + (j.model_name || '') + '" was canceled.';
        msg.hidden = false;
      }
      endJob();
      return;
    }
    job.timer = setTimeout(pollJob, JOB_POLL_MS);
  }

  async function onTrain(ev) {
    ev.preventDefault();
    const form = $('train-form');
    clearError($('train-error'), form);
    $('train-message').hidden = true;
    if (state.job) return;
    const task = $('train-task').value;
    let body;
    try {
      body = {
        model_type: $('train-type').value,
        model_name: $('train-name').value.trim(),
        data: dataPayload(),
        params: collectParams(form),
        async: true,
      };
      if ($('train-overwrite').checked) body.overwrite = true;
    } catch (e) {
      showError($('train-error'), e, form);
      return;
    }
    $('train-submit').disabled = true;
    setProgress(0, 'Submitting…');
    try {
      const out = await api('POST', '/api/v1/models/' + task + '/train', body);
      if (out && out.job_id) {
        state.job = { id: out.job_id, timer: null };
        $('train-cancel').hidden = false;
        setProgress(0, 'Queued…');
        pollJob();
      } else {
        setProgress(1, 'Done');
        $('train-message').textContent = describeTrained(out);
        $('train-message').hidden = false;
        $('train-submit').disabled = false;
        await refreshModels(out.model_name);
      }
    } catch (e) {
      setProgress(0, 'Not started');
      showError($('train-error'), e, form);
      $('train-submit').disabled = false;
    }
  }

  async function onCancel() {
    if (!state.job) return;
    try {
      await api('DELETE', '/api/v1/jobs/' + encodeURIComponent(state.job.id));
      setProgress($('train-progress').value, 'Canceling…');
    } catch (e) {
      showError($('train-error'), e);
    }
  }

  async function loadModelTypes() {
    try {
      const out = await api('GET', '/api/v1/model_types');
      state.modelTypes = out.model_types || [];
      clearError($('train-error'));
    } catch (e) {
      showError($('train-error'), new ApiError('Model types could not be loaded: ' + e.message, e.status, e.code));
      return false;
    }
    renderTypeOptions();
    fillModelChoices();
    return true;
  }

  /* --------------------------------------------------------------- models */

  async function refreshModels(select) {
    clearError($('models-error'));
    try {
      const out = await api('GET', '/api/v1/models?limit=1000');
      state.models = out.models || [];
    } catch (e) {
      showError($('models-error'), e);
      return;
    }
    const body = $('models-body');
    body.textContent = '';
    for (const m of state.models) {
      const v = m.metrics && m.metrics.validation;
      body.append(h('tr', { 'data-model': m.model_name },
        h('td', { className: 'name', text: m.model_name, title: m.model_name }),
        h('td', { text: m.model_type }),
        h('td', { text: m.task }),
        h('td', { className: 'num', text: v && typeof v.rmse === 'number' ? fmtNum(v.rmse) : '–' }),
        h('td', { text: fmtDate(m.created_at) }),
        h('td', { className: 'num', text: fmtBytes(m.size_bytes) }),
        h('td', {}, h('button', {
          type: 'button', className: 'danger', text: 'Delete',
          'aria-label': 'Delete model ' + m.model_name,
          onclick: () => deleteModel(m.model_name),
        }))));
    }
    $('models-empty').hidden = state.models.length > 0;
    fillModelChoices(select);
  }

  async function deleteModel(name) {
    if (!window.confirm('Delete the model "' + name + '"? This cannot be undone.')) return;
    clearError($('models-error'));
    try {
      await api('DELETE', '/api/v1/models/' + encodeURIComponent(name));
    } catch (e) {
      showError($('models-error'), e);
      return;
    }
    await refreshModels();
  }

  /* Model pickers: stored models first, then the types that can be fitted on
   * the data in the same call. */
  function fillModelChoices(prefer) {
    for (const sel of document.querySelectorAll('select.model-select')) {
      const prev = sel.value;
      const plain = sel.dataset.plain === '1';
      const task = sel.dataset.task;
      sel.textContent = '';
      if (state.models.length) {
        const g = h('optgroup', { label: 'Stored models' });
        for (const m of state.models) {
          g.append(h('option', { value: (plain ? '' : 'model:') + m.model_name, text: m.model_name + ' · ' + m.model_type }));
        }
        sel.append(g);
      }
      const g2 = h('optgroup', { label: 'Fit on the data (model type)' });
      for (const t of typesFor(task)) g2.append(h('option', { value: (plain ? '' : 'type:') + t.name, text: t.name }));
      sel.append(g2);
      const values = [...sel.options].map((o) => o.value);
      const want = prefer ? (plain ? '' : 'model:') + prefer : null;
      /* A newly trained model becomes the choice, unless the user picked
       * one; until then the first stored model is. */
      if (want && values.includes(want) && !sel.dataset.touched) sel.value = want;
      else if (values.includes(prev) && sel.dataset.touched) sel.value = prev;
      else if (state.models.length) sel.value = values[0];
      else {
        const fallback = (plain ? '' : 'type:') + 'multivariate';
        if (values.includes(fallback)) sel.value = fallback;
      }
    }
    const box = $('ens-models');
    const checked = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
    box.textContent = '';
    const addCheck = (value, text) => {
      const id = 'ens-' + value.replace(/[^A-Za-z0-9_-]/g, '_');
      const input = h('input', { type: 'checkbox', id, value, name: 'models' });
      input.checked = checked.has(value);
      box.append(h('label', { for: id }, input, text));
    };
    if (state.models.length) {
      box.append(h('span', { className: 'group', text: 'Stored models' }));
      for (const m of state.models) addCheck(m.model_name, m.model_name);
    }
    box.append(h('span', { className: 'group', text: 'Model types' }));
    for (const t of typesFor('forecasting')) addCheck(t.name, t.name);
  }

  function modelRef(sel) {
    const v = sel.value;
    if (v.startsWith('model:')) return { model_name: v.slice(6) };
    if (v.startsWith('type:')) return { model_type: v.slice(5) };
    return {};
  }

  /* ------------------------------------------------------------- analysis */

  function selectTab(tab) {
    clearError($('analysis-error'));
    for (const t of document.querySelectorAll('[role="tab"]')) {
      const on = t === tab;
      t.setAttribute('aria-selected', on ? 'true' : 'false');
      t.tabIndex = on ? 0 : -1;
      $(t.getAttribute('aria-controls')).hidden = !on;
    }
  }

  function onTabKey(ev) {
    const tabs = [...document.querySelectorAll('[role="tab"]')];
    const i = tabs.indexOf(ev.target);
    let j = -1;
    if (ev.key === 'ArrowRight') j = (i + 1) % tabs.length;
    else if (ev.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
    else if (ev.key === 'Home') j = 0;
    else if (ev.key === 'End') j = tabs.length - 1;
    if (j < 0) return;
    ev.preventDefault();
    selectTab(tabs[j]);
    tabs[j].focus();
  }

  function numberField(form, name) {
    const el = form.querySelector('[name="' + name + '"]');
    if (!el || el.value.trim() === '') return undefined;
    const v = Number(el.value);
    if (!Number.isFinite(v)) throw new ApiError(name + ': "' + el.value + '" is not a number', 0, 'invalid_field', name);
    return v;
  }

  function summary(pairs) {
    const dl = $('analysis-summary');
    dl.textContent = '';
    for (const [k, v] of pairs) {
      if (v === undefined || v === null || v === '') continue;
      dl.append(h('dt', { text: k }), h('dd', { text: v }));
    }
  }

  function tailStart(steps) {
    const n = state.rows.length;
    return Math.max(0, n - Math.max(120, 4 * steps));
  }

  function injectedIndices() {
    if (!state.labels || state.labels.length !== state.rows.length) return null;
    const out = [];
    state.labels.forEach((l, i) => {
      if (l) out.push(i);
    });
    return out;
  }

  function showScores(scores, threshold, flagged) {
    const svg = $('score-chart');
    if (!scores) {
      svg.setAttribute('hidden', '');
      delete state.charts['score-chart'];
      return;
    }
    svg.removeAttribute('hidden');
    const dom = state.domains.chart || [0, scores.length - 1];
    drawScores(svg, { scores, threshold, flagged, x0: dom[0], x1: dom[1] });
  }

  async function runAnalysis(ev, fn) {
    ev.preventDefault();
    const form = ev.target;
    const box = $('analysis-error');
    clearError(box, form);
    const btn = form.querySelector('button[type="submit"]');
    btn.disabled = true;
    $('analysis-busy').textContent = 'Running…';
    try {
      await fn(form);
      $('analysis-busy').textContent = '';
    } catch (e) {
      $('analysis-busy').textContent = '';
      showError(box, e, form);
    } finally {
      btn.disabled = false;
    }
  }

  /* The kind behind a model choice ({model_name} or {model_type}). */
  function kindOf(ref) {
    if (ref.model_type) return ref.model_type;
    const m = state.models.find((x) => x.model_name === ref.model_name);
    return m ? m.model_type : null;
  }

  function hasComponents(kind) {
    const t = kind ? typeByName(kind) : null;
    return !!t && (t.capabilities || []).includes('components');
  }

  function showComponents(components, modes, rows) {
    const svg = $('components-chart');
    const names = components ? Object.keys(components) : [];
    if (!names.length) {
      svg.setAttribute('hidden', '');
      delete state.charts['components-chart'];
      return;
    }
    svg.removeAttribute('hidden');
    svg.style.height = (COMPONENT_STRIP * names.length + 8) + 'px';
    const dom = state.domains.chart;
    drawComponents(svg, { components, modes: modes || {}, origin: rows, x0: dom ? dom[0] : rows, x1: dom ? dom[1] : rows + 1 });
  }

  async function doForecast(form) {
    const ref = modelRef($('fc-model'));
    const body = Object.assign({ data: dataPayload() }, ref);
    body.steps_ahead = numberField(form, 'steps_ahead');
    body.interval = numberField(form, 'interval');
    if (hasComponents(kindOf(ref))) body.components = true;
    const out = await api('POST', '/api/v1/predict', body);
    const steps = out.predictions.length;
    drawChart($('chart'), {
      rows: state.rows, start: tailStart(steps),
      forecast: { pred: out.predictions, lower: out.lower_bound, upper: out.upper_bound },
      label: 'Forecast of ' + steps + ' steps with a ' + Math.round((out.interval || 0.95) * 100) + '% interval',
    });
    showScores(null);
    showComponents(out.components, out.component_modes, state.rows.length);
    const last = out.predictions[steps - 1] || [];
    summary([
      ['Model', (out.model_name ? out.model_name + ' · ' : '') + (out.model_type || '')],
      ['Steps ahead', String(out.steps_ahead)],
      ['Interval', Math.round((out.interval || 0) * 1000) / 10 + '%'],
      ['Last step', last.map((v, f) => featureName(f) + ' ' + fmtNum(v) + ' [' + fmtNum(out.lower_bound[steps - 1][f]) + ', ' + fmtNum(out.upper_bound[steps - 1][f]) + ']').join('; ')],
      ['Origin', out.forecast_origin],
    ]);
  }

  async function doDetect(form) {
    const body = Object.assign({ data: dataPayload() }, modelRef($('dt-model')));
    body.threshold = numberField(form, 'threshold');
    const injected = injectedIndices();
    if (injected) body.labels = state.labels;
    const out = await api('POST', '/api/v1/detect_anomalies', body);
    drawChart($('chart'), {
      rows: state.rows, start: 0, anomalies: out.anomaly_indices, injected,
      label: 'Series with ' + out.anomaly_indices.length + ' flagged points marked in red',
    });
    showScores(out.calibrated_scores, out.summary && out.summary.threshold, out.anomaly_indices);
    showComponents(null);
    const ev = out.evaluation || {};
    const sm = out.summary || {};
    summary([
      ['Model', (out.model_name ? out.model_name + ' · ' : '') + (out.model_type || '')],
      ['Flagged', out.anomaly_indices.length + ' of ' + out.scores.length + ' points (' + fmtNum((sm.anomaly_rate || 0) * 100, 2) + '%)'],
      ['At', out.anomaly_indices.slice(0, 30).join(', ') + (out.anomaly_indices.length > 30 ? ', …' : '')],
      ['Threshold', sm.threshold !== undefined ? String(sm.threshold) : ''],
      ['Against the injected labels', typeof ev.precision === 'number' ? 'precision ' + fmtNum(ev.precision) + ', recall ' + fmtNum(ev.recall) + (typeof ev.f1 === 'number' ? ', F1 ' + fmtNum(ev.f1) : '') : ''],
    ]);
  }

  async function doCoordinated(form) {
    const body = {
      data: dataPayload(),
      analysis_type: 'forecast_and_detect',
      forecasting_model: $('co-forecasting').value,
      anomaly_model: $('co-anomaly').value,
      steps_ahead: numberField(form, 'steps_ahead'),
      threshold: numberField(form, 'threshold'),
    };
    const out = await api('POST', '/api/v1/analysis/coordinated', body);
    const fc = out.forecast, an = out.anomalies;
    drawChart($('chart'), {
      rows: state.rows, start: 0,
      forecast: fc ? { pred: fc.predictions, lower: fc.lower_bound, upper: fc.upper_bound } : null,
      anomalies: an ? an.anomaly_indices : [], injected: injectedIndices(),
      label: 'Coordinated analysis: history, forecast and flagged points',
    });
    showScores(an ? an.calibrated_scores : null, an && an.summary ? an.summary.threshold : undefined, an ? an.anomaly_indices : []);
    showComponents(null);
    const errs = (out.errors || []).map((e) => (typeof e === 'string' ? e : (e.agent || e.part || '') + ': ' + (e.message || e.error || JSON.stringify(e)))).join('; ');
    summary([
      ['Executed by', out.executed_by],
      ['Forecast', fc ? fc.predictions.length + ' steps (' + (fc.model_name || fc.model_type || body.forecasting_model) + ')' : 'none'],
      ['Anomalies', an ? an.anomaly_indices.length + ' flagged (' + (an.model_name || an.model_type || body.anomaly_model) + ')' : 'none'],
      ['Partial', out.partial ? 'yes: ' + errs : ''],
      ['Stored as', out.result_id],
    ]);
    if (out.partial && errs) showError($('analysis-error'), new ApiError('Partial result: ' + errs, 0, 'partial'));
  }

  async function doEnsemble(form) {
    const models = [...$('ens-models').querySelectorAll('input:checked')].map((i) => i.value);
    if (!models.length) throw new ApiError('Pick at least one member model.', 0, 'missing_field', 'models');
    const body = {
      models, data: dataPayload(),
      ensemble_method: $('ens-method').value,
      steps_ahead: numberField(form, 'steps_ahead'),
    };
    const out = await api('POST', '/api/v1/predict/ensemble', body);
    const steps = out.predictions.length;
    drawChart($('chart'), {
      rows: state.rows, start: tailStart(steps),
      forecast: { pred: out.predictions, lower: out.lower_bound, upper: out.upper_bound },
      members: (out.members || []).filter((m) => Array.isArray(m.predictions)).map((m) => ({ name: m.model, pred: m.predictions })),
      label: 'Ensemble forecast (' + out.ensemble_method + ') of ' + models.length + ' models',
    });
    showScores(null);
    showComponents(null);
    const weights = (out.members || []).map((m, i) => m.model + (out.weights ? ' ' + fmtNum(out.weights[i]) : '')).join(', ');
    summary([
      ['Method', out.ensemble_method],
      ['Members', weights],
      ['Steps ahead', String(out.steps_ahead)],
      ['Stored as', out.result_id],
    ]);
  }

  function featureName(f) {
    return state.featureNames ? state.featureNames[f] : 'x' + f;
  }

  /* --------------------------------------------------------------- charts */

  function niceTicks(lo, hi, count) {
    const span = hi - lo;
    if (!(span > 0)) return [lo];
    const raw = span / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }

  function pathFrom(points) {
    let d = '', pen = false;
    for (const p of points) {
      if (!p || !Number.isFinite(p[1])) {
        pen = false;
        continue;
      }
      d += (pen ? 'L' : 'M') + p[0].toFixed(1) + ' ' + p[1].toFixed(1);
      pen = true;
    }
    return d;
  }

  function svgSize(svg) {
    const r = svg.getBoundingClientRect();
    return [Math.max(200, Math.round(r.width) || 800), Math.max(50, Math.round(r.height) || 300)];
  }

  function placeholder(svg, text) {
    const [w, hgt] = svgSize(svg);
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + hgt);
    svg.textContent = '';
    if (text) svg.append(s('text', { x: w / 2, y: hgt / 2, 'text-anchor': 'middle', class: 'placeholder', text }));
  }

  /* spec: rows (n, F); start (first row shown); forecast {pred, lower, upper}
   * of (steps, F) continuing after the last row; members [{name, pred}];
   * anomalies and injected: row indices; mini: no axes. */
  function drawChart(svg, spec) {
    state.charts[svg.id] = spec;
    if (!spec || !spec.rows || !spec.rows.length) {
      placeholder(svg, spec === null && svg.id === 'chart' ? 'Run an analysis to draw its chart' : '');
      if (svg.id === 'chart') $('chart-legend').textContent = '';
      return;
    }
    const [W, H] = svgSize(svg);
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.textContent = '';
    if (spec.label) svg.setAttribute('aria-label', spec.label);
    const rows = spec.rows, n = rows.length;
    const F = Math.min(rows[0].length, MAX_FEATURES_DRAWN);
    const start = spec.start || 0;
    const fc = spec.forecast;
    const steps = fc ? fc.pred.length : 0;
    const x0 = start, x1 = Math.max(n - 1 + steps, start + 1);

    let lo = Infinity, hi = -Infinity;
    const see = (v) => {
      if (typeof v === 'number' && Number.isFinite(v)) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
    };
    for (let i = start; i < n; i++) for (let f = 0; f < F; f++) see(rows[i][f]);
    if (fc) for (let k = 0; k < steps; k++) for (let f = 0; f < F; f++) {
      see(fc.pred[k][f]);
      if (fc.lower) see(fc.lower[k][f]);
      if (fc.upper) see(fc.upper[k][f]);
    }
    for (const m of spec.members || []) for (const r of m.pred) for (let f = 0; f < F; f++) see(r[f]);
    if (!Number.isFinite(lo)) {
      lo = 0;
      hi = 1;
    }
    if (hi - lo < 1e-12) {
      lo -= 1;
      hi += 1;
    }
    const pad = (hi - lo) * 0.06;
    lo -= pad;
    hi += pad;

    const m = spec.mini ? { l: 4, r: 4, t: 4, b: 4 } : { l: 52, r: 14, t: 10, b: 24 };
    const pw = W - m.l - m.r, ph = H - m.t - m.b;
    const X = (x) => m.l + ((x - x0) / (x1 - x0)) * pw;
    const Y = (y) => m.t + (1 - (y - lo) / (hi - lo)) * ph;
    state.domains[svg.id] = [x0, x1];

    if (!spec.mini) {
      const axis = s('g', { class: 'axis' });
      for (const t of niceTicks(lo, hi, 5)) {
        axis.append(s('line', { class: 'grid', x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t) }));
        axis.append(s('text', { x: m.l - 6, y: Y(t) + 4, 'text-anchor': 'end', text: fmtNum(t, 2) }));
      }
      for (const t of niceTicks(x0, x1, 8)) {
        if (t < x0 || t > x1) continue;
        axis.append(s('line', { class: 'axis-line', x1: X(t), x2: X(t), y1: H - m.b, y2: H - m.b + 4 }));
        axis.append(s('text', { x: X(t), y: H - m.b + 16, 'text-anchor': 'middle', text: String(Math.round(t)) }));
      }
      axis.append(s('line', { class: 'axis-line', x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }));
      axis.append(s('line', { class: 'axis-line', x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }));
      svg.append(axis);
    }

    const lastVal = (f) => {
      for (let i = n - 1; i >= 0; i--) if (rows[i][f] !== null && rows[i][f] !== undefined) return [i, rows[i][f]];
      return null;
    };

    if (fc) {
      const ox = X(n - 1);
      svg.append(s('line', { class: 'origin', x1: ox, x2: ox, y1: m.t, y2: H - m.b }));
      if (fc.lower && fc.upper) {
        for (let f = 0; f < F; f++) {
          const anchor = lastVal(f);
          const up = [], down = [];
          if (anchor) {
            up.push([X(anchor[0]), Y(anchor[1])]);
            down.push([X(anchor[0]), Y(anchor[1])]);
          }
          for (let k = 0; k < steps; k++) {
            up.push([X(n + k), Y(fc.upper[k][f])]);
            down.push([X(n + k), Y(fc.lower[k][f])]);
          }
          const pts = up.concat(down.reverse()).filter((p) => Number.isFinite(p[1]));
          if (pts.length < 3) continue;
          const d = 'M' + pts.map((p) => p[0].toFixed(1) + ' ' + p[1].toFixed(1)).join('L') + 'Z';
          svg.append(s('path', { class: 'band', d, fill: COLORS[f % COLORS.length], 'fill-opacity': 0.18, stroke: 'none', 'data-feature': f }));
        }
      }
    }

    (spec.members || []).forEach((mem, i) => {
      for (let f = 0; f < F; f++) {
        const anchor = lastVal(f);
        const pts = (anchor ? [[X(anchor[0]), Y(anchor[1])]] : []).concat(mem.pred.map((r, k) => [X(n + k), Y(r[f])]));
        svg.append(s('path', { class: 'member', d: pathFrom(pts), fill: 'none', stroke: MEMBER_COLORS[i % MEMBER_COLORS.length], 'stroke-width': 1.2, 'stroke-dasharray': '2 3' }));
      }
    });

    for (let f = 0; f < F; f++) {
      const pts = [];
      for (let i = start; i < n; i++) pts.push(rows[i][f] === null ? null : [X(i), Y(rows[i][f])]);
      svg.append(s('path', { class: 'line', d: pathFrom(pts), fill: 'none', stroke: COLORS[f % COLORS.length], 'stroke-width': spec.mini ? 1 : 1.5, 'stroke-linejoin': 'round', 'data-feature': f }));
    }

    if (fc) {
      for (let f = 0; f < F; f++) {
        const anchor = lastVal(f);
        const pts = (anchor ? [[X(anchor[0]), Y(anchor[1])]] : []).concat(fc.pred.map((r, k) => [X(n + k), Y(r[f])]));
        svg.append(s('path', { class: 'forecast', d: pathFrom(pts), fill: 'none', stroke: COLORS[f % COLORS.length], 'stroke-width': 2.2, 'stroke-dasharray': '6 3', 'data-feature': f }));
      }
    }

    for (const i of spec.injected || []) {
      if (i < start || i >= n) continue;
      for (let f = 0; f < F; f++) {
        if (rows[i][f] === null) continue;
        svg.append(s('circle', { class: 'injected', cx: X(i), cy: Y(rows[i][f]), r: 7, fill: 'none', stroke: '#333', 'stroke-width': 1, 'stroke-dasharray': '2 2' }));
      }
    }

    for (const i of spec.anomalies || []) {
      if (i < start || i >= n) continue;
      for (let f = 0; f < F; f++) {
        if (rows[i][f] === null) continue;
        const c = s('circle', { class: 'anomaly', cx: X(i), cy: Y(rows[i][f]), r: 4.5, fill: ANOMALY, stroke: '#fff', 'stroke-width': 1.2 });
        c.append(s('title', { text: 'Flagged at t=' + i + ': ' + featureName(f) + ' = ' + fmtNum(rows[i][f]) }));
        svg.append(c);
      }
    }

    if (svg.id === 'chart') renderLegend(spec, F);
  }

  function renderLegend(spec, F) {
    const lg = $('chart-legend');
    lg.textContent = '';
    const key = (cls, color, text) => {
      const sw = h('span', { className: 'swatch' + (cls ? ' ' + cls : '') });
      sw.style.background = color;
      lg.append(h('span', { className: 'key' }, sw, text));
    };
    for (let f = 0; f < F; f++) key('', COLORS[f % COLORS.length], featureName(f) + (spec.forecast ? ' (history, dashed: forecast, band: interval)' : ''));
    if (spec.rows[0].length > F) lg.append(h('span', { className: 'key', text: '(first ' + F + ' of ' + spec.rows[0].length + ' features drawn)' }));
    (spec.members || []).forEach((mem, i) => key('', MEMBER_COLORS[i % MEMBER_COLORS.length], 'member ' + mem.name));
    if ((spec.anomalies || []).length) key('dot', ANOMALY, 'flagged anomaly');
    if ((spec.injected || []).length) lg.append(h('span', { className: 'key', text: '◌ injected by the generator' }));
  }

  function drawScores(svg, spec) {
    state.charts[svg.id] = spec;
    const [W, H] = svgSize(svg);
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.textContent = '';
    const sc = spec.scores || [];
    if (!sc.length) return;
    const m = { l: 52, r: 14, t: 6, b: 14 };
    const pw = W - m.l - m.r, ph = H - m.t - m.b;
    const x0 = spec.x0 !== undefined ? spec.x0 : 0;
    const x1 = spec.x1 !== undefined && spec.x1 > x0 ? spec.x1 : Math.max(1, sc.length - 1);
    const X = (i) => m.l + ((i - x0) / (x1 - x0)) * pw;
    const Y = (v) => m.t + (1 - Math.max(0, Math.min(1, v))) * ph;
    const axis = s('g', { class: 'axis' });
    for (const t of [0, 0.5, 1]) {
      axis.append(s('line', { class: 'grid', x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t) }));
      axis.append(s('text', { x: m.l - 6, y: Y(t) + 4, 'text-anchor': 'end', text: String(t) }));
    }
    axis.append(s('text', { x: 12, y: m.t + ph / 2, 'text-anchor': 'middle', transform: 'rotate(-90 12 ' + (m.t + ph / 2) + ')', text: 'score' }));
    svg.append(axis);
    svg.append(s('path', { class: 'score', d: pathFrom(sc.map((v, i) => (i >= x0 && i <= x1 ? [X(i), Y(v)] : null))), fill: 'none', stroke: '#5b6678', 'stroke-width': 1 }));
    if (typeof spec.threshold === 'number') {
      svg.append(s('line', { class: 'threshold', x1: m.l, x2: W - m.r, y1: Y(spec.threshold), y2: Y(spec.threshold), stroke: ANOMALY, 'stroke-dasharray': '5 4' }));
    }
    for (const i of spec.flagged || []) if (i < sc.length && i >= x0) svg.append(s('circle', { cx: X(i), cy: Y(sc[i]), r: 3, fill: ANOMALY }));
    svg.setAttribute('aria-label', 'Calibrated anomaly scores with the threshold ' + spec.threshold);
  }

  /* One strip per component under the main chart, over the forecast steps
   * (x aligned with the main chart): its values for the first feature on
   * their own scale, the zero line when in range, the name and the range. */
  function drawComponents(svg, spec) {
    state.charts[svg.id] = spec;
    const [W, H] = svgSize(svg);
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.textContent = '';
    const names = Object.keys(spec.components);
    const m = { l: 52, r: 14 };
    const pw = W - m.l - m.r;
    const x0 = spec.x0, x1 = spec.x1 > spec.x0 ? spec.x1 : spec.x0 + 1;
    const X = (x) => m.l + ((x - x0) / (x1 - x0)) * pw;
    names.forEach((name, k) => {
      const vals = spec.components[name].map((r) => r[0]);
      const top = 4 + k * COMPONENT_STRIP, ph = COMPONENT_STRIP - 18;
      let lo = Math.min(...vals), hi = Math.max(...vals);
      const pad = Math.max(hi - lo, 1e-9 * Math.abs(hi), 1e-12) * 0.08;
      lo -= pad;
      hi += pad;
      const Y = (v) => top + 14 + (1 - (v - lo) / (hi - lo)) * ph;
      const g = s('g', { class: 'component', 'data-component': name });
      if (lo <= 0 && hi >= 0) g.append(s('line', { class: 'grid', x1: m.l, x2: W - m.r, y1: Y(0), y2: Y(0) }));
      const mode = spec.modes[name] === 'multiplicative' ? ' (multiplicative)' : '';
      g.append(s('text', { class: 'component-name', x: m.l, y: top + 10, text: name + mode + ': ' + fmtNum(Math.min(...vals)) + ' to ' + fmtNum(Math.max(...vals)) }));
      g.append(s('path', { class: 'component-line', d: pathFrom(vals.map((v, i) => [X(spec.origin + i), Y(v)])), fill: 'none', stroke: COLORS[k % COLORS.length], 'stroke-width': 1.5 }));
      svg.append(g);
    });
    svg.setAttribute('aria-label', 'Forecast components: ' + names.join(', '));
  }

  function redrawAll() {
    for (const [id, spec] of Object.entries(state.charts)) {
      const svg = $(id);
      if (!svg || svg.hasAttribute('hidden')) continue;
      if (id === 'score-chart') drawScores(svg, spec);
      else if (id === 'components-chart') drawComponents(svg, spec);
      else drawChart(svg, spec);
    }
  }

  /* ---------------------------------------------------------------- start */

  function init() {
    const saved = sessionStorage.getItem('tsa-api-key');
    if (saved) $('api-key').value = saved;
    $('api-key').addEventListener('change', () => {
      sessionStorage.setItem('tsa-api-key', apiKey());
      loadModelTypes();
      refreshModels();
    });

    $('generate-form').addEventListener('submit', onGenerate);
    let dataTimer = null;
    $('data-input').addEventListener('input', () => {
      clearTimeout(dataTimer);
      dataTimer = setTimeout(onDataInput, 300);
    });

    $('train-task').addEventListener('change', () => {
      renderTypeOptions();
    });
    $('train-type').addEventListener('change', renderParams);
    $('train-name').addEventListener('input', () => {
      state.nameTouched = $('train-name').value.trim() !== '';
    });
    $('train-form').addEventListener('submit', onTrain);
    $('train-cancel').addEventListener('click', onCancel);
    $('models-refresh').addEventListener('click', () => refreshModels());
    for (const sel of document.querySelectorAll('select.model-select')) {
      sel.addEventListener('change', () => {
        sel.dataset.touched = '1';
      });
    }
    $('key-form').addEventListener('submit', (ev) => ev.preventDefault());

    for (const t of document.querySelectorAll('[role="tab"]')) {
      t.addEventListener('click', () => selectTab(t));
      t.addEventListener('keydown', onTabKey);
    }
    $('forecast-form').addEventListener('submit', (ev) => runAnalysis(ev, doForecast));
    $('detect-form').addEventListener('submit', (ev) => runAnalysis(ev, doDetect));
    $('coordinated-form').addEventListener('submit', (ev) => runAnalysis(ev, doCoordinated));
    $('ensemble-form').addEventListener('submit', (ev) => runAnalysis(ev, doEnsemble));

    let resizeTimer = null;
    window.addEventListener('resize', () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(redrawAll, 150);
    });

    drawChart($('chart'), null);
    drawChart($('data-chart'), null);
    refreshStatus();
    setInterval(refreshStatus, STATUS_EVERY_MS);
    loadModelTypes().then(() => refreshModels());
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
