// lingma-gatewayd against the official OpenAI Node SDK (openai@6.49.0, pinned).
//
// run-sdk.sh starts the daemon on lingma-sim and passes:
//   GW_URL        the gateway's base URL ("http://127.0.0.1:PORT")
//   GW_KEY        the API key it was started with
//   GW_WORK_DIR   the simulator's work dir (sim.json there is re-read per chat)
//   LINGMA_SIM_BIN
// The daemon runs with one chat slot and no queue, so a held stream makes
// the next request a 429.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { base, key, work, simConfig, simStatus, stats, waitFor } from './sdk-harness.mjs';

const client = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0, timeout: 30000 });
const user = (content) => [{ role: 'user', content }];

test('chat.completions.create, non-streaming', async () => {
  simConfig({});
  const c = await client.chat.completions.create({ model: 'auto', messages: user('hello sdk') });
  assert.equal(c.object, 'chat.completion');
  assert.match(c.id, /^chatcmpl-/);
  assert.equal(c.choices.length, 1);
  assert.equal(c.choices[0].message.role, 'assistant');
  assert.equal(c.choices[0].message.content, 'ECHO: hello sdk');
  assert.equal(c.choices[0].finish_reason, 'stop');
  assert.ok(c.usage.total_tokens > 0);
  assert.ok(c._request_id, 'x-request-id surfaces as _request_id');
});

test('chat.completions.create, streaming, with include_usage', async () => {
  simConfig({ chunks: 5 });
  const stream = await client.chat.completions.create({
    model: 'dashscope_qwen3_coder',
    messages: user('stream sdk'),
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finishes = 0;
  let usage = null;
  const ids = new Set();
  for await (const chunk of stream) {
    ids.add(chunk.id);
    if (chunk.choices.length === 0) {
      usage = chunk.usage;
      continue;
    }
    text += chunk.choices[0].delta.content ?? '';
    if (chunk.choices[0].finish_reason) finishes++;
  }
  assert.equal(text, 'ECHO: stream sdk');
  assert.equal(finishes, 1);
  assert.equal(ids.size, 1);
  assert.ok(usage && usage.total_tokens === usage.prompt_tokens + usage.completion_tokens);
});

test('chat.completions.stream() helper and finalChatCompletion()', async () => {
  simConfig({ chunks: 6 });
  const runner = client.chat.completions.stream({
    model: 'auto',
    messages: [
      { role: 'system', content: 'be terse' },
      { role: 'user', content: 'helper' },
    ],
    stream_options: { include_usage: true },
  });
  let deltas = '';
  runner.on('content', (d) => {
    deltas += d;
  });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].finish_reason, 'stop');
  assert.equal(final.choices[0].message.role, 'assistant');
  assert.equal(final.choices[0].message.content, deltas);
  assert.ok(final.usage && final.usage.completion_tokens > 0);
});

test('reasoning model streams reasoning_content', async () => {
  simConfig({});
  const stream = await client.chat.completions.create({
    model: 'dashscope_qwen_plus_20250428_thinking',
    messages: user('think'),
    stream: true,
  });
  let reasoning = '';
  let content = '';
  for await (const chunk of stream) {
    reasoning += chunk.choices[0]?.delta?.reasoning_content ?? '';
    content += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.ok(reasoning.length > 0);
  assert.ok(content.length > 0);
});

test('models.list and models.retrieve', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('dashscope_qwen3_coder'), ids.join(','));
  const m = await client.models.retrieve('dashscope_qwen3_coder');
  assert.equal(m.object, 'model');
  assert.equal(m.id, 'dashscope_qwen3_coder');
  await assert.rejects(client.models.retrieve('gpt-4o'), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError);
    assert.equal(e.code, 'model_not_found');
    return true;
  });
});

test('401 with a wrong key, 404 for an unknown model', async () => {
  const bad = new OpenAI({ apiKey: 'sk-wrong', baseURL: `${base}/v1`, maxRetries: 0 });
  await assert.rejects(bad.chat.completions.create({ model: 'auto', messages: user('x') }), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError);
    assert.equal(e.status, 401);
    assert.equal(e.code, 'invalid_api_key');
    assert.ok(e.requestID);
    return true;
  });
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: user('x') }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found',
  );
  await assert.rejects(
    client.chat.completions.create({ model: 'auto', messages: user('x'), n: 2 }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'n',
  );
});

// Hold the only slot with a slow raw stream; returns a function that ends it.
async function holdSlot() {
  simConfig({ reply: 'tokens:400', chunks: 80, chunk_ms: 100 });
  const ac = new AbortController();
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    signal: ac.signal,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ stream: true, messages: user('hold') }),
  });
  assert.equal(r.status, 200);
  const reader = r.body.getReader();
  await reader.read();
  return async () => {
    ac.abort();
    await reader.cancel().catch(() => {});
    await waitFor(async () => (await stats()).concurrency.in_flight === 0, 5000, 'slot freed');
  };
}

test('429 with Retry-After: the SDK retries after the hinted delay', async () => {
  const release = await holdSlot();
  try {
    const before = (await stats()).concurrency.rejected_total;
    const retrying = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 2 });
    const t0 = Date.now();
    let seenRetryAfterMs = null;
    await assert.rejects(
      retrying.chat.completions.create({ model: 'auto', messages: user('busy') }),
      (e) => {
        assert.ok(e instanceof OpenAI.RateLimitError);
        assert.equal(e.status, 429);
        assert.ok(Number(e.headers.get('retry-after')) >= 1);
        seenRetryAfterMs = Number(e.headers.get('retry-after-ms'));
        assert.ok(seenRetryAfterMs > 0);
        return true;
      },
    );
    const elapsed = Date.now() - t0;
    const after = (await stats()).concurrency.rejected_total;
    assert.equal(after - before, 3, 'one request and two retries');
    // Two waits of the hinted delay (the SDK takes retry-after-ms first).
    assert.ok(elapsed >= 2 * seenRetryAfterMs * 0.9, `elapsed ${elapsed} ms`);
  } finally {
    await release();
  }
});

test('abort mid-stream cancels upstream', async () => {
  simConfig({ reply: 'tokens:400', chunks: 80, chunk_ms: 100 });
  const stops = simStatus('stops_received');
  const ac = new AbortController();
  const stream = await client.chat.completions.create(
    { model: 'auto', messages: user('abort me'), stream: true },
    { signal: ac.signal },
  );
  let n = 0;
  let t0 = 0;
  // openai@6 ends the iteration quietly on an abort; later versions throw
  // an abort error. Either is fine: what matters is the upstream stop.
  try {
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content && ++n === 2) {
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
