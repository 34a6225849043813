// tsa-coordinator over MCP with the official SDK client: every tool (which
// reach the forecasting and anomaly agents over A2A), with values checked,
// and bad arguments.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { callOk, callToolError, mcpConnect, REQUIRED_TOOLS } from './lib.mjs';
import { seasonalSeries, SPIKES } from './fixtures.mjs';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const close = (a, b, tol = 1e-9) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));

describe('MCP tsa-coordinator', () => {
  let client;
  let fc;   // the forecasting agent, to store a model the coordinator uses by name
  const clean = seasonalSeries({ n: 240 });
  const spiky = seasonalSeries({ n: 240, spikes: SPIKES });
  before(async () => {
    client = await mcpConnect('coordinator');
    fc = await mcpConnect('forecasting');
    await callOk(fc, 'train_forecasting_model', { model_type: 'theta', model_name: 'co_theta', data: clean, overwrite: true });
  });
  after(async () => {
    await client?.close();
    await fc?.close();
  });

  test('tools/list has every required tool', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of REQUIRED_TOOLS.coordinator) assert.ok(names.includes(n), `missing tool ${n}; listed: ${names.join(', ')}`);
    assert.equal(client.getServerVersion().name, 'tsa-coordinator');
  });

  test('list_agents: both agents reachable and healthy, with their cards', async () => {
    const r = await callOk(client, 'list_agents', {});
    assert.equal(r.agents.length, 2);
    const by = Object.fromEntries(r.agents.map((a) => [a.agent, a]));
    for (const name of ['forecasting', 'anomaly']) {
      const a = by[name];
      assert.ok(a, `no entry for ${name}: ${JSON.stringify(r.agents).slice(0, 300)}`);
      assert.equal(a.reachable, true, `${name} unreachable: ${a.error}`);
      assert.equal(a.healthy, true);
      assert.equal(a.card?.name, `tsa-${name}`);
      const skills = a.card.skills.map((s) => s.id);
      for (const t of REQUIRED_TOOLS[name]) assert.ok(skills.includes(t), `${name} card lacks skill ${t}`);
    }
  });

  test('system_status: agents, store, model types', async () => {
    const r = await callOk(client, 'system_status', {});
    assert.ok(r.agents.every((a) => a.reachable === true));
    assert.equal(r.store.reachable, true);
    assert.equal(r.store.backend, 'sqlite');
    assert.ok(r.models >= 1, `models ${r.models}`);
    for (const k of ['multivariate', 'lstm', 'hmm', 'prophet', 'theta']) assert.ok(r.model_types.includes(k), `model_types lacks ${k}`);
  });

  test('coordinated_analysis: forecast and detection merged, not partial', async () => {
    const r = await callOk(client, 'coordinated_analysis', {
      data: spiky, forecasting_model: 'co_theta', anomaly_model: 'theta', steps_ahead: 12, threshold: 0.99,
    });
    assert.equal(r.analysis_type, 'forecast_and_detect');
    assert.equal(r.partial, false);
    assert.deepEqual(r.errors, []);
    assert.equal(r.forecast.predictions.length, 12);
    assert.equal(r.forecast.model_name, 'co_theta');
    assert.ok(Array.isArray(r.forecast.abnormal_steps));
    assert.deepEqual(r.anomalies.anomaly_indices, SPIKES);
    assert.equal(r.summary.n_anomalies, SPIKES.length);
    assert.equal(r.summary.n_points, 240);
    assert.equal(r.agents.forecasting.ok, true);
    assert.equal(r.agents.anomaly.ok, true);
    assert.ok(r.result_id, 'the analysis is stored');
  });

  test('coordinated_analysis without a detector: prophet for one feature finds the spikes, VAR for several', async () => {
    const r = await callOk(client, 'coordinated_analysis', { data: spiky, steps_ahead: 6, threshold: 0.99 });
    assert.equal(r.summary.anomaly_model, 'prophet');
    assert.equal(r.partial, false);
    for (const t of SPIKES) assert.ok(r.anomalies.anomaly_indices.includes(t), `spike ${t} missed: ${r.anomalies.anomaly_indices}`);
    assert.ok(r.anomalies.anomaly_indices.length <= SPIKES.length + 5, `too many flags: ${r.anomalies.anomaly_indices}`);
    const two = spiky.map((row, t) => [row[0], 5 + Math.cos((2 * Math.PI * t) / 24) + (t === 100 ? 6 : 0)]);
    const r2 = await callOk(client, 'coordinated_analysis', { data: two, steps_ahead: 3, threshold: 0.99 });
    assert.equal(r2.summary.anomaly_model, 'multivariate');
    assert.equal(r2.partial, false);
    assert.ok(r2.anomalies.anomaly_indices.includes(100), `multivariate spike missed: ${r2.anomalies.anomaly_indices}`);
  });

  test('coordinated_analysis: a part that fails gives partial true and an error naming the agent', async () => {
    const r = await callOk(client, 'coordinated_analysis', {
      data: spiky, forecasting_model: 'co_no_such_model', anomaly_model: 'theta', steps_ahead: 5, threshold: 0.99,
    });
    assert.equal(r.partial, true);
    assert.equal(r.forecast, undefined);
    assert.deepEqual(r.anomalies.anomaly_indices, SPIKES);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].agent, 'forecasting');
    assert.match(r.errors[0].message, /co_no_such_model/);
  });

  test('coordinated_analysis as ensemble_forecast', async () => {
    const r = await callOk(client, 'coordinated_analysis', {
      analysis_type: 'ensemble_forecast', data: clean, models: ['theta', 'naive'], steps_ahead: 4,
    });
    assert.equal(r.analysis_type, 'ensemble_forecast');
    assert.equal(r.predictions.length, 4);
    assert.equal(r.members.length, 2);
  });

  test('ensemble_forecast: median, mean and weighted_average of the members', async () => {
    const models = ['theta', 'ets', 'naive'];
    for (const method of ['median', 'mean', 'weighted_average']) {
      const r = await callOk(client, 'ensemble_forecast', { models, data: clean, steps_ahead: 6, ensemble_method: method });
      assert.equal(r.ensemble_method, method);
      assert.equal(r.predictions.length, 6);
      assert.equal(r.partial, false);
      assert.deepEqual(r.members.map((m) => m.model), models);
      for (const m of r.members) assert.equal(m.predictions?.length, 6, `${m.model}: ${m.error}`);
      const w = method === 'weighted_average' ? r.members.map((m) => m.weight) : null;
      if (w) assert.ok(close(w.reduce((a, b) => a + b, 0), 1), `weights ${w}`);
      for (let h = 0; h < 6; h++) {
        const xs = r.members.map((m) => m.predictions[h][0]);
        const want = method === 'median' ? median(xs)
          : method === 'mean' ? xs.reduce((a, b) => a + b, 0) / xs.length
            : xs.reduce((a, x, i) => a + w[i] * x, 0);
        assert.ok(close(r.predictions[h][0], want), `${method} step ${h}: ${r.predictions[h][0]} vs ${want}`);
      }
    }
  });

  test('ensemble_forecast: a member that fails is reported, the rest combined', async () => {
    const r = await callOk(client, 'ensemble_forecast', { models: ['theta', 'co_no_such_model'], data: clean, steps_ahead: 3 });
    assert.equal(r.partial, true);
    assert.equal(r.predictions.length, 3);
    assert.match(r.members[1].error, /co_no_such_model/);
  });

  test('anomaly_aware_forecast replaces the spikes by expected values', async () => {
    const r = await callOk(client, 'anomaly_aware_forecast', {
      data: spiky, anomaly_model: 'theta', forecasting_model: 'theta', steps_ahead: 8, threshold: 0.99,
    });
    assert.equal(r.n_replaced, SPIKES.length);
    assert.deepEqual(r.replaced_indices, SPIKES);
    assert.equal(r.forecast.predictions.length, 8);
    assert.equal(r.forecast_without_cleaning.predictions.length, 8);
    assert.ok(r.forecast_change.max_abs_change >= r.forecast_change.mean_abs_change);
    assert.ok(r.forecast_change.max_abs_change > 0, 'cleaning the spikes changes the forecast');
  });

  test('send_agent_message: a skill call and a text message', async () => {
    const s = await callOk(client, 'send_agent_message', { agent: 'forecasting', skill: 'list_forecasting_models', arguments: {} });
    assert.equal(s.status, 'delivered');
    assert.equal(s.agent, 'forecasting');
    assert.ok(s.reply.models.some((m) => m.model_name === 'co_theta'), JSON.stringify(s.reply).slice(0, 300));
    const t = await callOk(client, 'send_agent_message', { agent: 'anomaly', text: 'what can you do?' });
    assert.match(JSON.stringify(t.reply), /detect_anomalies/);
    await callToolError(client, 'send_agent_message', { agent: 'anomaly', skill: 'no_such_skill', arguments: {} }, /no_such_skill/);
  });

  test('get_agent_messages and get_analysis_history return what was stored', async () => {
    const m = await callOk(client, 'get_agent_messages', { limit: 50 });
    assert.ok(m.count >= 2 && m.items.length === m.count);
    assert.ok(m.items.every((i) => i.kind === 'agent_message'));
    assert.ok(m.items.some((i) => i.request?.skill === 'list_forecasting_models'));
    const h = await callOk(client, 'get_analysis_history', { kind: 'coordinated', limit: 50 });
    assert.ok(h.count >= 1);
    assert.ok(h.items.every((i) => i.kind === 'coordinated'));
    assert.ok(h.items.some((i) => i.result?.analysis_type === 'forecast_and_detect' && i.result?.partial === false));
    for (const kind of ['ensemble', 'anomaly_aware_forecast']) {
      const k = await callOk(client, 'get_analysis_history', { kind });
      assert.ok(k.count >= 1, `no ${kind} in the history`);
    }
    const one = await callOk(client, 'get_analysis_history', { limit: 1 });
    assert.equal(one.count, 1);
  });

  describe('bad arguments -> isError naming the field', () => {
    test('missing data', () => callToolError(client, 'coordinated_analysis', { steps_ahead: 3 }, /\bdata\b/));
    test('analysis_type not in the enum', () => callToolError(client, 'coordinated_analysis', { data: clean, analysis_type: 'bogus' }, /analysis_type/));
    test('steps_ahead of the wrong type', () => callToolError(client, 'coordinated_analysis', { data: clean, steps_ahead: 'many' }, /steps_ahead/));
    test('empty models', () => callToolError(client, 'ensemble_forecast', { models: [], data: clean }, /models/));
    test('ensemble_method not in the enum', () => callToolError(client, 'ensemble_forecast', { models: ['naive'], data: clean, ensemble_method: 'vote' }, /ensemble_method/));
    test('unknown agent', () => callToolError(client, 'send_agent_message', { agent: 'weather' }, /agent/));
    test('unknown argument', () => callToolError(client, 'list_agents', { verbose: true }, /verbose/));
    test('limit out of range', () => callToolError(client, 'get_agent_messages', { limit: 0 }, /limit/));
    test('anomaly_aware_forecast with an unknown detector', () => callToolError(client, 'anomaly_aware_forecast',
      { data: spiky, anomaly_model: 'co_no_such_detector' }, /co_no_such_detector/));
  });
});
