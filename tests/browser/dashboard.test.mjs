// Browser tests of tsa-dashboard: starts tsa-api (a throwaway SQLite store),
// the three agents when they are built, and tsa-dashboard, all on free
// loopback ports; drives Debian's Chromium headless through playwright-core
// (never a downloaded browser); prints TAP lines and, last,
// "browser: N passed, N failed".
//
// Environment: TSA_BUILD_DIR (default <source>/build-test), TSA_CHROMIUM
// (default /usr/bin/chromium), TSA_BROWSER_SCREENSHOT (default
// $TSA_BUILD_DIR/browser-screenshot.png), TSA_BROWSER_SHOTS (a directory:
// also keep a screenshot after every step in the browser there).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SOURCE = process.env.TSA_SOURCE_DIR || path.resolve(HERE, '..', '..');
const BUILD = process.env.TSA_BUILD_DIR || path.join(SOURCE, 'build-test');
const CHROMIUM = process.env.TSA_CHROMIUM || '/usr/bin/chromium';
const SCREENSHOT = process.env.TSA_BROWSER_SCREENSHOT || path.join(BUILD, 'browser-screenshot.png');
const SHOTS = process.env.TSA_BROWSER_SHOTS || '';
const MODEL = 'browser_var';
let page = null;

// ---------------------------------------------------------------- TAP

let passed = 0, failed = 0, number = 0;

// Synchronous writes, so nothing is lost when process.exit follows.
function out(line) {
  fs.writeSync(1, line + '\n');
}

function diag(text) {
  for (const line of String(text).split('\n')) out('# ' + line);
}

async function test(name, fn) {
  number++;
  const t0 = Date.now();
  try {
    await fn();
    passed++;
    out(`ok ${number} - ${name} (${Date.now() - t0} ms)`);
    if (SHOTS && page) {
      try {
        fs.mkdirSync(SHOTS, { recursive: true });
        await page.screenshot({ path: path.join(SHOTS, String(number).padStart(2, '0') + '.png'), fullPage: true });
      } catch (e) {
        diag('screenshot: ' + e.message);
      }
    }
  } catch (e) {
    failed++;
    out(`not ok ${number} - ${name}`);
    diag((e && e.stack) || String(e));
  }
}

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

// What earlier steps made; a later step that needs a missing one fails at
// once instead of waiting out its timeouts.
const have = { data: false, model: false };
function needs(what) {
  check(have[what], 'needs the ' + what + ' an earlier step failed to make');
}

// ----------------------------------------------------------- processes

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsa-browser-'));
const children = [];

function binary(dir, name) {
  return path.join(BUILD, 'servers', dir, name);
}

async function waitFor(what, fn, timeoutMs = 15000, everyMs = 50) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// Starts a service on port 0 and resolves with its base URL once it has
// written its port file.
async function start(name, exe, args) {
  const portFile = path.join(tmp, name + '.port');
  const log = fs.openSync(path.join(tmp, name + '.log'), 'w');
  const env = Object.assign({}, process.env, { TSA_LOG_LEVEL: 'warn' });
  for (const k of ['TSA_PORT_FILE', 'TSA_HOST', 'TSA_DATABASE_URL', 'TSA_API_URL', 'TSA_FORECASTING_URL',
    'TSA_ANOMALY_URL', 'TSA_COORDINATOR_URL']) delete env[k];
  const child = spawn(exe, ['--host', '127.0.0.1', '--port', '0', '--port-file', portFile].concat(args), {
    stdio: ['ignore', log, log], env,
  });
  fs.closeSync(log);
  const entry = { name, child, exited: null };
  child.on('exit', (code, sig) => {
    entry.exited = sig || code;
  });
  children.push(entry);
  const port = await waitFor(name + ' to listen', () => {
    if (entry.exited !== null) throw new Error(name + ' exited (' + entry.exited + '):\n' + tail(name));
    try {
      const p = fs.readFileSync(portFile, 'utf8').trim();
      return p ? Number(p) : null;
    } catch (e) {
      return null;
    }
  });
  return 'http://127.0.0.1:' + port;
}

function tail(name) {
  try {
    return fs.readFileSync(path.join(tmp, name + '.log'), 'utf8').split('\n').slice(-15).join('\n');
  } catch (e) {
    return '';
  }
}

async function stopAll() {
  for (const c of children.reverse()) {
    if (c.exited !== null) continue;
    c.child.kill('SIGTERM');
    const end = Date.now() + 5000;
    while (c.exited === null && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    if (c.exited === null) c.child.kill('SIGKILL');
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = srv.address().port;
      srv.close(() => resolve(port));
    });
  });
}

// A raw GET, so the path reaches the server exactly as written (fetch and
// URL would normalise "..").
function rawGet(base, rawPath) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: rawPath, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

// ------------------------------------------------------------ PNG pixels

// Decodes an 8-bit RGB or RGBA non-interlaced PNG (what Chromium writes).
function decodePng(buf) {
  check(buf.readUInt32BE(0) === 0x89504e47, 'not a PNG');
  let off = 8, width = 0, height = 0, colorType = 0;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      check(data[8] === 8 && data[12] === 0, 'unsupported PNG (depth ' + data[8] + ', interlace ' + data[12] + ')');
      colorType = data[9];
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    off += 12 + len;
  }
  const bpp = colorType === 6 ? 4 : colorType === 2 ? 3 : 0;
  check(bpp, 'unsupported PNG colour type ' + colorType);
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const px = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? px[y * stride + x - bpp] : 0;
      const b = y > 0 ? px[(y - 1) * stride + x] : 0;
      const c = x >= bpp && y > 0 ? px[(y - 1) * stride + x - bpp] : 0;
      let v = line[x];
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      px[y * stride + x] = v & 255;
    }
  }
  return { width, height, bpp, px };
}

function countNear(img, rgb, tol) {
  let n = 0;
  for (let i = 0; i < img.px.length; i += img.bpp) {
    if (Math.abs(img.px[i] - rgb[0]) <= tol && Math.abs(img.px[i + 1] - rgb[1]) <= tol &&
        Math.abs(img.px[i + 2] - rgb[2]) <= tol) n++;
  }
  return n;
}

// A colour at opacity a over white.
function over(hex, a) {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return c.map((v) => Math.round(a * v + (1 - a) * 255));
}

// ---------------------------------------------------------------- main

let context = null;

async function main() {
  const sqlite = 'sqlite:' + path.join(tmp, 'tsa.db');
  out('TAP version 13');

  let api, dash, agents = {};
  await test('start tsa-api, the agents and tsa-dashboard on free ports', async () => {
    for (const [key, dir, exe] of [['forecasting', 'forecasting', 'tsa-forecasting'], ['anomaly', 'anomaly', 'tsa-anomaly']]) {
      if (fs.existsSync(binary(dir, exe))) agents[key] = await start(key, binary(dir, exe), ['--store', sqlite]);
    }
    if (agents.forecasting && agents.anomaly && fs.existsSync(binary('coordinator', 'tsa-coordinator'))) {
      agents.coordinator = await start('coordinator', binary('coordinator', 'tsa-coordinator'),
        ['--store', sqlite, '--forecasting-url', agents.forecasting, '--anomaly-url', agents.anomaly]);
    }
    const dead = 'http://127.0.0.1:' + (await freePort());
    api = await start('api', binary('api', 'tsa-api'),
      ['--store', sqlite, '--coordinator-url', agents.coordinator || dead]);
    dash = await start('dashboard', binary('dashboard', 'tsa-dashboard'), [
      '--api-url', api,
      '--forecasting-url', agents.forecasting || dead,
      '--anomaly-url', agents.anomaly || dead,
      '--coordinator-url', agents.coordinator || dead,
      '--status-timeout-ms', '1500',
    ]);
    diag('dashboard ' + dash + ', api ' + api + ', agents: ' + (Object.keys(agents).join(', ') || 'none built'));
  });
  if (!dash) return;

  // ---- the server itself, over plain HTTP
  await test('static files carry their content types; unknown and traversing paths are 404', async () => {
    const want = { '/': 'text/html', '/index.html': 'text/html', '/app.js': 'text/javascript', '/style.css': 'text/css' };
    for (const [p, type] of Object.entries(want)) {
      const r = await rawGet(dash, p);
      check(r.status === 200, p + ': HTTP ' + r.status);
      check(r.headers['content-type'].startsWith(type), p + ': content type ' + r.headers['content-type']);
      check(r.headers['content-security-policy'], p + ': no Content-Security-Policy');
    }
    for (const p of ['/nope.js', '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/web/index.html', '/..%2fmain.c']) {
      const r = await rawGet(dash, p);
      check(r.status === 404, p + ': HTTP ' + r.status + ' ' + r.body.slice(0, 200));
      check(!r.body.includes('root:'), p + ': leaked a file');
    }
  });

  await test('/api/ is forwarded: method, body, Content-Type, status and request id', async () => {
    let r = await fetch(dash + '/api/v1/data/generate', {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'browser-test-1' },
      body: JSON.stringify({ n_samples: 30, n_features: 1, seed: 3 }),
    });
    check(r.status === 200, 'generate: HTTP ' + r.status);
    check(r.headers.get('content-type').startsWith('application/json'), 'content type ' + r.headers.get('content-type'));
    check(r.headers.get('x-request-id') === 'browser-test-1', 'request id ' + r.headers.get('x-request-id'));
    const doc = await r.json();
    check(doc.data.length === 30, 'rows: ' + doc.data.length);
    r = await fetch(dash + '/api/v1/models/no_such_model', { method: 'DELETE' });
    const err = await r.json();
    check(r.status === 404 && err.error && err.error.code === 'not_found', 'delete unknown: ' + r.status + ' ' + JSON.stringify(err));
    r = await fetch(dash + '/api/v1/models', { method: 'PUT' });
    check(r.status === 405 && r.headers.get('allow'), 'PUT: HTTP ' + r.status + ', Allow ' + r.headers.get('allow'));
    r = await fetch(dash + '/api/v1/predict', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"data": [1, 2' });
    check(r.status === 400 && (await r.json()).error.code === 'invalid_json', 'bad JSON: HTTP ' + r.status);
  });

  await test('/health, /status.json and /metrics', async () => {
    const h = await (await fetch(dash + '/health')).json();
    check(h.status === 'healthy' && h.api.reachable === true, JSON.stringify(h));
    const st = await (await fetch(dash + '/status.json')).json();
    check(st.services.length === 5, 'services: ' + st.services.length);
    const byKey = Object.fromEntries(st.services.map((x) => [x.key, x]));
    check(byKey.web.state === 'up' && byKey.api.state === 'up', JSON.stringify(st));
    for (const k of Object.keys(agents)) check(byKey[k].state === 'up', k + ': ' + JSON.stringify(byKey[k]));
    const m = await (await fetch(dash + '/metrics')).text();
    check(m.includes('tsa_http_requests_total{service="web-dashboard"'), 'no request counter in /metrics');
    check(m.includes('tsa_dashboard_service_up{service="web-dashboard",target="rest-api"} 1'), 'no service_up gauge for the API');
  });

  await test('an unreachable REST API gives 502 with a JSON error and a degraded /health', async () => {
    const lone = await start('dashboard-lone', binary('dashboard', 'tsa-dashboard'),
      ['--api-url', 'http://127.0.0.1:' + (await freePort()), '--status-timeout-ms', '500']);
    const r = await fetch(lone + '/api/v1/models');
    const doc = await r.json();
    check(r.status === 502 && doc.error.code === 'bad_gateway' && /unreachable/.test(doc.error.message), r.status + ' ' + JSON.stringify(doc));
    const h = await (await fetch(lone + '/health')).json();
    check(h.status === 'degraded' && h.api.reachable === false, JSON.stringify(h));
  });

  // ---- the page in Chromium
  const profile = fs.mkdtempSync(path.join(tmp, 'chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
    timeout: 30000,
  });
  page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(10000);
  const pageErrors = [];
  const requests = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    // Chromium logs every 4xx/5xx fetch; those are expected here.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text());
  });
  page.on('request', (r) => requests.push(r.method() + ' ' + new URL(r.url()).pathname));
  page.on('dialog', (d) => d.accept());

  await test('the page loads with its title, labelled controls and the API shown up', async () => {
    await page.goto(dash + '/');
    check((await page.title()) === 'libtsa dashboard', 'title ' + (await page.title()));
    await page.locator('#svc-api[data-state="up"]').waitFor();
    check((await page.locator('#services .service').count()) === 5, 'status cards');
    const text = await page.locator('#svc-api').innerText();
    check(/Up/i.test(text) && /v\d+\.\d+\.\d+/.test(text) && /up \d/.test(text), 'API card: ' + text);
    for (const k of Object.keys(agents)) await page.locator('#svc-' + k + '[data-state="up"]').waitFor();
    // Every form control has an accessible name.
    const unnamed = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
      .filter((el) => el.offsetParent !== null || el.id === 'api-key')
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !(el.textContent || '').trim())
      .map((el) => el.outerHTML.slice(0, 80)));
    check(!unnamed.length, 'controls without a label: ' + unnamed.join(', '));
    await page.getByLabel('Model type').locator('option[value="multivariate"]').waitFor({ state: 'attached' });
  });

  await test('generate sample data fills the series and draws its preview', async () => {
    await page.getByLabel('Samples', { exact: true }).fill('240');
    await page.getByLabel('Features', { exact: true }).fill('2');
    await page.getByLabel('Anomalies', { exact: true }).fill('4');
    await page.getByRole('button', { name: 'Generate sample data' }).click();
    await page.locator('#data-info', { hasText: '240 rows × 2 features' }).waitFor();
    const csv = await page.locator('#data-input').inputValue();
    check(csv.split('\n').length === 241 && csv.startsWith('timestamp,x0,x1'), 'CSV: ' + csv.slice(0, 80));
    check((await page.locator('#data-chart path.line').count()) === 2, 'preview lines');
    have.data = true;
  });

  await test("a bad request shows the API's error message and marks the field", async () => {
    needs('data');
    await page.getByLabel('Task').selectOption('forecasting');
    await page.getByLabel('Model type').selectOption('multivariate');
    await page.getByLabel('Model name').fill(MODEL);
    await page.getByLabel('max_lags').fill('0');
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    const box = page.locator('#train-error');
    await box.waitFor({ state: 'visible' });
    const text = await box.innerText();
    check(/max_lags: must be in \[1, \d+\], got 0/.test(text), 'error box: ' + text);
    check(/HTTP 400/.test(text) && /field: max_lags/.test(text), 'error details: ' + text);
    check((await page.getByLabel('max_lags').getAttribute('aria-invalid')) === 'true', 'max_lags not marked invalid');
  });

  await test('train a multivariate model through the form (async job with progress)', async () => {
    needs('data');
    await page.getByLabel('max_lags').fill('6');
    await page.getByRole('button', { name: 'Train', exact: true }).click();
    await page.locator('#train-message', { hasText: `Trained "${MODEL}" (multivariate)` }).waitFor({ timeout: 30000 });
    check(await page.locator('#train-error').isHidden(), 'the error box is still shown');
    check((await page.locator('#train-progress').evaluate((el) => el.value)) === 1, 'progress not full');
    check(requests.some((r) => r.startsWith('GET /api/v1/jobs/')), 'the job was never polled');
    check(requests.some((r) => r === 'POST /api/v1/models/forecasting/train'), 'no train request');
    await page.locator(`#models-body tr[data-model="${MODEL}"]`).waitFor();
    const row = await page.locator(`#models-body tr[data-model="${MODEL}"]`).innerText();
    check(/multivariate/.test(row) && /forecasting/.test(row), 'model row: ' + row);
    have.model = true;
  });

  await test('a forecast draws history, forecast and the interval band', async () => {
    needs('model');
    await page.locator('#fc-model').selectOption('model:' + MODEL);
    await page.getByLabel('Steps ahead').first().fill('24');
    await page.getByRole('button', { name: 'Run forecast' }).click();
    await page.locator('#analysis-summary', { hasText: 'Steps ahead' }).waitFor();
    const chart = page.locator('#chart');
    check((await chart.locator('path.band').count()) === 2, 'bands: ' + (await chart.locator('path.band').count()));
    check((await chart.locator('path.forecast').count()) === 2, 'forecast lines');
    check((await chart.locator('path.line').count()) === 2, 'history lines');
    const box = await chart.locator('path.band').first().boundingBox();
    check(box && box.width > 20 && box.height > 5, 'band box ' + JSON.stringify(box));
    // The band's colour is on screen: blue at 18% over white.
    const img = decodePng(await chart.screenshot());
    const blue = countNear(img, over('#1d5fd6', 0.18), 8);
    const green = countNear(img, over('#0f8a5f', 0.18), 8);
    diag(`band pixels: ${blue} blue, ${green} green of ${img.width}x${img.height}`);
    check(blue > 150, 'too few band pixels: ' + blue);
  });

  await test('detection marks the flagged points in red', async () => {
    needs('model');
    await page.getByRole('tab', { name: 'Detect anomalies' }).click();
    await page.locator('#dt-model').selectOption('model:' + MODEL);
    await page.getByRole('button', { name: 'Run detection' }).click();
    await page.locator('#analysis-summary', { hasText: 'Flagged' }).waitFor();
    const n = await page.locator('#chart circle.anomaly').count();
    check(n >= 2, 'anomaly markers: ' + n);
    check((await page.locator('#chart circle.anomaly').first().getAttribute('fill')) === '#d32f2f', 'marker colour');
    check(await page.locator('#score-chart').isVisible(), 'score strip hidden');
    const img = decodePng(await page.locator('#chart').screenshot());
    check(countNear(img, [0xd3, 0x2f, 0x2f], 10) > 20, 'no red pixels');
    const sum = await page.locator('#analysis-summary').innerText();
    check(/recall/.test(sum), 'no evaluation against the injected labels: ' + sum);
  });

  await test('an analysis error from the API is shown', async () => {
    needs('data');
    await page.getByRole('tab', { name: 'Forecast' }).click();
    await page.locator('#fc-model').selectOption('type:naive');
    await page.getByRole('button', { name: 'Run forecast' }).click();
    const box = page.locator('#analysis-error');
    await box.waitFor({ state: 'visible' });
    const text = await box.innerText();
    check(/univariate/.test(text) && /HTTP 4\d\d/.test(text), 'analysis error: ' + text);
  });

  await test('coordinated analysis draws forecast and anomalies together', async () => {
    needs('model');
    await page.getByRole('tab', { name: 'Coordinated' }).click();
    await page.getByLabel('Forecasting model').selectOption(MODEL);
    await page.getByLabel('Anomaly model').selectOption(MODEL);
    await page.getByRole('button', { name: 'Run analysis' }).click();
    await page.locator('#analysis-summary', { hasText: 'Executed by' }).waitFor({ timeout: 30000 });
    check(await page.locator('#analysis-error').isHidden(), 'error: ' + (await page.locator('#analysis-error').innerText()));
    check((await page.locator('#chart path.band').count()) === 2, 'no band');
    check((await page.locator('#chart circle.anomaly').count()) >= 2, 'no anomalies');
    const sum = await page.locator('#analysis-summary').innerText();
    if (agents.coordinator) check(/coordinator-mcp/.test(sum), 'not run by the coordinator: ' + sum);
    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    diag('screenshot: ' + SCREENSHOT);
  });

  await test('ensemble forecast draws its members and band', async () => {
    needs('model');
    await page.getByRole('tab', { name: 'Ensemble' }).click();
    await page.locator('#ens-' + MODEL).check();
    await page.locator('#ens-hmm').check();
    await page.getByLabel('Combination').selectOption('weighted_average');
    await page.getByRole('button', { name: 'Run ensemble' }).click();
    await page.locator('#analysis-summary', { hasText: 'Method' }).waitFor({ timeout: 30000 });
    check((await page.locator('#chart path.member').count()) === 4, 'member lines: ' + (await page.locator('#chart path.member').count()));
    check((await page.locator('#chart path.band').count()) === 2, 'no band');
  });

  await test('a prophet forecast draws its components under the chart; other kinds hide them', async () => {
    // 70 days: a line plus a weekly pattern, one feature with timestamps.
    const lines = ['timestamp,sales'];
    for (let i = 0; i < 70; i++) {
      const d = new Date(Date.UTC(2024, 0, 1 + i)).toISOString().slice(0, 10);
      lines.push(d + ',' + (20 + 0.1 * i + 3 * Math.sin((2 * Math.PI * i) / 7)).toFixed(4));
    }
    await page.getByLabel(/^Series/).fill(lines.join('\n') + '\n');
    await page.locator('#data-info', { hasText: '70 rows × 1 feature' }).waitFor();
    await page.getByRole('tab', { name: 'Forecast' }).click();
    await page.locator('#fc-model').selectOption('type:prophet');
    await page.getByLabel('Steps ahead').first().fill('14');
    const before = requests.length;
    await page.getByRole('button', { name: 'Run forecast' }).click();
    const comp = page.locator('#components-chart');
    await comp.waitFor({ state: 'visible', timeout: 30000 });
    check(await page.locator('#analysis-error').isHidden(), 'error: ' + (await page.locator('#analysis-error').innerText()));
    const names = await comp.locator('g.component').evaluateAll((gs) => gs.map((g) => g.dataset.component));
    check(names.join(',') === 'trend,weekly', 'components drawn: ' + names.join(','));
    check((await comp.locator('path.component-line').count()) === 2, 'component lines');
    const box = await comp.locator('path.component-line').nth(1).boundingBox();
    check(box && box.width > 20 && box.height > 5, 'weekly line box ' + JSON.stringify(box));
    check(/weekly: -?\d/.test(await comp.innerHTML()), 'no weekly label with its range');
    check(requests.slice(before).includes('POST /api/v1/predict'), 'no predict request');
    // A kind without components: the strip goes away.
    await page.locator('#fc-model').selectOption('type:naive');
    await page.getByRole('button', { name: 'Run forecast' }).click();
    await comp.waitFor({ state: 'hidden' });
  });

  await test('the status panel refreshes by itself', async () => {
    const before = requests.filter((r) => r === 'GET /status.json').length;
    await waitFor('a status refresh', () => requests.filter((r) => r === 'GET /status.json').length > before, 8000);
  });

  await test('a model is deleted from the list', async () => {
    needs('model');
    await page.getByRole('button', { name: 'Delete model ' + MODEL }).click();
    await page.locator(`#models-body tr[data-model="${MODEL}"]`).waitFor({ state: 'detached' });
    const r = await fetch(api + '/api/v1/models/' + MODEL);
    check(r.status === 404, 'the API still has it: HTTP ' + r.status);
  });

  await test('pasted JSON and CSV series are read; unreadable input is reported', async () => {
    const input = page.getByLabel(/^Series/);
    await input.fill('[[1.0, 2.0], [1.5, 2.5], [2.0, null], [2.5, 3.5]]');
    await page.locator('#data-info', { hasText: '4 rows × 2 features, 1 missing values' }).waitFor();
    await input.fill('a;b;c\n1;2;3\n4;5;6\n');
    await page.locator('#data-info', { hasText: '2 rows × 3 features' }).waitFor();
    await input.fill('1,2\n3,x\n');
    const box = page.locator('#data-error');
    await box.waitFor({ state: 'visible' });
    check(/line 2, column 2: "x" is not a number/.test(await box.innerText()), 'data error: ' + (await box.innerText()));
  });

  await test('no script errors on the page', async () => {
    check(!pageErrors.length, pageErrors.join('\n'));
  });
}

const watchdog = setTimeout(() => {
  out('not ok ' + (number + 1) + ' - the run took longer than 150 s');
  failed++;
  finish(1);
}, 150000);

let finished = false;
async function finish(code) {
  if (finished) return;
  finished = true;
  clearTimeout(watchdog);
  try {
    if (context) await context.close();
  } catch (e) {
    diag('closing chromium: ' + e.message);
  }
  await stopAll();
  if (failed) for (const c of children) diag(c.name + ' log:\n' + tail(c.name));
  fs.rmSync(tmp, { recursive: true, force: true });
  // Synchronous writes: process.exit may drop console output to a pipe.
  fs.writeSync(1, `1..${number}\nbrowser: ${passed} passed, ${failed} failed\n`);
  process.exit(code || (failed ? 1 : 0));
}

main().then(() => finish(0), (e) => {
  failed++;
  out('not ok ' + (++number) + ' - the run stopped: ' + e.message);
  diag(e.stack || '');
  finish(1);
});
