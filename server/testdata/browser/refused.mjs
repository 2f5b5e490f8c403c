// Opens kete's dashboard in headless Chromium (through playwright-core) for an app whose
// allowedOrigins leave the dashboard's own origin out, and reports what the page's status
// says. Run by TestRefusedOriginShownInBrowser (server/refusal_browser_test.go).
//
//   script → test  {"step":"done","state":…,"status":…,"screenshot":PATH}
//   script → test  {"step":"failed","error":…} (and exit code 1)
//
// Environment: KETE_URL, KETE_APP, KETE_TOKEN, KETE_SCREENSHOT_DIR, CHROMIUM (default
// /usr/bin/chromium), KETE_TIMEOUT_MS (default 20000). The wait is on the page's DOM.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const require = createRequire(new URL('../node/package.json', import.meta.url));
const { chromium } = require('playwright-core');

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined || v === '') throw new Error(`environment variable ${k} is not set`);
  return v;
};
const BASE = env('KETE_URL');
const APP = env('KETE_APP');
const TOKEN = env('KETE_TOKEN');
const SHOTS = env('KETE_SCREENSHOT_DIR');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const TIMEOUT = Number(env('KETE_TIMEOUT_MS', '20000'));
const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

async function main() {
  const userData = mkdtempSync(path.join(tmpdir(), 'kete-chromium-'));
  const context = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 720 },
    timeout: TIMEOUT,
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    await page.goto(`${BASE}/#app=${encodeURIComponent(APP)}&token=${encodeURIComponent(TOKEN)}&topics=events`);
    // Either the page gives up with a reason, or the wait runs out and the test sees the
    // "reconnecting" state it was left in.
    await page.waitForSelector('#status[data-state="error"]', { timeout: TIMEOUT }).catch(() => {});
    const state = await page.locator('#status').getAttribute('data-state');
    const status = (await page.locator('#status-text').textContent()).trim();
    const screenshot = path.join(SHOTS, 'dashboard-origin-refused.png');
    await page.screenshot({ path: screenshot });
    say({ step: 'done', state, status, screenshot });
  } finally {
    await context.close();
    rmSync(userData, { recursive: true, force: true });
  }
}

main().catch((err) => {
  say({ step: 'failed', error: String(err && err.stack || err) });
  process.exit(1);
});
