// The agents over A2A with the official @a2a-js/sdk client: cards, every
// skill in v1.0, skills in v0.3 through the SDK's compatibility transport,
// task errors and cancellation, and the coordinator with the anomaly agent
// down.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { CancelTaskRequest, GetTaskRequest, SendMessageRequest, SubscribeToTaskRequest } from '@a2a-js/sdk';

import {
  agent, a2aClient, artifactData, callOk, callToolError, cpuLoad, mcpConnect, REQUIRED_TOOLS, restartAgent, runSkill,
  skillOk, sleep, stateOf, statusText, stopAgent,
} from './lib.mjs';
import { labelsFor, seasonalSeries, SPIKES } from './fixtures.mjs';

const clean = seasonalSeries({ n: 240 });
const spiky = seasonalSeries({ n: 240, spikes: SPIKES });
const labels = labelsFor(240, SPIKES);

// Every skill of each agent with arguments and checks of its result, in an
// order where each step can rely on the previous ones.
const SKILLS = {
  forecasting: [
    ['generate_sample_data', { n_samples: 50, anomalies: 2, seed: 4 }, (d) => {
      assert.equal(d.data.length, 50);
      assert.equal(d.anomaly_indices.length, 2);
    }],
    ['train_forecasting_model', { model_type: 'theta', model_name: 'a2a_theta', data: clean, overwrite: true }, (d) => {
      assert.equal(d.status, 'trained');
      assert.equal(d.model_type, 'theta');
    }],
    ['predict_forecasting', { model_name: 'a2a_theta', steps_ahead: 5 }, (d) => {
      assert.equal(d.predictions.length, 5);
      assert.equal(d.steps_ahead, 5);
    }],
    ['evaluate_forecasting_model', { model_type: 'naive', data: clean, horizon: 3, n_origins: 2 }, (d) => {
      assert.equal(d.per_horizon.length, 3);
    }],
    ['select_best_forecasting_model', { data: clean, horizon: 4 }, (d) => {
      assert.ok(d.candidates.some((c) => c.model_type === d.best_model_type && !c.error));
    }],
    ['load_forecasting_model', { model_name: 'a2a_theta' }, (d) => assert.equal(d.status, 'loaded')],
    ['list_forecasting_models', {}, (d) => assert.ok(d.models.some((m) => m.model_name === 'a2a_theta'))],
    ['get_model', { model_name: 'a2a_theta' }, (d) => assert.equal(d.model_type, 'theta')],
    ['delete_model', { model_name: 'a2a_theta' }, (d) => assert.equal(d.model_name, 'a2a_theta')],
  ],
  anomaly: [
    ['generate_sample_data', { n_samples: 30, seed: 9 }, (d) => assert.equal(d.data.length, 30)],
    ['train_anomaly_model', { model_type: 'theta', model_name: 'a2a_det', data: spiky, overwrite: true }, (d) => {
      assert.equal(d.status, 'trained');
    }],
    ['detect_anomalies', { model_name: 'a2a_det', data: spiky, threshold: 0.99 }, (d) => {
      assert.deepEqual(d.anomaly_indices, SPIKES);
    }],
    ['evaluate_anomaly_model', { model_name: 'a2a_det', data: spiky, labels, threshold: 0.99 }, (d) => {
      assert.equal(d.recall, 1);
      assert.equal(d.precision, 1);
    }],
    ['select_best_anomaly_model', { data: spiky, labels }, (d) => {
      assert.ok(d.candidates.some((c) => c.model_type === d.best_model_type && !c.error));
    }],
    ['load_anomaly_model', { model_name: 'a2a_det' }, (d) => assert.equal(d.status, 'loaded')],
    ['list_anomaly_models', {}, (d) => assert.ok(d.models.some((m) => m.model_name === 'a2a_det'))],
    ['explain_anomalies', { model_name: 'a2a_det', data: spiky, threshold: 0.99 }, (d) => {
      assert.deepEqual(d.explanations.map((x) => x.index), SPIKES);
      for (const x of d.explanations) assert.ok(x.expected[0] < x.value[0] - 5, JSON.stringify(x));
    }],
    ['explain_anomalies', { model_type: 'prophet', data: spiky, threshold: 0.99, params: { custom_period: 24, uncertainty_samples: 0 } }, (d) => {
      assert.deepEqual(d.component_names, ['trend', 'custom']);
      assert.deepEqual(d.explanations.map((x) => [x.index, x.deviating_component]), SPIKES.map((i) => [i, 'noise']));
    }],
    ['get_model', { model_name: 'a2a_det' }, (d) => assert.equal(d.task, 'anomaly')],
    ['delete_model', { model_name: 'a2a_det' }, (d) => assert.equal(d.model_name, 'a2a_det')],
  ],
  coordinator: [
    ['list_agents', {}, (d) => assert.ok(d.agents.every((a) => a.reachable === true))],
    ['system_status', {}, (d) => assert.equal(d.store.reachable, true)],
    ['coordinated_analysis', { data: spiky, forecasting_model: 'naive', anomaly_model: 'theta', steps_ahead: 4, threshold: 0.99 }, (d) => {
      assert.equal(d.partial, false);
      assert.equal(d.forecast.predictions.length, 4);
      assert.deepEqual(d.anomalies.anomaly_indices, SPIKES);
    }],
    ['ensemble_forecast', { models: ['naive', 'theta'], data: clean, steps_ahead: 3 }, (d) => {
      assert.equal(d.predictions.length, 3);
      assert.equal(d.members.length, 2);
    }],
    ['anomaly_aware_forecast', { data: spiky, anomaly_model: 'theta', forecasting_model: 'naive', steps_ahead: 2, threshold: 0.99 }, (d) => {
      assert.equal(d.n_replaced, 3);
    }],
    ['send_agent_message', { agent: 'forecasting', skill: 'generate_sample_data', arguments: { n_samples: 3 } }, (d) => {
      assert.equal(d.status, 'delivered');
      assert.equal(d.reply.data.length, 3);
    }],
    ['get_agent_messages', { limit: 5 }, (d) => assert.ok(d.count >= 1)],
    ['get_analysis_history', { limit: 5 }, (d) => assert.ok(d.count >= 1)],
  ],
};

describe('A2A agent cards', () => {
  for (const name of ['forecasting', 'anomaly', 'coordinator']) {
    test(`tsa-${name}: v1.0 and v0.3 cards, one skill per tool`, async () => {
      const base = agent(name).url;
      const v1 = await (await fetch(`${base}/.well-known/agent-card.json`, { headers: { 'A2A-Version': '1.0' } })).json();
      const v03res = await fetch(`${base}/.well-known/agent-card.json`);
      assert.match(v03res.headers.get('content-type'), /application\/json/);
      const v03 = await v03res.json();
      for (const card of [v1, v03]) {
        assert.equal(card.name, `tsa-${name}`);
        assert.ok(card.description && card.version);
        const ids = card.skills.map((s) => s.id);
        for (const t of REQUIRED_TOOLS[name]) assert.ok(ids.includes(t), `card lacks skill ${t}`);
        for (const s of card.skills) {
          assert.ok(s.name && s.description && Array.isArray(s.tags) && s.tags.length, `skill ${s.id}`);
          assert.ok(Array.isArray(s.examples) && s.examples.length, `skill ${s.id} examples`);
        }
        const ifs = card.supportedInterfaces.filter((i) => i.protocolBinding === 'JSONRPC');
        assert.deepEqual(ifs.map((i) => i.protocolVersion).sort(), ['0.3', '1.0']);
        for (const i of ifs) assert.equal(i.url, `${base}/a2a`);
        assert.equal(card.capabilities.streaming, true);
      }
      assert.equal(v1.url, undefined, 'the v1.0 card has no top-level url');
      assert.equal(v03.url, `${base}/a2a`);
      assert.equal(v03.preferredTransport, 'JSONRPC');
      assert.match(v03.protocolVersion, /^0\.3/);
      // The MCP tool list and the card agree.
      const mcp = await mcpConnect(name);
      const { tools } = await mcp.listTools();
      await mcp.close();
      assert.deepEqual(v1.skills.map((s) => s.id).sort(), tools.map((t) => t.name).sort());
    });
  }
});

for (const name of ['forecasting', 'anomaly', 'coordinator']) {
  describe(`A2A 1.0 tsa-${name}: every skill`, () => {
    let c;
    before(async () => { c = await a2aClient(name, '1.0'); });
    for (const [skill, args, check] of SKILLS[name]) {
      test(skill, async () => {
        const task = await runSkill(c.client, skill, args);
        assert.equal(stateOf(task), 'COMPLETED', `${skill}: ${stateOf(task)} ${statusText(task)}`);
        check(artifactData(task));
      });
    }
    test('the SDK spoke the v1.0 method names with A2A-Version: 1.0', () => {
      const methods = new Set(c.tap.calls.map((x) => x.method).filter(Boolean));
      assert.ok(methods.has('SendMessage') && methods.has('GetTask'), [...methods].join(','));
      assert.ok(!methods.has('message/send'));
    });
  });
}

// The payload kinds and task states of a stream from the SDK.
const streamSummary = (events) => events.map((e) => {
  const p = e.payload;
  if (p?.$case === 'task') return `task:${stateOf(p.value)}`;
  if (p?.$case === 'statusUpdate') return `status:${stateOf(p.value)}`;
  return p?.$case;
});

// One skill per agent streamed through the SDK (sendMessageStream, the card
// declares streaming) in both versions.
const STREAMED = {
  forecasting: ['generate_sample_data', { n_samples: 12, seed: 3 }, (d) => assert.equal(d.data.length, 12)],
  anomaly: ['detect_anomalies', { model_type: 'theta', data: spiky, threshold: 0.99 }, (d) => assert.deepEqual(d.anomaly_indices, SPIKES)],
  coordinator: ['list_agents', {}, (d) => assert.equal(d.agents.length, 2)],
};

for (const version of ['1.0', '0.3']) {
  describe(`A2A ${version}: sendMessageStream (SDK)`, () => {
    for (const name of ['forecasting', 'anomaly', 'coordinator']) {
      test(`tsa-${name}: Task, WORKING, the data artifact, COMPLETED`, async () => {
        const { client, tap } = await a2aClient(name, version);
        const [skill, args, check] = STREAMED[name];
        const events = [];
        for await (const ev of client.sendMessageStream(SendMessageRequest.fromJSON({
          message: { messageId: `s-${name}-${version}-${Date.now()}`, role: 'ROLE_USER',
            parts: [{ data: { skill, arguments: args }, mediaType: 'application/json' }] },
        }))) events.push(ev);
        assert.deepEqual(streamSummary(events), ['task:SUBMITTED', 'status:WORKING', 'artifactUpdate', 'status:COMPLETED']);
        const task = events[0].payload.value;
        for (const e of events.slice(1)) assert.equal(e.payload.value.taskId, task.id);
        const art = events[2].payload.value;
        assert.equal(art.lastChunk, true);
        const part = art.artifact.parts[0];
        assert.equal(part.content?.$case, 'data');
        check(part.content.value);
        const methods = tap.calls.map((x) => x.method);
        assert.ok(methods.includes(version === '1.0' ? 'SendStreamingMessage' : 'message/stream'), methods.join(','));
      });
    }

    test('a failing skill streams FAILED with the reason', async () => {
      const { client } = await a2aClient('anomaly', version);
      const events = [];
      for await (const ev of client.sendMessageStream(SendMessageRequest.fromJSON({
        message: { messageId: `sf-${version}-${Date.now()}`, role: 'ROLE_USER',
          parts: [{ data: { skill: 'detect_anomalies', arguments: { data: spiky, model_type: 'theta', threshold: 'x' } } }] },
      }))) events.push(ev);
      assert.deepEqual(streamSummary(events), ['task:SUBMITTED', 'status:WORKING', 'status:FAILED']);
      assert.match(statusText(events[2].payload.value), /threshold/);
    });

    test('resubscribeTask follows a running training to COMPLETED', async () => {
      const { client } = await a2aClient('forecasting', version);
      const sent = await client.sendMessage(SendMessageRequest.fromJSON({
        message: { messageId: `rs-${version}-${Date.now()}`, role: 'ROLE_USER',
          parts: [{ data: { skill: 'train_forecasting_model', arguments: {
            model_type: 'lstm', model_name: `a2a_resub_${version.replace('.', '')}`, data: seasonalSeries({ n: 300 }), epochs: 150,
            patience: 0, hidden_size: 16, sequence_length: 24, validate: false, overwrite: true,
          } } }] },
      }));
      assert.ok(['SUBMITTED', 'WORKING'].includes(stateOf(sent)), stateOf(sent));
      const events = [];
      for await (const ev of client.resubscribeTask(SubscribeToTaskRequest.fromJSON({ id: sent.id }))) events.push(ev);
      const kinds = streamSummary(events);
      assert.equal(events[0].payload.$case, 'task', kinds.join(','));
      assert.equal(events[0].payload.value.id, sent.id);
      assert.deepEqual(kinds.slice(-2), ['artifactUpdate', 'status:COMPLETED']);
      const working = events.filter((e) => e.payload.$case === 'statusUpdate' && stateOf(e.payload.value) === 'WORKING');
      assert.ok(working.some((e) => /epoch/.test(statusText(e.payload.value))), 'progress text while WORKING');
      assert.equal(events[events.length - 2].payload.value.artifact.parts[0].content.value.status, 'trained');
    });
  });
}

for (const version of ['1.0', '0.3']) {
  describe(`A2A ${version}: messages, failures and task errors`, () => {
    const clients = {};
    before(async () => {
      for (const name of ['forecasting', 'anomaly', 'coordinator']) clients[name] = await a2aClient(name, version);
    });

    test('one skill per agent completes with its data artifact', async () => {
      const g = await skillOk(clients.forecasting.client, 'generate_sample_data', { n_samples: 20, seed: 2 }, { text: 'please' });
      assert.equal(g.data.length, 20);
      const d = await skillOk(clients.anomaly.client, 'detect_anomalies', { model_type: 'theta', data: spiky, threshold: 0.99 });
      assert.deepEqual(d.anomaly_indices, SPIKES);
      const l = await skillOk(clients.coordinator.client, 'list_agents', {});
      assert.equal(l.agents.length, 2);
      if (version === '0.3') {
        const methods = new Set(clients.forecasting.tap.calls.map((x) => x.method).filter(Boolean));
        assert.ok(methods.has('message/send') && methods.has('tasks/get'), [...methods].join(','));
      }
    });

    test('a text-only message is answered with a Message listing the skills', async () => {
      const r = await clients.anomaly.client.sendMessage(SendMessageRequest.fromJSON({
        message: { messageId: `m-${Date.now()}`, role: 'ROLE_USER', parts: [{ text: 'what can you do?' }] },
      }));
      assert.equal(r.id, undefined, 'not a task');
      assert.ok(r.messageId);
      const text = r.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : '')).join(' ');
      for (const t of REQUIRED_TOOLS.anomaly) assert.match(text, new RegExp(t));
    });

    test('a skill that fails ends FAILED with a status message naming the problem', async () => {
      const t = await runSkill(clients.forecasting.client, 'predict_forecasting', { model_name: 'a2a_no_such_model', steps_ahead: 3 });
      assert.equal(stateOf(t), 'FAILED');
      assert.match(statusText(t), /a2a_no_such_model/);
      assert.equal(artifactData(t), undefined);
      const b = await runSkill(clients.anomaly.client, 'detect_anomalies', { data: spiky, model_type: 'theta', threshold: 'x' });
      assert.equal(stateOf(b), 'FAILED');
      assert.match(statusText(b), /threshold/);
    });

    test('an unknown skill is rejected with -32602', async () => {
      const { client, tap } = clients.coordinator;
      await assert.rejects(client.sendMessage(SendMessageRequest.fromJSON({
        message: { messageId: `m-${Date.now()}`, role: 'ROLE_USER', parts: [{ data: { skill: 'no_such_skill', arguments: {} } }] },
      })));
      assert.equal(tap.last().body?.error?.code, -32602);
      assert.match(tap.last().body.error.message, /no_such_skill/);
    });

    test('GetTask / CancelTask of an unknown task -> -32001; cancelling a finished task -> -32002', async () => {
      for (const name of ['forecasting', 'anomaly', 'coordinator']) {
        const { client, tap } = clients[name];
        await assert.rejects(client.getTask(GetTaskRequest.fromJSON({ id: 'no-such-task' })));
        assert.equal(tap.last().body?.error?.code, -32001, `${name}: ${JSON.stringify(tap.last().body)}`);
        assert.equal(tap.last().method, version === '1.0' ? 'GetTask' : 'tasks/get');
        await assert.rejects(client.cancelTask(CancelTaskRequest.fromJSON({ id: 'no-such-task' })));
        assert.equal(tap.last().body?.error?.code, -32001);
      }
      const { client, tap } = clients.forecasting;
      const done = await runSkill(client, 'generate_sample_data', { n_samples: 5 });
      await assert.rejects(client.cancelTask(CancelTaskRequest.fromJSON({ id: done.id })));
      assert.equal(tap.last().body?.error?.code, -32002);
      const again = await client.getTask(GetTaskRequest.fromJSON({ id: done.id }));
      assert.equal(stateOf(again), 'COMPLETED');
    });

    test('CancelTask on a running training -> CANCELED, the job stops, no model stored', async () => {
      const { client } = clients.anomaly;
      const name = `a2a_cancel_${version.replace('.', '')}`;
      const sent = await client.sendMessage(SendMessageRequest.fromJSON({
        message: {
          messageId: `m-${Date.now()}`, role: 'ROLE_USER',
          parts: [{ data: { skill: 'train_anomaly_model', arguments: {
            model_type: 'lstm', model_name: name, data: seasonalSeries({ n: 400 }), epochs: 5000, patience: 0,
            hidden_size: 16, sequence_length: 24,
          } } }],
        },
      }));
      assert.ok(['SUBMITTED', 'WORKING'].includes(stateOf(sent)), stateOf(sent));
      await sleep(300);
      const canceled = await client.cancelTask(CancelTaskRequest.fromJSON({ id: sent.id }));
      assert.equal(stateOf(canceled), 'CANCELED');
      await sleep(500);
      const later = await client.getTask(GetTaskRequest.fromJSON({ id: sent.id }));
      assert.equal(stateOf(later), 'CANCELED');
      // The training thread stopped: the agent is idle, the model absent.
      const load = await cpuLoad('anomaly', 1000);
      assert.ok(load < 0.3, `tsa-anomaly still busy (${load.toFixed(2)} of a core) after the cancel`);
      const mcp = await mcpConnect('anomaly');
      try {
        await callToolError(mcp, 'get_model', { model_name: name }, new RegExp(name));
      } finally {
        await mcp.close();
      }
    });
  });
}

describe('A2A: coordinated_analysis with the anomaly agent stopped', () => {
  let coord;
  let mcp;
  before(async () => {
    coord = await a2aClient('coordinator', '1.0');
    mcp = await mcpConnect('coordinator');
  });
  after(async () => { await mcp?.close(); });

  test('COMPLETED, partial, with an error naming the anomaly agent; back after a restart', async () => {
    await stopAgent('anomaly');
    try {
      const status = await callOk(mcp, 'list_agents', {});
      const down = status.agents.find((a) => a.agent === 'anomaly');
      assert.equal(down.reachable, false);
      const task = await runSkill(coord.client, 'coordinated_analysis', {
        data: spiky, forecasting_model: 'theta', anomaly_model: 'theta', steps_ahead: 5, threshold: 0.99,
      });
      assert.equal(stateOf(task), 'COMPLETED', statusText(task));
      const d = artifactData(task);
      assert.equal(d.partial, true);
      assert.equal(d.forecast.predictions.length, 5);
      assert.equal(d.anomalies, undefined);
      assert.equal(d.errors.length, 1);
      assert.equal(d.errors[0].agent, 'anomaly');
      assert.equal(d.errors[0].url, agent('anomaly').url);
      assert.ok(d.errors[0].message.length > 0);
      assert.equal(d.agents.anomaly.ok, false);
      assert.equal(d.agents.forecasting.ok, true);
    } finally {
      await restartAgent('anomaly');
    }
    const status = await callOk(mcp, 'list_agents', {});
    assert.ok(status.agents.every((a) => a.reachable === true), JSON.stringify(status.agents.map((a) => [a.agent, a.reachable])));
    const task = await runSkill(coord.client, 'coordinated_analysis', {
      data: spiky, forecasting_model: 'theta', anomaly_model: 'theta', steps_ahead: 5, threshold: 0.99,
    });
    assert.equal(artifactData(task).partial, false);
  });
});
