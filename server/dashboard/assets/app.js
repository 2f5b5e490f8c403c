// kete live dashboard. One ES module, no dependencies, no build step.
//
// It connects to the server that served it with the Realtime Pub/Sub protocol:
//   ws(s)://{host}/apps/{appId}?access_token={JWT}
//   ← {"topic":"main","messageType":"welcome","data":{"connection":{"id",…}}}
//   → {"type":"subscribe","data":{"topic":"events"}}            (one per topic)
//   ← {"topic":"events","messageType":"broadcast","data":<event>}
// and draws the Keycloak events that arrive. `data` may be a kete event, a CloudEvent whose
// `data` is one, a WebSocket publish envelope {payload, id, client}, a JSON string of any of
// those, or a list of them.

/** Rows the feed shows at most; older rows are dropped from the page. */
export const MAX_ROWS = 500;
/** Events kept in memory, so that changing a filter can still fill the feed. */
export const MAX_EVENTS = 2000;
/** Seconds the rate chart covers. */
export const RATE_WINDOW = 60;
/** Longest wait between reconnect attempts, in milliseconds. */
export const MAX_BACKOFF_MS = 30000;
/** Windows the failures panel offers, in minutes. */
export const FAILURE_WINDOWS_MIN = [1, 5, 15, 60];
/** The failures panel's window until the user picks another, in minutes. */
export const DEFAULT_FAILURE_WINDOW_MIN = 5;
/** Failures kept for the failures panel (the longest window at most). */
export const MAX_FAILURES = 20000;
/** Entries each failures top list shows. */
export const FAILURE_TOP_N = 10;
/** sessionStorage key of the token: it outlives a reload, not the tab. */
export const TOKEN_STORAGE_KEY = 'kete.dashboard.token';

// ---------------------------------------------------------------------------------------
// Pure helpers (no DOM): settings, frame decoding, event normalisation.

/** splitTopics turns "events, audit  events" into ["events","audit"]. */
export function splitTopics(text) {
  const seen = new Set();
  for (const t of String(text || '').split(/[\s,;]+/)) {
    if (t) seen.add(t);
  }
  return [...seen];
}

/**
 * readSettings takes app, token and topics from the URL: the fragment first
 * (#app=…&token=…&topics=…, never sent to a server), then the query (?app=…&topics=…).
 */
export function readSettings(hash, search) {
  const out = {};
  const sources = [new URLSearchParams(String(search || '').replace(/^\?/, '')),
    new URLSearchParams(String(hash || '').replace(/^#/, ''))];
  for (const p of sources) { // later sources (the fragment) win
    const app = p.get('app') || p.get('appId');
    const token = p.get('token') || p.get('access_token');
    const topics = p.get('topics') || p.get('topic');
    if (app) out.app = app;
    if (token) out.token = token;
    if (topics) out.topics = splitTopics(topics).join(', ');
  }
  return out;
}

/** tokenClaims decodes a JWT's payload without verifying it (for display only). */
export function tokenClaims(token) {
  try {
    const part = String(token).split('.')[1];
    if (!part) return null;
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** socketURL is the WebSocket address of an app on the page's own server. */
export function socketURL(loc, app, token) {
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}/apps/${encodeURIComponent(app)}?access_token=${encodeURIComponent(token)}`;
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function maybeJSON(v) {
  if (typeof v !== 'string') return v;
  const s = v.trim();
  if (!(s.startsWith('{') || s.startsWith('['))) return v;
  try { return JSON.parse(s); } catch { return v; }
}

function toMillis(t) {
  if (typeof t === 'number' && Number.isFinite(t)) return t < 1e11 ? t * 1000 : t; // seconds or ms
  if (typeof t === 'string' && t) {
    if (/^\d+$/.test(t)) return toMillis(Number(t));
    const ms = Date.parse(t);
    if (!Number.isNaN(ms)) return ms;
  }
  return 0;
}

const str = (v) => (v === undefined || v === null ? '' : String(v));

function decodeBase64JSON(b64) {
  try {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return maybeJSON(new TextDecoder().decode(bytes));
  } catch {
    return b64;
  }
}

/**
 * normalize turns one decoded payload into the row the feed shows. `ctx` carries what the
 * frame (topic, messageType) and a CloudEvent envelope know.
 */
export function normalize(body, ctx) {
  const ce = ctx.cloudEvent || null;
  const ev = {
    topic: ctx.topic || '',
    messageType: ctx.messageType || '',
    time: 0,
    kind: 'other',
    type: '',
    realm: '',
    user: '', // the user id (an admin event's: who made the change)
    username: '', // the login name, where the event carries one
    target: '', // an admin event's subject, from its representation's username
    client: '',
    ip: '',
    error: '',
    id: '',
    raw: ctx.raw === undefined ? body : ctx.raw,
  };
  if (isObject(body)) {
    const ad = isObject(body.authDetails) ? body.authDetails : {};
    // KETE's json serializer writes no `kind`: an admin event is the one with an
    // operation and a resource and no `type` (serializer/json.go, Keycloak's AdminEvent).
    const admin = body.kind === 'ADMIN_EVENT' || (!body.type && (body.operationType || body.resourceType));
    ev.kind = admin ? 'admin' : (body.kind === 'EVENT' || body.type ? 'user' : 'other');
    if (body.eventType) ev.type = str(body.eventType);
    else if (admin) ev.type = [body.resourceType, body.operationType].filter(Boolean).join('_').toUpperCase();
    else if (body.type) ev.type = str(body.type);
    ev.realm = str(body.realmName || body.realm || body.realmId || ad.realmName || ad.realmId);
    ev.user = str(body.userId || ad.userId);
    ev.username = usernameOf(body, ad);
    if (admin) ev.target = str(stringField(maybeJSON(body.representation), 'username'));
    ev.client = str(body.clientId || ad.clientId);
    ev.ip = str(body.ipAddress || ad.ipAddress);
    ev.error = str(body.error);
    ev.id = str(body.id);
    ev.time = toMillis(body.time);
  }
  if (ce) {
    if (!ev.type) ev.type = str(ce.type);
    if (!ev.time) ev.time = toMillis(ce.time);
    if (!ev.id) ev.id = str(ce.id);
    if (!ev.realm && ce.realm) ev.realm = str(ce.realm);
    if (!ev.realm && typeof ce.source === 'string' && ce.source.startsWith('/realms/')) {
      try { ev.realm = decodeURIComponent(ce.source.slice('/realms/'.length).split('/')[0]); } catch { /* keep blank */ }
    }
  }
  if (!ev.type) ev.type = ctx.messageType && ctx.messageType !== 'broadcast' ? ctx.messageType : 'MESSAGE';
  if (!ev.time) ev.time = ctx.now;
  ev.result = isFailure(ev) ? 'ERROR' : 'SUCCESS';
  return ev;
}

/**
 * isFailure says whether an event is a failure: it carries an error, or its type is one
 * of Keycloak's *_ERROR twins (LOGIN_ERROR, CODE_TO_TOKEN_ERROR, …; EventType.java).
 */
export function isFailure(ev) {
  return !!ev.error || /_ERROR$/.test(ev.type);
}

function stringField(obj, key) {
  return isObject(obj) && typeof obj[key] === 'string' ? obj[key] : '';
}

/**
 * usernameOf finds the login name an event carries: Keycloak puts it in the user event's
 * details.username (LOGIN, LOGIN_ERROR, REGISTER…). Keycloak's
 * AbstractUsernameFormAuthenticator sets it (event.detail(Details.USERNAME, username))
 * before it looks the user up, so a LOGIN_ERROR for an unknown user still names what was
 * typed while its userId is null;
 * p2-inc/keycloak-events adds authDetails.username; a flat payload may have username.
 * KETE's json serializer writes details as an object, or null when there are none.
 */
export function usernameOf(body, ad = isObject(body.authDetails) ? body.authDetails : {}) {
  const details = maybeJSON(body.details);
  return str(stringField(details, 'username') || stringField(ad, 'username') || stringField(body, 'username'));
}

/** who is how the feed and the failures panel name an event's user: the login name first. */
export function who(ev) {
  return ev.username || ev.user;
}

/**
 * extractEvents turns one server frame into zero or more feed rows. Frames that are part of
 * the session (welcome, acks) give none.
 */
export function extractEvents(frame, now = Date.now()) {
  if (!isObject(frame)) return [];
  const { topic, messageType } = frame;
  if (messageType === 'welcome' || messageType === 'ack' || messageType === 'refreshed' || topic === 'priv/acks') return [];
  const ctx = { topic: str(topic), messageType: str(messageType), now };
  let data = maybeJSON(frame.data);

  if (messageType === 'presence' && isObject(data)) {
    const c = isObject(data.client) ? data.client : {};
    const p = isObject(data.payload) ? data.payload : {};
    return [normalize({}, {
      ...ctx,
      raw: data,
      messageType: `PRESENCE_${str(p.status || p.code).toUpperCase()}`,
    })].map((e) => ({ ...e, user: str(c.subject), client: str(c.connectionId) }));
  }
  // A publish made over a WebSocket arrives as {payload, id, client}.
  if (isObject(data) && 'payload' in data && ('client' in data || 'id' in data)) {
    data = maybeJSON(data.payload);
  }
  const out = [];
  const visit = (v, depth) => {
    v = maybeJSON(v);
    if (Array.isArray(v) && depth < 2) {
      for (const item of v.slice(0, MAX_EVENTS)) visit(item, depth + 1);
      return;
    }
    if (isObject(v) && v.specversion !== undefined && ('data' in v || 'data_base64' in v)) {
      const inner = 'data' in v ? maybeJSON(v.data) : decodeBase64JSON(v.data_base64);
      out.push(normalize(inner, { ...ctx, cloudEvent: v, raw: v }));
      return;
    }
    out.push(normalize(v, ctx));
  };
  visit(data, 0);
  return out;
}

/** matches says whether an event passes the feed's filters. */
export function matches(ev, f) {
  if (f.realm && ev.realm !== f.realm) return false;
  if (f.type && ev.type !== f.type) return false;
  if (f.result && ev.result !== f.result) return false;
  if (f.text) {
    const hay = `${ev.realm} ${ev.type} ${ev.username} ${ev.user} ${ev.target} ${ev.client} ${ev.ip} ${ev.error} ${ev.topic} ${ev.id}`.toLowerCase();
    if (!hay.includes(f.text)) return false;
  }
  return true;
}

/**
 * failureTops counts the failures whose time falls in the window ending at now, by user
 * and by IP address, most first (ties by name), at most n of each. A failure is
 * {time, who, ip, type}; each entry is {key, n, types: [[type, n], …]} with its most
 * frequent types first, so that a tooltip can say what failed.
 */
export function failureTops(failures, now, windowMs, n = FAILURE_TOP_N) {
  const from = now - windowMs;
  const byUser = new Map();
  const byIP = new Map();
  let total = 0;
  const bump = (m, key, type) => {
    const e = m.get(key) || { key, n: 0, types: new Map() };
    e.n++;
    e.types.set(type, (e.types.get(type) || 0) + 1);
    m.set(key, e);
  };
  for (const f of failures) {
    if (f.time < from) continue; // clocks ahead of the browser's still count
    total++;
    bump(byUser, f.who || '(no user)', f.type);
    bump(byIP, f.ip || '(no IP)', f.type);
  }
  const top = (m) => [...m.values()]
    .sort((a, b) => b.n - a.n || a.key.localeCompare(b.key))
    .slice(0, n)
    .map((e) => ({ key: e.key, n: e.n, types: [...e.types.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])) }));
  return { total, users: byUser.size, ips: byIP.size, byUser: top(byUser), byIP: top(byIP) };
}

/**
 * withoutToken is href with the token (token= or access_token=, in the fragment or the
 * query) taken out, or null when it has none: the page keeps the token in sessionStorage
 * and puts this in the address bar, so the token is not left in history, bookmarks or a
 * screen share.
 */
export function withoutToken(href) {
  const u = new URL(href);
  const names = ['token', 'access_token'];
  let changed = false;
  for (const k of names) if (u.searchParams.has(k)) { u.searchParams.delete(k); changed = true; }
  const hash = new URLSearchParams(u.hash.replace(/^#/, ''));
  for (const k of names) if (hash.has(k)) { hash.delete(k); changed = true; }
  if (!changed) return null;
  const rest = hash.toString();
  u.hash = rest ? `#${rest}` : '';
  return u.toString();
}

/** backoff is the wait before reconnect attempt n (0-based): 1 s doubling to 30 s, jittered. */
export function backoff(n, random = Math.random) {
  const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(n, 10));
  return Math.round(base * (0.5 + random() / 2));
}

// ---------------------------------------------------------------------------------------
// Connection: one WebSocket with welcome handling, subscriptions and reconnects.

class Connection {
  constructor(handlers) {
    this.h = handlers; // {state(state, text), session(info), frame(obj)}
    this.ws = null;
    this.timer = 0;
    this.attempt = 0;
    this.wanted = null; // {app, token, topics}
    this.chain = Promise.resolve();
  }

  open(settings) {
    this.close(true);
    this.wanted = settings;
    this.attempt = 0;
    this.dial();
  }

  close(quiet) {
    clearTimeout(this.timer);
    this.wanted = null;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000, 'bye'); } catch { /* already closed */ }
    }
    if (!quiet) this.h.state('idle', 'not connected');
  }

  dial() {
    const s = this.wanted;
    if (!s) return;
    const url = socketURL(location, s.app, s.token);
    this.h.state(this.attempt ? 'reconnecting' : 'connecting', this.attempt ? `reconnecting (attempt ${this.attempt + 1})…` : 'connecting…');
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      this.h.state('error', `cannot connect: ${err.message}`);
      return;
    }
    this.ws = ws;
    let opened = false;
    let welcomed = false;
    const subscribed = new Set();
    ws.onopen = () => { opened = true; this.h.state('connecting', 'waiting for welcome…'); };
    ws.onmessage = (msg) => {
      // Keep frames in order even when a binary (compressed) one needs an async read.
      this.chain = this.chain.then(async () => {
        if (this.ws !== ws) return;
        const text = typeof msg.data === 'string' ? msg.data : await msg.data.text();
        let frame;
        try { frame = JSON.parse(text); } catch { return; }
        if (!frame || typeof frame !== 'object') return;
        if (frame.topic === 'main' && frame.messageType === 'welcome') {
          welcomed = true;
          this.attempt = 0;
          subscribed.clear();
          this.h.subscribed([]);
          const conn = (frame.data && frame.data.connection) || {};
          for (const topic of s.topics) ws.send(JSON.stringify({ type: 'subscribe', data: { topic } }));
          this.h.session({ connection: conn, topics: s.topics });
          this.h.state('connected', `connected · subscribing to ${s.topics.join(', ')}…`);
          return;
        }
        if (frame.messageType === 'welcome' && s.topics.includes(frame.topic)) {
          // The server confirms each subscription with a welcome on that topic.
          subscribed.add(frame.topic);
          this.h.subscribed([...subscribed].sort());
          const pending = s.topics.filter((t) => !subscribed.has(t));
          this.h.state('connected', `connected · ${[...subscribed].join(', ')}${pending.length ? ` (waiting for ${pending.join(', ')})` : ''}`);
          return;
        }
        if (frame.messageType === 'error') {
          // A refused subscribe or publish: {"code","message"} on the topic it concerns.
          const d = frame.data || {};
          this.h.notice(`${frame.topic || 'server'}: ${d.message || d.code || 'error'}`);
          return;
        }
        this.h.frame(frame);
      }).catch(() => {});
    };
    ws.onclose = async (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.wanted) return;
      if (!opened) {
        // A browser hides why an upgrade failed; ask the same URL over plain HTTP, where the
        // server answers 401/403 with a JSON reason before it would upgrade.
        const why = await diagnose(url);
        if (this.wanted !== s) return;
        if (why && why.fatal) {
          this.wanted = null;
          this.h.state('error', why.text);
          return;
        }
      }
      const wait = backoff(this.attempt++);
      const reason = ev.reason ? `closed: ${ev.reason} (${ev.code})` : `closed (${ev.code})`;
      this.h.state('reconnecting', `${welcomed ? reason : 'cannot connect'} · retry in ${Math.ceil(wait / 1000)} s`);
      this.timer = setTimeout(() => this.dial(), wait);
    };
  }
}

async function diagnose(wsURL) {
  try {
    const httpURL = wsURL.replace(/^ws/, 'http');
    const res = await fetch(httpURL, { cache: 'no-store', credentials: 'omit' });
    if (![401, 403, 404].includes(res.status)) return null;
    let text = `${res.status} ${res.statusText}`;
    try {
      const j = await res.json();
      const e = (j && j.error) || j || {};
      const msg = e.message || e.reason || (typeof e === 'string' ? e : '');
      text = `${res.status === 401 ? 'unauthorized' : res.status === 403 ? 'forbidden' : 'not found'}: ${msg || e.code || res.statusText}`;
    } catch { /* not JSON */ }
    return { fatal: true, text };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// Page: state, rendering.

function start() {
  const $ = (id) => document.getElementById(id);
  const el = {
    form: $('connect-form'), app: $('app-id'), token: $('token'), topics: $('topics'),
    connect: $('connect'), disconnect: $('disconnect'), status: $('status'), statusText: $('status-text'),
    session: $('session'), notice: $('notice'), total: $('total-count'), errors: $('error-count'), rateNow: $('rate-now'),
    ratePeak: $('rate-peak'), realmCount: $('realm-count'), lastEvent: $('last-event'),
    bars: $('rate-bars'), grid: $('rate-grid'), chart: $('rate-chart'), axisMax: $('rate-axis-max'),
    counts: $('type-counts'), countsEmpty: $('counts-empty'), typeTotal: $('type-total'),
    feed: $('feed-body'), feedEmpty: $('feed-empty'), feedShown: $('feed-shown'),
    fRealm: $('filter-realm'), fType: $('filter-type'), fResult: $('filter-result'), fText: $('filter-text'),
    pause: $('pause'), clear: $('clear'), inspector: $('inspector'), errorsOnly: $('errors-only'),
    failWindow: $('fails-window'), failWindowLabel: $('fails-window-label'), failSummary: $('fails-summary'),
    failByUser: $('fails-by-user'), failByIP: $('fails-by-ip'),
  };

  const state = {
    seq: 0,
    events: [], // oldest first, at most MAX_EVENTS
    pending: [], // arrived since the last render
    rebuild: true,
    counts: new Map(), // type -> {n, err}
    realms: new Map(), // realm -> n
    total: 0,
    errors: 0,
    buckets: new Map(), // epoch second -> {ok, err}
    last: 0,
    paused: false,
    selected: null,
    session: null,
    filter: { realm: '', type: '', result: '', text: '' },
    renderTimer: 0,
    failures: [], // {time, who, ip, type}, in arrival order, at most MAX_FAILURES
    failWindowMin: DEFAULT_FAILURE_WINDOW_MIN,
  };

  const conn = new Connection({
    state(kind, text) {
      el.status.dataset.state = kind;
      el.statusText.textContent = text;
      const active = kind !== 'idle' && kind !== 'error';
      el.disconnect.disabled = !active;
      el.connect.textContent = active ? 'Reconnect' : 'Connect';
      if (kind !== 'connected') el.status.dataset.subscribed = '';
      if (!active) state.session = null;
      renderSession();
    },
    session(info) { state.session = info; el.notice.hidden = true; renderSession(); },
    subscribed(topics) { el.status.dataset.subscribed = topics.join(','); },
    notice(text) { el.notice.textContent = text; el.notice.hidden = false; },
    frame(frame) {
      const now = Date.now();
      for (const ev of extractEvents(frame, now)) add(ev, now);
      scheduleRender();
    },
  });

  function renderSession() {
    const parts = [];
    if (state.session && state.session.connection.id) parts.push(`conn ${state.session.connection.id}`);
    const claims = tokenClaims(el.token.value.trim());
    if (claims) {
      if (claims.sub) parts.push(`sub ${claims.sub}`);
      if (typeof claims.exp === 'number') {
        const left = claims.exp * 1000 - Date.now();
        parts.push(left > 0 ? `token expires in ${human(left)}` : 'token expired');
      }
    }
    el.session.textContent = parts.join(' · ');
  }

  function add(ev, now) {
    ev.key = ++state.seq;
    state.events.push(ev);
    if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
    state.pending.push(ev);
    if (state.pending.length > MAX_ROWS) { state.pending = []; state.rebuild = true; }
    state.total++;
    const isErr = ev.result === 'ERROR';
    if (isErr) state.errors++;
    const c = state.counts.get(ev.type) || { n: 0, err: 0 };
    c.n++; if (isErr) c.err++;
    if (c.n === 1) addOption(el.fType, ev.type);
    state.counts.set(ev.type, c);
    if (ev.realm) {
      const r = state.realms.get(ev.realm) || 0;
      if (r === 0) addOption(el.fRealm, ev.realm);
      state.realms.set(ev.realm, r + 1);
    }
    const sec = Math.floor(now / 1000);
    const b = state.buckets.get(sec) || { ok: 0, err: 0 };
    if (isErr) b.err++; else b.ok++;
    state.buckets.set(sec, b);
    state.last = now;
    if (isErr) {
      state.failures.push({ time: ev.time, who: who(ev), ip: ev.ip, type: ev.type });
      if (state.failures.length > MAX_FAILURES) state.failures.splice(0, state.failures.length - MAX_FAILURES);
    }
  }

  function addOption(select, value) {
    const opt = new Option(value, value);
    const opts = [...select.options].slice(1);
    const before = opts.find((o) => o.value.localeCompare(value) > 0);
    select.add(opt, before || null);
  }

  function scheduleRender() {
    if (state.renderTimer) return;
    state.renderTimer = setTimeout(() => { state.renderTimer = 0; render(); }, 50);
  }

  function rowFor(ev) {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'event-row';
    tr.dataset.key = ev.key;
    tr.dataset.type = ev.type;
    tr.dataset.realm = ev.realm;
    tr.dataset.result = ev.result;
    tr.tabIndex = 0;
    if (state.selected === ev.key) tr.setAttribute('aria-current', 'true');
    if (ev.result === 'ERROR') tr.classList.add('is-error');
    const cell = (text, cls, title) => {
      const td = document.createElement('td');
      if (cls) td.className = cls;
      td.textContent = text;
      if (title || text) td.title = title || text;
      tr.appendChild(td);
      return td;
    };
    // The milliseconds are their own span, so that a narrow window can drop them.
    const timeCell = cell(clock(ev.time, true), 'mono', new Date(ev.time).toISOString());
    const ms = document.createElement('span');
    ms.className = 'ms';
    ms.textContent = `.${String(new Date(ev.time).getMilliseconds()).padStart(3, '0')}`;
    timeCell.appendChild(ms);
    cell(ev.realm || '—');
    const typeCell = cell('');
    const badge = document.createElement('span');
    badge.className = `badge ${ev.kind}`;
    badge.textContent = ev.type;
    badge.dataset.testid = 'event-type';
    typeCell.appendChild(badge);
    typeCell.title = `${ev.kind === 'admin' ? 'admin event' : ev.kind === 'user' ? 'user event' : 'message'} ${ev.type}`;
    tr.dataset.user = who(ev);
    const userCell = cell('', 'user-cell');
    userCell.dataset.testid = 'event-user';
    const name = document.createElement('span');
    name.className = ev.username ? 'username' : 'mono';
    name.textContent = who(ev) || '—';
    userCell.appendChild(name);
    if (ev.target) {
      const target = document.createElement('span');
      target.className = 'target';
      target.textContent = ` → ${ev.target}`;
      userCell.appendChild(target);
    }
    userCell.title = [
      ev.username && `username ${ev.username}`,
      ev.user && `${ev.kind === 'admin' ? 'by user id' : 'user id'} ${ev.user}`,
      ev.target && `target ${ev.target}`,
    ].filter(Boolean).join(' · ');
    cell(ev.client || '—');
    cell(ev.ip || '—', 'mono');
    const res = cell(ev.error ? ev.error : 'success', ev.error ? 'result-err' : 'result-ok');
    res.dataset.testid = 'event-result';
    cell(ev.topic, 'mono');
    return tr;
  }

  function render() {
    if (!state.paused) renderFeed();
    renderCounts();
    renderTiles();
    renderFailures();
  }

  function renderFailures() {
    const windowMs = state.failWindowMin * 60000;
    const now = Date.now();
    // Forget what no window can show any more.
    const longest = FAILURE_WINDOWS_MIN[FAILURE_WINDOWS_MIN.length - 1] * 60000;
    let drop = 0;
    while (drop < state.failures.length && state.failures[drop].time < now - longest) drop++;
    if (drop) state.failures.splice(0, drop);
    const tops = failureTops(state.failures, now, windowMs);
    const span = `last ${state.failWindowMin} min`;
    el.failWindowLabel.textContent = `· ${span}`;
    const summary = tops.total
      ? `${tops.total} failure${tops.total === 1 ? '' : 's'} from ${tops.users} user${tops.users === 1 ? '' : 's'} and ${tops.ips} IP${tops.ips === 1 ? '' : 's'} in the ${span} (by event time).`
      : `No failures in the ${span}.`;
    // The summary is announced (aria-live): write it only when it says something new.
    if (el.failSummary.textContent !== summary) el.failSummary.textContent = summary;
    el.failSummary.dataset.total = tops.total;
    fillTop(el.failByUser, tops.byUser, 'user');
    fillTop(el.failByIP, tops.byIP, 'ip');
  }

  function fillTop(list, entries, what) {
    const max = entries.length ? entries[0].n : 1;
    const frag = document.createDocumentFragment();
    for (const e of entries) {
      const li = document.createElement('li');
      li.dataset.testid = `failures-${what}`;
      li.dataset.key = e.key;
      li.dataset.count = e.n;
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.title = `${e.key}: ${e.types.map(([t, n]) => `${t} ×${n}`).join(', ')} — click to show these errors in the feed`;
      const name = document.createElement('span'); name.className = 'name'; name.textContent = e.key;
      const num = document.createElement('span'); num.className = 'num'; num.textContent = e.n;
      const bar = document.createElement('span'); bar.className = 'bar';
      const fill = document.createElement('span'); fill.style.width = `${Math.max(4, (e.n / max) * 100)}%`;
      bar.appendChild(fill);
      btn.append(name, num, bar);
      btn.addEventListener('click', () => {
        el.fText.value = e.key.startsWith('(no ') ? '' : e.key;
        state.filter.text = el.fText.value.toLowerCase();
        setResult('ERROR');
      });
      li.appendChild(btn);
      frag.appendChild(li);
    }
    list.replaceChildren(frag);
    if (!entries.length) {
      const li = document.createElement('li');
      li.className = 'empty-row';
      li.textContent = '—';
      list.appendChild(li);
    }
  }

  function setResult(value) {
    el.fResult.value = value;
    el.errorsOnly.setAttribute('aria-pressed', String(value === 'ERROR'));
    setFilter('result', value);
  }

  function renderFeed() {
    const f = state.filter;
    if (state.rebuild) {
      state.rebuild = false;
      state.pending = [];
      const frag = document.createDocumentFragment();
      let n = 0;
      for (let i = state.events.length - 1; i >= 0 && n < MAX_ROWS; i--) {
        const ev = state.events[i];
        if (matches(ev, f)) { frag.appendChild(rowFor(ev)); n++; }
      }
      el.feed.replaceChildren(frag);
    } else if (state.pending.length) {
      const frag = document.createDocumentFragment();
      for (let i = state.pending.length - 1; i >= 0; i--) {
        const ev = state.pending[i];
        if (matches(ev, f)) {
          const tr = rowFor(ev);
          tr.classList.add('fresh');
          frag.appendChild(tr);
        }
      }
      state.pending = [];
      el.feed.prepend(frag);
      while (el.feed.childElementCount > MAX_ROWS) el.feed.lastElementChild.remove();
    }
    const shown = el.feed.childElementCount;
    el.feedShown.textContent = `${shown} shown${shown >= MAX_ROWS ? ` (newest ${MAX_ROWS})` : ''}`;
    el.feedEmpty.hidden = shown > 0;
    if (!shown && state.total) el.feedEmpty.textContent = 'No event matches the filters.';
  }

  function renderCounts() {
    const entries = [...state.counts.entries()].sort((a, b) => b[1].n - a[1].n || a[0].localeCompare(b[0]));
    const max = entries.length ? entries[0][1].n : 1;
    const frag = document.createDocumentFragment();
    for (const [type, c] of entries) {
      const li = document.createElement('li');
      li.dataset.testid = 'type-count';
      li.dataset.type = type;
      li.dataset.count = c.n;
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.setAttribute('aria-pressed', String(state.filter.type === type));
      btn.title = `${type}: ${c.n} event${c.n === 1 ? '' : 's'}${c.err ? `, ${c.err} with an error` : ''} — click to filter`;
      const name = document.createElement('span'); name.className = 'name'; name.textContent = type;
      const num = document.createElement('span'); num.className = 'num'; num.textContent = c.n;
      num.dataset.testid = 'type-count-value';
      const bar = document.createElement('span'); bar.className = 'bar';
      const fill = document.createElement('span');
      fill.style.width = `${Math.max(2, (c.n / max) * 100)}%`;
      if (c.err) { fill.className = 'has-err'; fill.style.setProperty('--ok-share', `${((c.n - c.err) / c.n) * 100}%`); }
      bar.appendChild(fill);
      btn.append(name, num, bar);
      btn.addEventListener('click', () => {
        setFilter('type', state.filter.type === type ? '' : type);
        el.fType.value = state.filter.type;
      });
      li.appendChild(btn);
      frag.appendChild(li);
    }
    el.counts.replaceChildren(frag);
    el.countsEmpty.hidden = entries.length > 0;
    el.typeTotal.textContent = `${entries.length} type${entries.length === 1 ? '' : 's'}`;
  }

  function renderTiles() {
    el.total.textContent = state.total.toLocaleString();
    el.errors.textContent = state.errors.toLocaleString();
    el.realmCount.textContent = state.realms.size;
    el.lastEvent.textContent = state.last ? `${clock(state.last, true)} · ${human(Date.now() - state.last)} ago` : '—';
  }

  function renderChart() {
    const nowSec = Math.floor(Date.now() / 1000);
    for (const sec of state.buckets.keys()) if (sec <= nowSec - RATE_WINDOW) state.buckets.delete(sec);
    let peak = 0;
    let last10 = 0;
    const series = [];
    for (let i = RATE_WINDOW - 1; i >= 0; i--) {
      const sec = nowSec - i;
      const b = state.buckets.get(sec) || { ok: 0, err: 0 };
      const n = b.ok + b.err;
      peak = Math.max(peak, n);
      if (i < 10) last10 += n; // the last ten seconds, this one included
      series.push({ sec, ...b, n });
    }
    const top = niceCeil(Math.max(peak, 1));
    const W = 600; const H = 120; const slot = W / RATE_WINDOW; const bw = slot - 2;
    const ns = 'http://www.w3.org/2000/svg';
    const mk = (name, attrs) => {
      const node = document.createElementNS(ns, name);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      return node;
    };
    const grid = document.createDocumentFragment();
    for (const f of [0.25, 0.5, 0.75, 1]) grid.appendChild(mk('line', { x1: 0, x2: W, y1: H - f * H + 0.5, y2: H - f * H + 0.5 }));
    el.grid.replaceChildren(grid);
    const bars = document.createDocumentFragment();
    series.forEach((s, i) => {
      if (!s.n) return;
      const x = i * slot + 1;
      const hOk = (s.ok / top) * H; const hErr = (s.err / top) * H;
      const g = mk('g', {});
      const title = mk('title', {});
      title.textContent = `${clock(s.sec * 1000, true)}: ${s.n} event${s.n === 1 ? '' : 's'}${s.err ? ` (${s.err} errors)` : ''}`;
      g.appendChild(title);
      if (s.ok) g.appendChild(mk('rect', { class: 'bar-ok', x, width: bw, y: H - hOk, height: hOk }));
      if (s.err) g.appendChild(mk('rect', { class: 'bar-err', x, width: bw, y: H - hOk - hErr, height: hErr }));
      bars.appendChild(g);
    });
    el.bars.replaceChildren(bars);
    el.axisMax.textContent = `scale ${top}/s`;
    const rate = last10 / 10;
    el.rateNow.textContent = rate >= 10 ? Math.round(rate) : rate.toFixed(1).replace(/\.0$/, '');
    el.ratePeak.textContent = peak;
    el.chart.setAttribute('aria-label', `Events per second over the last ${RATE_WINDOW} seconds: peak ${peak}, average of the last 10 seconds ${rate.toFixed(1)}`);
  }

  function setFilter(key, value) {
    state.filter[key] = value;
    state.rebuild = true;
    render();
  }

  function select(ev) {
    state.selected = ev ? ev.key : null;
    for (const tr of el.feed.querySelectorAll('tr[aria-current]')) tr.removeAttribute('aria-current');
    if (!ev) { el.inspector.textContent = '—'; return; }
    const tr = el.feed.querySelector(`tr[data-key="${ev.key}"]`);
    if (tr) tr.setAttribute('aria-current', 'true');
    const head = `// topic ${ev.topic || '—'} · ${ev.messageType || 'message'} · received ${new Date(ev.time).toISOString()}\n`;
    let body;
    try { body = typeof ev.raw === 'string' ? ev.raw : JSON.stringify(ev.raw, null, 2); } catch { body = String(ev.raw); }
    el.inspector.textContent = head + body;
  }

  function findEvent(key) {
    for (let i = state.events.length - 1; i >= 0; i--) if (state.events[i].key === key) return state.events[i];
    return null;
  }

  // --- wiring
  el.form.addEventListener('submit', (e) => {
    e.preventDefault();
    const app = el.app.value.trim();
    const token = el.token.value.trim();
    const topics = splitTopics(el.topics.value);
    if (!app || !token) { el.status.dataset.state = 'error'; el.statusText.textContent = 'app id and token are required'; return; }
    if (!topics.length) topics.push('events');
    el.topics.value = topics.join(', ');
    try { localStorage.setItem('kete.dashboard', JSON.stringify({ app, topics: el.topics.value })); } catch { /* private mode */ }
    storeToken(token);
    conn.open({ app, token, topics });
  });
  el.disconnect.addEventListener('click', () => conn.close(false));
  el.token.addEventListener('input', renderSession);
  el.fRealm.addEventListener('change', () => setFilter('realm', el.fRealm.value));
  el.fType.addEventListener('change', () => setFilter('type', el.fType.value));
  el.fResult.addEventListener('change', () => setResult(el.fResult.value));
  el.errorsOnly.addEventListener('click', () => setResult(state.filter.result === 'ERROR' ? '' : 'ERROR'));
  for (const m of FAILURE_WINDOWS_MIN) el.failWindow.add(new Option(`${m} min`, String(m), false, m === state.failWindowMin));
  el.failWindow.addEventListener('change', () => { state.failWindowMin = Number(el.failWindow.value); renderFailures(); });
  el.fText.addEventListener('input', () => setFilter('text', el.fText.value.trim().toLowerCase()));
  el.pause.addEventListener('click', () => {
    state.paused = !state.paused;
    el.pause.setAttribute('aria-pressed', String(state.paused));
    el.pause.textContent = state.paused ? 'Resume' : 'Pause';
    if (!state.paused) render();
  });
  el.clear.addEventListener('click', () => {
    Object.assign(state, { events: [], pending: [], rebuild: true, total: 0, errors: 0, last: 0, selected: null, failures: [] });
    state.counts.clear(); state.realms.clear(); state.buckets.clear();
    for (const s of [el.fRealm, el.fType]) { while (s.options.length > 1) s.remove(1); s.value = ''; }
    state.filter.realm = ''; state.filter.type = '';
    select(null);
    el.feedEmpty.textContent = 'Waiting for events…';
    render(); renderChart();
  });
  const pick = (target) => {
    const tr = target.closest('tr[data-key]');
    if (tr) select(findEvent(Number(tr.dataset.key)));
  };
  el.feed.addEventListener('click', (e) => pick(e.target));
  el.feed.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); pick(e.target); }
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      const tr = e.target.closest('tr');
      const next = tr && (e.key === 'ArrowDown' ? tr.nextElementSibling : tr.previousElementSibling);
      if (next) { e.preventDefault(); next.focus(); pick(next); }
    }
  });

  // The token is read from the URL once, kept in sessionStorage (this tab only, gone when
  // it closes; never localStorage) and taken out of the address bar, so that a reload
  // still connects while history, bookmarks and screen shares do not show it.
  function storeToken(token) {
    try { sessionStorage.setItem(TOKEN_STORAGE_KEY, token); } catch { /* storage off: the URL is all we have */ }
  }
  const applyURL = () => {
    const s = readSettings(location.hash, location.search);
    if (s.token) {
      storeToken(s.token);
      const clean = withoutToken(location.href);
      if (clean) history.replaceState(history.state, '', clean);
    } else {
      try { s.token = sessionStorage.getItem(TOKEN_STORAGE_KEY) || undefined; } catch { /* storage off */ }
    }
    if (s.app) el.app.value = s.app;
    if (s.token) el.token.value = s.token;
    if (s.topics) el.topics.value = s.topics;
    renderSession();
    return s;
  };
  try {
    const saved = JSON.parse(localStorage.getItem('kete.dashboard') || 'null');
    if (saved && saved.app) el.app.value = saved.app;
    if (saved && saved.topics) el.topics.value = saved.topics;
  } catch { /* nothing saved */ }
  const initial = applyURL();
  window.addEventListener('hashchange', () => {
    const s = applyURL();
    if (s.app && s.token) el.form.requestSubmit();
  });
  setInterval(() => { renderChart(); renderTiles(); renderSession(); renderFailures(); }, 1000);
  render();
  renderChart();
  if (el.app.value && initial.token) el.form.requestSubmit();
}

function clock(ms, short) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  const hms = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  return short ? hms : `${hms}.${p(d.getMilliseconds(), 3)}`;
}

function human(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 120) return `${m} min`;
  const h = Math.round(m / 60);
  return h < 48 ? `${h} h` : `${Math.round(h / 24)} d`;
}

function niceCeil(v) {
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

if (typeof document !== 'undefined' && document.getElementById('connect-form')) start();
