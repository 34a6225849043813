// tsa-anomaly over MCP with the official SDK client: every tool, detectors
// finding injected anomalies, bad arguments, progress and cancellation.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { assertProgress, callOk, callToolError, cancelTraining, mcpConnect, REQUIRED_TOOLS, trainWithProgress } from './lib.mjs';
import { labelsFor, seasonalSeries, SPIKES } from './fixtures.mjs';

// Injected anomalies found within one row.
const hits = (truth, found) => truth.filter((i) => found.some((j) => Math.abs(j - i) <= 1));

describe('MCP tsa-anomaly', () => {
  let client;
  let gen;   // generate_sample_data with 5 anomalies, one feature
  let gen2;  // two features
  const spiky = seasonalSeries({ n: 240, spikes: SPIKES });
  before(async () => {
    client = await mcpConnect('anomaly');
    gen = await callOk(client, 'generate_sample_data', { n_samples: 400, anomalies: 5, seed: 3 });
    gen2 = await callOk(client, 'generate_sample_data', { n_samples: 400, n_features: 2, anomalies: 5, seed: 3 });
    await callOk(client, 'train_anomaly_model', { model_type: 'theta', model_name: 'an_theta', data: gen.data, labels: gen.labels, overwrite: true });
  });
  after(async () => { await client?.close(); });

  test('tools/list has every required tool with schemas', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    for (const n of REQUIRED_TOOLS.anomaly) assert.ok(names.includes(n), `missing tool ${n}; listed: ${names.join(', ')}`);
    for (const t of tools) {
      assert.equal(t.inputSchema.type, 'object', t.name);
      assert.equal(t.outputSchema?.type, 'object', t.name);
    }
    assert.equal(client.getServerVersion().name, 'tsa-anomaly');
  });

  test('train_anomaly_model reports training detection against the labels', async () => {
    const r = await callOk(client, 'train_anomaly_model', {
      model_type: 'theta', model_name: 'an_theta2', data: gen.data, labels: gen.labels, overwrite: true,
    });
    assert.equal(r.status, 'trained');
    assert.equal(r.model_type, 'theta');
    const td = r.metrics.training_detection;
    assert.ok(td, JSON.stringify(r.metrics));
    assert.ok(td.recall >= 0.8, `training recall ${td.recall}`);
  });

  test('detect_anomalies (stored theta) finds the injected anomalies of generate_sample_data', async () => {
    const r = await callOk(client, 'detect_anomalies', { model_name: 'an_theta', data: gen.data, threshold: 0.99 });
    assert.equal(r.model_name, 'an_theta');
    assert.equal(r.calibrated_scores.length, 400);
    assert.equal(r.is_anomaly.length, 400);
    assert.ok(r.calibrated_scores.every((s) => s >= 0 && s <= 1));
    assert.equal(r.summary.n_points, 400);
    assert.equal(r.summary.n_anomalies, r.anomaly_indices.length);
    const found = hits(gen.anomaly_indices, r.anomaly_indices);
    assert.deepEqual(found, gen.anomaly_indices, `injected ${gen.anomaly_indices}, flagged ${r.anomaly_indices}`);
    assert.ok(r.anomaly_indices.length <= 2 * gen.anomaly_indices.length, `too many flags: ${r.anomaly_indices}`);
    for (const i of r.anomaly_indices) assert.equal(r.is_anomaly[i], true);
    // Labels given: the evaluation block agrees.
    const e = await callOk(client, 'detect_anomalies', { model_name: 'an_theta', data: gen.data, threshold: 0.99, labels: gen.labels });
    assert.equal(e.evaluation.recall, 1);
  });

  test('detect_anomalies with a VAR fitted on two features finds the injected rows', async () => {
    const r = await callOk(client, 'detect_anomalies', { model_type: 'multivariate', data: gen2.data, threshold: 0.99 });
    assert.ok(hits(gen2.anomaly_indices, r.anomaly_indices).length >= 4, `injected ${gen2.anomaly_indices}, flagged ${r.anomaly_indices}`);
    assert.equal(r.anomalies[0].value.length, 2);
  });

  test('a higher threshold flags no more points', async () => {
    const lo = await callOk(client, 'detect_anomalies', { model_name: 'an_theta', data: gen.data, threshold: 0.9 });
    const hi = await callOk(client, 'detect_anomalies', { model_name: 'an_theta', data: gen.data, threshold: 0.999 });
    assert.ok(hi.summary.n_anomalies <= lo.summary.n_anomalies);
    for (const i of hi.anomaly_indices) assert.ok(lo.anomaly_indices.includes(i));
  });

  test('evaluate_anomaly_model: precision, recall and F1 against labels', async () => {
    const r = await callOk(client, 'evaluate_anomaly_model', { model_name: 'an_theta', data: gen.data, labels: gen.labels, threshold: 0.99 });
    assert.ok(r.recall >= 0.8, `recall ${r.recall}`);
    assert.ok(r.precision >= 0.5, `precision ${r.precision}`);
    const f1 = (2 * r.precision * r.recall) / (r.precision + r.recall);
    assert.ok(Math.abs(r.f1 - f1) < 1e-9, `f1 ${r.f1} vs ${f1}`);
    assert.ok(r.best.f1 >= r.f1 - 1e-12, 'the best threshold is at least as good');
    assert.ok(r.best_threshold > 0 && r.best_threshold < 1);
    // A model type evaluated on the fly.
    const h = await callOk(client, 'evaluate_anomaly_model', { model_type: 'multivariate', data: gen2.data, labels: gen2.labels });
    assert.equal(h.model_type, 'multivariate');
  });

  test('select_best_anomaly_model names a type that exists and can be trained', async () => {
    for (const args of [{ data: gen.data, labels: gen.labels }, { data: spiky }]) {
      const r = await callOk(client, 'select_best_anomaly_model', args);
      const ok = r.candidates.filter((c) => !c.error);
      assert.ok(ok.some((c) => c.model_type === r.best_model_type), `${r.best_model_type} not among ${JSON.stringify(r.candidates)}`);
      const best = ok.find((c) => c.model_type === r.best_model_type);
      for (const c of ok) assert.ok(best.best_f1 >= c.best_f1, `${c.model_type} has a higher F1`);
      assert.ok(best.best_f1 > 0.5, JSON.stringify(best));
      const t = await callOk(client, 'train_anomaly_model', {
        model_type: r.best_model_type, model_name: 'an_best', data: args.data, overwrite: true,
      });
      assert.equal(t.model_type, r.best_model_type);
    }
  });

  test('explain_anomalies gives the expected value, interval and residual of each spike', async () => {
    const r = await callOk(client, 'explain_anomalies', { model_type: 'theta', data: spiky, threshold: 0.99 });
    assert.deepEqual(r.explanations.map((x) => x.index), SPIKES);
    assert.equal(r.n_anomalies, SPIKES.length);
    const clean = seasonalSeries({ n: 240 });
    for (const x of r.explanations) {
      const [v] = x.value;
      const [e] = x.expected;
      assert.equal(v, spiky[x.index][0]);
      assert.ok(x.expected_lower[0] <= e && e <= x.expected_upper[0], JSON.stringify(x));
      assert.ok(v > x.expected_upper[0], `the spike at ${x.index} lies above its interval`);
      // The expectation is the series without the spike (8 lower), within the noise.
      assert.ok(Math.abs(e - clean[x.index][0]) < 1.5, `expected ${e}, the clean value is ${clean[x.index][0]}`);
      assert.ok(Math.abs(x.residual[0] - (v - e)) < 1e-9);
      assert.equal(x.most_deviant_feature, 0);
      assert.match(x.explanation, /above/);
    }
    // Prophet on values without timestamps: the expectation at each spike is
    // the fitted value at that point (not the step after training).
    const p = await callOk(client, 'explain_anomalies', { model_type: 'prophet', data: spiky, threshold: 0.99 });
    for (const t of SPIKES) {
      const x = p.explanations.find((y) => y.index === t);
      assert.ok(x, `prophet missed the spike at ${t}: ${p.explanations.map((y) => y.index)}`);
      assert.ok(Math.abs(x.expected[0] - clean[t][0]) < 1.5, `prophet expected ${x.expected[0]} at ${t}, clean ${clean[t][0]}`);
      assert.ok(x.expected_lower[0] <= x.expected[0] && x.expected[0] <= x.expected_upper[0], JSON.stringify(x));
      assert.ok(Math.abs(x.residual[0] - (x.value[0] - x.expected[0])) < 1e-9);
    }
    // With the stored model too.
    const s = await callOk(client, 'explain_anomalies', { model_name: 'an_theta', data: gen.data, threshold: 0.99 });
    assert.ok(s.explanations.length >= 1 && s.explanations.every((x) => Array.isArray(x.expected) || typeof x.explanation === 'string'));
  });

  test('explain_anomalies names the prophet component that deviates: trend, weekly, holidays or noise', async () => {
    // Two years of days: trend + weekly + yearly + holidays (+10) + N(0, 0.5)
    // noise (a fixed LCG, Box-Muller), a prophet model trained on the clean
    // series, then each anomaly injected at known rows.
    const n = 730;
    const day = (i) => new Date(Date.UTC(2020, 0, 1 + i)).toISOString().slice(0, 10);
    const ts = Array.from({ length: n }, (_, i) => day(i));
    let seed = 12345;
    const unif = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) + 0.5) / 2147483648;
    const noise = Array.from({ length: n }, () => 0.5 * Math.sqrt(-2 * Math.log(unif())) * Math.cos(2 * Math.PI * unif()));
    const weekly = (i) => 6 * Math.sin((2 * Math.PI * i) / 7) - 3 * Math.cos((4 * Math.PI * i) / 7);
    const HOL = ['2020-03-15', '2020-06-15', '2020-09-15', '2020-12-15', '2021-03-15', '2021-06-15', '2021-09-15'];
    const clean = ts.map((t, i) => 100 + 0.02 * i + weekly(i) + 8 * Math.sin((2 * Math.PI * i) / 365.25) + noise[i] + (HOL.includes(t) ? 10 : 0));
    await callOk(client, 'train_anomaly_model', {
      model_type: 'prophet', model_name: 'an_prophet', data: { values: clean, timestamps: ts }, overwrite: true,
      uncertainty_samples: 0, yearly_seasonality: 'true', holidays: HOL.join(','),
    });
    const explain = (values) => callOk(client, 'explain_anomalies', { model_name: 'an_prophet', data: { values, timestamps: ts }, threshold: 0.999 });
    const at = (r, i) => r.explanations.find((x) => x.index === i);
    const share = (r, comp, from) => {
      const xs = r.explanations.filter((x) => x.index >= from);
      return xs.filter((x) => x.deviating_component === comp).length / xs.length;
    };

    // A level shift of +8 from row 500: the trend.
    const shift = await explain(clean.map((v, i) => v + (i >= 500 ? 8 : 0)));
    assert.deepEqual(shift.component_names, ['trend', 'yearly', 'weekly', 'holidays']);
    const s0 = at(shift, 500);
    assert.ok(s0, `row 500 not flagged: ${shift.explanations.map((x) => x.index)}`);
    assert.equal(s0.deviating_component, 'trend', JSON.stringify(s0.attribution));
    assert.ok(s0.attribution.level_persistence >= 0.5 && s0.attribution.level_shift_z >= 3, JSON.stringify(s0.attribution));
    assert.ok(share(shift, 'trend', 500) >= 0.9, `trend share ${share(shift, 'trend', 500)}`);
    // The components add up to the fitted value, and the residual is y - fitted.
    const sum = Object.values(s0.components).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - s0.fitted) < 1e-9 * Math.abs(s0.fitted), `${sum} vs ${s0.fitted}`);
    assert.ok(Math.abs(s0.attribution.residual - (s0.value[0] - s0.fitted)) < 1e-9);
    assert.match(s0.explanation, /trend deviates/);

    // The weekly amplitude doubled from row 500: the weekly seasonality.
    const season = await explain(clean.map((v, i) => v + (i >= 500 ? weekly(i) : 0)));
    assert.ok(share(season, 'weekly', 500) >= 0.8, `weekly share ${share(season, 'weekly', 500)}`);
    const w0 = season.explanations.find((x) => x.index >= 500 && x.deviating_component === 'weekly');
    assert.ok(w0.attribution.seasonal_correlation.weekly >= 0.5, JSON.stringify(w0.attribution));
    // residual = slope * weekly: the amplitude is off by about +100%.
    assert.ok(w0.attribution.seasonal_amplitude_change.weekly > 0.5, JSON.stringify(w0.attribution));

    // One spike of +10 at row 500: noise.
    const spike = await explain(clean.map((v, i) => v + (i === 500 ? 10 : 0)));
    const p0 = at(spike, 500);
    assert.ok(p0, `row 500 not flagged: ${spike.explanations.map((x) => x.index)}`);
    assert.equal(p0.deviating_component, 'noise', JSON.stringify(p0.attribution));
    assert.ok(Math.abs(p0.attribution.level_persistence) < 0.5, JSON.stringify(p0.attribution));

    // The holiday of 2021-06-15 (row 531) 15 higher than the others: holidays.
    const hol = await explain(clean.map((v, i) => v + (ts[i] === '2021-06-15' ? 15 : 0)));
    const h0 = at(hol, 531);
    assert.ok(h0, `row 531 not flagged: ${hol.explanations.map((x) => x.index)}`);
    assert.equal(h0.deviating_component, 'holidays', JSON.stringify(h0.attribution));
    assert.equal(h0.attribution.in_holiday_window, true);
    assert.ok(Math.abs(h0.attribution.holiday_effect - 10) < 1.5, JSON.stringify(h0.attribution));
    // Points the model explains no differently carry no attribution for other kinds.
    const theta = await callOk(client, 'explain_anomalies', { model_type: 'theta', data: spiky, threshold: 0.99 });
    assert.ok(theta.explanations.every((x) => x.deviating_component === undefined && x.components === undefined));
  });

  test('load_anomaly_model, list_anomaly_models, get_model, delete_model', async () => {
    const l = await callOk(client, 'load_anomaly_model', { model_name: 'an_theta' });
    assert.equal(l.status, 'loaded');
    assert.equal(l.model_type, 'theta');
    const list = await callOk(client, 'list_anomaly_models', {});
    const names = list.models.map((m) => m.model_name);
    assert.ok(names.includes('an_theta'), names.join(','));
    assert.ok(list.models.every((m) => m.task === 'anomaly'), 'only anomaly models');
    const g = await callOk(client, 'get_model', { model_name: 'an_theta' });
    assert.equal(g.model_type, 'theta');
    assert.equal(g.task, 'anomaly');
    await callOk(client, 'train_anomaly_model', { model_type: 'naive', model_name: 'an_tmp', data: gen.data, overwrite: true });
    const d = await callOk(client, 'delete_model', { model_name: 'an_tmp' });
    assert.equal(d.model_name, 'an_tmp');
    await callToolError(client, 'get_model', { model_name: 'an_tmp' }, /an_tmp/);
    await callToolError(client, 'detect_anomalies', { model_name: 'an_tmp', data: gen.data }, /model_name.*an_tmp/);
  });

  test('progress notifications while training an lstm detector (epochs 30)', async () => {
    const { result, events } = await trainWithProgress(client, 'train_anomaly_model', {
      model_type: 'lstm', model_name: 'an_lstm', data: seasonalSeries({ n: 240 }), epochs: 30, patience: 0,
      hidden_size: 8, sequence_length: 12, overwrite: true,
    });
    assert.equal(result.model_type, 'lstm');
    assertProgress(events, { min: 10, total: 30 });
  });

  test('progress notifications while training a Gaussian HMM (EM iterations)', async () => {
    const { events } = await trainWithProgress(client, 'train_anomaly_model', {
      model_type: 'hmm', model_name: 'an_hmm', data: gen.data, overwrite: true,
    });
    assertProgress(events, { min: 1 });
  });

  test('cancelling a training call stops it and stores nothing', async () => {
    await cancelTraining('anomaly', 'train_anomaly_model', {
      model_type: 'lstm', model_name: 'an_cancelled', data: seasonalSeries({ n: 400 }), epochs: 5000, patience: 0,
      hidden_size: 16, sequence_length: 24,
    });
  });

  describe('bad arguments -> isError naming the field', () => {
    test('threshold above 1', () => callToolError(client, 'detect_anomalies', { model_name: 'an_theta', data: gen.data, threshold: 1.5 }, /threshold/));
    test('threshold of the wrong type', () => callToolError(client, 'detect_anomalies', { model_name: 'an_theta', data: gen.data, threshold: 'high' }, /threshold/));
    test('missing data', () => callToolError(client, 'detect_anomalies', { model_name: 'an_theta' }, /\bdata\b/));
    test('missing labels for evaluation', () => callToolError(client, 'evaluate_anomaly_model', { model_name: 'an_theta', data: gen.data }, /labels/));
    test('labels of the wrong length', () => callToolError(client, 'evaluate_anomaly_model',
      { model_name: 'an_theta', data: gen.data, labels: labelsFor(10, [1]) }, /labels/));
    test('unknown model', () => callToolError(client, 'explain_anomalies', { model_name: 'no_such_detector', data: gen.data }, /no_such_detector/));
    test('unknown model_type', () => callToolError(client, 'train_anomaly_model', { model_type: 'isolation_forest', model_name: 'an_x', data: gen.data }, /model_type/));
    test('a forecasting-only argument type: data as a number', () => callToolError(client, 'train_anomaly_model', { model_type: 'theta', model_name: 'an_x', data: 7 }, /\bdata\b/));
    test('univariate kind on two features', () => callToolError(client, 'train_anomaly_model', { model_type: 'theta', model_name: 'an_x', data: gen2.data }, /\bdata\b.*univariate|univariate/));
  });
});
