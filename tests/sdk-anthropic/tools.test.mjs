// Tool use (doc/tools.md) through the official Anthropic TypeScript SDK
// (@anthropic-ai/sdk@1.15.0, pinned), on lingma-sim in its `tools` reply
// mode: a model that follows the tool contract (it calls the first
// declared tool, or the required one, with arguments made from the schema,
// and answers "DONE: <result>" once a tool result follows the last user
// turn). tests/sdk/run-sdk.sh passes GW_URL, GW_KEY and GW_WORK_DIR.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { base, key, simConfig } from './sdk-harness.mjs';

const client = new Anthropic({ apiKey: key, baseURL: base, maxRetries: 0, timeout: 30000 });
const MODEL = 'claude-opus-5-5';

const weather = {
  name: 'get_weather',
  description: 'Weather of a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};
const time = {
  name: 'get_time',
  description: 'Time in a zone',
  input_schema: { type: 'object', properties: { tz: { type: 'string' } }, required: ['tz'] },
};
// Claude Code's placeholder for tools it has not loaded: never offered.
const placeholder = {
  name: 'DeferredToolPlaceholder',
  description: 'never call this tool',
  input_schema: { type: 'object', properties: {} },
  defer_loading: true,
};
const ask = [{ role: 'user', content: 'Weather in Paris?' }];

// The loop an agent runs: call, run the tool, send the result, answer.
async function roundTrip(create) {
  const first = await create({ model: MODEL, max_tokens: 1024, tools: [placeholder, weather], messages: ask });
  assert.equal(first.stop_reason, 'tool_use');
  const use = first.content.find((b) => b.type === 'tool_use');
  assert.ok(use, 'a tool_use block');
  assert.match(use.id, /^toolu_[0-9a-f]{24}$/);
  assert.equal(use.name, 'get_weather');
  assert.deepEqual(use.input, { city: 'x' });
  const second = await create({
    model: MODEL,
    max_tokens: 1024,
    tools: [placeholder, weather],
    messages: [
      ...ask,
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: `sunny in ${use.input.city}` }] },
    ],
  });
  assert.equal(second.stop_reason, 'end_turn');
  assert.equal(second.content[0].type, 'text');
  assert.equal(second.content[0].text, 'DONE: sunny in x');
  return use.id;
}

test('tool-use round trip, messages.create', async () => {
  simConfig({ reply: 'tools', chunks: 9 });
  await roundTrip((body) => client.messages.create(body));
});

test('tool-use round trip, messages.stream().finalMessage()', async () => {
  simConfig({ reply: 'tools', chunks: 13 });
  let json = '';
  const id = await roundTrip(async (body) => {
    const stream = client.messages.stream(body);
    stream.on('inputJson', (partial) => (json += partial));
    return stream.finalMessage();
  });
  assert.equal(json, '{"city":"x"}');
  assert.ok(id);
});

test('is_error results, tool_choice any, tool and none, disable_parallel_tool_use', async () => {
  simConfig({ reply: 'tools' });
  let m = await client.messages.create({
    model: MODEL,
    max_tokens: 64,
    tools: [weather],
    messages: [
      ...ask,
      { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'x' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', is_error: true, content: 'no such city' }] },
    ],
  });
  assert.equal(m.content[0].text, 'DONE: no such city');
  m = await client.messages.create({ model: MODEL, max_tokens: 64, tools: [weather, time], tool_choice: { type: 'any' }, messages: ask });
  assert.equal(m.content[0].name, 'get_weather');
  m = await client.messages.create({
    model: MODEL,
    max_tokens: 64,
    tools: [weather, time],
    tool_choice: { type: 'tool', name: 'get_time', disable_parallel_tool_use: true },
    messages: ask,
  });
  assert.equal(m.content.length, 1);
  assert.equal(m.content[0].name, 'get_time');
  assert.deepEqual(m.content[0].input, { tz: 'x' });
  m = await client.messages.create({ model: MODEL, max_tokens: 64, tools: [weather], tool_choice: { type: 'none' }, messages: ask });
  assert.equal(m.stop_reason, 'end_turn');
  assert.equal(m.content[0].text, 'ECHO: Weather in Paris?');
  await assert.rejects(
    client.messages.create({ model: MODEL, max_tokens: 64, tools: [weather, weather], messages: ask }),
    (e) => e instanceof Anthropic.BadRequestError && /tools\.1\.name/.test(e.message),
  );
});
