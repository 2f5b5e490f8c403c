// What the browser scripts share: their settings from the environment, the line protocol
// with the Go test that runs them (one JSON object per line on stdout and stdin), and a
// headless Chromium (Debian's, through playwright-core) in a throwaway profile.
//
// Environment: KETE_URL (http://127.0.0.1:port), KETE_APP, KETE_TOKEN, KETE_SCREENSHOT_DIR,
// CHROMIUM (default /usr/bin/chromium), KETE_TIMEOUT_MS (default 20000).
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

// require loads the npm packages of ../node (playwright-core, ws).
export const require = createRequire(new URL('../node/package.json', import.meta.url));
const { chromium } = require('playwright-core');

export const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined || v === '') throw new Error(`environment variable ${k} is not set`);
  return v;
};
export const BASE = env('KETE_URL');
export const APP = env('KETE_APP');
export const TOKEN = env('KETE_TOKEN');
export const SHOTS = env('KETE_SCREENSHOT_DIR');
export const TIMEOUT = Number(env('KETE_TIMEOUT_MS', '20000'));
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');

export const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);
export const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);

export function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

// The test's lines, read only by a script that waits for one: an open stdin keeps the
// process alive.
let lines;
const inbox = [];
const waiters = [];

// nextMessage waits up to TIMEOUT for the test's next line, which must be {"step":step}.
export function nextMessage(step) {
  if (!lines) {
    lines = readline.createInterface({ input: process.stdin });
    lines.on('line', (l) => {
      let m;
      try { m = JSON.parse(l); } catch { return; }
      const w = waiters.shift();
      if (w) w(m); else inbox.push(m);
    });
  }
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no "${step}" from the Go test within ${TIMEOUT} ms`)), TIMEOUT);
    const got = (m) => {
      clearTimeout(t);
      if (m.step !== step) reject(new Error(`expected step "${step}" from the Go test, got ${JSON.stringify(m)}`));
      else resolve(m);
    };
    if (inbox.length) got(inbox.shift()); else waiters.push(got);
  });
}

// withChromium runs fn(context) in a fresh headless Chromium with a window of viewport,
// then closes it and removes its profile, however fn ends.
export async function withChromium(viewport, fn) {
  const userData = mkdtempSync(path.join(tmpdir(), 'kete-chromium-'));
  const context = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport,
    timeout: TIMEOUT,
  });
  try {
    return await fn(context);
  } finally {
    await context.close().catch(() => {});
    rmSync(userData, { recursive: true, force: true });
  }
}

// run runs main and exits 0, or reports {"step":"failed","error"} and exits 1.
export function run(main) {
  main().then(() => process.exit(0), (err) => {
    say({ step: 'failed', error: String(err && err.stack || err) });
    process.exit(1);
  });
}
