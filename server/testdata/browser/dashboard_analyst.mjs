// Drives the dashboard's security-desk views in headless Chromium (Debian's
// /usr/bin/chromium, through playwright-core) against a running kete server. Run by
// TestDashboardAnalystViews (server/dashboard_browser_test.go), which starts the server,
// publishes Keycloak events as kete's json serializer writes them (KETE's shape: no
// `kind`, nulls, `details`, an admin event's `representation` as a string) and talks to this
// script over stdio, one JSON object per line:
//
//   script → test  {"step":"connected"}   token read, gone from the URL, reload connected
//   test → script  {"step":"published","total":N,"errors":N,"types":[…],
//                   "byUser":[[name,n],…],"byIP":[[ip,n],…],"users":{name:n,…}}
//   script → test  {"step":"done","screenshots":[PATH,…]}
//   script → test  {"step":"failed","error":…} (and exit code 1)
//
// Environment: KETE_URL, KETE_APP, KETE_TOKEN (subscriber token for the page),
// KETE_SCREENSHOT_DIR, CHROMIUM (default /usr/bin/chromium), KETE_TIMEOUT_MS (default 20000).
// Every wait is on the page's DOM with a deadline; nothing sleeps.
import path from 'node:path';

import { APP, BASE, SHOTS, TIMEOUT, TOKEN, check, log, nextMessage, run, say, withChromium } from './harness.mjs';

const ROW = '#feed-body tr[data-testid="event-row"]';

// waitFor waits until fn(arg) in the page is true, and fails with what and, when given,
// what describe(arg) says the page shows instead.
async function waitFor(page, what, fn, arg, describe) {
  try {
    await page.waitForFunction(fn, arg, { timeout: TIMEOUT });
  } catch (err) {
    const got = describe ? await page.evaluate(describe, arg).catch((e) => `(${e.message})`) : '';
    throw new Error(`${what}${got ? `: ${got}` : ''} (${err.message.split('\n')[0]})`);
  }
}

async function waitRows(page, n, what) {
  await waitFor(page, `${what}: want ${n} rows`,
    ([sel, want]) => document.querySelectorAll(sel).length === want, [ROW, n],
    ([sel]) => `the feed shows ${document.querySelectorAll(sel).length} rows`);
}

async function waitConnected(page, what) {
  await waitFor(page, `${what}: connected to events and audit`,
    () => { const s = document.getElementById('status'); return s.dataset.state === 'connected' && s.dataset.subscribed === 'audit,events'; },
    null, () => document.getElementById('status').textContent.trim());
}

// topListed reads a failures top list: [[key, count], …] in page order.
const topList = (page, id) => page.locator(`#${id} li[data-key]`).evaluateAll(
  (lis) => lis.map((li) => [li.dataset.key, Number(li.dataset.count)]));

// topicColumnInView measures, at the current width, whether the Topic column is on screen
// without scrolling the feed sideways, and whether topic names fit their cells.
const topicColumnInView = (page) => page.evaluate(() => {
  const wrap = document.querySelector('.table-wrap');
  const th = document.querySelector('[data-testid="topic-header"]');
  const w = wrap.getBoundingClientRect();
  const h = th.getBoundingClientRect();
  const cells = [...document.querySelectorAll('#feed-body tr td:last-child')];
  return {
    viewport: window.innerWidth,
    wrapLeft: w.left, wrapRight: w.right, thLeft: h.left, thRight: h.right, thWidth: h.width,
    scrollsSideways: wrap.scrollWidth > wrap.clientWidth + 1,
    clippedTopics: cells.filter((td) => td.scrollWidth > td.clientWidth + 1).map((td) => td.textContent),
    topics: [...new Set(cells.map((td) => td.textContent))],
  };
});

// typesInView lists the by-type panel's types and says whether any is cut off: the list
// must not scroll, and each entry must lie inside the panel.
const typesInView = (page) => page.evaluate(() => {
  const list = document.getElementById('type-counts');
  const panel = list.closest('.panel').getBoundingClientRect();
  const lis = [...list.querySelectorAll('li[data-type]')];
  const hidden = lis.filter((li) => {
    const r = li.getBoundingClientRect();
    return r.height < 10 || r.top < panel.top || r.bottom > panel.bottom + 0.5 || getComputedStyle(li).visibility === 'hidden';
  }).map((li) => li.dataset.type);
  return {
    types: lis.map((li) => li.dataset.type).sort(),
    scrolls: list.scrollHeight > list.clientHeight + 1,
    hidden,
  };
});

async function main() {
  const errors = [];
  await withChromium({ width: 1280, height: 800 }, async (context) => {
    const page = context.pages()[0] || await context.newPage();
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') log(`console error: ${m.text()}`); });

    // 1. The token arrives in the fragment; once read it is in sessionStorage and gone
    // from the address bar, and a reload still connects.
    await page.goto(`${BASE}/#app=${encodeURIComponent(APP)}&token=${encodeURIComponent(TOKEN)}&topics=events,audit`);
    await waitConnected(page, 'first load');
    const href = await page.evaluate(() => location.href);
    check(!href.includes(TOKEN) && !/[#&?](access_)?token=/.test(href), `the token is gone from location.href: ${href}`);
    check(href.includes(`app=${APP}`) && /topics=events(%2C|,)audit/.test(href), `app and topics stay in the URL: ${href}`);
    check(await page.evaluate(() => sessionStorage.getItem('kete.dashboard.token')) === TOKEN, 'the token is in sessionStorage');
    check(await page.evaluate(() => localStorage.getItem('kete.dashboard') || '').then((s) => !s.includes(TOKEN)), 'the token is not in localStorage');
    await page.reload();
    await waitConnected(page, 'after a reload');
    const href2 = await page.evaluate(() => location.href);
    check(!href2.includes(TOKEN), `the token is still out of the URL after the reload: ${href2}`);
    check(await page.inputValue('#token') === TOKEN, 'the reloaded page has the token from sessionStorage');
    say({ step: 'connected' });

    // 2. The Go test publishes; it says what it sent.
    const sent = await nextMessage('published');
    await waitRows(page, sent.total, 'after the published events');

    // 3. Usernames in the feed, searchable.
    for (const [name, n] of Object.entries(sent.users)) {
      const shown = await page.locator(`${ROW}[data-user="${name}"] [data-testid="event-user"]`).allTextContents();
      check(shown.length === n && shown.every((t) => t.startsWith(name)), `${n} rows name ${name} in the User column, got ${JSON.stringify(shown)}`);
    }
    const adminUser = await page.locator(`${ROW}[data-type="USER_CREATE"] [data-testid="event-user"]`).textContent();
    check(adminUser.includes('→ dave'), `the admin event names its target from the representation, got ${JSON.stringify(adminUser)}`);
    await page.fill('#filter-text', 'alice');
    await waitRows(page, sent.users.alice, 'search alice');
    check(await page.locator(`${ROW}:not([data-user="alice"])`).count() === 0, 'search alice shows only alice');
    await page.fill('#filter-text', 'dave');
    await waitRows(page, 1, 'search dave (an admin event\'s target)');
    check(await page.locator(`${ROW}[data-type="USER_CREATE"]`).count() === 1, 'search dave finds the USER_CREATE');
    await page.fill('#filter-text', '');
    await waitRows(page, sent.total, 'search cleared');

    // 4. Errors only.
    await page.click('[data-testid="errors-only"]');
    await waitRows(page, sent.errors, 'errors only');
    check(await page.locator(`${ROW}:not([data-result="ERROR"])`).count() === 0, 'errors only shows no success');
    check(await page.getAttribute('[data-testid="errors-only"]', 'aria-pressed') === 'true', 'the errors-only button is pressed');
    check(await page.inputValue('#filter-result') === 'ERROR', 'the result select follows the button');
    await page.click('[data-testid="errors-only"]');
    await waitRows(page, sent.total, 'errors only off');

    // 5. Failures by user and by IP over the stated window.
    await waitFor(page, `failures summary counts ${sent.errors}`,
      (want) => document.getElementById('fails-summary').dataset.total === String(want), sent.errors,
      () => document.getElementById('fails-summary').textContent);
    const summary = await page.locator('#fails-summary').textContent();
    check(/last 5 min/.test(summary) && /last 5 min/.test(await page.locator('#fails-window-label').textContent()),
      `the window is stated: ${JSON.stringify(summary)}`);
    const byUser = await topList(page, 'fails-by-user');
    check(JSON.stringify(byUser) === JSON.stringify(sent.byUser), `failures by user ${JSON.stringify(byUser)}, want ${JSON.stringify(sent.byUser)}`);
    const byIP = await topList(page, 'fails-by-ip');
    check(JSON.stringify(byIP) === JSON.stringify(sent.byIP), `failures by IP ${JSON.stringify(byIP)}, want ${JSON.stringify(sent.byIP)}`);
    // A click on a name shows that user's failures in the feed.
    const [topUser, topN] = sent.byUser[0];
    await page.click(`#fails-by-user li[data-key="${topUser}"] button`);
    await waitRows(page, topN, `click on ${topUser} in the failures panel`);
    check(await page.locator(`${ROW}:not([data-result="ERROR"])`).count() === 0, 'the click shows errors only');
    await page.click('[data-testid="errors-only"]');
    await page.fill('#filter-text', '');
    await waitRows(page, sent.total, 'filters cleared after the failures click');

    // 6. Every type sent is in the by-type panel, none cut off; the Topic column is on
    // screen at common widths. Screenshots at 1280 and 800 px.
    const screenshots = [];
    for (const width of [1280, 1024, 800]) {
      await page.setViewportSize({ width, height: 800 });
      await waitFor(page, `layout at ${width} px`, (w) => window.innerWidth === w, width);
      const t = await typesInView(page);
      check(JSON.stringify(t.types) === JSON.stringify([...sent.types].sort()), `at ${width} px the by-type panel lists ${JSON.stringify(t.types)}, want ${JSON.stringify(sent.types)}`);
      check(!t.scrolls && t.hidden.length === 0, `at ${width} px no type is scrolled out of sight (scrolls ${t.scrolls}, hidden ${JSON.stringify(t.hidden)})`);
      const v = await topicColumnInView(page);
      check(!v.scrollsSideways, `at ${width} px the feed does not scroll sideways: ${JSON.stringify(v)}`);
      check(v.thRight <= v.wrapRight + 1 && v.thRight <= v.viewport && v.thWidth >= 48, `at ${width} px the Topic column is in view: ${JSON.stringify(v)}`);
      check(v.clippedTopics.length === 0 && v.topics.includes('events') && v.topics.includes('audit'), `at ${width} px topic names fit: ${JSON.stringify(v)}`);
      if (width !== 1024) {
        await page.evaluate(() => window.scrollTo(0, 0)); // the sticky header at the top
        const shot = path.join(SHOTS, `dashboard-analyst-${width}.png`);
        await page.screenshot({ path: shot, fullPage: true });
        screenshots.push(shot);
      }
    }

    check(errors.length === 0, `no page errors: ${errors.join('; ')}`);
    say({ step: 'done', screenshots });
  });
}

run(main);
