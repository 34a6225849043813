// tsa-forecasting over MCP with the official SDK client: every tool, with
// values checked, bad arguments, progress and cancellation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { McpError } from '@modelcontextprotocol/sdk/types.js';

import { assertProgress, callOk, callToolError, cancelTraining, mcpConnect, REQUIRED_TOOLS, trainWithProgress } from './lib.mjs';
import { seasonalSeries } from './fixtures.mjs';

describe('MCP tsa-forecasting', () => {
  let client;
  let uni;   // generate_sample_data, one feature
  let bi;    // two features
  before(async () => {
    client = await mcpConnect('forecasting');
    uni = await callOk(client, 'generate_sample_data', { n_samples: 300, trend: true, seasonality: true, seed: 21 });
    bi = await callOk(client, 'generate_sample_data', { n_samples: 300, n_features: 2, seed: 22 });
    await callOk(client, 'train_forecasting_model', { model_type: 'multivariate', model_name: 'fc_var', data: bi.data, overwrite: true });
  });
  after(async () => { await client?.close(); });

  test('initialize: server info, tools capability, instructions', () => {
    const info = client.getServerVersion();
    assert.equal(info.name, 'tsa-forecasting');
    assert.ok(info.version);
    assert.ok(client.getServerCapabilities()?.tools);
    assert.match(client.getInstructions() ?? '', /train_forecasting_model/);
  });

  test('tools/list has every required tool with schemas', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of REQUIRED_TOOLS.forecasting) assert.ok(names.includes(n), `missing tool ${n}; listed: ${names.join(', ')}`);
    for (const t of tools) {
      assert.ok(t.description?.length > 10, `${t.name}: description`);
      assert.equal(t.inputSchema.type, 'object', `${t.name}: inputSchema.type`);
      assert.equal(t.outputSchema?.type, 'object', `${t.name}: outputSchema.type`);
      assert.equal(typeof t.annotations?.readOnlyHint, 'boolean', `${t.name}: annotations`);
    }
    const train = tools.find((t) => t.name === 'train_forecasting_model');
    assert.deepEqual([...train.inputSchema.required].sort(), ['data', 'model_name', 'model_type']);
    assert.equal(tools.find((t) => t.name === 'predict_forecasting').annotations.readOnlyHint, true);
  });

  test('generate_sample_data: shape, labels and injected anomalies, reproducible by seed', async () => {
    assert.equal(uni.data.length, 300);
    assert.ok(uni.data.every((row) => row.length === 1 && Number.isFinite(row[0])));
    assert.equal(uni.timestamps.length, 300);
    assert.equal(bi.data[0].length, 2);
    const g = await callOk(client, 'generate_sample_data', { n_samples: 200, anomalies: 4, seed: 5 });
    assert.equal(g.anomaly_indices.length, 4);
    assert.equal(g.labels.reduce((a, b) => a + b, 0), 4);
    for (const i of g.anomaly_indices) assert.equal(g.labels[i], 1);
    const again = await callOk(client, 'generate_sample_data', { n_samples: 200, anomalies: 4, seed: 5 });
    assert.deepEqual(again.data, g.data);
    const other = await callOk(client, 'generate_sample_data', { n_samples: 200, anomalies: 4, seed: 6 });
    assert.notDeepEqual(other.data, g.data);
  });

  test('train_forecasting_model stores a fitted VAR with validation metrics', async () => {
    const r = await callOk(client, 'train_forecasting_model', {
      model_type: 'multivariate', model_name: 'fc_var2', data: bi.data, overwrite: true,
    });
    assert.equal(r.status, 'trained');
    assert.equal(r.model_name, 'fc_var2');
    assert.equal(r.model_type, 'multivariate');
    assert.equal(r.n_samples, 300);
    assert.equal(r.n_features, 2);
    assert.ok(r.metrics.validation && r.metrics.validation.holdout > 0, JSON.stringify(r.metrics));
  });

  test('predict_forecasting: steps_ahead rows of n_features, bounds around the mean', async () => {
    const r = await callOk(client, 'predict_forecasting', { model_name: 'fc_var', steps_ahead: 12 });
    assert.equal(r.steps_ahead, 12);
    for (const k of ['predictions', 'lower_bound', 'upper_bound']) {
      assert.equal(r[k].length, 12, k);
      assert.ok(r[k].every((row) => row.length === 2 && row.every(Number.isFinite)), k);
    }
    for (let h = 0; h < 12; h++) {
      for (let j = 0; j < 2; j++) {
        assert.ok(r.lower_bound[h][j] <= r.predictions[h][j] && r.predictions[h][j] <= r.upper_bound[h][j], `step ${h} feature ${j}`);
      }
    }
    // From a given history and with a model fitted on the fly.
    const fromHist = await callOk(client, 'predict_forecasting', { model_name: 'fc_var', data: bi.data.slice(0, 200), steps_ahead: 3 });
    assert.equal(fromHist.predictions.length, 3);
    assert.equal(fromHist.forecast_origin, 'end of the given data');
    const onTheFly = await callOk(client, 'predict_forecasting', { model_type: 'naive', data: uni.data, steps_ahead: 9 });
    assert.equal(onTheFly.predictions.length, 9);
    // naive repeats the last value
    for (const row of onTheFly.predictions) assert.ok(Math.abs(row[0] - uni.data[uni.data.length - 1][0]) < 1e-9);
  });

  test('evaluate_forecasting_model: per_horizon of length horizon, sane overall errors', async () => {
    const r = await callOk(client, 'evaluate_forecasting_model', { model_name: 'fc_var', data: bi.data, horizon: 6, n_origins: 3 });
    assert.equal(r.per_horizon.length, 6);
    r.per_horizon.forEach((p, i) => {
      assert.equal(p.step, i + 1);
      assert.ok(p.mae >= 0 && p.rmse >= p.mae - 1e-12, JSON.stringify(p));
      assert.ok(p.coverage_95 >= 0 && p.coverage_95 <= 1);
    });
    assert.equal(r.origins.length, 3);
    assert.ok(r.overall.mae > 0 && Number.isFinite(r.overall.mase));
    const t = await callOk(client, 'evaluate_forecasting_model', { model_type: 'theta', data: uni.data, horizon: 4, n_origins: 2 });
    assert.equal(t.per_horizon.length, 4);
    assert.equal(t.model_type, 'theta');
  });

  test('select_best_forecasting_model names a type that exists and can forecast', async () => {
    const r = await callOk(client, 'select_best_forecasting_model', { data: uni.data, horizon: 6 });
    const ok = r.candidates.filter((c) => !c.error).map((c) => c.model_type);
    assert.ok(ok.includes(r.best_model_type), `${r.best_model_type} not among ${JSON.stringify(r.candidates)}`);
    const best = r.candidates.find((c) => c.model_type === r.best_model_type);
    for (const c of r.candidates) if (!c.error) assert.ok(best.mase <= c.mase, `${c.model_type} has lower MASE than the chosen one`);
    assert.match(r.reason, new RegExp(r.best_model_type));
    const p = await callOk(client, 'predict_forecasting', { model_type: r.best_model_type, data: uni.data, steps_ahead: 4 });
    assert.equal(p.predictions.length, 4);
  });

  test('load_forecasting_model, list_forecasting_models, get_model', async () => {
    const l = await callOk(client, 'load_forecasting_model', { model_name: 'fc_var' });
    assert.equal(l.status, 'loaded');
    assert.equal(l.model_type, 'multivariate');
    const all = await callOk(client, 'list_forecasting_models', {});
    assert.ok(all.models.some((m) => m.model_name === 'fc_var' || m.name === 'fc_var'), JSON.stringify(all.models).slice(0, 300));
    const lstms = await callOk(client, 'list_forecasting_models', { model_type: 'lstm' });
    assert.ok(!lstms.models.some((m) => (m.model_name ?? m.name) === 'fc_var'), 'model_type filter');
    const g = await callOk(client, 'get_model', { model_name: 'fc_var' });
    assert.equal(g.model_name, 'fc_var');
    assert.equal(g.model_type, 'multivariate');
  });

  test('delete_model removes a model; later calls say it is gone', async () => {
    await callOk(client, 'train_forecasting_model', { model_type: 'naive', model_name: 'fc_tmp', data: uni.data, overwrite: true });
    const d = await callOk(client, 'delete_model', { model_name: 'fc_tmp' });
    assert.equal(d.model_name, 'fc_tmp');
    assert.ok(d.status);
    await callToolError(client, 'get_model', { model_name: 'fc_tmp' }, /fc_tmp/);
    await callToolError(client, 'delete_model', { model_name: 'fc_tmp' }, /fc_tmp/);
    await callToolError(client, 'predict_forecasting', { model_name: 'fc_tmp', steps_ahead: 2 }, /model_name.*fc_tmp|fc_tmp/);
  });

  test('progress notifications while training lstm (epochs 30)', async () => {
    const { result, events } = await trainWithProgress(client, 'train_forecasting_model', {
      model_type: 'lstm', model_name: 'fc_lstm', data: seasonalSeries({ n: 240 }), epochs: 30, patience: 0,
      hidden_size: 8, sequence_length: 12, overwrite: true,
    });
    assert.equal(result.model_type, 'lstm');
    assertProgress(events, { min: 10, total: 30 });
    assert.equal(events[events.length - 1].progress, 30, 'patience 0 runs every epoch');
    assert.match(events[0].message ?? '', /epoch/);
  });

  test('cancelling a training call stops it and stores nothing', async () => {
    const { events } = await cancelTraining('forecasting', 'train_forecasting_model', {
      model_type: 'lstm', model_name: 'fc_cancelled', data: seasonalSeries({ n: 400 }), epochs: 5000, patience: 0,
      hidden_size: 16, sequence_length: 24, validate: false,
    });
    assert.ok(events[0].total === 5000);
  });

  test('cancelling a call without a progressToken (nothing streamed yet) stops it too', async () => {
    await cancelTraining('forecasting', 'train_forecasting_model', {
      model_type: 'lstm', model_name: 'fc_cancelled_json', data: seasonalSeries({ n: 400 }), epochs: 5000, patience: 0,
      hidden_size: 16, sequence_length: 24, validate: false,
    }, { afterMs: 400 });
  });

  describe('bad arguments -> isError naming the field', () => {
    test('wrong type: steps_ahead "ten"', () => callToolError(client, 'predict_forecasting', { model_name: 'fc_var', steps_ahead: 'ten' }, /steps_ahead/));
    test('out of range: steps_ahead 0', () => callToolError(client, 'predict_forecasting', { model_name: 'fc_var', steps_ahead: 0 }, /steps_ahead/));
    test('missing required: data', () => callToolError(client, 'train_forecasting_model', { model_type: 'ets', model_name: 'fc_x' }, /\bdata\b/));
    test('missing required: model_type', () => callToolError(client, 'train_forecasting_model', { model_name: 'fc_x', data: uni.data }, /model_type/));
    test('unknown model_type lists the available ones', () => callToolError(client, 'train_forecasting_model',
      { model_type: 'no_such_kind', model_name: 'fc_x', data: uni.data }, /model_type.*no_such_kind.*multivariate/s));
    test('unknown model name', () => callToolError(client, 'predict_forecasting', { model_name: 'no_such_model', steps_ahead: 3 }, /model_name.*no_such_model/));
    test('data of the wrong type', () => callToolError(client, 'predict_forecasting', { model_type: 'naive', data: 42 }, /\bdata\b/));
    test('data with a non-number', () => callToolError(client, 'predict_forecasting', { model_type: 'naive', data: [[1], ['x'], [3]] }, /\bdata\b/));
    test('existing name without overwrite', () => callToolError(client, 'train_forecasting_model',
      { model_type: 'naive', model_name: 'fc_var', data: uni.data }, /model_name.*overwrite|overwrite/));
    test('unknown argument of a strict tool', () => callToolError(client, 'generate_sample_data', { n_samples: 10, colour: 'red' }, /colour/));
    test('too few rows for the backtest', () => callToolError(client, 'evaluate_forecasting_model',
      { model_type: 'naive', data: uni.data.slice(0, 20), horizon: 10, n_origins: 5 }, /\bdata\b/));
    test('missing model_name for get_model', () => callToolError(client, 'get_model', {}, /model_name/));
    test('unknown tool -> JSON-RPC -32602', async () => {
      await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }),
        (e) => e instanceof McpError && e.code === -32602 && /no_such_tool/.test(e.message));
    });
  });
});
