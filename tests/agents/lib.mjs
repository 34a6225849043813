// Helpers shared by the agents' tests: where the agents are (written by
// tests/agents/run), MCP and A2A clients built with the official SDKs, raw
// HTTP, and stopping/restarting an agent.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { openSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { AGENT_CARD_PATH, GetTaskRequest, SendMessageRequest, taskStateToJSON } from '@a2a-js/sdk';
import { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory } from '@a2a-js/sdk/client';

export { sleep };

// ---------------------------------------------------------------- the agents

const CONFIG = process.env.AGENTS_CONFIG;
if (!CONFIG) throw new Error('AGENTS_CONFIG is not set: run these tests through tests/agents/run');
export const config = JSON.parse(readFileSync(CONFIG, 'utf8'));
export const agent = (name) => {
  const a = config.agents[name];
  if (!a) throw new Error(`no agent ${name} in ${CONFIG}`);
  return a;
};

// The tools each agent must offer (the list).
export const REQUIRED_TOOLS = {
  forecasting: ['train_forecasting_model', 'predict_forecasting', 'evaluate_forecasting_model',
    'select_best_forecasting_model', 'load_forecasting_model', 'list_forecasting_models',
    'generate_sample_data', 'get_model', 'delete_model'],
  anomaly: ['train_anomaly_model', 'detect_anomalies', 'evaluate_anomaly_model', 'select_best_anomaly_model',
    'load_anomaly_model', 'list_anomaly_models', 'explain_anomalies', 'get_model', 'delete_model'],
  coordinator: ['coordinated_analysis', 'ensemble_forecast', 'anomaly_aware_forecast', 'send_agent_message',
    'get_agent_messages', 'get_analysis_history', 'list_agents', 'system_status'],
};

// ---------------------------------------------------------------- MCP

// A connected SDK client. @fetch replaces the transport's fetch (to add
// headers or watch requests).
export async function mcpConnect(name, { fetch: fetchImpl } = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(`${agent(name).url}/mcp`),
    fetchImpl ? { fetch: fetchImpl } : undefined);
  const client = new Client({ name: `tests-agents-${name}`, version: '1.0.0' }, { capabilities: {} });
  await client.connect(transport, { timeout: 20000 });
  return client;
}

export const textOf = (result) => (result?.content ?? []).filter((b) => b.type === 'text').map((b) => b.text).join('\n');

// Calls a tool that must succeed; returns its structuredContent.
export async function callOk(client, tool, args, options = {}) {
  const r = await client.callTool({ name: tool, arguments: args }, undefined, { timeout: 120000, ...options });
  assert.notEqual(r.isError, true, `${tool} failed: ${textOf(r)}`);
  assert.ok(r.structuredContent && typeof r.structuredContent === 'object', `${tool}: no structuredContent`);
  assert.ok(textOf(r).length > 0, `${tool}: no text content block`);
  return r.structuredContent;
}

// Calls a tool that must fail with isError; the message must match @pattern.
export async function callToolError(client, tool, args, pattern) {
  const r = await client.callTool({ name: tool, arguments: args }, undefined, { timeout: 120000 });
  assert.equal(r.isError, true, `${tool}(${JSON.stringify(args).slice(0, 200)}) should fail, got ${textOf(r).slice(0, 300)}`);
  assert.equal(r.structuredContent, undefined, `${tool}: an error result carries no structuredContent`);
  assert.match(textOf(r), pattern);
  return textOf(r);
}

// ---------------------------------------------------------------- A2A

// A JSON-RPC fetch that records each answer, so tests can see the wire codes.
export function tapFetch() {
  const tap = { calls: [] };
  tap.fetch = async (input, init = {}) => {
    const res = await fetch(input, init);
    let body;
    if ((res.headers.get('content-type') || '').includes('json')) {
      try { body = await res.clone().json(); } catch { /* not JSON */ }
    }
    let method;
    try { method = typeof init.body === 'string' ? JSON.parse(init.body).method : undefined; } catch { /* not JSON */ }
    tap.calls.push({ method, status: res.status, body, headers: init.headers });
    return res;
  };
  tap.last = () => tap.calls[tap.calls.length - 1];
  return tap;
}

// An @a2a-js/sdk client for A2A @version ('1.0' or '0.3'), the way
// a2a-check.mjs builds them: v1.0 from the card URL, v0.3 through the SDK's
// compatibility transport from the card's 0.3 interface. Polling: sends
// return at once and the test reads the task with GetTask.
export async function a2aClient(name, version) {
  const tap = tapFetch();
  const legacy = version === '0.3' ? { legacyCompat: { enabled: true } } : {};
  const factory = new ClientFactory(ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
    transports: [new JsonRpcTransportFactory({ fetchImpl: tap.fetch, ...legacy })],
    cardResolver: new DefaultAgentCardResolver({ fetchImpl: tap.fetch, ...legacy }),
    preferredTransports: ['JSONRPC'],
    clientConfig: { polling: true },
  }));
  let client;
  if (version === '1.0') {
    client = await factory.createFromUrl(agent(name).url);
  } else {
    const card = await (await fetch(`${agent(name).url}/${AGENT_CARD_PATH}`)).json();
    const v03 = (card.supportedInterfaces ?? []).filter((i) => i.protocolBinding === 'JSONRPC' && i.protocolVersion.startsWith('0.'));
    client = await factory.createFromAgentCard({ ...card, supportedInterfaces: v03 });
  }
  assert.ok(String(client.protocolVersion).startsWith(version === '1.0' ? '1.' : '0.'),
    `the SDK chose protocol ${client.protocolVersion} for ${version}`);
  return { client, tap };
}

export const stateOf = (task) => String(taskStateToJSON(task.status?.state)).replace(/^TASK_STATE_/, '');
const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELED', 'REJECTED']);

// Sends a data part {skill, arguments}; returns the task read back with
// GetTask until it is terminal (at least one GetTask).
export async function runSkill(client, skill, args, { timeoutMs = 120000, text } = {}) {
  const parts = [];
  if (text) parts.push({ text });
  parts.push({ data: { skill, arguments: args }, mediaType: 'application/json' });
  const sent = await client.sendMessage(SendMessageRequest.fromJSON({
    message: { messageId: randomUUID(), role: 'ROLE_USER', parts },
  }));
  assert.ok(sent && typeof sent.id === 'string' && sent.status, `${skill}: the answer is not a Task: ${JSON.stringify(sent).slice(0, 300)}`);
  const t0 = Date.now();
  let task;
  for (let i = 0; ; i++) {
    task = await client.getTask(GetTaskRequest.fromJSON({ id: sent.id }));
    assert.equal(task.id, sent.id, 'GetTask answers the task asked for');
    assert.equal(task.contextId, sent.contextId, 'the task keeps its contextId');
    if (TERMINAL.has(stateOf(task))) break;
    assert.ok(Date.now() - t0 < timeoutMs, `${skill}: still ${stateOf(task)} after ${timeoutMs} ms`);
    await sleep(Math.min(50 * 2 ** i, 500));
  }
  return task;
}

// The first data part of the task's artifacts.
export function artifactData(task) {
  for (const a of task.artifacts ?? []) {
    for (const p of a.parts ?? []) if (p.content?.$case === 'data') return p.content.value;
  }
  return undefined;
}

export const statusText = (task) => (task.status?.message?.parts ?? [])
  .map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join(' ');

// Runs a skill that must complete; returns the artifact's data.
export async function skillOk(client, skill, args, options) {
  const task = await runSkill(client, skill, args, options);
  assert.equal(stateOf(task), 'COMPLETED', `${skill}: ${stateOf(task)} ${statusText(task)}`);
  const data = artifactData(task);
  assert.ok(data && typeof data === 'object', `${skill}: no data artifact`);
  return data;
}

// ---------------------------------------------------------------- raw HTTP

// POSTs @body (an object, or a string sent as is); returns status, headers,
// text and the parsed JSON (the last data: event of an SSE answer).
export async function post(url, body, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const ctype = res.headers.get('content-type') || '';
  let json;
  try {
    if (ctype.includes('text/event-stream')) {
      const datas = text.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).filter(Boolean);
      json = datas.length ? JSON.parse(datas[datas.length - 1]) : undefined;
    } else if (text) {
      json = JSON.parse(text);
    }
  } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, ctype, text, json };
}

// POSTs @body and reads the answer as it arrives: an SSE answer's `data:`
// events are parsed one by one and handed to @onEvent(event, events) (which
// may act, e.g. send a cancellation); the promise resolves when the server
// ends the body. Returns {status, headers, ctype, text, events}.
export async function postStream(url, body, headers = {}, onEvent = () => {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const ctype = res.headers.get('content-type') || '';
  const events = [];
  let text = '';
  let pending = '';
  const decoder = new TextDecoder();
  for await (const chunk of res.body ?? []) {
    const s = decoder.decode(chunk, { stream: true });
    text += s;
    if (!ctype.includes('text/event-stream')) continue;
    pending += s;
    let at;
    while ((at = pending.search(/\r?\n\r?\n/)) >= 0) {
      const block = pending.slice(0, at);
      pending = pending.slice(at).replace(/^\r?\n\r?\n/, '');
      const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
      if (!data) continue;
      const ev = JSON.parse(data);
      events.push(ev);
      await onEvent(ev, events);
    }
  }
  return { status: res.status, headers: res.headers, ctype, text, events };
}

export const MCP_VERSION = '2025-11-25';

// A raw MCP session: initialize + notifications/initialized.
export async function rawSession(name, extraHeaders = {}) {
  const url = `${agent(name).url}/mcp`;
  const r = await post(url, {
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: MCP_VERSION, capabilities: {}, clientInfo: { name: 'tests-agents-raw', version: '1' } },
  }, extraHeaders);
  assert.equal(r.status, 200, `initialize: HTTP ${r.status} ${r.text.slice(0, 200)}`);
  const session = r.headers.get('mcp-session-id');
  assert.ok(session, 'initialize sets Mcp-Session-Id');
  const headers = { 'mcp-session-id': session, 'mcp-protocol-version': MCP_VERSION };
  const n = await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers);
  assert.equal(n.status, 202);
  return { url, session, headers };
}

// ---------------------------------------------------------------- stop / restart

async function reachable(url) {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    await res.text();
    return true;
  } catch {
    return false;
  }
}

// Stops an agent (SIGTERM) and waits until its port refuses connections.
export async function stopAgent(name) {
  const a = agent(name);
  const pid = Number(readFileSync(a.pidFile, 'utf8').trim());
  process.kill(pid, 'SIGTERM');
  const t0 = Date.now();
  while (await reachable(a.url)) {
    assert.ok(Date.now() - t0 < 10000, `tsa-${name} still answers 10 s after SIGTERM`);
    await sleep(100);
  }
}

// Starts the agent again with its original command line (same port, store
// and log) and records the new pid for the runner.
export async function restartAgent(name) {
  const a = agent(name);
  // The same command line, on the port it had (it was started with --port 0).
  const argv = [...a.argv];
  const at = argv.indexOf('--port');
  assert.ok(at > 0, `no --port in ${argv.join(' ')}`);
  argv[at + 1] = String(a.port);
  const t0 = Date.now();
  for (;;) {
    const log = openSync(a.log, 'a');
    const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
    child.unref();
    writeFileSync(a.pidFile, `${child.pid}\n`);
    for (let i = 0; i < 50; i++) {
      if (await reachable(a.url)) return;
      if (child.exitCode !== null || child.signalCode !== null) break;
      await sleep(100);
    }
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    // The port may still be held for a moment; try again.
    assert.ok(Date.now() - t0 < 15000, `tsa-${name} did not come back on ${a.url}`);
    await sleep(300);
  }
}

// ---------------------------------------------------------------- agent logs

// Waits for a JSON log line of agent @name satisfying @pred; returns it.
export async function waitLogLine(name, pred, timeoutMs = 15000) {
  const t0 = Date.now();
  for (;;) {
    for (const line of readFileSync(agent(name).log, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      let j;
      try { j = JSON.parse(line); } catch { continue; }
      if (pred(j)) return j;
    }
    if (Date.now() - t0 > timeoutMs) return undefined;
    await sleep(100);
  }
}

// ---------------------------------------------------------------- progress and cancellation

// Trains with a progressToken (the SDK's onprogress): returns the result and
// the notifications received.
export async function trainWithProgress(client, tool, args) {
  const events = [];
  const r = await client.callTool({ name: tool, arguments: args }, undefined, {
    timeout: 120000,
    onprogress: (p) => events.push(p),
  });
  assert.notEqual(r.isError, true, `${tool} failed: ${textOf(r)}`);
  return { result: r.structuredContent, events };
}

// Checks notifications/progress: at least @min, progress strictly increasing,
// never above total.
export function assertProgress(events, { min = 2, total } = {}) {
  assert.ok(events.length >= min, `expected at least ${min} progress notifications, got ${events.length}`);
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    assert.equal(typeof e.progress, 'number');
    if (i > 0) assert.ok(e.progress > events[i - 1].progress, `progress went from ${events[i - 1].progress} to ${e.progress}`);
    if (e.total !== undefined) assert.ok(e.progress <= e.total, `progress ${e.progress} above total ${e.total}`);
    if (total !== undefined) assert.equal(e.total, total);
  }
}

// Starts a long training call on agent @name, cancels it through the SDK
// (AbortSignal: the SDK sends notifications/cancelled) after @after progress
// notifications, and checks that the server ended the call promptly (its
// request log line, found by the X-Request-Id this request carried), sent
// no JSON-RPC response for it (the HTTP answer, read beside the SDK, is an
// SSE stream that ends with progress only) and stored no model.
// With @afterMs instead, the call carries no progressToken (no progress, the
// answer would be JSON) and is cancelled after that many milliseconds.
export async function cancelTraining(name, tool, args, { after = 3, afterMs } = {}) {
  const rid = randomUUID();
  let exchange; // the tools/call's HTTP answer: {status, ctype, text}
  const client = await mcpConnect(name, {
    fetch: async (url, init = {}) => {
      if (typeof init.body === 'string' && init.body.includes('"tools/call"') && init.body.includes(args.model_name)) {
        const h = new Headers(init.headers);
        h.set('x-request-id', rid);
        init = { ...init, headers: h };
        const res = await fetch(url, init);
        if (!res.body) {
          exchange = Promise.resolve({ status: res.status, ctype: res.headers.get('content-type') || '', text: '' });
          return res;
        }
        const [mine, sdk] = res.body.tee();
        exchange = new Response(mine).text().then((text) => ({ status: res.status, ctype: res.headers.get('content-type') || '', text }));
        return new Response(sdk, { status: res.status, statusText: res.statusText, headers: res.headers });
      }
      return fetch(url, init);
    },
  });
  try {
    const ac = new AbortController();
    const events = [];
    const call = client.callTool({ name: tool, arguments: args }, undefined, {
      signal: ac.signal,
      timeout: 120000,
      ...(afterMs === undefined ? {
        onprogress: (p) => {
          events.push(p);
          if (events.length === after) ac.abort(new Error('cancelled by the test'));
        },
      } : {}),
    });
    if (afterMs !== undefined) setTimeout(() => ac.abort(new Error('cancelled by the test')), afterMs);
    await assert.rejects(call, /cancelled by the test/);
    const abortedAt = Date.now();
    if (afterMs === undefined) assert.equal(events.length, after, 'progress notifications before the cancellation');
    // The server logs the request when the call returns: it must end soon
    // after notifications/cancelled, long before the requested epochs.
    const line = await waitLogLine(name, (j) => j.msg === 'request' && j.request_id === rid, 20000);
    assert.ok(line, `the cancelled call did not end within 20 s (no log line for request ${rid})`);
    assert.ok(exchange, 'the tools/call request was seen');
    const ex = await exchange;
    assert.equal(ex.status, 200);
    assert.match(ex.ctype, /text\/event-stream/, 'a cancelled call answers an SSE stream without the result');
    const sent = ex.text.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)));
    assert.ok(sent.every((m) => m.method === 'notifications/progress'),
      `only progress on the cancelled call's stream, got ${JSON.stringify(sent.filter((m) => m.method !== 'notifications/progress')).slice(0, 300)}`);
    if (afterMs === undefined) assert.ok(sent.length >= after, `${sent.length} progress notifications on the stream`);
    else assert.equal(sent.length, 0, 'no progressToken, no progress');
    const got = await client.callTool({ name: 'get_model', arguments: { model_name: args.model_name } });
    assert.equal(got.isError, true, `a cancelled training stored model ${args.model_name}: ${textOf(got).slice(0, 200)}`);
    assert.match(textOf(got), new RegExp(args.model_name));
    // The session still works.
    await callOk(client, 'generate_sample_data', { n_samples: 5 });
    return { events, line, waitedMs: Date.now() - abortedAt };
  } finally {
    await client.close();
  }
}

// CPU seconds the agent's process has used (from /proc), to tell whether a
// cancelled job still runs.
export function cpuSeconds(name) {
  const pid = Number(readFileSync(agent(name).pidFile, 'utf8').trim());
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
  return (Number(f[11]) + Number(f[12])) / 100;
}

// Fraction of one core the agent used over @ms.
export async function cpuLoad(name, ms = 1000) {
  const c0 = cpuSeconds(name);
  const t0 = Date.now();
  await sleep(ms);
  return (cpuSeconds(name) - c0) / ((Date.now() - t0) / 1000);
}
