// Raw HTTP probes of the MCP (Streamable HTTP, 2025-11-25) and A2A JSON-RPC
// endpoints: the rules a client library does not exercise.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { seasonalSeries } from './fixtures.mjs';
import { agent, config, cpuLoad, MCP_VERSION, post, postStream, rawSession, sleep } from './lib.mjs';

for (const name of ['forecasting', 'anomaly', 'coordinator']) {
  describe(`MCP raw tsa-${name}`, () => {
    const url = `${agent(name).url}/mcp`;

    test('initialize: JSON answer, session id of visible ASCII, version echoed or latest', async () => {
      for (const [asked, want] of [['2025-11-25', '2025-11-25'], ['2025-06-18', '2025-06-18'], ['2025-03-26', '2025-03-26'], ['1999-01-01', MCP_VERSION]]) {
        const r = await post(url, { jsonrpc: '2.0', id: 'i1', method: 'initialize',
          params: { protocolVersion: asked, capabilities: {}, clientInfo: { name: 't', version: '1' } } });
        assert.equal(r.status, 200);
        assert.equal(r.json.id, 'i1');
        assert.equal(r.json.result.protocolVersion, want, `asked ${asked}`);
        assert.match(r.headers.get('mcp-session-id'), /^[\x21-\x7e]{16,}$/);
      }
      const a = await post(url, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: MCP_VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } } });
      const b = await post(url, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: MCP_VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } } });
      assert.notEqual(a.headers.get('mcp-session-id'), b.headers.get('mcp-session-id'), 'a new session id per initialize');
    });

    test('initialize without protocolVersion -> -32602', async () => {
      const r = await post(url, { jsonrpc: '2.0', id: 2, method: 'initialize', params: {} });
      assert.equal(r.json?.error?.code, -32602);
    });

    test('-32700 parse error, -32600 invalid request, -32601 unknown method (same id)', async () => {
      const s = await rawSession(name);
      const bad = await post(url, '{"jsonrpc": "2.0", "id": 1, "method": "tools/list"', s.headers);
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error.code, -32700);
      assert.equal(bad.json.id, null);
      for (const body of [{ id: 2, method: 5 }, { jsonrpc: '1.0', id: 3, method: 'ping' }, { jsonrpc: '2.0', id: null, method: 'ping' },
        { jsonrpc: '2.0', id: { x: 1 }, method: 'ping' }, 'null', '"a string"', '42']) {
        const r = await post(url, body, s.headers);
        assert.equal(r.json?.error?.code, -32600, `${JSON.stringify(body)} -> HTTP ${r.status} ${r.text.slice(0, 200)}`);
        assert.ok(r.status >= 400 && r.status < 500);
      }
      const u = await post(url, { jsonrpc: '2.0', id: 'u-7', method: 'tests/no_such_method', params: {} }, s.headers);
      assert.equal(u.status, 200);
      assert.equal(u.json.error.code, -32601);
      assert.equal(u.json.id, 'u-7');
      assert.match(u.json.error.message, /tests\/no_such_method/);
    });

    test('an empty body, trailing text, two concatenated messages -> -32700', async () => {
      const s = await rawSession(name);
      for (const body of ['', '{"jsonrpc":"2.0","id":1,"method":"ping"} trailing',
        '{"jsonrpc":"2.0","id":1,"method":"ping"}{"jsonrpc":"2.0","id":2,"method":"ping"}']) {
        const r = await post(url, body, s.headers);
        assert.equal(r.json?.error?.code, -32700, `${JSON.stringify(body)} -> ${r.status} ${r.text.slice(0, 200)}`);
      }
      const ws = await post(url, ' {"jsonrpc":"2.0","id":3,"method":"ping"}\n', s.headers);
      assert.deepEqual(ws.json, { jsonrpc: '2.0', id: 3, result: {} }, 'surrounding whitespace is fine');
    });

    test('a batch is rejected (400, -32600)', async () => {
      const s = await rawSession(name);
      const r = await post(url, [{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', id: 2, method: 'ping' }], s.headers);
      assert.equal(r.status, 400);
      const err = Array.isArray(r.json) ? r.json[0] : r.json;
      assert.equal(err.error.code, -32600);
    });

    test('ping -> {} with the same id', async () => {
      const s = await rawSession(name);
      const r = await post(url, { jsonrpc: '2.0', id: 99, method: 'ping' }, s.headers);
      assert.equal(r.status, 200);
      assert.deepEqual(r.json, { jsonrpc: '2.0', id: 99, result: {} });
    });

    test('sessions: 400 without Mcp-Session-Id, 404 unknown, 404 after DELETE', async () => {
      const s = await rawSession(name);
      const none = await post(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { 'mcp-protocol-version': MCP_VERSION });
      assert.equal(none.status, 400);
      assert.match(none.json.error.message, /Mcp-Session-Id/i);
      const unknown = await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { ...s.headers, 'mcp-session-id': 'tests-no-such-session' });
      assert.equal(unknown.status, 404);
      const ok = await post(url, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, s.headers);
      assert.equal(ok.status, 200);
      assert.ok(ok.json.result.tools.length > 0);
      const del = await fetch(url, { method: 'DELETE', headers: s.headers });
      assert.equal(del.status, 200);
      await del.text();
      const gone = await post(url, { jsonrpc: '2.0', id: 4, method: 'tools/list' }, s.headers);
      assert.equal(gone.status, 404);
      const again = await fetch(url, { method: 'DELETE', headers: s.headers });
      assert.equal(again.status, 404);
      await again.text();
      const noSid = await fetch(url, { method: 'DELETE' });
      assert.equal(noSid.status, 400);
      await noSid.text();
      // Notifications need the session too.
      const n = await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-protocol-version': MCP_VERSION });
      assert.equal(n.status, 400);
    });

    test('MCP-Protocol-Version: unsupported -> 400, supported or absent -> 200', async () => {
      const s = await rawSession(name);
      const bad = await post(url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { ...s.headers, 'mcp-protocol-version': '1900-01-01' });
      assert.equal(bad.status, 400);
      assert.match(bad.json.error.message, /MCP-Protocol-Version/);
      const old = await post(url, { jsonrpc: '2.0', id: 2, method: 'ping' }, { ...s.headers, 'mcp-protocol-version': '2025-03-26' });
      assert.equal(old.status, 200);
      const absent = await post(url, { jsonrpc: '2.0', id: 3, method: 'ping' }, { 'mcp-session-id': s.session });
      assert.equal(absent.status, 200);
    });

    test('Origin: foreign -> 403, loopback and configured -> allowed', async () => {
      const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: MCP_VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } } };
      for (const origin of ['http://evil.example', 'http://localhost.evil.example', 'http://127.0.0.1.evil.example:8080', 'null']) {
        const r = await post(url, init, { origin });
        assert.equal(r.status, 403, `Origin ${origin}`);
        assert.equal(r.headers.get('mcp-session-id'), null, 'no session for a rejected Origin');
        assert.ok(r.json?.error && r.json.id === null, r.text);
      }
      for (const origin of ['http://localhost:3000', 'http://127.0.0.1', 'http://[::1]:5173', config.allowedOrigin]) {
        const r = await post(url, init, { origin });
        assert.equal(r.status, 200, `Origin ${origin}: ${r.text.slice(0, 200)}`);
      }
      // Checked on every request, not only initialize.
      const s = await rawSession(name);
      const later = await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { ...s.headers, origin: 'http://evil.example' });
      assert.equal(later.status, 403);
    });

    test('notifications and responses -> 202 without a body', async () => {
      const s = await rawSession(name);
      for (const body of [{ jsonrpc: '2.0', method: 'notifications/initialized' },
        { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 12345, reason: 'test' } },
        { jsonrpc: '2.0', method: 'notifications/tests/unknown' },
        { jsonrpc: '2.0', id: 'srv-1', result: {} },
        { jsonrpc: '2.0', id: 'srv-2', error: { code: -32000, message: 'client-side failure' } }]) {
        const r = await post(url, body, s.headers);
        assert.equal(r.status, 202, JSON.stringify(body));
        assert.equal(r.text, '');
      }
    });

    test('GET -> 405 (no server stream); PUT is not served', async () => {
      const s = await rawSession(name);
      const g = await fetch(url, { headers: { accept: 'text/event-stream', ...s.headers } });
      assert.equal(g.status, 405);
      await g.text();
      const p = await fetch(url, { method: 'PUT', headers: s.headers, body: '{}' });
      assert.ok(p.status === 405 || p.status === 404, `PUT -> ${p.status}`);
      await p.text();
    });

    test('Accept and Content-Type: 406 without either type, 415 for text/plain', async () => {
      const s = await rawSession(name);
      const na = await post(url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { ...s.headers, accept: 'text/html' });
      assert.equal(na.status, 406);
      const ct = await post(url, { jsonrpc: '2.0', id: 2, method: 'ping' }, { ...s.headers, 'content-type': 'text/plain' });
      assert.equal(ct.status, 415);
      // SSE-only clients get an SSE answer.
      const sse = await post(url, { jsonrpc: '2.0', id: 3, method: 'ping' }, { ...s.headers, accept: 'text/event-stream' });
      assert.equal(sse.status, 200);
      assert.match(sse.ctype, /text\/event-stream/);
      assert.deepEqual(sse.json, { jsonrpc: '2.0', id: 3, result: {} });
    });

    test('tools/call: unknown tool, arguments not an object, no name -> -32602', async () => {
      const s = await rawSession(name);
      const u = await post(url, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'no_such_tool', arguments: {} } }, s.headers);
      assert.equal(u.json.error.code, -32602);
      assert.match(u.json.error.message, /no_such_tool/);
      const a = await post(url, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: name === 'coordinator' ? 'list_agents' : 'get_model', arguments: [1] } }, s.headers);
      assert.equal(a.json.error.code, -32602);
      const m = await post(url, { jsonrpc: '2.0', id: 3, method: 'tools/call', params: {} }, s.headers);
      assert.equal(m.json.error.code, -32602);
    });
  });
}

describe('MCP raw: progress notifications on the SSE answer', () => {
  test('tsa-forecasting: train with a progressToken answers text/event-stream, progress before the result', async () => {
    const s = await rawSession('forecasting');
    const data = Array.from({ length: 120 }, (_, t) => [Math.sin(t / 4) + t / 50]);
    const r = await post(s.url, { jsonrpc: '2.0', id: 'p1', method: 'tools/call', params: {
      name: 'train_forecasting_model', _meta: { progressToken: 'tok-1' },
      arguments: { model_type: 'lstm', model_name: 'raw_lstm', data, epochs: 5, patience: 0, hidden_size: 4, sequence_length: 8, overwrite: true },
    } }, s.headers);
    assert.equal(r.status, 200);
    assert.match(r.ctype, /text\/event-stream/);
    const events = r.text.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)));
    const progress = events.filter((e) => e.method === 'notifications/progress');
    assert.equal(progress.length, 5);
    assert.ok(progress.every((e) => e.params.progressToken === 'tok-1' && e.params.total === 5 && e.id === undefined));
    assert.deepEqual(progress.map((e) => e.params.progress), [1, 2, 3, 4, 5]);
    const last = events[events.length - 1];
    assert.equal(last.id, 'p1');
    assert.equal(last.result.structuredContent.status, 'trained');
    // Without a token: a plain JSON answer.
    const j = await post(s.url, { jsonrpc: '2.0', id: 'p2', method: 'tools/call', params: {
      name: 'train_forecasting_model',
      arguments: { model_type: 'lstm', model_name: 'raw_lstm', data, epochs: 2, patience: 0, hidden_size: 4, sequence_length: 8, overwrite: true },
    } }, s.headers);
    assert.match(j.ctype, /application\/json/);
    assert.equal(j.json.result.isError, false);
  });
});

for (const name of ['forecasting', 'anomaly', 'coordinator']) {
  describe(`A2A raw tsa-${name}`, () => {
    const url = `${agent(name).url}/a2a`;
    const v1 = { 'A2A-Version': '1.0' };

    test('-32700, -32600, -32601 in both versions; a batch is rejected', async () => {
      for (const h of [v1, {}]) {
        const p = await post(url, '{"jsonrpc":"2.0","id":1,"method":', h);
        assert.equal(p.json?.error?.code, -32700);
        const two = await post(url, '{"jsonrpc":"2.0","id":1,"method":"GetTask","params":{"id":"x"}} {"jsonrpc":"2.0","id":2}', h);
        assert.equal(two.json?.error?.code, -32700, two.text);
        const i = await post(url, { id: 2, method: 5 }, h);
        assert.equal(i.json?.error?.code, -32600);
        const m = await post(url, { jsonrpc: '2.0', id: 3, method: 'tests/NoSuchMethod', params: {} }, h);
        assert.equal(m.json?.error?.code, -32601);
        assert.equal(m.json.id, 3);
        const b = await post(url, [{ jsonrpc: '2.0', id: 4, method: 'GetTask', params: { id: 'x' } }], h);
        const e = Array.isArray(b.json) ? b.json[0] : b.json;
        assert.equal(e?.error?.code, -32600, b.text);
      }
    });

    test('A2A-Version 99 -> -32009; 1.0 and 0.3 accepted', async () => {
      for (const v of ['99', '99.0', '2.0']) {
        const r = await post(url, { jsonrpc: '2.0', id: 5, method: 'GetTask', params: { id: 'x' } }, { 'A2A-Version': v });
        assert.equal(r.json?.error?.code, -32009, `A2A-Version ${v}: ${r.text}`);
        assert.equal(r.json.id, 5);
      }
      const ok1 = await post(url, { jsonrpc: '2.0', id: 6, method: 'GetTask', params: { id: 'x' } }, v1);
      assert.equal(ok1.json.error.code, -32001);
      assert.equal(ok1.json.error.data?.[0]?.reason, 'TASK_NOT_FOUND');
      const ok03 = await post(url, { jsonrpc: '2.0', id: 7, method: 'tasks/get', params: { id: 'x' } }, { 'A2A-Version': '0.3' });
      assert.equal(ok03.json.error.code, -32001);
    });

    test('v1.0 and v0.3 wire shapes of SendMessage / message/send', async () => {
      const r1 = await post(url, { jsonrpc: '2.0', id: 8, method: 'SendMessage', params: { message: {
        messageId: 'raw-1', role: 'ROLE_USER', parts: [{ data: { skill: 'generate_sample_data', arguments: { n_samples: 4 } } }] } } }, v1);
      if (name !== 'coordinator') {
        assert.equal(r1.json.result.task.status.state, 'TASK_STATE_COMPLETED', r1.text.slice(0, 300));
        assert.equal(r1.json.result.task.artifacts[0].parts[0].mediaType, 'application/json');
        assert.equal(r1.json.result.task.artifacts[0].parts[0].data.data.length, 4);
      } else {
        assert.equal(r1.json.error.code, -32602, 'the coordinator has no generate_sample_data skill');
      }
      const skill = name === 'coordinator' ? 'system_status' : 'generate_sample_data';
      const r03 = await post(url, { jsonrpc: '2.0', id: 9, method: 'message/send', params: { message: {
        kind: 'message', messageId: 'raw-2', role: 'user', parts: [{ kind: 'data', data: { skill, arguments: {} } }] } } });
      assert.equal(r03.json.result.kind, 'task', r03.text.slice(0, 300));
      assert.equal(r03.json.result.status.state, 'completed');
      assert.equal(r03.json.result.artifacts[0].parts[0].kind, 'data');
      const g = await post(url, { jsonrpc: '2.0', id: 10, method: 'tasks/get', params: { id: r03.json.result.id } });
      assert.equal(g.json.result.id, r03.json.result.id);
      assert.equal(g.json.result.status.state, 'completed');
    });

    test('the client\'s contextId is kept (up to 129 characters)', async () => {
      const skill = name === 'coordinator' ? 'system_status' : 'generate_sample_data';
      const send = (contextId) => post(url, { jsonrpc: '2.0', id: 13, method: 'SendMessage', params: { message: {
        messageId: `ctx-${contextId.length}`, role: 'ROLE_USER', contextId, parts: [{ data: { skill, arguments: {} } }] } } }, v1);
      for (const ctx of ['conversation-1', `session:${'x'.repeat(100)}`]) {
        const r = await send(ctx);
        assert.equal(r.json.result?.task?.contextId, ctx, r.text.slice(0, 300));
        const g = await post(url, { jsonrpc: '2.0', id: 14, method: 'GetTask', params: { id: r.json.result.task.id } }, v1);
        assert.equal(g.json.result.contextId, ctx);
      }
      const long = await send('y'.repeat(300));
      assert.equal(long.json?.error?.code, -32602, 'a contextId the agent cannot keep is refused, not replaced');
    });

    test('invalid SendMessage params -> -32602', async () => {
      for (const params of [{}, { message: { messageId: 'x', parts: [] } }, { message: { parts: [{ text: 'hi' }] } }]) {
        const r = await post(url, { jsonrpc: '2.0', id: 11, method: 'SendMessage', params }, v1);
        assert.equal(r.json?.error?.code, -32602, JSON.stringify(params));
      }
    });

    test('Origin: foreign -> 403, loopback allowed; notifications -> 202', async () => {
      const body = { jsonrpc: '2.0', id: 12, method: 'GetTask', params: { id: 'x' } };
      const bad = await post(url, body, { ...v1, origin: 'http://evil.example' });
      assert.equal(bad.status, 403);
      const good = await post(url, body, { ...v1, origin: 'http://localhost:8080' });
      assert.equal(good.status, 200);
      const n = await post(url, { jsonrpc: '2.0', method: 'tests/notify' }, v1);
      assert.equal(n.status, 202);
      assert.equal(n.text, '');
    });
  });
}

// ---------------------------------------------------------------- MCP cancellation (raw)

describe('MCP raw: notifications/cancelled ends a call without a response', () => {
  const long = (modelName) => ({ model_type: 'lstm', model_name: modelName, data: seasonalSeries({ n: 400 }), epochs: 5000,
    patience: 0, hidden_size: 16, sequence_length: 24, validate: false });
  const cancel = (s, requestId) => post(s.url, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: 'test' } }, s.headers);
  const stored = async (s, modelName) => {
    const g = await post(s.url, { jsonrpc: '2.0', id: 'g', method: 'tools/call', params: { name: 'get_model', arguments: { model_name: modelName } } }, s.headers);
    return g.json.result.isError !== true;
  };

  test('SSE answer (progressToken): progress, then the stream ends without the result', async () => {
    const s = await rawSession('forecasting');
    let cancelled;
    const r = await postStream(s.url, { jsonrpc: '2.0', id: 'c-sse', method: 'tools/call', params: {
      name: 'train_forecasting_model', _meta: { progressToken: 'c-tok' }, arguments: long('raw_cancel_sse') } }, s.headers,
    async (ev, events) => {
      if (events.length === 2) cancelled = await cancel(s, 'c-sse');
    });
    assert.equal(cancelled?.status, 202);
    assert.equal(r.status, 200);
    assert.match(r.ctype, /text\/event-stream/);
    assert.ok(r.events.length >= 2);
    assert.ok(r.events.every((e) => e.method === 'notifications/progress' && e.params.progressToken === 'c-tok'),
      `only progress, no response: ${JSON.stringify(r.events.filter((e) => e.method !== 'notifications/progress'))}`);
    assert.ok(r.events[r.events.length - 1].params.progress < 5000, 'the training stopped early');
    assert.equal(await stored(s, 'raw_cancel_sse'), false, 'a cancelled training stores nothing');
    // The session goes on; a cancellation of an unknown or finished request is ignored.
    assert.equal((await cancel(s, 'c-sse')).status, 202);
    const p = await post(s.url, { jsonrpc: '2.0', id: 'after', method: 'ping' }, s.headers);
    assert.deepEqual(p.json, { jsonrpc: '2.0', id: 'after', result: {} });
  });

  test('no progressToken, client accepts SSE: an empty SSE stream (no response)', async () => {
    const s = await rawSession('forecasting');
    const call = postStream(s.url, { jsonrpc: '2.0', id: 7001, method: 'tools/call', params: {
      name: 'train_forecasting_model', arguments: long('raw_cancel_empty') } }, s.headers);
    await sleep(500);
    assert.equal((await cancel(s, 7001)).status, 202);
    const r = await call;
    assert.equal(r.status, 200);
    assert.match(r.ctype, /text\/event-stream/);
    assert.deepEqual(r.events, [], `no JSON-RPC message: ${r.text.slice(0, 300)}`);
    assert.equal(await stored(s, 'raw_cancel_empty'), false);
  });

  test('client accepts only JSON: 202 and an empty body (no response)', async () => {
    const s = await rawSession('anomaly');
    const call = postStream(s.url, { jsonrpc: '2.0', id: 'c-json', method: 'tools/call', params: {
      name: 'train_anomaly_model', arguments: long('raw_cancel_json') } }, { ...s.headers, accept: 'application/json' });
    await sleep(500);
    assert.equal((await cancel(s, 'c-json')).status, 202);
    const r = await call;
    assert.equal(r.status, 202);
    assert.equal(r.text, '');
    assert.equal(await stored(s, 'raw_cancel_json'), false);
  });

  test('a cancellation from another session does not touch the call', async () => {
    const s = await rawSession('forecasting');
    const other = await rawSession('forecasting');
    const data = Array.from({ length: 120 }, (_, t) => [Math.sin(t / 4) + t / 50]);
    const call = postStream(s.url, { jsonrpc: '2.0', id: 'mine', method: 'tools/call', params: {
      name: 'train_forecasting_model', _meta: { progressToken: 'm' },
      arguments: { model_type: 'lstm', model_name: 'raw_not_cancelled', data, epochs: 40, patience: 0, hidden_size: 4,
        sequence_length: 8, overwrite: true } } }, s.headers,
    async (ev, events) => {
      if (events.length === 1) await cancel(other, 'mine');
    });
    const r = await call;
    const last = r.events[r.events.length - 1];
    assert.equal(last.id, 'mine');
    assert.equal(last.result.structuredContent.status, 'trained');
  });
});

// ---------------------------------------------------------------- CORS (raw)

describe('CORS on /mcp and /a2a: the --cors-origins allow-list', () => {
  const CORS = config.corsOrigin;
  const ALLOWED_ONLY = config.allowedOrigin; // Origin accepted, but not a CORS origin
  for (const name of ['forecasting', 'anomaly', 'coordinator']) {
    for (const path of ['/mcp', '/a2a']) {
      test(`tsa-${name} ${path}: preflight answers listed origins only`, async () => {
        const url = `${agent(name).url}${path}`;
        const pre = (origin) => fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type, mcp-session-id, mcp-protocol-version, a2a-version, authorization, last-event-id' } });
        const ok = await pre(CORS);
        assert.equal(ok.status, 204);
        assert.equal(ok.headers.get('access-control-allow-origin'), CORS);
        assert.match(ok.headers.get('vary') ?? '', /Origin/);
        assert.match(ok.headers.get('access-control-allow-methods'), /\bPOST\b/);
        const allowed = (ok.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/\s*,\s*/);
        for (const h of ['content-type', 'authorization', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'a2a-version'])
          assert.ok(allowed.includes(h), `${h} allowed (got ${allowed.join(', ')})`);
        if (path === '/mcp') assert.match(ok.headers.get('access-control-allow-methods'), /\bDELETE\b/);
        for (const origin of ['http://evil.example', ALLOWED_ONLY]) {
          const no = await pre(origin);
          assert.equal(no.status, 403, origin);
          const cors = [...no.headers.keys()].filter((k) => k.startsWith('access-control-'));
          assert.deepEqual(cors, [], `${origin}: no CORS headers`);
        }
      });
    }

    test(`tsa-${name}: answers to a listed origin carry CORS headers and expose Mcp-Session-Id`, async () => {
      const url = `${agent(name).url}/mcp`;
      const init = await post(url, { jsonrpc: '2.0', id: 1, method: 'initialize',
        params: { protocolVersion: MCP_VERSION, capabilities: {}, clientInfo: { name: 'cors', version: '1' } } }, { origin: CORS });
      assert.equal(init.status, 200);
      assert.equal(init.headers.get('access-control-allow-origin'), CORS);
      assert.match(init.headers.get('access-control-expose-headers') ?? '', /Mcp-Session-Id/i);
      // An Origin that passes validation but is not a CORS origin: served, no CORS headers.
      const plain = await post(url, { jsonrpc: '2.0', id: 2, method: 'initialize',
        params: { protocolVersion: MCP_VERSION, capabilities: {}, clientInfo: { name: 'cors', version: '1' } } }, { origin: ALLOWED_ONLY });
      assert.equal(plain.status, 200);
      assert.equal(plain.headers.get('access-control-allow-origin'), null);
      // A foreign Origin: 403 from the Origin check, no CORS headers.
      const bad = await post(url, { jsonrpc: '2.0', id: 3, method: 'ping' }, { origin: 'http://evil.example' });
      assert.equal(bad.status, 403);
      assert.equal(bad.headers.get('access-control-allow-origin'), null);
      const a2a = await post(`${agent(name).url}/a2a`, { jsonrpc: '2.0', id: 4, method: 'GetTask', params: { id: 'x' } },
        { origin: CORS, 'A2A-Version': '1.0' });
      assert.equal(a2a.status, 200);
      assert.equal(a2a.headers.get('access-control-allow-origin'), CORS);
      assert.equal(a2a.json.error.code, -32001);
    });
  }

  test('an SSE answer to a listed origin carries the CORS headers too', async () => {
    const s = await rawSession('forecasting', { origin: CORS });
    const data = Array.from({ length: 60 }, (_, t) => [Math.sin(t / 4)]);
    const r = await post(s.url, { jsonrpc: '2.0', id: 's', method: 'tools/call', params: { name: 'train_forecasting_model',
      _meta: { progressToken: 1 }, arguments: { model_type: 'lstm', model_name: 'cors_sse', data, epochs: 2, patience: 0,
        hidden_size: 4, sequence_length: 8, overwrite: true } } }, { ...s.headers, origin: CORS });
    assert.match(r.ctype, /text\/event-stream/);
    assert.equal(r.headers.get('access-control-allow-origin'), CORS);
  });
});

// ---------------------------------------------------------------- A2A streaming (raw)

const stateOfEvent = (e, v1) => (v1 ? (e.task ?? e.statusUpdate)?.status?.state : e.status?.state);

for (const name of ['forecasting', 'anomaly', 'coordinator']) {
  describe(`A2A raw streaming tsa-${name}`, () => {
    const url = `${agent(name).url}/a2a`;
    const skill = name === 'coordinator' ? 'system_status' : 'generate_sample_data';
    const args = name === 'coordinator' ? {} : { n_samples: 6 };

    test('the card declares streaming in both versions', async () => {
      for (const h of [{ 'A2A-Version': '1.0' }, {}]) {
        const c = await (await fetch(`${agent(name).url}/.well-known/agent-card.json`, { headers: h })).json();
        assert.equal(c.capabilities.streaming, true);
      }
    });

    test('SendStreamingMessage (1.0): task, WORKING, artifact, COMPLETED; then the stream closes', async () => {
      const r = await postStream(url, { jsonrpc: '2.0', id: 'st1', method: 'SendStreamingMessage', params: { message: {
        messageId: `st1-${name}`, role: 'ROLE_USER', parts: [{ data: { skill, arguments: args } }] } } },
      { 'A2A-Version': '1.0', accept: 'text/event-stream' });
      assert.equal(r.status, 200);
      assert.match(r.ctype, /text\/event-stream/);
      assert.ok(r.events.every((e) => e.jsonrpc === '2.0' && e.id === 'st1' && e.result), r.text.slice(0, 400));
      const res = r.events.map((e) => e.result);
      assert.deepEqual(res.map((e) => Object.keys(e)), [['task'], ['statusUpdate'], ['artifactUpdate'], ['statusUpdate']]);
      const task = res[0].task;
      assert.equal(task.status.state, 'TASK_STATE_SUBMITTED');
      assert.equal(res[1].statusUpdate.status.state, 'TASK_STATE_WORKING');
      assert.equal(res[1].statusUpdate.taskId, task.id);
      assert.equal(res[1].statusUpdate.contextId, task.contextId);
      assert.match(res[1].statusUpdate.status.message.parts[0].text, new RegExp(skill));
      assert.equal(res[1].statusUpdate.final, undefined, 'v1.0 status updates carry no final flag');
      const art = res[2].artifactUpdate;
      assert.equal(art.taskId, task.id);
      assert.equal(art.lastChunk, true);
      assert.equal(art.artifact.parts[0].mediaType, 'application/json');
      assert.equal(art.artifact.parts[0].kind, undefined);
      if (name !== 'coordinator') assert.equal(art.artifact.parts[0].data.data.length, 6);
      assert.equal(res[3].statusUpdate.status.state, 'TASK_STATE_COMPLETED');
      // The task keeps what was streamed.
      const g = await post(url, { jsonrpc: '2.0', id: 'g', method: 'GetTask', params: { id: task.id } }, { 'A2A-Version': '1.0' });
      assert.equal(g.json.result.status.state, 'TASK_STATE_COMPLETED');
      assert.deepEqual(g.json.result.artifacts[0].parts[0].data, art.artifact.parts[0].data);
    });

    test('message/stream (0.3): kind task, status-update final false, artifact-update, status-update final true', async () => {
      const r = await postStream(url, { jsonrpc: '2.0', id: 31, method: 'message/stream', params: { message: {
        kind: 'message', messageId: `st3-${name}`, role: 'user', parts: [{ kind: 'data', data: { skill, arguments: args } }] } } },
      { accept: 'text/event-stream' });
      assert.match(r.ctype, /text\/event-stream/);
      const res = r.events.map((e) => e.result);
      assert.deepEqual(res.map((e) => e.kind), ['task', 'status-update', 'artifact-update', 'status-update']);
      assert.equal(res[0].status.state, 'submitted');
      assert.deepEqual([res[1].status.state, res[1].final], ['working', false]);
      assert.equal(res[2].artifact.parts[0].kind, 'data');
      assert.equal(res[2].lastChunk, true);
      assert.deepEqual([res[3].status.state, res[3].final], ['completed', true]);
      assert.ok(res.slice(1).every((e) => e.taskId === res[0].id && e.contextId === res[0].contextId));
    });

    test('a failing skill streams FAILED with the reason; text only streams one Message', async () => {
      const bad = name === 'coordinator' ? { skill: 'get_agent_messages', arguments: { limit: -5 } }
        : { skill: 'get_model', arguments: { model_name: 'no_such_model_stream' } };
      for (const v1 of [true, false]) {
        const r = await postStream(url, { jsonrpc: '2.0', id: 'f', method: v1 ? 'SendStreamingMessage' : 'message/stream', params: { message: {
          messageId: `sf-${v1}`, role: v1 ? 'ROLE_USER' : 'user', parts: [{ ...(v1 ? {} : { kind: 'data' }), data: bad }] } } },
        v1 ? { 'A2A-Version': '1.0' } : {});
        const res = r.events.map((e) => e.result);
        const states = res.map((e) => stateOfEvent(e, v1));
        assert.deepEqual(states, v1 ? ['TASK_STATE_SUBMITTED', 'TASK_STATE_WORKING', 'TASK_STATE_FAILED'] : ['submitted', 'working', 'failed'],
          r.text.slice(0, 400));
        const last = v1 ? res[2].statusUpdate : res[2];
        assert.ok(last.status.message.parts[0].text.length > 0, 'the failure says why');
        if (!v1) assert.equal(last.final, true);
        const t = await postStream(url, { jsonrpc: '2.0', id: 'm', method: v1 ? 'SendStreamingMessage' : 'message/stream', params: { message: {
          messageId: `sm-${v1}`, role: v1 ? 'ROLE_USER' : 'user', parts: [{ ...(v1 ? {} : { kind: 'text' }), text: 'what can you do?' }] } } },
        v1 ? { 'A2A-Version': '1.0' } : {});
        assert.equal(t.events.length, 1);
        const m = v1 ? t.events[0].result.message : t.events[0].result;
        if (!v1) assert.equal(m.kind, 'message');
        assert.match(m.parts[0].text, /Skills:/);
      }
    });

    test('bad params and unknown skills answer a JSON-RPC error, not a stream', async () => {
      const r = await post(url, { jsonrpc: '2.0', id: 'e', method: 'SendStreamingMessage', params: { message: {
        messageId: 'x', role: 'ROLE_USER', parts: [{ data: { skill: 'no_such_skill', arguments: {} } }] } } }, { 'A2A-Version': '1.0' });
      assert.equal(r.json.error.code, -32602);
      assert.match(r.json.error.message, /no_such_skill/);
      const e = await post(url, { jsonrpc: '2.0', id: 'e2', method: 'message/stream', params: {} });
      assert.equal(e.json.error.code, -32602);
    });

    test('SubscribeToTask / tasks/resubscribe: unknown -> -32001, finished -> -32004', async () => {
      const done = await post(url, { jsonrpc: '2.0', id: 1, method: 'SendMessage', params: { message: {
        messageId: `sub-${name}`, role: 'ROLE_USER', parts: [{ data: { skill, arguments: args } }] } } }, { 'A2A-Version': '1.0' });
      const id = done.json.result.task.id;
      for (const [method, h] of [['SubscribeToTask', { 'A2A-Version': '1.0' }], ['tasks/resubscribe', {}]]) {
        const u = await post(url, { jsonrpc: '2.0', id: 2, method, params: { id: 'no-such-task' } }, h);
        assert.equal(u.json.error.code, -32001, `${method}: ${u.text}`);
        const f = await post(url, { jsonrpc: '2.0', id: 3, method, params: { id } }, h);
        assert.equal(f.json.error.code, -32004, `${method}: ${f.text}`);
        const m = await post(url, { jsonrpc: '2.0', id: 4, method, params: {} }, h);
        assert.equal(m.json.error.code, -32602);
      }
    });
  });
}

describe('A2A raw streaming: a training streams its progress; a second stream subscribes', () => {
  const url = `${agent('forecasting').url}/a2a`;
  const args = { model_type: 'lstm', model_name: 'a2a_stream_lstm', data: seasonalSeries({ n: 300 }), epochs: 150, patience: 0,
    hidden_size: 16, sequence_length: 24, validate: false, overwrite: true };

  test('SendStreamingMessage train: WORKING updates with epoch text, then the artifact and COMPLETED; SubscribeToTask follows', async () => {
    let sub;
    const r = await postStream(url, { jsonrpc: '2.0', id: 'tr', method: 'SendStreamingMessage', params: { message: {
      messageId: 'train-stream', role: 'ROLE_USER', parts: [{ data: { skill: 'train_forecasting_model', arguments: args } }] } } },
    { 'A2A-Version': '1.0' }, (ev, events) => {
      if (events.length === 3 && !sub) {
        // A second client attaches while the training runs: the task first, then updates until COMPLETED.
        sub = postStream(url, { jsonrpc: '2.0', id: 'sub', method: 'SubscribeToTask', params: { id: events[0].result.task.id } },
          { 'A2A-Version': '1.0' });
      }
    });
    const res = r.events.map((e) => e.result);
    assert.equal(res[0].task.status.state, 'TASK_STATE_SUBMITTED');
    const working = res.filter((e) => e.statusUpdate?.status.state === 'TASK_STATE_WORKING');
    const progress = working.filter((e) => /epoch \d+\/150/.test(e.statusUpdate.status.message?.parts[0].text ?? ''));
    assert.ok(progress.length >= 10, `${progress.length} progress updates: ${JSON.stringify(working.map((e) => e.statusUpdate.status.message?.parts[0].text)).slice(0, 300)}`);
    assert.ok(progress.length <= 101, 'at most one update per percent');
    const tail = res.slice(-2);
    assert.equal(tail[0].artifactUpdate.artifact.parts[0].data.status, 'trained');
    assert.equal(tail[1].statusUpdate.status.state, 'TASK_STATE_COMPLETED');
    assert.ok(sub, 'the subscription was started');
    const s = await sub;
    const sres = s.events.map((e) => e.result);
    assert.ok(sres[0].task, 'SubscribeToTask streams the task first');
    assert.equal(sres[0].task.id, res[0].task.id);
    assert.equal(sres[0].task.status.state, 'TASK_STATE_WORKING');
    assert.equal(sres[sres.length - 1].statusUpdate.status.state, 'TASK_STATE_COMPLETED');
    assert.equal(sres[sres.length - 2].artifactUpdate.artifact.parts[0].data.model_name, 'a2a_stream_lstm');
  });

  test('CancelTask during a stream: the stream ends CANCELED (final in 0.3) and nothing is stored', async () => {
    const big = { ...args, model_name: 'a2a_stream_cancel', epochs: 5000, data: seasonalSeries({ n: 400 }), hidden_size: 16, sequence_length: 24 };
    let cancelled;
    const r = await postStream(url, { jsonrpc: '2.0', id: 'tc', method: 'message/stream', params: { message: {
      kind: 'message', messageId: 'train-cancel', role: 'user', parts: [{ kind: 'data', data: { skill: 'train_forecasting_model', arguments: big } }] } } },
    {}, async (ev, events) => {
      if (events.length === 3 && !cancelled) cancelled = await post(url, { jsonrpc: '2.0', id: 'c', method: 'tasks/cancel', params: { id: events[0].result.id } });
    });
    assert.equal(cancelled.json.result.status.state, 'canceled');
    const last = r.events[r.events.length - 1].result;
    assert.deepEqual([last.kind, last.status.state, last.final], ['status-update', 'canceled', true]);
    assert.ok(!r.events.some((e) => e.result.kind === 'artifact-update'));
    // The training thread stopped at its next progress report: the agent is idle, the model absent.
    await sleep(500);
    const load = await cpuLoad('forecasting', 1000);
    assert.ok(load < 0.3, `tsa-forecasting still busy (${load.toFixed(2)} of a core) after the cancel`);
    const s = await rawSession('forecasting');
    const g = await post(s.url, { jsonrpc: '2.0', id: 'g', method: 'tools/call', params: { name: 'get_model', arguments: { model_name: 'a2a_stream_cancel' } } }, s.headers);
    assert.equal(g.json.result.isError, true, 'a canceled training stores nothing');
  });
});
