// Claude Code (@anthropic-ai/claude-code@2.1.332, pinned) in print mode
// against lingma-gatewayd on lingma-sim: `claude -p "Say hi"` with nothing
// but ANTHROPIC_BASE_URL and a key, as the README tells a new user.
//
// tests/sdk/run-sdk.sh installs the package (npm ci into the build dir),
// starts the daemon and passes GW_URL, GW_KEY, GW_WORK_DIR, LINGMA_SIM_BIN.
// Claude Code runs with a fresh HOME and config dir, and with every proxy
// pointed at a closed local port: any call to a host other than the
// gateway fails at once instead of reaching the internet (the switches
// below already turn that traffic off; tests/agents/NOTES.md lists it).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const base = process.env.GW_URL;
const key = process.env.GW_KEY;
const work = process.env.GW_WORK_DIR;
assert.ok(base && key && work, 'GW_URL, GW_KEY, GW_WORK_DIR');

const plat = { x64: 'linux-x64', arm64: 'linux-arm64' }[process.arch];
const candidates = [
  `node_modules/@anthropic-ai/claude-code-${plat}/claude`,
  'node_modules/@anthropic-ai/claude-code/bin/claude.exe',
];
const bin = candidates.map((p) => resolve(p)).find((p) => existsSync(p));
assert.ok(bin, `no Claude Code binary in ${candidates.join(', ')}`);

const home = mkdtempSync(join(tmpdir(), 'lingma-claude-'));
after(() => rmSync(home, { recursive: true, force: true }));

function simConfig(obj) {
  writeFileSync(`${work}/sim.json.tmp`, JSON.stringify(obj));
  renameSync(`${work}/sim.json.tmp`, `${work}/sim.json`);
}

// How many GET /v1/models the gateway answered with 200.
async function modelsServed() {
  const r = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${key}` } });
  const m = (await r.text()).match(/^gateway_requests_total\{route="\/v1\/models",status="200"\} (\d+)$/m);
  return m ? Number(m[1]) : 0;
}

async function stats() {
  const r = await fetch(`${base}/internal/stats`, { headers: { authorization: `Bearer ${key}` } });
  return (await r.json()).concurrency;
}

// Run `claude -p PROMPT`; resolve {code, stdout, stderr}. Killed (by its
// pid) after `ms`.
function claude(name, prompt, extraEnv = {}, ms = 90000) {
  const dir = join(home, name);
  mkdirSync(join(dir, 'work'), { recursive: true });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  const closed = 'http://127.0.0.1:9';
  const env = {
    HOME: dir,
    CLAUDE_CONFIG_DIR: join(dir, '.claude'),
    TMPDIR: join(dir, 'tmp'),
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C.UTF-8',
    TERM: 'dumb',
    NO_COLOR: '1',
    ANTHROPIC_BASE_URL: base,
    ANTHROPIC_API_KEY: key,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_AUTOUPDATER: '1',
    HTTPS_PROXY: closed,
    HTTP_PROXY: closed,
    ALL_PROXY: closed,
    https_proxy: closed,
    http_proxy: closed,
    all_proxy: closed,
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    ...extraEnv,
  };
  return new Promise((done) => {
    const p = spawn(bin, ['-p', prompt], {
      cwd: join(dir, 'work'),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), ms);
    p.on('error', (e) => {
      clearTimeout(timer);
      done({ code: -1, signal: null, stdout, stderr: String(e) });
    });
    p.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}

test('claude -p "Say hi" prints the answer Lingma gave through the gateway', async () => {
  simConfig({});
  const before = (await stats()).accepted_total;
  const r = await claude('say-hi', 'Say hi');
  assert.equal(r.code, 0, `exit ${r.code}/${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  // The simulator echoes the question it got: Claude Code's system prompt
  // and the user turn, flattened by the gateway, then the answer.
  assert.match(r.stdout, /^ECHO: /, r.stdout.slice(0, 500));
  assert.ok(r.stdout.includes('Say hi'), 'the user turn reached Lingma');
  assert.ok(!r.stdout.includes('x-anthropic-billing-header'), 'no billing header in the prompt');
  assert.ok((await stats()).accepted_total > before, 'the chat went through the gateway');
});

test('claude -p with gateway model discovery (GET /v1/models in Anthropic shape)', async () => {
  simConfig({ reply: 'text:Hello from Lingma.' });
  const listed = await modelsServed();
  const r = await claude('discovery', 'Say hi', { CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY: '1' });
  assert.equal(r.code, 0, `exit ${r.code}/${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  assert.equal(r.stdout.trim(), 'Hello from Lingma.');
  assert.ok((await modelsServed()) > listed, 'Claude Code listed the models');
  simConfig({});
});
