// The official realtime-pubsub-client npm package against a running kete server. Run by
// TestNPMClient (server/npmclient_test.go), which starts the server and mints the tokens.
//
// Two clients of one app:
//   requester  publishes a request on "rpc" and waits for the server's ack and the reply;
//              sends an inbound message (type "message") and waits for ack and reply too;
//              publishes with compress:true and reads its own binary frame back.
//   responder  subscribes to "rpc" and "secure/inbound", answers both with reply(), and sees
//              the requester's presence (connected, then disconnected).
//
// Environment: KETE_WS_URL (ws://127.0.0.1:port), KETE_APP, KETE_REQUESTER_TOKEN,
// KETE_RESPONDER_TOKEN, KETE_TIMEOUT_MS (default 10000). Prints one JSON line per passed
// check on stdout and exits 1 with {"failed":…} on the first failure. No sleeps: every wait
// is on an event with a deadline.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { RealtimeClient } = require('realtime-pubsub-client');
// Node 20 has no global WebSocket; reconnecting-websocket takes the constructor as an option.
const WebSocket = require('ws');

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined || v === '') throw new Error(`environment variable ${k} is not set`);
  return v;
};
const WS_URL = env('KETE_WS_URL');
const APP = env('KETE_APP');
const TIMEOUT = Number(env('KETE_TIMEOUT_MS', '10000'));

const passed = (check, detail) => process.stdout.write(`${JSON.stringify({ ok: check, ...(detail ? { detail } : {}) })}\n`);
function check(cond, what, detail) {
  if (!cond) throw new Error(`${what}${detail === undefined ? '' : `: ${JSON.stringify(detail)}`}`);
  passed(what);
}

// waitEvent resolves with the arguments of the next `name` event of client (an
// eventemitter2 wildcard name such as "rpc.welcome"), or rejects after TIMEOUT.
function waitEvent(client, name, what) {
  return client.waitFor(name, { timeout: TIMEOUT, handleError: false }).catch((err) => {
    throw new Error(`${what}: no "${name}" within ${TIMEOUT} ms (${err && err.message})`);
  });
}

// labelled names what a promise was waiting for when it fails (eventemitter2 only says
// "timeout").
function labelled(promise, what) {
  return promise.catch((err) => { throw new Error(`${what}: ${err && err.message}`); });
}

function newClient(name, token) {
  const client = new RealtimeClient({
    websocketOptions: {
      WebSocket,
      maxRetries: 0, // a refused or dropped connection fails the test instead of looping
      connectionTimeout: TIMEOUT,
      urlProvider: async () => `${WS_URL}/apps/${encodeURIComponent(APP)}?access_token=${encodeURIComponent(token)}`,
    },
    logger: {
      log() {}, info() {}, debug() {},
      error: (msg, err) => process.stderr.write(`[${name}] ${msg} ${err && err.message ? err.message : ''}\n`),
    },
  });
  client.on('close', (ev) => process.stderr.write(`[${name}] closed ${ev && ev.code} ${ev && ev.reason}\n`));
  return client;
}

async function connect(client, name) {
  const started = waitEvent(client, 'session.started', `${name} session`);
  await client.connect();
  const [info] = await started;
  check(info && typeof info.id === 'string' && info.id.length > 0, `${name}: session.started carries connection.id`, info);
  check(info.appId === APP, `${name}: session.started carries the appId`, info);
  check(typeof info.remoteAddress === 'string' && info.remoteAddress.length > 0, `${name}: session.started carries remoteAddress`, info);
  return info;
}

async function subscribe(client, topic, name) {
  const confirmed = waitEvent(client, `${topic}.welcome`, `${name} subscribe ${topic}`);
  client.subscribeRemoteTopic(topic);
  await confirmed;
  passed(`${name}: subscribed to ${topic}`);
}

async function main() {
  const responder = newClient('responder', env('KETE_RESPONDER_TOKEN'));
  const requester = newClient('requester', env('KETE_REQUESTER_TOKEN'));
  try {
    const responderInfo = await connect(responder, 'responder');
    await subscribe(responder, 'rpc', 'responder');
    await subscribe(responder, 'secure/inbound', 'responder');

    // Presence: the requester's arrival is announced on secure/inbound.
    const arrived = waitEvent(responder, 'secure/inbound.presence', 'presence connected');
    const requesterInfo = await connect(requester, 'requester');
    const [presence] = await arrived;
    check(presence.data.client.connectionId === requesterInfo.id && presence.data.payload.code === 0 &&
      presence.data.payload.status === 'connected', 'responder: presence code 0 for the requester', presence.data);
    check(responderInfo.id !== requesterInfo.id, 'two connections, two ids');

    // The responder answers requests on "rpc" and inbound messages of type "question".
    const seen = {};
    responder.on('rpc.request', (message, reply) => {
      seen.request = message;
      reply({ answer: `pong to ${message.data.payload.question}` }, 'ok');
    });
    responder.on('secure/inbound.question', (message, reply) => {
      seen.question = message;
      reply({ answer: 42 }, 'ok');
    });

    // publish + waitForAck + waitForReply
    const call = requester.publish('rpc', { question: 'ping' }, { messageType: 'request' });
    const [ack, replyArgs] = await Promise.all([
      labelled(call.waitForAck(TIMEOUT), 'waitForAck after publish (ack on priv/acks)'),
      labelled(call.waitForReply(TIMEOUT), 'waitForReply after publish (response on priv/{connectionId})'),
    ]);
    check(Array.isArray(ack), 'requester: waitForAck resolved for the publish');
    const [res] = replyArgs;
    check(res && res.status === 'ok' && res.data && res.data.answer === 'pong to ping', 'requester: waitForReply got the responder\'s answer', res);
    check(seen.request.data.client.connectionId === requesterInfo.id, 'responder: the request names the requester\'s connection', seen.request.data.client);
    check(typeof seen.request.data.id === 'string' && res.id === seen.request.data.id, 'the reply carries the request id', { req: seen.request.data.id, res: res.id });
    check(seen.request.compression === false, 'an uncompressed publish arrives as a text frame');

    // send (inbound message) + waitForAck + waitForReply through secure/inbound
    const msg = requester.send({ text: 'what is the answer?' }, { messageType: 'question' });
    const [ack2, reply2] = await Promise.all([
      labelled(msg.waitForAck(TIMEOUT), 'waitForAck after send (ack on priv/acks)'),
      labelled(msg.waitForReply(TIMEOUT), 'waitForReply after send (response on priv/{connectionId})'),
    ]);
    check(Array.isArray(ack2), 'requester: waitForAck resolved for the inbound message');
    check(reply2[0] && reply2[0].data && reply2[0].data.answer === 42, 'requester: waitForReply got the answer to the inbound message', reply2[0]);
    check(seen.question.data.client.subject === 'requester', 'responder: the inbound message names its subject', seen.question.data.client);

    // compress:true arrives as a binary frame, which the client decodes.
    await subscribe(requester, 'zipped', 'requester');
    const zipped = waitEvent(requester, 'zipped.note', 'compressed publish');
    await labelled(requester.publish('zipped', { big: 'x'.repeat(64) }, { messageType: 'note', compress: true }).waitForAck(TIMEOUT), 'waitForAck after a compressed publish');
    const [z] = await zipped;
    check(z.compression === true && z.data.payload.big.length === 64, 'compress:true arrives as a binary frame the client decodes', { compression: z.compression });

    // Presence: the requester's departure.
    const left = waitEvent(responder, 'secure/inbound.presence', 'presence disconnected');
    requester.disconnect();
    const [gone] = await left;
    check(gone.data.client.connectionId === requesterInfo.id && gone.data.payload.code === -1 &&
      gone.data.payload.status === 'disconnected', 'responder: presence code -1 when the requester leaves', gone.data);
  } finally {
    requester.disconnect();
    responder.disconnect();
  }
}

main().then(() => process.exit(0), (err) => {
  process.stdout.write(`${JSON.stringify({ failed: String(err && err.stack || err) })}\n`);
  process.exit(1);
});
