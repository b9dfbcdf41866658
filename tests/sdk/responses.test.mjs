// lingma-gatewayd's Responses API against the official OpenAI Node SDK
// (openai@6.49.0, pinned), run by run-sdk.sh like sdk.test.mjs:
//   GW_URL, GW_KEY, GW_WORK_DIR (sim.json there is re-read per chat),
//   LINGMA_SIM_BIN.
// The daemon runs with one chat slot and no queue, so tests run in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { base, key, simConfig, simStatus, stats, waitFor } from './sdk-harness.mjs';

const client = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0, timeout: 30000 });

const message = (r) => r.output.find((o) => o.type === 'message');

test('responses.create, non-streaming', async () => {
  simConfig({});
  const r = await client.responses.create({ model: 'auto', input: 'hello responses' });
  assert.equal(r.object, 'response');
  assert.match(r.id, /^resp_[0-9a-f]{24}$/);
  assert.equal(r.status, 'completed');
  assert.equal(r.output_text, 'ECHO: hello responses');
  const m = message(r);
  assert.equal(m.role, 'assistant');
  assert.equal(m.status, 'completed');
  assert.deepEqual(m.content[0].annotations, []);
  assert.equal(r.error, null);
  assert.equal(r.incomplete_details, null);
  assert.ok(r.usage.input_tokens > 0 && r.usage.output_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
  assert.equal(r.usage.input_tokens_details.cached_tokens, 0);
  assert.equal(typeof r.usage.output_tokens_details.reasoning_tokens, 'number');
  assert.ok(r._request_id, 'x-request-id surfaces as _request_id');
});

test('responses.create, streaming: every event typed and numbered in order', async () => {
  simConfig({ chunks: 5 });
  const stream = await client.responses.create({
    model: 'dashscope_qwen3_coder',
    instructions: 'be terse',
    input: [{ role: 'user', content: [{ type: 'input_text', text: 'stream responses' }] }],
    stream: true,
  });
  const types = [];
  let seq = -1;
  let text = '';
  let done = null;
  for await (const ev of stream) {
    assert.equal(ev.sequence_number, seq + 1, `sequence after ${types.at(-1)}`);
    seq = ev.sequence_number;
    types.push(ev.type);
    if (ev.type === 'response.output_text.delta') text += ev.delta;
    if (ev.type === 'response.completed') done = ev.response;
  }
  assert.deepEqual(types.slice(0, 4), [
    'response.created',
    'response.in_progress',
    'response.output_item.added',
    'response.content_part.added',
  ]);
  assert.deepEqual(types.slice(-4), [
    'response.output_text.done',
    'response.content_part.done',
    'response.output_item.done',
    'response.completed',
  ]);
  assert.ok(types.filter((t) => t === 'response.output_text.delta').length >= 2);
  assert.match(text, /^ECHO: System instructions:\nbe terse/);
  assert.equal(done.status, 'completed');
  assert.equal(message(done).content[0].text, text);
  assert.equal(done.instructions, 'be terse');
});

test('responses.stream() helper and finalResponse()', async () => {
  simConfig({ chunks: 6 });
  const runner = client.responses.stream({ model: 'auto', input: 'helper' });
  let deltas = '';
  runner.on('response.output_text.delta', (e) => {
    deltas += e.delta;
  });
  const final = await runner.finalResponse();
  assert.equal(final.status, 'completed');
  assert.equal(final.output_text, 'ECHO: helper');
  assert.equal(deltas, final.output_text);
  assert.ok(final.usage.output_tokens > 0);
});

test('a reasoning model streams a reasoning summary item before the message', async () => {
  simConfig({});
  const runner = client.responses.stream({
    model: 'dashscope_qwen_plus_20250428_thinking',
    input: 'think',
    reasoning: { effort: 'high', summary: 'auto' },
  });
  let summary = '';
  runner.on('response.reasoning_summary_text.delta', (e) => {
    summary += e.delta;
  });
  const final = await runner.finalResponse();
  assert.equal(final.output.length, 2);
  assert.equal(final.output[0].type, 'reasoning');
  assert.equal(final.output[0].summary[0].type, 'summary_text');
  assert.equal(final.output[0].summary[0].text, summary);
  assert.ok(summary.length > 0);
  assert.equal(final.output[1].type, 'message');
  assert.equal(final.output_text, 'ECHO: think');
  assert.ok(final.usage.output_tokens_details.reasoning_tokens > 0);
});

test('retrieve, inputItems.list, delete, then 404', async () => {
  simConfig({});
  const r = await client.responses.create({
    input: [
      { role: 'developer', content: 'dev note' },
      { role: 'user', content: 'keep me' },
    ],
    metadata: { run: 'sdk' },
  });
  const got = await client.responses.retrieve(r.id);
  assert.equal(got.id, r.id);
  assert.equal(got.output_text, r.output_text);
  assert.deepEqual(got.metadata, { run: 'sdk' });
  const items = [];
  for await (const item of client.responses.inputItems.list(r.id, { order: 'asc' })) items.push(item);
  assert.equal(items.length, 2);
  assert.equal(items[0].type, 'message');
  assert.equal(items[0].role, 'developer');
  assert.equal(items[1].content[0].type, 'input_text');
  assert.equal(items[1].content[0].text, 'keep me');
  assert.ok(items.every((i) => typeof i.id === 'string'));
  // Pages of one follow the cursor.
  const paged = [];
  for await (const item of client.responses.inputItems.list(r.id, { limit: 1 })) paged.push(item.id);
  assert.deepEqual(paged, [items[1].id, items[0].id]);

  await client.responses.delete(r.id);
  await assert.rejects(client.responses.retrieve(r.id), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError);
    assert.equal(e.status, 404);
    return true;
  });
  await assert.rejects(client.responses.delete(r.id), OpenAI.NotFoundError);
  await assert.rejects(client.responses.retrieve('resp_nope'), OpenAI.NotFoundError);
});

test('previous_response_id continues the stored conversation', async () => {
  simConfig({});
  const first = await client.responses.create({ input: 'my name is Ada', instructions: 'sys' });
  const second = await client.responses.create({
    previous_response_id: first.id,
    input: 'what is my name?',
  });
  assert.equal(second.previous_response_id, first.id);
  // The simulator echoes the question: the rebuilt transcript is visible.
  const t = second.output_text;
  assert.match(t, /User: my name is Ada\n\nAssistant: ECHO: System instructions:\nsys/);
  assert.match(t, /User: what is my name\?\n\nAnswer the latest User message/);
  // Instructions are not carried over from the earlier response.
  assert.ok(!t.startsWith('ECHO: System instructions:'), t.slice(0, 60));
  const third = await client.responses.stream({ previous_response_id: second.id, input: 'again' })
    .finalResponse();
  assert.match(third.output_text, /User: my name is Ada[\s\S]*User: what is my name\?[\s\S]*User: again/);

  await assert.rejects(
    client.responses.create({ previous_response_id: 'resp_000000000000000000000000', input: 'x' }),
    (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError);
      assert.equal(e.param, 'previous_response_id');
      assert.equal(e.code, 'previous_response_not_found');
      return true;
    },
  );
});

test('store: false is never kept', async () => {
  simConfig({});
  const r = await client.responses.create({ input: 'ephemeral', store: false });
  assert.equal(r.store, false);
  await assert.rejects(client.responses.retrieve(r.id), OpenAI.NotFoundError);
  await assert.rejects(
    client.responses.create({ previous_response_id: r.id, input: 'x' }),
    OpenAI.NotFoundError,
  );
});

test('max_output_tokens cuts the answer: status incomplete', async () => {
  simConfig({ reply: 'tokens:200', chunks: 20 });
  const r = await client.responses.create({ input: 'long', max_output_tokens: 5 });
  assert.equal(r.status, 'incomplete');
  assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
  assert.equal(message(r).status, 'incomplete');
  assert.ok(r.usage.output_tokens <= 5, `output_tokens ${r.usage.output_tokens}`);

  const stream = await client.responses.create({ input: 'long', max_output_tokens: 5, stream: true });
  let last = null;
  for await (const ev of stream) last = ev;
  assert.equal(last.type, 'response.incomplete');
  assert.equal(last.response.status, 'incomplete');
  assert.equal(last.response.incomplete_details.reason, 'max_output_tokens');
});

test('the tool types Codex sends are accepted and echoed', async () => {
  simConfig({});
  const tools = [
    { type: 'function', name: 'exec_command', description: 'Run', parameters: { type: 'object', properties: {} }, strict: false },
    { type: 'custom', name: 'apply_patch', description: 'Patch', format: { type: 'grammar', syntax: 'lark', definition: 'start: x' } },
    { type: 'local_shell' },
    { type: 'web_search', external_web_access: false },
  ];
  const r = await client.responses.create({
    input: [
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'list files' }] },
      { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: null },
      { type: 'function_call', call_id: 'call_1', name: 'exec_command', arguments: '{"cmd":"ls"}' },
      { type: 'function_call_output', call_id: 'call_1', output: 'a.txt' },
    ],
    tools,
    // none: the echo shows the transcript, not a call (tools.test.mjs calls)
    tool_choice: 'none',
    parallel_tool_calls: false,
    include: ['reasoning.encrypted_content'],
    prompt_cache_key: 'conv-1',
    store: false,
  });
  assert.equal(r.status, 'completed');
  assert.deepEqual(r.tools.map((t) => t.type), ['function', 'custom', 'local_shell', 'web_search']);
  assert.equal(r.parallel_tool_calls, false);
  // The transcript in the tool contract's notation (doc/tools.md).
  assert.ok(r.output_text.includes('Assistant:\n```tool_call\n{"name":"exec_command","arguments":{"cmd":"ls"}}\n```'));
  assert.ok(r.output_text.includes('Tool result (call_1, exec_command):\n```tool_result\na.txt\n```'));
  await assert.rejects(
    client.responses.create({ input: 'x', tools: [{ type: 'function' }] }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'tools[0].name',
  );
});

test('abort mid-stream cancels upstream', async () => {
  simConfig({ reply: 'tokens:400', chunks: 80, chunk_ms: 100 });
  const stops = simStatus('stops_received');
  const ac = new AbortController();
  const stream = await client.responses.create(
    { model: 'auto', input: 'abort me', stream: true },
    { signal: ac.signal },
  );
  let n = 0;
  let t0 = 0;
  try {
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta' && ++n === 2) {
        t0 = Date.now();
        ac.abort();
      }
    }
  } catch (e) {
    assert.ok(e.name === 'AbortError' || e instanceof OpenAI.APIUserAbortError, String(e));
  }
  assert.equal(n, 2);
  const t1 = await waitFor(() => simStatus('stops_received') >= stops + 1, 5000, 'chat/stop');
  assert.ok(t1 - t0 <= 1500, `chat/stop ${t1 - t0} ms after the abort`);
  await waitFor(async () => (await stats()).concurrency.in_flight === 0, 5000, 'slot freed');
});
