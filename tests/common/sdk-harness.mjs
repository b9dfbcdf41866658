// What every SDK test file shares: the environment run-sdk.sh hands over and
// the simulator's switches. run-sdk.sh copies this file next to the test.
//   GW_URL        the gateway's base URL ("http://127.0.0.1:PORT")
//   GW_KEY        the API key it was started with
//   GW_WORK_DIR   the simulator's work dir (sim.json there is re-read per chat)
//   LINGMA_SIM_BIN
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync, renameSync } from 'node:fs';

export const base = process.env.GW_URL;
export const key = process.env.GW_KEY;
export const work = process.env.GW_WORK_DIR;
export const simBin = process.env.LINGMA_SIM_BIN;
assert.ok(base && key && work && simBin, 'GW_URL, GW_KEY, GW_WORK_DIR, LINGMA_SIM_BIN');

// Replace sim.json atomically: the simulator reads it at every ask.
export function simConfig(obj) {
  writeFileSync(`${work}/sim.json.tmp`, JSON.stringify(obj));
  renameSync(`${work}/sim.json.tmp`, `${work}/sim.json`);
}

// Rules for LINGMA_SIM_REPLY=script: the first match answers.
export function simScript(rules) {
  writeFileSync(`${work}/rules.json.tmp`, JSON.stringify(rules));
  renameSync(`${work}/rules.json.tmp`, `${work}/rules.json`);
  simConfig({ reply: `script:${work}/rules.json`, chunks: 7 });
}

export function simStatus(field) {
  const out = execFileSync(simBin, ['status', '-o', 'json', '--workDir', work]);
  return JSON.parse(out.toString())[field];
}

export async function stats() {
  const r = await fetch(`${base}/internal/stats`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(r.status, 200);
  return r.json();
}

export async function waitFor(pred, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    if (await pred()) return Date.now();
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
