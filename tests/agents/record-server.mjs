#!/usr/bin/env node
// record-server.mjs: a recording stand-in for the Anthropic Messages API and
// the OpenAI Responses API, used to learn exactly what Claude Code and Codex
// CLI send and which answers they accept. No dependencies (Node >= 18).
//
//   node record-server.mjs --log FILE [--port 0] [--scenario FILE] [--port-file FILE]
//
// Listens on 127.0.0.1 (ephemeral port by default), prints "PORT=<n>" on
// stdout, and appends one JSON line per request to --log: seq, time, method,
// url, headers (API keys redacted), header order, body (parsed when JSON),
// and what was answered. It also logs CONNECT / absolute-form proxy requests
// (point HTTPS_PROXY/HTTP_PROXY at it to see any attempt to reach a vendor
// host) and answers them 403: nothing is ever forwarded.
//
// The answers follow a scenario (JSON), re-read from --scenario on every
// request when given, else built in. All keys are optional:
// {
//   "text": "Hi from the recorder.",     // assistant text
//   "chunks": 3,                          // text split into this many deltas
//   "tool": null,                         // Anthropic: {"name":"Write","input":{...}}
//                                         // Responses: {"name":"exec_command","arguments":{...},
//                                         //   "type":"function_call"|"custom_tool_call"}
//   "drop": [],                           // event types to leave out of the stream
//   "ping": false,                        // Anthropic: event: ping after message_start and each delta
//   "comments": false,                    // an SSE comment ": keepalive" before every event
//   "no_event_lines": false,              // send only "data:" lines (no "event:" lines)
//   "error_after": null,                  // event type after which an error event ends the stream
//   "error_kind": "error",                // Responses: "error" (type error) or "failed" (response.failed)
//   "cut_after": null,                    // event type after which the connection is closed
//   "fail": null,                         // {"status":429,"count":2,"headers":{"retry-after":"1"},
//                                         //  "paths":["/v1/messages"]}: the first count matching
//                                         //  requests get this status (counter reset when the
//                                         //  scenario file changes)
//   "delay_ms": 0,                        // before answering
//   "thinking": null,                     // Anthropic: a thinking text sent before the answer
//   "completed_response": null,           // Responses: replaces the response object of response.completed
//   "stop_reason": null,                  // Anthropic: overrides the stop_reason sent in message_delta
//   "response_model": null,               // the model name put in answers (default: the request's)
//   "reasoning": null                     // Responses: a reasoning item with this summary text first
// }
// A request whose conversation ends with a tool result is answered with
// "DONE: " + that result's text (first 200 chars), never with another call.

import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';

const args = process.argv.slice(2);
function arg(name, dflt) {
  const i = args.indexOf('--' + name);
  return i >= 0 ? args[i + 1] : dflt;
}
const LOG = arg('log', 'record.jsonl');
const PORT = Number(arg('port', '0'));
const SCEN = arg('scenario', null);
const PORT_FILE = arg('port-file', null);
const KNOWN_KEY = process.env.RECORD_API_KEY || 'sk-recorder-test-key';

let seq = 0;
let scenMtime = 0;
let scen = {};
const failCounters = new Map();

function scenario() {
  if (!SCEN) return scen;
  try {
    const st = fs.statSync(SCEN);
    if (st.mtimeMs !== scenMtime) {
      scen = JSON.parse(fs.readFileSync(SCEN, 'utf8'));
      scenMtime = st.mtimeMs;
      failCounters.clear();
    }
  } catch (e) {
    if (e.code !== 'ENOENT') console.error('scenario:', e.message);
    scen = {};
  }
  return scen;
}

function redact(headers) {
  const out = {};
  for (const [k, v] of Object.entries(headers)) {
    if (k === 'x-api-key' || k === 'authorization' || k === 'proxy-authorization' ||
        k === 'openai-api-key' || k === 'api-key') {
      const s = String(v);
      const m = s.match(/^(Bearer\s+)?(.*)$/i);
      const scheme = m[1] || '';
      out[k] = scheme + (m[2] === KNOWN_KEY ? '<API_KEY>' : `<redacted len=${m[2].length}>`);
    } else {
      out[k] = v;
    }
  }
  return out;
}

function logLine(obj) {
  fs.appendFileSync(LOG, JSON.stringify(obj) + '\n');
}

const rid = (p) => p + crypto.randomBytes(12).toString('hex');
const now = () => Math.floor(Date.now() / 1000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function splitText(text, n) {
  n = Math.max(1, Math.min(n || 1, text.length || 1));
  const size = Math.ceil(text.length / n);
  const out = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length ? out : [''];
}

function textOf(content) {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((c) => (typeof c === 'string' ? c : c.text ?? c.output ?? textOf(c.content))).join('');
  }
  if (typeof content === 'object') return content.text ?? content.output ?? JSON.stringify(content);
  return String(content);
}

// ---------------------------------------------------------------- Anthropic

function anthropicToolResult(body) {
  const msgs = Array.isArray(body.messages) ? body.messages : [];
  const last = msgs[msgs.length - 1];
  if (!last || last.role !== 'user' || !Array.isArray(last.content)) return null;
  const tr = last.content.filter((b) => b && b.type === 'tool_result');
  if (!tr.length) return null;
  return textOf(tr[tr.length - 1].content);
}

function anthropicBlocks(body, sc) {
  const result = anthropicToolResult(body);
  const blocks = [];
  if (sc.thinking) blocks.push({ type: 'thinking', thinking: sc.thinking, signature: 'sig_recorder' });
  if (result !== null) {
    blocks.push({ type: 'text', text: 'DONE: ' + result.slice(0, 200) });
    return { blocks, stop: 'end_turn' };
  }
  if (sc.tool) {
    if (sc.tool_preamble) blocks.push({ type: 'text', text: sc.tool_preamble });
    blocks.push({ type: 'tool_use', id: rid('toolu_'), name: sc.tool.name, input: sc.tool.input || {} });
    return { blocks, stop: 'tool_use' };
  }
  blocks.push({ type: 'text', text: sc.text ?? 'Hi from the recorder.' });
  return { blocks, stop: 'end_turn' };
}

function anthropicMessage(body, sc) {
  const { blocks, stop } = anthropicBlocks(body, sc);
  return {
    id: rid('msg_'), type: 'message', role: 'assistant', model: sc.response_model ?? body.model ?? 'unknown',
    content: blocks, stop_reason: stop, stop_sequence: null,
    usage: { input_tokens: 12, output_tokens: 7, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
  };
}

function anthropicEvents(body, sc) {
  const msg = anthropicMessage(body, sc);
  const ev = [];
  const start = { ...msg, content: [], stop_reason: null, usage: { ...msg.usage, output_tokens: 1 } };
  ev.push(['message_start', { type: 'message_start', message: start }]);
  if (sc.ping) ev.push(['ping', { type: 'ping' }]);
  msg.content.forEach((b, index) => {
    if (b.type === 'text') {
      ev.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }]);
      for (const t of splitText(b.text, sc.chunks ?? 3)) {
        ev.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: t } }]);
        if (sc.ping) ev.push(['ping', { type: 'ping' }]);
      }
    } else if (b.type === 'thinking') {
      ev.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } }]);
      ev.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking: b.thinking } }]);
      ev.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: b.signature } }]);
    } else if (b.type === 'tool_use') {
      ev.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } }]);
      for (const t of splitText(JSON.stringify(b.input), sc.chunks ?? 3)) {
        ev.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: t } }]);
      }
    }
    ev.push(['content_block_stop', { type: 'content_block_stop', index }]);
  });
  ev.push(['message_delta', { type: 'message_delta', delta: { stop_reason: sc.stop_reason ?? msg.stop_reason, stop_sequence: null }, usage: { output_tokens: msg.usage.output_tokens } }]);
  ev.push(['message_stop', { type: 'message_stop' }]);
  return ev;
}

const anthropicErrTypes = { 400: 'invalid_request_error', 401: 'authentication_error', 403: 'permission_error', 404: 'not_found_error', 413: 'request_too_large', 429: 'rate_limit_error', 500: 'api_error', 502: 'api_error', 503: 'api_error', 529: 'overloaded_error' };

// ---------------------------------------------------------------- Responses

function responsesToolResult(body) {
  const input = Array.isArray(body.input) ? body.input : [];
  let lastUser = -1;
  input.forEach((it, i) => { if (it && (it.type === 'message' || !it.type) && it.role === 'user') lastUser = i; });
  const outs = input.slice(lastUser + 1).filter((it) => it && /_call_output$/.test(it.type || ''));
  if (!outs.length) return null;
  return textOf(outs[outs.length - 1].output);
}

function responsesOutput(body, sc) {
  const out = responsesOutputMain(body, sc);
  if (sc.reasoning) {
    out.unshift({ id: rid('rs_'), type: 'reasoning', summary: [{ type: 'summary_text', text: sc.reasoning }] });
  }
  return out;
}

function responsesOutputMain(body, sc) {
  const result = responsesToolResult(body);
  if (result === null && sc.tool) {
    const t = sc.tool;
    if (t.type === 'custom_tool_call') {
      return [{ id: rid('ctc_'), type: 'custom_tool_call', status: 'completed', call_id: rid('call_'), name: t.name, input: t.input ?? '' }];
    }
    const a = typeof t.arguments === 'string' ? t.arguments : JSON.stringify(t.arguments || {});
    return [{ id: rid('fc_'), type: 'function_call', status: 'completed', arguments: a, call_id: rid('call_'), name: t.name }];
  }
  const text = result !== null ? 'DONE: ' + result.slice(0, 200) : (sc.text ?? 'Hi from the recorder.');
  return [{ id: rid('msg_'), type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text, annotations: [], logprobs: [] }] }];
}

function responseObject(body, sc, output, status) {
  return {
    id: rid('resp_'), object: 'response', created_at: now(), status,
    background: false, error: null, incomplete_details: null,
    instructions: null, max_output_tokens: body.max_output_tokens ?? null,
    model: sc.response_model ?? body.model ?? 'unknown', output,
    parallel_tool_calls: body.parallel_tool_calls ?? true, previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: body.reasoning?.effort ?? null, summary: null }, store: body.store ?? true,
    temperature: 1, text: { format: { type: 'text' }, verbosity: 'medium' }, tool_choice: body.tool_choice ?? 'auto',
    tools: [], top_p: 1, truncation: 'disabled',
    usage: status === 'completed' ? { input_tokens: 12, input_tokens_details: { cached_tokens: 0 }, output_tokens: 7, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 19 } : null,
    user: null, metadata: {},
  };
}

function responsesEvents(body, sc) {
  const output = responsesOutput(body, sc);
  const base = responseObject(body, sc, [], 'in_progress');
  const ev = [];
  ev.push(['response.created', { type: 'response.created', response: base }]);
  ev.push(['response.in_progress', { type: 'response.in_progress', response: base }]);
  output.forEach((item, output_index) => {
    if (item.type === 'message') {
      const text = item.content[0].text;
      ev.push(['response.output_item.added', { type: 'response.output_item.added', output_index, item: { ...item, status: 'in_progress', content: [] } }]);
      ev.push(['response.content_part.added', { type: 'response.content_part.added', item_id: item.id, output_index, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } }]);
      for (const d of splitText(text, sc.chunks ?? 3)) {
        ev.push(['response.output_text.delta', { type: 'response.output_text.delta', item_id: item.id, output_index, content_index: 0, delta: d, logprobs: [] }]);
      }
      ev.push(['response.output_text.done', { type: 'response.output_text.done', item_id: item.id, output_index, content_index: 0, text, logprobs: [] }]);
      ev.push(['response.content_part.done', { type: 'response.content_part.done', item_id: item.id, output_index, content_index: 0, part: item.content[0] }]);
    } else if (item.type === 'reasoning') {
      const text = item.summary[0].text;
      ev.push(['response.output_item.added', { type: 'response.output_item.added', output_index, item: { ...item, summary: [] } }]);
      ev.push(['response.reasoning_summary_part.added', { type: 'response.reasoning_summary_part.added', item_id: item.id, output_index, summary_index: 0, part: { type: 'summary_text', text: '' } }]);
      for (const d of splitText(text, sc.chunks ?? 3)) {
        ev.push(['response.reasoning_summary_text.delta', { type: 'response.reasoning_summary_text.delta', item_id: item.id, output_index, summary_index: 0, delta: d }]);
      }
      ev.push(['response.reasoning_summary_text.done', { type: 'response.reasoning_summary_text.done', item_id: item.id, output_index, summary_index: 0, text }]);
      ev.push(['response.reasoning_summary_part.done', { type: 'response.reasoning_summary_part.done', item_id: item.id, output_index, summary_index: 0, part: { type: 'summary_text', text } }]);
    } else if (item.type === 'function_call') {
      ev.push(['response.output_item.added', { type: 'response.output_item.added', output_index, item: { ...item, status: 'in_progress', arguments: '' } }]);
      for (const d of splitText(item.arguments, sc.chunks ?? 3)) {
        ev.push(['response.function_call_arguments.delta', { type: 'response.function_call_arguments.delta', item_id: item.id, output_index, delta: d }]);
      }
      ev.push(['response.function_call_arguments.done', { type: 'response.function_call_arguments.done', item_id: item.id, output_index, name: item.name, arguments: item.arguments }]);
    } else if (item.type === 'custom_tool_call') {
      ev.push(['response.output_item.added', { type: 'response.output_item.added', output_index, item: { ...item, status: 'in_progress', input: '' } }]);
      ev.push(['response.custom_tool_call_input.delta', { type: 'response.custom_tool_call_input.delta', item_id: item.id, output_index, delta: item.input }]);
      ev.push(['response.custom_tool_call_input.done', { type: 'response.custom_tool_call_input.done', item_id: item.id, output_index, input: item.input }]);
    }
    ev.push(['response.output_item.done', { type: 'response.output_item.done', output_index, item }]);
  });
  const done = sc.completed_response ?? { ...responseObject(body, sc, output, 'completed'), id: base.id, created_at: base.created_at };
  ev.push(['response.completed', { type: 'response.completed', response: done }]);
  return ev;
}

// ---------------------------------------------------------------- SSE writer

async function writeSse(res, events, sc, api) {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'request-id': rid('req_'), 'x-request-id': rid('req_') });
  const drop = new Set(sc.drop || []);
  let n = 0;
  const sent = [];
  for (const [name, data] of events) {
    if (drop.has(name)) continue;
    if (api === 'responses') data.sequence_number = n;
    n++;
    if (sc.comments) res.write(': keepalive\n\n');
    res.write(sc.no_event_lines ? `data: ${JSON.stringify(data)}\n\n` : `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    sent.push(name);
    if (sc.event_delay_ms) await sleep(sc.event_delay_ms);
    if (sc.error_after === name) {
      if (api === 'anthropic') {
        res.write(`event: error\ndata: ${JSON.stringify({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded (recorder)' } })}\n\n`);
        sent.push('error');
      } else if ((sc.error_kind || 'error') === 'error') {
        res.write(`event: error\ndata: ${JSON.stringify({ type: 'error', code: 'server_error', message: 'recorder stream error', param: null, sequence_number: n++ })}\n\n`);
        sent.push('error');
      } else {
        const r = { ...events[0][1].response, status: 'failed', error: { code: 'server_error', message: 'recorder stream failure' } };
        res.write(`event: response.failed\ndata: ${JSON.stringify({ type: 'response.failed', response: r, sequence_number: n++ })}\n\n`);
        sent.push('response.failed');
      }
      break;
    }
    if (sc.cut_after === name) { sent.push('<cut>'); res.socket.destroy(); return sent; }
  }
  res.end();
  return sent;
}

// ---------------------------------------------------------------- server

function sendJson(res, status, obj, extra = {}) {
  const s = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s), 'request-id': rid('req_'), 'x-request-id': rid('req_'), ...extra });
  res.end(s);
}

function modelsAnthropic() {
  const ids = ['claude-opus-5-5', 'claude-sonnet-4-6', 'claude-haiku-4-5-20251001'];
  return { data: ids.map((id) => ({ type: 'model', id, display_name: id, created_at: '2025-01-01T00:00:00Z' })), has_more: false, first_id: ids[0], last_id: ids[ids.length - 1] };
}
function modelsOpenAI() {
  return { object: 'list', data: ['gpt-5-codex', 'lingma-auto'].map((id) => ({ id, object: 'model', created: 1700000000, owned_by: 'recorder' })) };
}

async function handle(req, res, raw, entry) {
  const sc = scenario();
  const url = new URL(req.url, 'http://x');
  const path = url.pathname;
  let body = null;
  if (raw.length) {
    try { body = JSON.parse(raw.toString('utf8')); } catch { body = null; }
  }
  if (sc.delay_ms) await sleep(sc.delay_ms);

  const isMsg = req.method === 'POST' && /^\/(v1\/)?messages$/.test(path);
  const isResp = req.method === 'POST' && /^\/(v1\/)?responses$/.test(path);

  if (sc.fail && (isMsg || isResp || (sc.fail.paths || []).includes(path))) {
    const paths = sc.fail.paths || null;
    if (!paths || paths.includes(path)) {
      const k = path;
      const used = failCounters.get(k) || 0;
      if (used < (sc.fail.count ?? 1)) {
        failCounters.set(k, used + 1);
        const st = sc.fail.status || 500;
        const errBody = isMsg
          ? { type: 'error', error: { type: anthropicErrTypes[st] || 'api_error', message: `recorder injected ${st}` } }
          : { error: { message: `recorder injected ${st}`, type: st === 429 ? 'rate_limit_exceeded' : 'server_error', param: null, code: sc.fail.code ?? null } };
        entry.answer = { status: st, injected: true };
        return sendJson(res, st, sc.fail.body || errBody, sc.fail.headers || {});
      }
    }
  }

  if (isMsg) {
    if (!body) { entry.answer = { status: 400 }; return sendJson(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'bad json' } }); }
    if (body.stream) {
      entry.answer = { status: 200, sse: await writeSse(res, anthropicEvents(body, sc), sc, 'anthropic') };
      return;
    }
    const m = anthropicMessage(body, sc);
    entry.answer = { status: 200, json: m.content.map((b) => b.type) };
    return sendJson(res, 200, m);
  }
  if (req.method === 'POST' && /^\/(v1\/)?messages\/count_tokens$/.test(path)) {
    entry.answer = { status: 200 };
    return sendJson(res, 200, { input_tokens: Math.ceil(raw.length / 4) });
  }
  if (isResp) {
    if (!body) { entry.answer = { status: 400 }; return sendJson(res, 400, { error: { message: 'bad json', type: 'invalid_request_error', param: null, code: null } }); }
    if (body.stream) {
      entry.answer = { status: 200, sse: await writeSse(res, responsesEvents(body, sc), sc, 'responses') };
      return;
    }
    const out = responsesOutput(body, sc);
    entry.answer = { status: 200, json: out.map((o) => o.type) };
    return sendJson(res, 200, responseObject(body, sc, out, 'completed'));
  }
  if (req.method === 'GET' && /^\/(v1\/)?models$/.test(path)) {
    entry.answer = { status: 200 };
    return sendJson(res, 200, req.headers['anthropic-version'] ? modelsAnthropic() : modelsOpenAI());
  }
  entry.answer = { status: 404 };
  if (path.includes('messages') || req.headers['anthropic-version']) {
    return sendJson(res, 404, { type: 'error', error: { type: 'not_found_error', message: `recorder: no route ${req.method} ${path}` } });
  }
  return sendJson(res, 404, { error: { message: `recorder: no route ${req.method} ${path}`, type: 'invalid_request_error', param: null, code: 'not_found' } });
}

const server = http.createServer((req, res) => {
  const t0 = Date.now();
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const raw = Buffer.concat(chunks);
    const my = ++seq;
    const proxied = /^https?:\/\//i.test(req.url);
    const entry = {
      seq: my, t: new Date(t0).toISOString(), t_ms: t0, method: req.method, url: req.url,
      http_version: req.httpVersion, headers: redact(req.headers),
      header_order: req.rawHeaders.filter((_, i) => i % 2 === 0),
      body_bytes: raw.length,
    };
    if (req.headers['content-encoding']) entry.content_encoding = req.headers['content-encoding'];
    let body = raw.toString('utf8');
    try { body = JSON.parse(body); } catch { /* keep text */ }
    entry.body = raw.length ? body : null;
    try {
      if (proxied) {
        entry.proxy = true;
        entry.answer = { status: 403 };
        sendJson(res, 403, { error: 'recorder: outbound traffic refused' });
      } else {
        await handle(req, res, raw, entry);
      }
    } catch (e) {
      entry.answer = { status: 500, exception: String(e && e.stack || e) };
      try { sendJson(res, 500, { error: { message: String(e) } }); } catch { /* gone */ }
    }
    entry.ms = Date.now() - t0;
    logLine(entry);
  });
});

server.on('connect', (req, socket) => {
  socket.on('error', () => {});
  logLine({ seq: ++seq, t: new Date().toISOString(), t_ms: Date.now(), method: 'CONNECT', url: req.url, headers: redact(req.headers), proxy: true, answer: { status: 403 } });
  socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
});
server.on('upgrade', (req, socket) => {
  socket.on('error', () => {});
  logLine({ seq: ++seq, t: new Date().toISOString(), t_ms: Date.now(), method: req.method, url: req.url, headers: redact(req.headers), upgrade: req.headers.upgrade, answer: { status: 404 } });
  socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
});
server.on('clientError', (err, socket) => { try { socket.destroy(); } catch { /* gone */ } });
server.on('connection', (socket) => socket.on('error', () => {}));
server.keepAliveTimeout = 30000;

server.listen(PORT, '127.0.0.1', () => {
  const port = server.address().port;
  if (PORT_FILE) fs.writeFileSync(PORT_FILE, String(port));
  process.stdout.write(`PORT=${port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { server.close(); process.exit(0); });
