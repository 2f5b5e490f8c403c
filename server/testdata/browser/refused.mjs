// Opens kete's dashboard in headless Chromium (through playwright-core) for an app whose
// allowedOrigins leave the dashboard's own origin out, and reports what the page's status
// says. Run by TestRefusedOriginShownInBrowser (server/refusal_browser_test.go).
//
//   script → test  {"step":"done","state":…,"status":…,"screenshot":PATH}
//   script → test  {"step":"failed","error":…} (and exit code 1)
//
// Environment: KETE_URL, KETE_APP, KETE_TOKEN, KETE_SCREENSHOT_DIR, CHROMIUM (default
// /usr/bin/chromium), KETE_TIMEOUT_MS (default 20000). The wait is on the page's DOM.
import path from 'node:path';

import { APP, BASE, SHOTS, TIMEOUT, TOKEN, run, say, withChromium } from './harness.mjs';

async function main() {
  await withChromium({ width: 1280, height: 720 }, async (context) => {
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
  });
}

run(main);
