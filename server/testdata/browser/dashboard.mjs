// Drives kete's dashboard in headless Chromium (Debian's /usr/bin/chromium, through
// playwright-core) against a running kete server. Run by TestDashboardInBrowser
// (server/dashboard_browser_test.go), which starts the server and talks to this script over
// stdio, one JSON object per line:
//
//   script → test  {"step":"connected"}        the page shows "connected"
//   test → script  {"step":"published"}        the test published its events (HTTP API)
//   script → test  {"step":"kick"}             checks done; drop the page's connection
//   test → script  {"step":"kicked"}           DELETE /api/connections/{app} answered 200
//   script → test  {"step":"reconnected"}      the page reconnected and subscribed again
//   test → script  {"step":"published-again"}  one more event published
//   script → test  {"step":"done","screenshot":PATH}
//   script → test  {"step":"failed","error":…} (and exit code 1)
//
// Environment: KETE_URL (http://127.0.0.1:port), KETE_APP, KETE_TOKEN (subscriber token for
// the page), KETE_PUBLISHER_TOKEN (a client token allowed to publish, used to publish one
// event over a WebSocket so the page sees the {payload,id,client} envelope),
// KETE_SCREENSHOT_DIR, CHROMIUM (default /usr/bin/chromium), KETE_TIMEOUT_MS (default 20000).
// Every wait is on the page's DOM with a deadline; nothing sleeps.
import path from 'node:path';

import { APP, BASE, SHOTS, TIMEOUT, TOKEN, check, env, log, nextMessage, require, run, say, withChromium } from './harness.mjs';

const WebSocket = require('ws');
const PUB_TOKEN = env('KETE_PUBLISHER_TOKEN');

// publishOverWebSocket publishes one event the way a Node or browser client does, so that
// subscribers get data = {payload, id, client}.
function publishOverWebSocket(topic, payload) {
  const url = `${BASE.replace(/^http/, 'ws')}/apps/${encodeURIComponent(APP)}?access_token=${encodeURIComponent(PUB_TOKEN)}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const t = setTimeout(() => { ws.terminate(); reject(new Error('no welcome for the publishing client')); }, TIMEOUT);
    ws.on('error', (e) => { clearTimeout(t); reject(e); });
    ws.on('unexpected-response', (_req, res) => { clearTimeout(t); reject(new Error(`publisher upgrade refused: ${res.statusCode}`)); });
    ws.on('message', (data) => {
      const f = JSON.parse(String(data));
      if (f.topic === 'main' && f.messageType === 'welcome') {
        ws.send(JSON.stringify({ type: 'publish', data: { topic, messageType: 'kete-event', payload, id: 'ws-publish-1' } }), (err) => {
          clearTimeout(t);
          if (err) { reject(err); return; }
          ws.close(1000);
          resolve();
        });
      }
    });
  });
}

const rows = (page) => page.locator('#feed-body tr[data-testid="event-row"]');

async function waitRows(page, n, what) {
  try {
    await page.waitForFunction((want) => document.querySelectorAll('#feed-body tr[data-testid="event-row"]').length === want, n, { timeout: TIMEOUT });
  } catch (err) {
    const got = await rows(page).count();
    throw new Error(`${what}: the feed shows ${got} rows, want ${n} (${err.message.split('\n')[0]})`);
  }
}

async function waitText(page, selector, want, what) {
  try {
    await page.waitForFunction(([s, w]) => { const e = document.querySelector(s); return !!e && e.textContent.trim() === w; }, [selector, want], { timeout: TIMEOUT });
  } catch {
    const got = await page.locator(selector).first().textContent().catch(() => null);
    throw new Error(`${what}: ${selector} reads ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

async function main() {
  const errors = [];
  await withChromium({ width: 1440, height: 900 }, async (context) => {
    const page = context.pages()[0] || await context.newPage();
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') log(`console error: ${m.text()}`); });

    // 1. A bad token: the page says why instead of retrying for ever.
    await page.goto(`${BASE}/#app=${encodeURIComponent(APP)}&token=not-a-jwt&topics=events`);
    await page.waitForSelector('#status[data-state="error"]', { timeout: TIMEOUT });
    const why = await page.locator('#status-text').textContent();
    check(/unauthori[sz]ed/i.test(why), `status after a bad token says unauthorized, got ${JSON.stringify(why)}`);
    check(await page.locator('#status').getAttribute('aria-live') === 'polite', 'the status is announced (aria-live=polite)');

    // 2. The real token in the fragment, two topics.
    await page.goto('about:blank'); // a fresh document: a hash change alone would not reload
    await page.goto(`${BASE}/#app=${encodeURIComponent(APP)}&token=${encodeURIComponent(TOKEN)}&topics=events,audit`);
    await page.waitForSelector('#status[data-state="connected"]', { timeout: TIMEOUT });
    // Each subscription is confirmed by a welcome on its topic; publish only after both.
    await page.waitForSelector('#status[data-subscribed="audit,events"]', { timeout: TIMEOUT });
    check(await page.inputValue('#app-id') === APP, 'app id taken from the fragment');
    check(await page.inputValue('#topics') === 'events, audit', 'topics taken from the fragment');
    say({ step: 'connected' });

    // 3. The Go test publishes three events through the HTTP API.
    await nextMessage('published');
    // 4. And one comes from a WebSocket client.
    await publishOverWebSocket('events', {
      kind: 'EVENT', id: 'evt-ws-1', time: Date.now(), type: 'LOGIN', realmName: 'acme',
      clientId: 'web-shop', userId: 'user-ws', ipAddress: '192.0.2.9',
    });

    await waitRows(page, 4, 'after four events');
    const first = rows(page).first();
    check(await first.getAttribute('data-type') === 'LOGIN' && await first.getAttribute('data-realm') === 'acme',
      'the newest row (the WebSocket publish) is first');
    const httpLogin = page.locator('#feed-body tr[data-type="LOGIN"]', { hasText: 'user-http' });
    check(await httpLogin.count() === 1, 'the LOGIN published over HTTP is in the feed with its user');
    check((await httpLogin.textContent()).includes('198.51.100.7'), 'its IP address is shown');
    const adminRow = page.locator('#feed-body tr[data-type="USER_CREATE"]');
    check(await adminRow.count() === 1, 'the admin event shows as USER_CREATE');
    check((await adminRow.textContent()).includes('admin-1'), 'the admin event shows who did it (authDetails.userId)');
    const ceRow = page.locator('#feed-body tr[data-type="LOGIN_ERROR"]');
    check(await ceRow.getAttribute('data-realm') === 'globex', 'the CloudEvent is unwrapped: realm globex');
    check(await ceRow.getAttribute('data-result') === 'ERROR', 'the CloudEvent carries its error');

    // Counts per type and totals.
    await waitText(page, '#type-counts li[data-type="LOGIN"] [data-testid="type-count-value"]', '2', 'LOGIN count');
    await waitText(page, '#type-counts li[data-type="USER_CREATE"] [data-testid="type-count-value"]', '1', 'USER_CREATE count');
    await waitText(page, '#type-counts li[data-type="LOGIN_ERROR"] [data-testid="type-count-value"]', '1', 'LOGIN_ERROR count');
    await waitText(page, '#total-count', '4', 'total');
    await waitText(page, '#error-count', '1', 'errors');
    await waitText(page, '#realm-count', '3', 'realms');

    // Filters: the selects list what arrived.
    const realmOptions = await page.locator('#filter-realm option').evaluateAll((os) => os.map((o) => o.value));
    check(JSON.stringify(realmOptions) === JSON.stringify(['', 'acme', 'globex', 'master']), `realm options ${JSON.stringify(realmOptions)}`);
    await page.selectOption('#filter-realm', 'acme');
    await waitRows(page, 2, 'realm filter acme');
    check(await page.locator('#feed-body tr:not([data-realm="acme"])').count() === 0, 'only acme rows under the realm filter');
    await page.selectOption('#filter-realm', '');
    await page.selectOption('#filter-type', 'LOGIN_ERROR');
    await waitRows(page, 1, 'type filter LOGIN_ERROR');
    await page.selectOption('#filter-type', '');
    await page.selectOption('#filter-result', 'ERROR');
    await waitRows(page, 1, 'result filter ERROR');
    await page.selectOption('#filter-result', '');
    await page.fill('#filter-text', 'user-ws');
    await waitRows(page, 1, 'search user-ws');
    await page.fill('#filter-text', '');
    // Clicking a count filters by that type, clicking again clears it.
    await page.click('#type-counts li[data-type="USER_CREATE"] button');
    await waitRows(page, 1, 'count click filters by USER_CREATE');
    check(await page.inputValue('#filter-type') === 'USER_CREATE', 'the type select follows a click on a count');
    await page.click('#type-counts li[data-type="USER_CREATE"] button');
    await waitRows(page, 4, 'second click clears the filter');

    // The inspector shows the raw event of a selected row.
    await page.click('#feed-body tr[data-type="LOGIN"] >> text=user-http');
    await page.waitForFunction(() => document.getElementById('inspector').textContent.includes('"evt-http-1"'), null, { timeout: TIMEOUT });

    // The rate chart drew the events.
    await page.waitForFunction(() => document.querySelectorAll('#rate-bars rect').length > 0, null, { timeout: TIMEOUT });
    check(Number(await page.locator('#rate-peak').textContent()) >= 1, 'peak rate at least 1/s');

    // 5. The server drops the connection (DELETE /api/connections/{app}); the page
    // reconnects with backoff, subscribes again, and the next event arrives.
    const connID = async () => ((await page.locator('#session').textContent()).match(/conn (\S+)/) || [])[1];
    const oldConn = await connID();
    check(!!oldConn, 'the session line shows the connection id');
    say({ step: 'kick' });
    await nextMessage('kicked');
    await page.waitForSelector('#status[data-state="reconnecting"]', { timeout: TIMEOUT });
    await page.waitForSelector('#status[data-state="connected"][data-subscribed="audit,events"]', { timeout: TIMEOUT });
    const newConn = await connID();
    check(!!newConn && newConn !== oldConn, `a new connection after the reconnect (${oldConn} → ${newConn})`);
    say({ step: 'reconnected' });
    await nextMessage('published-again');
    await waitRows(page, 5, 'after the reconnect');
    check(await rows(page).first().getAttribute('data-type') === 'LOGOUT', 'the event published after the reconnect is on top');
    await waitText(page, '#total-count', '5', 'total after the reconnect');

    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
    const shot = path.join(SHOTS, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: false });
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = path.join(SHOTS, 'dashboard-dark.png');
    await page.screenshot({ path: dark, fullPage: false });
    say({ step: 'done', screenshot: shot, dark });
  });
}

run(main);
