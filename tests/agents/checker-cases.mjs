#!/usr/bin/env node
// Inputs for the shared checkers (/work/shared/tools/agent-check):
//
//   node checker-cases.mjs AGENT mcp   -> cases.json for mcp-check.mjs (stdout)
//   node checker-cases.mjs AGENT a2a   -> a2a-check.mjs arguments, one per line
//
// AGENT is forecasting, anomaly or coordinator. The cases call real tools
// on a known series and check values that could be wrong; the training
// cases expect progress notifications.
import { seasonalSeries, SPIKES, labelsFor } from './fixtures.mjs';

const [agent, what] = process.argv.slice(2);
const clean = seasonalSeries({ n: 240 });
const spiky = seasonalSeries({ n: 240, spikes: SPIKES });
const labels = labelsFor(240, SPIKES);
// Names no other test uses, so the checkers can run next to them.
const P = 'chk_';

const cases = {
  forecasting: [
    { name: 'generate_sample_data gives n_samples rows and labels', tool: 'generate_sample_data',
      arguments: { n_samples: 50, anomalies: 2, seed: 1 },
      check: { '$.structuredContent.data': { length: 50 }, '$.structuredContent.labels': { length: 50 },
        '$.structuredContent.anomaly_indices': { length: 2 } } },
    { name: 'train lstm (epochs 20) reports progress', tool: 'train_forecasting_model',
      arguments: { model_type: 'lstm', model_name: `${P}lstm`, data: clean, epochs: 20, patience: 0,
        hidden_size: 8, sequence_length: 12, overwrite: true },
      expectProgress: true, timeoutMs: 120000,
      check: { '$.structuredContent.status': 'trained', '$.structuredContent.model_type': 'lstm' } },
    { name: 'predict with the stored lstm: 7 steps', tool: 'predict_forecasting',
      arguments: { model_name: `${P}lstm`, steps_ahead: 7 },
      check: { '$.structuredContent.predictions': { length: 7 }, '$.structuredContent.lower_bound': { length: 7 },
        '$.structuredContent.steps_ahead': 7 } },
    { name: 'predict with theta fitted on the data: 24 steps', tool: 'predict_forecasting',
      arguments: { model_type: 'theta', data: clean, steps_ahead: 24 },
      check: { '$.structuredContent.predictions': { length: 24 }, '$.structuredContent.model_type': 'theta' } },
    { name: 'backtest ets: per_horizon has horizon entries', tool: 'evaluate_forecasting_model',
      arguments: { model_type: 'ets', data: clean, horizon: 6, n_origins: 3 },
      check: { '$.structuredContent.per_horizon': { length: 6 }, '$.structuredContent.per_horizon[5].step': 6,
        '$.structuredContent.overall.mae': { gt: 0, lt: 2 } } },
    { name: 'list_forecasting_models lists the trained model', tool: 'list_forecasting_models', arguments: {},
      check: { '$.structuredContent.models': { minLength: 1 } } },
    { name: 'get_model describes the lstm', tool: 'get_model', arguments: { model_name: `${P}lstm` },
      check: { '$.structuredContent.model_type': 'lstm', '$.structuredContent.model_name': `${P}lstm` } },
    { name: 'predict with an unknown model -> isError naming it', tool: 'predict_forecasting',
      arguments: { model_name: `${P}no_such_model`, steps_ahead: 3 }, expect: 'error', errorKind: 'tool',
      errorMatch: `${P}no_such_model` },
    { name: 'train without data -> isError naming data', tool: 'train_forecasting_model',
      arguments: { model_type: 'ets', model_name: `${P}x` }, expect: 'error', errorKind: 'tool', errorMatch: '\\bdata\\b' },
    { name: 'steps_ahead of the wrong type -> isError naming steps_ahead', tool: 'predict_forecasting',
      arguments: { model_name: `${P}lstm`, steps_ahead: 'ten' }, expect: 'error', errorKind: 'tool', errorMatch: 'steps_ahead' },
    { name: 'delete_model removes the lstm', tool: 'delete_model', arguments: { model_name: `${P}lstm` } },
    { name: 'get_model after delete -> isError', tool: 'get_model', arguments: { model_name: `${P}lstm` },
      expect: 'error', errorKind: 'tool', errorMatch: 'model_name' },
  ],
  anomaly: [
    { name: 'train an lstm detector (epochs 15) reports progress', tool: 'train_anomaly_model',
      arguments: { model_type: 'lstm', model_name: `${P}det_lstm`, data: clean, epochs: 15, patience: 0,
        hidden_size: 8, sequence_length: 12, overwrite: true },
      expectProgress: true, timeoutMs: 120000,
      check: { '$.structuredContent.status': 'trained', '$.structuredContent.model_type': 'lstm' } },
    { name: 'train a theta detector on the series with spikes', tool: 'train_anomaly_model',
      arguments: { model_type: 'theta', model_name: `${P}det_theta`, data: spiky, labels, overwrite: true },
      check: { '$.structuredContent.model_type': 'theta', '$.structuredContent.metrics.training_detection.n_flagged': { gte: 3 } } },
    { name: 'detect finds the three injected spikes', tool: 'detect_anomalies',
      arguments: { model_name: `${P}det_theta`, data: spiky, threshold: 0.99 },
      check: { '$.structuredContent.anomaly_indices[0]': SPIKES[0], '$.structuredContent.anomaly_indices': { contains: SPIKES[1] },
        '$.structuredContent.calibrated_scores': { length: 240 },
        '$.structuredContent.summary.n_anomalies': { gte: 3, lte: 6 } } },
    { name: 'detect with the lstm scores every row', tool: 'detect_anomalies',
      arguments: { model_name: `${P}det_lstm`, data: spiky },
      check: { '$.structuredContent.calibrated_scores': { length: 240 } } },
    { name: 'evaluate theta against labels: recall 1', tool: 'evaluate_anomaly_model',
      arguments: { model_type: 'theta', data: spiky, labels, threshold: 0.99 },
      check: { '$.structuredContent.recall': 1, '$.structuredContent.precision': { gte: 0.5 } } },
    { name: 'explain gives the expected value at the first spike', tool: 'explain_anomalies',
      arguments: { model_name: `${P}det_theta`, data: spiky, threshold: 0.99 },
      check: { '$.structuredContent.explanations[0].index': SPIKES[0],
        '$.structuredContent.explanations[0].expected[0]': { approx: 11.2, tol: 1.0 } } },
    { name: 'list_anomaly_models lists the detectors', tool: 'list_anomaly_models', arguments: {},
      check: { '$.structuredContent.models': { minLength: 2 } } },
    { name: 'threshold out of range -> isError naming threshold', tool: 'detect_anomalies',
      arguments: { model_name: `${P}det_theta`, data: spiky, threshold: 3 }, expect: 'error', errorKind: 'tool',
      errorMatch: 'threshold' },
    { name: 'unknown model_type -> isError naming model_type', tool: 'train_anomaly_model',
      arguments: { model_type: 'no_such_kind', model_name: `${P}y`, data: clean }, expect: 'error', errorKind: 'tool',
      errorMatch: 'model_type' },
    { name: 'delete the lstm detector', tool: 'delete_model', arguments: { model_name: `${P}det_lstm` } },
    { name: 'delete the theta detector', tool: 'delete_model', arguments: { model_name: `${P}det_theta` } },
  ],
  coordinator: [
    { name: 'list_agents: both agents reachable', tool: 'list_agents', arguments: {},
      check: { '$.structuredContent.agents': { length: 2 }, '$.structuredContent.agents[0].reachable': true,
        '$.structuredContent.agents[1].reachable': true } },
    { name: 'coordinated_analysis: both parts, not partial', tool: 'coordinated_analysis',
      arguments: { data: spiky, forecasting_model: 'theta', anomaly_model: 'theta', steps_ahead: 12, threshold: 0.99 },
      timeoutMs: 120000,
      check: { '$.structuredContent.partial': false, '$.structuredContent.errors': { length: 0 },
        '$.structuredContent.forecast.predictions': { length: 12 },
        '$.structuredContent.anomalies.anomaly_indices': { contains: SPIKES[1] } } },
    { name: 'ensemble_forecast of three members', tool: 'ensemble_forecast',
      arguments: { models: ['theta', 'ets', 'naive'], data: clean, steps_ahead: 5, ensemble_method: 'median' },
      timeoutMs: 120000,
      check: { '$.structuredContent.predictions': { length: 5 }, '$.structuredContent.members': { length: 3 } } },
    { name: 'system_status: store reachable', tool: 'system_status', arguments: {},
      check: { '$.structuredContent.store.reachable': true, '$.structuredContent.model_types': { contains: 'lstm' } } },
    { name: 'analysis_type not in the enum -> isError naming it', tool: 'coordinated_analysis',
      arguments: { data: clean, analysis_type: 'bogus' }, expect: 'error', errorKind: 'tool', errorMatch: 'analysis_type' },
    { name: 'send_agent_message to an unknown agent -> isError naming agent', tool: 'send_agent_message',
      arguments: { agent: 'weather' }, expect: 'error', errorKind: 'tool', errorMatch: 'agent' },
  ],
};

const a2a = {
  forecasting: { data: { skill: 'predict_forecasting', arguments: { model_type: 'naive', data: clean, steps_ahead: 3 } },
    expect: { steps_ahead: 3, model_type: 'naive' } },
  anomaly: { data: { skill: 'detect_anomalies', arguments: { model_type: 'theta', data: spiky, threshold: 0.99 } },
    expect: { summary: { n_points: 240, n_anomalies: 3 } } },
  coordinator: { data: { skill: 'coordinated_analysis', arguments: { data: spiky, forecasting_model: 'naive',
    anomaly_model: 'theta', steps_ahead: 4, threshold: 0.99 } },
    expect: { partial: false, analysis_type: 'forecast_and_detect' } },
};

if (!cases[agent] || !['mcp', 'a2a'].includes(what)) {
  console.error('usage: node checker-cases.mjs forecasting|anomaly|coordinator mcp|a2a');
  process.exit(2);
}
if (what === 'mcp') {
  process.stdout.write(`${JSON.stringify(cases[agent], null, 1)}\n`);
} else {
  process.stdout.write(`--data=${JSON.stringify(a2a[agent].data)}\n--expect-data=${JSON.stringify(a2a[agent].expect)}\n`);
}
