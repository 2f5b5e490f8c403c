// Unit tests of the dashboard's pure helpers (no DOM, no npm packages): run with
//   node --test server/dashboard/testdata/app.test.mjs
// dashboard_test.go runs it when node is on PATH.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  extractEvents, readSettings, splitTopics, tokenClaims, socketURL, matches, backoff,
  MAX_BACKOFF_MS,
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
