// Unit tests of the dashboard's pure helpers (no DOM, no npm packages): run with
//   node --test server/dashboard/testdata/app.test.mjs
// dashboard_test.go runs it when node is on PATH.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  extractEvents, readSettings, splitTopics, tokenClaims, socketURL, matches, backoff,
  failureTops, withoutToken, isFailure, MAX_BACKOFF_MS,
} from '../assets/app.js';

const NOW = 1_800_000_000_000;

test('splitTopics drops blanks and duplicates', () => {
  assert.deepEqual(splitTopics(' events, audit  events;x '), ['events', 'audit', 'x']);
  assert.deepEqual(splitTopics(''), []);
});

test('readSettings prefers the fragment over the query', () => {
  const s = readSettings('#app=demo&token=abc.def.ghi&topics=events,audit', '?app=other&topics=q');
  assert.deepEqual(s, { app: 'demo', token: 'abc.def.ghi', topics: 'events, audit' });
  assert.deepEqual(readSettings('', '?app=q1'), { app: 'q1' });
  assert.deepEqual(readSettings('#appId=a&access_token=t&topic=x', ''), { app: 'a', token: 't', topics: 'x' });
});

test('tokenClaims decodes a base64url payload and rejects garbage', () => {
  const payload = Buffer.from(JSON.stringify({ sub: 'ünïcode', exp: 5 })).toString('base64url');
  assert.deepEqual(tokenClaims(`h.${payload}.s`), { sub: 'ünïcode', exp: 5 });
  assert.equal(tokenClaims('garbage'), null);
  assert.equal(tokenClaims('a.!!!.c'), null);
});

test('socketURL follows the page scheme and escapes', () => {
  assert.equal(socketURL({ protocol: 'https:', host: 'h:1' }, 'a b', 't+/='), 'wss://h:1/apps/a%20b?access_token=t%2B%2F%3D');
  assert.equal(socketURL({ protocol: 'http:', host: '127.0.0.1:8080' }, 'demo', 'x'), 'ws://127.0.0.1:8080/apps/demo?access_token=x');
});

const userEvent = {
  kind: 'EVENT', id: 'e1', time: 1_700_000_000_123, type: 'LOGIN_ERROR', realmName: 'acme', realmId: 'r-1',
  clientId: 'web', userId: 'u-1', ipAddress: '10.0.0.1', error: 'invalid_user_credentials',
};
const adminEvent = {
  kind: 'ADMIN_EVENT', time: 1_700_000_000_000, realmId: 'r-2', resourceType: 'USER', operationType: 'CREATE',
  authDetails: { realmId: 'master', clientId: 'admin-cli', userId: 'admin-1', ipAddress: '10.0.0.2' },
};

const cases = [
  {
    name: 'raw user event',
    frame: { topic: 'events', messageType: 'broadcast', data: userEvent },
    want: [{ type: 'LOGIN_ERROR', kind: 'user', realm: 'acme', user: 'u-1', client: 'web', ip: '10.0.0.1', result: 'ERROR', time: userEvent.time, topic: 'events' }],
  },
  {
    name: 'admin event: type from resource and operation, who from authDetails',
    frame: { topic: 'audit', messageType: 'broadcast', data: adminEvent },
    want: [{ type: 'USER_CREATE', kind: 'admin', realm: 'r-2', user: 'admin-1', client: 'admin-cli', ip: '10.0.0.2', result: 'SUCCESS' }],
  },
  {
    name: 'WebSocket publish envelope',
    frame: { topic: 'events', messageType: 'kete-event', data: { payload: userEvent, id: 'm1', client: { connectionId: 'c1', subject: 's' } } },
    want: [{ type: 'LOGIN_ERROR', realm: 'acme', messageType: 'kete-event' }],
  },
  {
    name: 'JSON text payload inside an envelope',
    frame: { topic: 'events', messageType: 'broadcast', data: { payload: JSON.stringify(userEvent), id: 'm1' } },
    want: [{ type: 'LOGIN_ERROR', realm: 'acme' }],
  },
  {
    name: 'CloudEvent with the event as data',
    frame: {
      topic: 'ce', messageType: 'broadcast',
      data: { specversion: '1.0', id: 'ce1', source: '/realms/Acme%20Corp', type: 'keycloak.event.login', time: '2026-01-02T03:04:05.678Z', data: { kind: 'EVENT', type: 'LOGIN', userId: 'u2', time: 0 } },
    },
    want: [{ type: 'LOGIN', realm: 'Acme Corp', user: 'u2', time: Date.parse('2026-01-02T03:04:05.678Z'), id: 'ce1' }],
  },
  {
    name: 'CloudEvent with data_base64',
    frame: {
      topic: 'ce', messageType: 'broadcast',
      data: { specversion: '1.0', id: 'ce2', source: '/realms/x', type: 'keycloak.event.logout', data_base64: Buffer.from(JSON.stringify({ kind: 'EVENT', type: 'LOGOUT', realmName: 'x' })).toString('base64') },
    },
    want: [{ type: 'LOGOUT', realm: 'x' }],
  },
  {
    name: 'a list of events',
    frame: { topic: 'events', messageType: 'broadcast', data: [userEvent, adminEvent] },
    want: [{ type: 'LOGIN_ERROR' }, { type: 'USER_CREATE' }],
  },
  {
    name: 'plain text gets the message type, time of arrival',
    frame: { topic: 'chat', messageType: 'greeting', data: 'hello' },
    want: [{ type: 'greeting', kind: 'other', time: NOW, result: 'SUCCESS' }],
  },
  {
    name: 'presence',
    frame: { topic: 'secure/inbound', messageType: 'presence', data: { client: { connectionId: 'c9', subject: 'bob' }, payload: { code: 0, status: 'connected' } } },
    want: [{ type: 'PRESENCE_CONNECTED', user: 'bob', client: 'c9' }],
  },
  { name: 'welcome is not an event', frame: { topic: 'main', messageType: 'welcome', data: { connection: { id: 'x' } } }, want: [] },
  { name: 'topic welcome is not an event', frame: { topic: 'events', messageType: 'welcome', data: {} }, want: [] },
  { name: 'ack is not an event', frame: { topic: 'priv/acks', messageType: 'ack', data: { data: 'id' } }, want: [] },
  { name: 'not an object', frame: 'x', want: [] },
];

for (const c of cases) {
  test(`extractEvents: ${c.name}`, () => {
    const got = extractEvents(c.frame, NOW);
    assert.equal(got.length, c.want.length, JSON.stringify(got));
    c.want.forEach((w, i) => {
      for (const [k, v] of Object.entries(w)) assert.equal(got[i][k], v, `${k} of event ${i}`);
    });
  });
}

test('matches applies every filter', () => {
  const [ev] = extractEvents({ topic: 'events', messageType: 'broadcast', data: userEvent }, NOW);
  assert.ok(matches(ev, { realm: '', type: '', result: '', text: '' }));
  assert.ok(matches(ev, { realm: 'acme', type: 'LOGIN_ERROR', result: 'ERROR', text: '10.0.0.1' }));
  assert.ok(!matches(ev, { realm: 'other', type: '', result: '', text: '' }));
  assert.ok(!matches(ev, { realm: '', type: 'LOGIN', result: '', text: '' }));
  assert.ok(!matches(ev, { realm: '', type: '', result: 'SUCCESS', text: '' }));
  assert.ok(!matches(ev, { realm: '', type: '', result: '', text: 'nobody' }));
});

test('backoff doubles from 1 s up to the cap, jittered down to half', () => {
  assert.equal(backoff(0, () => 1), 1000);
  assert.equal(backoff(0, () => 0), 500);
  assert.equal(backoff(3, () => 1), 8000);
  assert.equal(backoff(50, () => 1), MAX_BACKOFF_MS);
});

// KETE's shape, as serializer/json.go writes it: no `kind`, null for what is missing,
// `details` an object (or null), an admin event's `representation` a JSON string.
const keteLoginError = {
  id: 'k1', time: 1_700_000_000_500, type: 'LOGIN_ERROR', realmId: 'r-acme', realmName: 'acme',
  clientId: 'web-portal', userId: null, sessionId: null, ipAddress: '203.0.113.9',
  error: 'user_not_found', details: { auth_method: 'openid-connect', username: 'mallory' },
};
const keteAdmin = {
  id: 'k2', time: 1_700_000_000_600, realmId: 'r-acme', realmName: 'acme',
  authDetails: { realmId: 'master-id', realmName: 'master', clientId: 'admin-cli', userId: 'admin-uuid', ipAddress: '198.51.100.7' },
  resourceType: 'USER', operationType: 'CREATE', resourcePath: 'users/42',
  representation: '{"id":"42","username":"alice","enabled":true}', error: null, resourceTypeAsString: 'USER',
};

test('extractEvents: KETE json shape, username from details', () => {
  const [ev] = extractEvents({ topic: 'events', messageType: 'broadcast', data: keteLoginError }, NOW);
  assert.equal(ev.kind, 'user');
  assert.equal(ev.username, 'mallory');
  assert.equal(ev.user, '', 'a null userId is blank, not "null"');
  assert.equal(ev.result, 'ERROR');
  assert.equal(ev.realm, 'acme');
});

test('extractEvents: KETE admin event, target username from the representation string', () => {
  const [ev] = extractEvents({ topic: 'audit', messageType: 'broadcast', data: keteAdmin }, NOW);
  assert.equal(ev.kind, 'admin');
  assert.equal(ev.type, 'USER_CREATE');
  assert.equal(ev.user, 'admin-uuid');
  assert.equal(ev.target, 'alice');
  assert.equal(ev.result, 'SUCCESS');
});

test('extractEvents: p2-inc authDetails.username and a details JSON string', () => {
  const [a] = extractEvents({ topic: 't', data: { type: 'LOGIN', authDetails: { userId: 'u', username: 'bob' } } }, NOW);
  assert.equal(a.username, 'bob');
  const [b] = extractEvents({ topic: 't', data: { type: 'LOGIN', details: '{"username":"carol"}' } }, NOW);
  assert.equal(b.username, 'carol');
});

test('matches finds an event by username and by an admin target', () => {
  const [ev] = extractEvents({ topic: 'events', data: keteLoginError }, NOW);
  assert.ok(matches(ev, { realm: '', type: '', result: '', text: 'mallory' }));
  const [ad] = extractEvents({ topic: 'audit', data: keteAdmin }, NOW);
  assert.ok(matches(ad, { realm: '', type: '', result: '', text: 'alice' }));
  assert.ok(!matches(ad, { realm: '', type: '', result: 'ERROR', text: '' }));
});

test('isFailure: an error, or a *_ERROR type even without one', () => {
  assert.ok(isFailure({ type: 'LOGIN', error: 'x' }));
  assert.ok(isFailure({ type: 'CODE_TO_TOKEN_ERROR', error: '' }));
  assert.ok(!isFailure({ type: 'LOGIN', error: '' }));
  assert.ok(!isFailure({ type: 'ERROR_PAGE_SHOWN', error: '' }));
});

test('failureTops counts inside the window, by user and by IP, most first', () => {
  const now = 10_000_000;
  const f = (ago, who, ip, type = 'LOGIN_ERROR') => ({ time: now - ago, who, ip, type });
  const failures = [
    f(400_000, 'old', '10.0.0.9'), // outside a 5 min window
    f(200_000, 'alice', '10.0.0.1'), f(100_000, 'alice', '10.0.0.1'), f(50_000, 'alice', '10.0.0.2', 'REGISTER_ERROR'),
    f(10_000, 'bob', '10.0.0.2'), f(5_000, '', ''),
  ];
  const t = failureTops(failures, now, 5 * 60_000, 2);
  assert.equal(t.total, 5);
  assert.equal(t.users, 3);
  assert.equal(t.ips, 3);
  assert.deepEqual(t.byUser.map((e) => [e.key, e.n]), [['alice', 3], ['(no user)', 1]]);
  assert.deepEqual(t.byUser[0].types, [['LOGIN_ERROR', 2], ['REGISTER_ERROR', 1]]);
  assert.deepEqual(t.byIP.map((e) => [e.key, e.n]), [['10.0.0.1', 2], ['10.0.0.2', 2]]);
  assert.equal(failureTops(failures, now, 60 * 60_000).total, 6);
});

test('withoutToken takes the token out of the fragment and the query, keeps the rest', () => {
  assert.equal(withoutToken('http://h:1/#app=demo&token=a.b.c&topics=events'), 'http://h:1/#app=demo&topics=events');
  assert.equal(withoutToken('http://h:1/?access_token=x&app=demo'), 'http://h:1/?app=demo');
  assert.equal(withoutToken('http://h:1/#token=a.b.c'), 'http://h:1/');
  assert.equal(withoutToken('http://h:1/#app=demo'), null);
});
