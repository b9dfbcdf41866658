// Tool calling (doc/tools.md) through the official OpenAI Node SDK
// (openai@6.49.0, pinned): Chat Completions and Responses, on lingma-sim in
// its `tools` reply mode, a model that follows the tool contract: it calls
// the first declared tool (or the required one) with arguments made from
// the schema, and answers "DONE: <result>" once a tool result follows the
// last user turn. run-sdk.sh passes GW_URL, GW_KEY, GW_WORK_DIR and
// LINGMA_SIM_BIN as for sdk.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { base, key, simConfig, simScript } from './sdk-harness.mjs';

const client = new OpenAI({ apiKey: key, baseURL: `${base}/v1`, maxRetries: 0, timeout: 30000 });

const weatherSchema = {
  type: 'object',
  properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
  required: ['city', 'unit'],
};
const weather = { type: 'function', function: { name: 'get_weather', description: 'Weather of a city', parameters: weatherSchema } };
const time = {
  type: 'function',
  function: { name: 'get_time', description: 'Time in a zone', parameters: { type: 'object', properties: { tz: { type: 'string' } }, required: ['tz'] } },
};
const ask = [{ role: 'user', content: 'Weather in Paris?' }];

test('runTools() completes a two-step loop (non-streaming)', async () => {
  simConfig({ reply: 'tools', chunks: 9 });
  const seen = [];
  const runner = client.chat.completions.runTools({
    model: 'auto',
    messages: ask,
    tools: [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather of a city',
          parameters: weatherSchema,
          parse: JSON.parse,
          function: (args) => {
            seen.push(args);
            return `sunny in ${args.city} (${args.unit})`;
          },
        },
      },
    ],
  });
  const content = await runner.finalContent();
  assert.deepEqual(seen, [{ city: 'x', unit: 'c' }]);
  assert.equal(content, 'DONE: sunny in x (c)');
  const msgs = runner.messages;
  const call = msgs.find((m) => m.role === 'assistant' && m.tool_calls);
  assert.match(call.tool_calls[0].id, /^call_[0-9a-f]{24}$/);
  assert.equal(msgs.at(-1).content, 'DONE: sunny in x (c)');
});

test('runTools() with stream: true', async () => {
  simConfig({ reply: 'tools', chunks: 13 });
  let calls = 0;
  const runner = client.chat.completions.runTools({
    model: 'auto',
    stream: true,
    messages: ask,
    tools: [
      {
        type: 'function',
        function: {
          name: 'get_time',
          description: 'Time in a zone',
          parameters: time.function.parameters,
          parse: JSON.parse,
          function: ({ tz }) => {
            calls++;
            return `12:00 ${tz}`;
          },
        },
      },
    ],
  });
  assert.equal(await runner.finalContent(), 'DONE: 12:00 x');
  assert.equal(calls, 1);
});

test('chat.completions.create with tools, streaming and not', async () => {
  simConfig({ reply: 'tools', chunks: 11 });
  const c = await client.chat.completions.create({ model: 'auto', messages: ask, tools: [weather] });
  assert.equal(c.choices[0].finish_reason, 'tool_calls');
  assert.equal(c.choices[0].message.content, null);
  const tc = c.choices[0].message.tool_calls[0];
  assert.equal(tc.type, 'function');
  assert.equal(tc.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(tc.function.arguments), { city: 'x', unit: 'c' });

  // The stream helper assembles the call from its fragments.
  const stream = client.chat.completions.stream({ model: 'auto', messages: ask, tools: [weather] });
  let fragments = 0;
  stream.on('chunk', (ch) => {
    if (ch.choices[0]?.delta?.tool_calls) fragments++;
    assert.ok(!(ch.choices[0]?.delta?.content ?? '').includes('```'), 'no call block leaks as text');
  });
  const final = await stream.finalChatCompletion();
  assert.ok(fragments >= 1);
  assert.equal(final.choices[0].finish_reason, 'tool_calls');
  const sc = final.choices[0].message.tool_calls[0];
  assert.match(sc.id, /^call_/);
  assert.notEqual(sc.id, tc.id);
  assert.equal(sc.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(sc.function.arguments), { city: 'x', unit: 'c' });
});

test('tool_choice required, named and none', async () => {
  simConfig({ reply: 'tools' });
  let c = await client.chat.completions.create({ model: 'auto', messages: ask, tools: [weather, time], tool_choice: 'required' });
  assert.equal(c.choices[0].message.tool_calls[0].function.name, 'get_weather');
  c = await client.chat.completions.create({
    model: 'auto',
    messages: ask,
    tools: [weather, time],
    tool_choice: { type: 'function', function: { name: 'get_time' } },
  });
  assert.equal(c.choices[0].message.tool_calls[0].function.name, 'get_time');
  c = await client.chat.completions.create({ model: 'auto', messages: ask, tools: [weather], tool_choice: 'none' });
  assert.equal(c.choices[0].finish_reason, 'stop');
  assert.equal(c.choices[0].message.content, 'ECHO: Weather in Paris?');
  await assert.rejects(
    client.chat.completions.create({ model: 'auto', messages: ask, tools: [weather], tool_choice: { type: 'function', function: { name: 'nope' } } }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'tool_choice',
  );
});

test('parallel_tool_calls: false keeps the first call', async () => {
  const two =
    '```tool_call\n{"name":"get_weather","arguments":{"city":"Paris","unit":"c"}}\n' +
    '{"name":"get_time","arguments":{"tz":"CET"}}\n```';
  simScript([{ match: 'Weather', reply: two }]);
  let c = await client.chat.completions.create({ model: 'auto', messages: ask, tools: [weather, time] });
  assert.deepEqual(
    c.choices[0].message.tool_calls.map((t) => t.function.name),
    ['get_weather', 'get_time'],
  );
  c = await client.chat.completions.create({ model: 'auto', messages: ask, tools: [weather, time], parallel_tool_calls: false });
  assert.deepEqual(c.choices[0].message.tool_calls.map((t) => t.function.name), ['get_weather']);
});

// ---- Responses -------------------------------------------------------------

const execTool = {
  type: 'function',
  name: 'exec_command',
  description: 'Run a command',
  parameters: { type: 'object', properties: { cmd: { type: 'string' } }, required: ['cmd'] },
  strict: false,
};

test('responses: function_call -> function_call_output -> answer', async () => {
  simConfig({ reply: 'tools', chunks: 10 });
  const r1 = await client.responses.create({ model: 'auto', input: 'list the files', tools: [execTool] });
  assert.equal(r1.status, 'completed');
  assert.equal(r1.output.length, 1);
  const fc = r1.output[0];
  assert.equal(fc.type, 'function_call');
  assert.match(fc.id, /^fc_[0-9a-f]{24}$/);
  assert.match(fc.call_id, /^call_[0-9a-f]{24}$/);
  assert.equal(fc.name, 'exec_command');
  assert.deepEqual(JSON.parse(fc.arguments), { cmd: 'x' });
  // Continued through the stored response.
  const r2 = await client.responses.create({
    model: 'auto',
    previous_response_id: r1.id,
    tools: [execTool],
    input: [{ type: 'function_call_output', call_id: fc.call_id, output: 'a.txt' }],
  });
  assert.equal(r2.output_text, 'DONE: a.txt');
  // Or with the whole history, as Codex sends it (store: false).
  const r3 = await client.responses.create({
    model: 'auto',
    store: false,
    tools: [execTool],
    input: [
      { role: 'user', content: 'list the files' },
      fc,
      { type: 'function_call_output', call_id: fc.call_id, output: 'b.txt' },
    ],
  });
  assert.equal(r3.output_text, 'DONE: b.txt');
});

test('responses.stream(): the function_call item and its argument events', async () => {
  simConfig({ reply: 'tools', chunks: 10 });
  const stream = client.responses.stream({ model: 'auto', input: 'list the files', tools: [execTool], store: false });
  let args = '';
  let doneArgs = null;
  stream.on('response.function_call_arguments.delta', (e) => (args += e.delta));
  stream.on('response.function_call_arguments.done', (e) => (doneArgs = e.arguments));
  const final = await stream.finalResponse();
  assert.equal(args, '{"cmd":"x"}');
  assert.equal(doneArgs, '{"cmd":"x"}');
  assert.equal(final.output.length, 1);
  assert.equal(final.output[0].type, 'function_call');
  assert.equal(final.output[0].status, 'completed');
  // tool_choice none: text, no item.
  const r = await client.responses.create({ model: 'auto', input: 'hi', tools: [execTool], tool_choice: 'none' });
  assert.equal(r.output_text, 'ECHO: hi');
});
