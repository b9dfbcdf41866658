// lingma-gatewayd against the official Anthropic TypeScript SDK
// (@anthropic-ai/sdk@1.15.0, pinned in package-lock.json).
//
// tests/sdk/run-sdk.sh starts the daemon on lingma-sim (one chat slot, no
// queue, API_KEYS) and passes:
//   GW_URL        the gateway's base URL ("http://127.0.0.1:PORT")
//   GW_KEY        the API key it was started with
//   GW_WORK_DIR   the simulator's work dir (sim.json there is re-read per chat)
//   LINGMA_SIM_BIN
// and meson adds LINGMA_GATEWAYD_BIN (for the daemon with no instance) and
// GATEWAY_HEARTBEAT_SEC=1 (so that a slow first token is preceded by pings).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { base, key, work, simBin, simConfig, simStatus, stats, waitFor } from './sdk-harness.mjs';

const gwBin = process.env.LINGMA_GATEWAYD_BIN;
assert.ok(gwBin, 'LINGMA_GATEWAYD_BIN');

// The SDK appends /v1/messages itself: the base URL is the gateway's root,
// exactly what Claude Code gets as ANTHROPIC_BASE_URL.
const client = new Anthropic({ apiKey: key, baseURL: base, maxRetries: 0, timeout: 30000 });
const user = (content) => [{ role: 'user', content }];
const MODEL = 'claude-opus-5-5'; // aliased to the default model (claude-* = auto)
const THINKER = 'dashscope_qwen_plus_20250428_thinking';

test('messages.create, non-streaming', async () => {
  simConfig({});
  const m = await client.messages.create({
    model: MODEL,
    max_tokens: 1024,
    messages: user('hello sdk'),
  });
  assert.equal(m.type, 'message');
  assert.equal(m.role, 'assistant');
  assert.match(m.id, /^msg_/);
  assert.equal(m.content.length, 1);
  assert.equal(m.content[0].type, 'text');
  assert.equal(m.content[0].text, 'ECHO: hello sdk');
  assert.equal(m.stop_reason, 'end_turn');
  assert.equal(m.stop_sequence, null);
  assert.ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0);
  assert.ok(m._request_id, 'request-id surfaces as _request_id');
});

test('messages.create with system blocks, history, stop_sequences and max_tokens', async () => {
  simConfig({});
  const m = await client.messages.create({
    model: MODEL,
    max_tokens: 1024,
    system: [{ type: 'text', text: 'Be terse.', cache_control: { type: 'ephemeral' } }],
    metadata: { user_id: 'sdk-user' },
    messages: [
      { role: 'user', content: 'first' },
      { role: 'assistant', content: [{ type: 'text', text: 'ok' }] },
      { role: 'user', content: [{ type: 'text', text: 'second' }] },
    ],
    stop_sequences: ['Conversation'],
  });
  // The echoed prompt is the flattened conversation; it stops at the
  // sequence, which is not included.
  assert.equal(m.content[0].text, 'ECHO: System instructions:\nBe terse.\n\n');
  assert.equal(m.stop_reason, 'stop_sequence');
  assert.equal(m.stop_sequence, 'Conversation');
  const cut = await client.messages.create({ model: MODEL, max_tokens: 1, messages: user('x') });
  assert.equal(cut.stop_reason, 'max_tokens');
});

test('messages.stream() with finalMessage(), pings skipped before the first token', async () => {
  simConfig({ chunks: 5, first_token_ms: 2300 });
  const stream = client.messages.stream({
    model: MODEL,
    max_tokens: 1024,
    messages: user('stream sdk'),
  });
  let text = '';
  const types = [];
  stream.on('text', (d) => {
    text += d;
  });
  stream.on('streamEvent', (e) => types.push(e.type));
  const final = await stream.finalMessage();
  assert.equal(text, 'ECHO: stream sdk');
  assert.equal(final.content[0].text, text);
  assert.equal(final.stop_reason, 'end_turn');
  assert.ok(final.usage.output_tokens > 0);
  assert.equal(types[0], 'message_start');
  assert.equal(types.at(-1), 'message_stop');
  assert.equal(types.at(-2), 'message_delta');
});

test('raw SSE: event names, pings, block indexes', async () => {
  simConfig({ chunks: 3, first_token_ms: 1300 });
  const r = await fetch(`${base}/v1/messages?beta=true`, {
    method: 'POST',
    headers: {
      'x-api-key': key,
      'anthropic-version': '2023-06-01',
      'anthropic-beta': 'some-beta-2099-01-01',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ model: MODEL, max_tokens: 64, stream: true, messages: user('raw') }),
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/event-stream/);
  assert.ok(r.headers.get('request-id'));
  const body = await r.text();
  const names = [...body.matchAll(/^event: (.*)$/gm)].map((x) => x[1]);
  assert.equal(names[0], 'message_start');
  assert.ok(names.includes('ping'), body.slice(0, 400));
  const rest = names.filter((n) => n !== 'ping');
  assert.deepEqual(rest.slice(0, 2), ['message_start', 'content_block_start']);
  assert.deepEqual(rest.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
  assert.ok(body.includes('event: ping\ndata: {"type": "ping"}\n\n'));
});

test('thinking: a thinking block with its signature before the text', async () => {
  simConfig({});
  const stream = client.messages.stream({
    model: THINKER,
    max_tokens: 4096,
    thinking: { type: 'enabled', budget_tokens: 1024 },
    messages: user('think'),
  });
  let thinking = '';
  stream.on('thinking', (d) => {
    thinking += d;
  });
  const final = await stream.finalMessage();
  assert.equal(final.content.length, 2);
  assert.equal(final.content[0].type, 'thinking');
  assert.ok(final.content[0].thinking.length > 0);
  assert.equal(final.content[0].thinking, thinking);
  assert.ok(final.content[0].signature.length > 0);
  assert.equal(final.content[1].type, 'text');
  assert.equal(final.content[1].text, 'ECHO: think');
  // Without thinking, Lingma's thinking is not shown.
  const plain = await client.messages.create({
    model: THINKER,
    max_tokens: 4096,
    messages: user('think'),
  });
  assert.deepEqual(
    plain.content.map((b) => b.type),
    ['text'],
  );
  // A second turn sends the thinking block back: accepted and dropped.
  const again = await client.messages.create({
    model: THINKER,
    max_tokens: 4096,
    thinking: { type: 'enabled', budget_tokens: 1024 },
    messages: [...user('think'), { role: 'assistant', content: final.content }, ...user('more')],
  });
  assert.equal(again.stop_reason, 'end_turn');
});

test('tool_use and tool_result in the history', async () => {
  simConfig({});
  const m = await client.messages.create({
    model: MODEL,
    max_tokens: 1024,
    tools: [
      {
        name: 'get_weather',
        description: 'Weather of a city',
        input_schema: { type: 'object', properties: { city: { type: 'string' } } },
      },
    ],
    // none: the echo shows the transcript, not a call (tools.test.mjs calls)
    tool_choice: { type: 'none' },
    messages: [
      ...user('Weather in Paris?'),
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }],
      },
      {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'sunny' }],
      },
    ],
  });
  const text = m.content[0].text;
  // The transcript in the tool contract's notation (doc/tools.md).
  assert.ok(text.includes('Assistant:\n```tool_call\n{"name":"get_weather","arguments":{"city":"Paris"}}\n```'));
  assert.ok(text.includes('Tool result (toolu_1, get_weather):\n```tool_result\nsunny\n```'));
});

test('messages.countTokens', async () => {
  const short = await client.messages.countTokens({ model: MODEL, messages: user('hi') });
  const long = await client.messages.countTokens({
    model: MODEL,
    system: 'You are a helpful assistant with a long system prompt.',
    messages: user('hi there, how are you doing today?'),
  });
  assert.ok(short.input_tokens > 0);
  assert.ok(long.input_tokens > short.input_tokens);
  await assert.rejects(
    client.messages.countTokens({ model: 'gpt-4o', messages: user('x') }),
    (e) => e instanceof Anthropic.NotFoundError,
  );
});

test('models.list and models.retrieve in Anthropic shape', async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.type, 'model');
    assert.ok(m.display_name && !Number.isNaN(Date.parse(m.created_at)));
    ids.push(m.id);
  }
  assert.ok(ids.includes('dashscope_qwen3_coder'), ids.join(','));
  const m = await client.models.retrieve('dashscope_qwen3_coder');
  assert.equal(m.id, 'dashscope_qwen3_coder');
  assert.equal(m.type, 'model');
  await assert.rejects(client.models.retrieve('no-such-model'), (e) => {
    assert.ok(e instanceof Anthropic.NotFoundError);
    assert.equal(e.error.error.type, 'not_found_error');
    return true;
  });
});

test('401 with a wrong key, 404 for an unknown model, 400 for an image', async () => {
  const bad = new Anthropic({ apiKey: 'sk-wrong', baseURL: base, maxRetries: 0 });
  await assert.rejects(
    bad.messages.create({ model: MODEL, max_tokens: 10, messages: user('x') }),
    (e) => {
      assert.ok(e instanceof Anthropic.AuthenticationError);
      assert.equal(e.status, 401);
      assert.equal(e.error.type, 'error');
      assert.equal(e.error.error.type, 'authentication_error');
      assert.ok(e.requestID);
      return true;
    },
  );
  await assert.rejects(
    client.messages.create({ model: 'no-such-model', max_tokens: 10, messages: user('x') }),
    (e) => e instanceof Anthropic.NotFoundError && e.error.error.type === 'not_found_error',
  );
  await assert.rejects(
    client.messages.create({
      model: MODEL,
      max_tokens: 10,
      messages: [
        {
          role: 'user',
          content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } }],
        },
      ],
    }),
    (e) => {
      assert.ok(e instanceof Anthropic.BadRequestError);
      assert.equal(e.error.error.type, 'invalid_request_error');
      assert.match(e.error.error.message, /^messages\.0\.content\.0: image content blocks/);
      return true;
    },
  );
});

test('429 from Lingma: the SDK retries after retry-after and gets the answer', async () => {
  // The fault hits only the first chat from now on (FAULT_LIMIT counts the
  // chats it hit in this work dir; no earlier test used a fault).
  simConfig({ fault: 'finish:429', fault_limit: 1 });
  const hits = simStatus('faults_hit');
  const retrying = new Anthropic({ apiKey: key, baseURL: base, maxRetries: 2 });
  const t0 = Date.now();
  const m = await retrying.messages.create({ model: MODEL, max_tokens: 64, messages: user('again') });
  const elapsed = Date.now() - t0;
  assert.equal(m.content[0].text, 'ECHO: again');
  assert.equal(simStatus('faults_hit'), hits + 1);
  // The gateway's hint is 1 s (retry-after-ms 1000), which the SDK honours.
  assert.ok(elapsed >= 900, `elapsed ${elapsed} ms`);
  // Without retries the 429 itself is visible, with its headers.
  simConfig({ fault: 'finish:429', fault_limit: 2 });
  await assert.rejects(
    client.messages.create({ model: MODEL, max_tokens: 64, messages: user('again') }),
    (e) => {
      assert.ok(e instanceof Anthropic.RateLimitError);
      assert.equal(e.error.error.type, 'rate_limit_error');
      assert.ok(Number(e.headers.get('retry-after')) >= 1);
      return true;
    },
  );
  simConfig({});
});

test('an error after the start is an error event the SDK raises', async () => {
  simConfig({ chunks: 8, chunk_ms: 20, fault: 'drop_after:2' });
  const stream = client.messages.stream({
    model: MODEL,
    max_tokens: 1024,
    messages: user('this answer will be cut'),
  });
  await assert.rejects(stream.finalMessage(), (e) => {
    assert.ok(e instanceof Anthropic.APIError, String(e));
    assert.equal(e.error.error.type, 'api_error');
    return true;
  });
  simConfig({});
});

test('abort mid-stream cancels upstream', async () => {
  simConfig({ reply: 'tokens:400', chunks: 80, chunk_ms: 100 });
  const stops = simStatus('stops_received');
  const stream = client.messages.stream({
    model: MODEL,
    max_tokens: 4096,
    messages: user('abort me'),
  });
  let n = 0;
  let t0 = 0;
  stream.on('text', () => {
    if (++n === 2) {
      t0 = Date.now();
      stream.abort();
    }
  });
  await assert.rejects(stream.finalMessage(), (e) => e instanceof Anthropic.APIUserAbortError);
  assert.equal(n, 2);
  const t1 = await waitFor(() => simStatus('stops_received') >= stops + 1, 5000, 'chat/stop');
  assert.ok(t1 - t0 <= 1500, `chat/stop ${t1 - t0} ms after the abort`);
  await waitFor(async () => (await stats()).concurrency.in_flight === 0, 5000, 'slot freed');
  simConfig({});
});

// A second daemon whose only instance can never start: every chat fails at
// once with "no instance", which Anthropic clients know as 529.
let dead = null;
after(() => {
  if (dead && dead.proc.exitCode === null) dead.proc.kill('SIGKILL');
  if (dead) rmSync(dead.dir, { recursive: true, force: true });
});

test('529 overloaded_error when no instance can serve', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lingma-sdk-529-'));
  const proc = spawn(gwBin, [], {
    env: {
      ...process.env,
      LINGMA_BIN: simBin,
      LINGMA_WORK_DIR: join(dir, 'w'),
      LINGMA_SIM_FAULT: 'exit_at_start',
      GATEWAY_PORT: '0',
      API_KEYS: key,
      LOG_LEVEL: 'error',
      LINGMA_EXIT_WITH_PARENT: '1',
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  dead = { proc, dir };
  let url = '';
  proc.stdout.on('data', (d) => {
    url += d.toString();
  });
  await waitFor(() => url.includes('\n'), 10000, 'the second daemon URL');
  const other = new Anthropic({ apiKey: key, baseURL: url.trim(), maxRetries: 0 });
  await assert.rejects(
    other.messages.create({ model: MODEL, max_tokens: 10, messages: user('x') }),
    (e) => {
      assert.ok(e instanceof Anthropic.OverloadedError, String(e));
      assert.equal(e.status, 529);
      assert.equal(e.error.error.type, 'overloaded_error');
      return true;
    },
  );
  proc.kill('SIGTERM');
  await waitFor(() => proc.exitCode !== null, 10000, 'the second daemon to stop');
  assert.equal(proc.exitCode, 0);
});
