// amqplib (Node.js, version pinned in package.json) against the broker under test.
//
// Slice: consumer priorities (x-priority), single active consumer, exclusive
// consumers, queue expiry (x-expires), length limits (x-max-length,
// x-max-length-bytes, x-overflow drop-head / reject-publish with nacks on a
// confirm channel), dead-lettering through amqplib's queue options, prefetch
// (per consumer and global), server-sent basic.cancel, heartbeats, direct
// reply-to (amq.rabbitmq.reply-to) RPC and its errors, and the
// integer field types amqplib picks for arguments (byte / short / int / long,
// all of which RabbitMQ accepts and compares by value). Every expectation is
// RabbitMQ 3.10's behaviour (compat/run --against rabbitmq proves it).
//
// Run: node compat/node/run.js [-k NAME]   (see compat/run)
'use strict';

const assert = require('assert/strict');
const crypto = require('crypto');
const amqp = require('amqplib');

const HOST = process.env.COMPAT_HOST || '127.0.0.1';
const PORT = Number(process.env.COMPAT_PORT || 5672);
const URL = `amqp://guest:guest@${HOST}:${PORT}`;
const WAIT = 5000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const uniq = (p) => `compat.amqplib.${p}.${crypto.randomBytes(6).toString('hex')}`;

async function waitFor(pred, what, timeout = WAIT, interval = 20) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(interval);
  }
}

// Polls for an x-expires queue to be gone.  A (passive) declare is a use
// that restarts the queue's expiry timer (RabbitMQ and tandemd alike), so
// the polls are spaced wider than the expiry.
const waitGone = (conn, q, expiresMs, what) =>
  waitFor(() => queueGone(conn, q), what, WAIT + 4 * expiresMs, expiresMs + 300);

async function connect(ctx, opts = {}) {
  const url = opts.url || URL;
  const conn = await amqp.connect(url, { timeout: 5000 });
  conn.on('error', () => {}); // reported through the failing operation instead
  ctx.cleanups.push(() => conn.close());
  return conn;
}

async function channel(conn, confirm = false) {
  const ch = confirm ? await conn.createConfirmChannel() : await conn.createChannel();
  ch.lastError = null;
  ch.on('error', (e) => { ch.lastError = e; });
  return ch;
}

// The reply text inside amqplib's error message: ... with message "TEXT"
function replyText(err) {
  const m = /with message "(.*)"$/s.exec(err.message);
  return m ? m[1] : err.message;
}

async function expectChannelError(promise, code, text) {
  let err = null;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected a channel error ${code}`);
  assert.equal(err.code, code, err.message);
  assert.equal(replyText(err), text);
}

function collector(ch) {
  const got = [];
  const fn = (m) => { got.push(m); };
  return { got, fn };
}

async function consumeN(ch, queue, n, opts = { noAck: true }) {
  const c = collector(ch);
  const { consumerTag } = await ch.consume(queue, c.fn, opts);
  await waitFor(() => c.got.length >= n, `${n} deliveries from ${queue}`);
  await ch.cancel(consumerTag);
  return c.got;
}

async function getOne(ch, queue, opts = { noAck: true }) {
  let m = false;
  await waitFor(async () => { m = await ch.get(queue, opts); return m; }, `a message on ${queue}`);
  return m;
}

async function queueGone(conn, queue) {
  const ch = await channel(conn);
  try {
    await ch.checkQueue(queue);
    await ch.close();
    return false;
  } catch (e) {
    if (e.code === 404) return true;
    throw e;
  }
}

const body = (m) => m.content.toString();

module.exports = [
  // ---- consumer priorities ------------------------------------------------
  {
    name: 'consumer_priority_highest_gets_all_while_it_has_credit',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const q = (await ch.assertQueue(uniq('cprio'), { durable: false, autoDelete: true })).queue;
      const lo = await channel(conn);
      const hi = await channel(conn);
      const got = [];
      await lo.consume(q, (m) => got.push(['lo', body(m)]), { noAck: true, priority: 1 });
      await hi.consume(q, (m) => got.push(['hi', body(m)]), { noAck: true, priority: 10 });
      for (let i = 0; i < 6; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
      await waitFor(() => got.length === 6, '6 deliveries');
      await sleep(100);
      assert.deepEqual(got, [0, 1, 2, 3, 4, 5].map((i) => ['hi', `m${i}`]));
    },
  },
  {
    name: 'consumer_priority_lower_consumer_gets_messages_when_higher_is_blocked',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const q = (await ch.assertQueue(uniq('cprio2'), { durable: false, autoDelete: true })).queue;
      const hi = await channel(conn);
      const lo = await channel(conn);
      await hi.prefetch(2);
      await lo.prefetch(100);
      const got = [];
      const hiMsgs = [];
      await hi.consume(q, (m) => { got.push(['hi', body(m)]); hiMsgs.push(m); }, { priority: 10 });
      await lo.consume(q, (m) => got.push(['lo', body(m)]), { priority: 0, noAck: true });
      for (let i = 0; i < 6; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
      await waitFor(() => got.length === 6, '6 deliveries');
      // each consumer sees its deliveries in queue order; how the two channels'
      // deliveries interleave on the socket is not defined (RabbitMQ's channel
      // processes write independently), so compare per consumer
      const of = (who) => got.filter((g) => g[0] === who).map((g) => g[1]);
      assert.deepEqual(of('hi'), ['m0', 'm1']);
      assert.deepEqual(of('lo'), ['m2', 'm3', 'm4', 'm5']);
      // once the high-priority consumer has credit again it is preferred
      hi.ackAll();
      ch.sendToQueue(q, Buffer.from('m6'));
      await waitFor(() => got.length === 7, '7th delivery');
      assert.deepEqual(got[6], ['hi', 'm6']);
    },
  },
  {
    name: 'consumer_priority_argument_of_wrong_type_is_406',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const q = (await ch.assertQueue(uniq('cprio3'), { durable: false, autoDelete: true })).queue;
      const c = await channel(conn);
      await expectChannelError(c.consume(q, () => {}, { arguments: { 'x-priority': 'high' } }), 406,
        `PRECONDITION_FAILED - invalid arg 'x-priority' for queue '${q}' in vhost '/': "expected integer, got longstr"`);
      // any integer type is accepted, negative priorities included
      const c2 = await channel(conn);
      await c2.consume(q, () => {}, { arguments: { 'x-priority': -5 } });
      await c2.consume(q, () => {}, { arguments: { 'x-priority': 2 ** 40 } });
      assert.equal((await ch.checkQueue(q)).consumerCount, 2);
    },
  },

  // ---- single active consumer ----------------------------------------------
  {
    name: 'single_active_consumer_first_consumer_gets_everything_then_fails_over',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const q = (await ch.assertQueue(uniq('sac'), {
        durable: false, autoDelete: true, arguments: { 'x-single-active-consumer': true },
      })).queue;
      const a = await channel(conn);
      const b = await channel(conn);
      const got = [];
      const ta = await a.consume(q, (m) => got.push(['a', body(m), m.fields.redelivered]), { noAck: true });
      await b.consume(q, (m) => got.push(['b', body(m), m.fields.redelivered]), { noAck: true });
      assert.equal((await ch.checkQueue(q)).consumerCount, 2, 'both consumers are counted');
      for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`s${i}`));
      await waitFor(() => got.length === 3, '3 deliveries');
      await sleep(100);
      assert.deepEqual(got, [['a', 's0', false], ['a', 's1', false], ['a', 's2', false]]);
      await a.cancel(ta.consumerTag);
      for (let i = 3; i < 5; i++) ch.sendToQueue(q, Buffer.from(`s${i}`));
      await waitFor(() => got.length === 5, '5 deliveries');
      assert.deepEqual(got.slice(3), [['b', 's3', false], ['b', 's4', false]]);
    },
  },
  {
    name: 'single_active_consumer_unacked_messages_go_to_next_consumer_when_channel_closes',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const q = (await ch.assertQueue(uniq('sac2'), {
        durable: false, autoDelete: false, arguments: { 'x-single-active-consumer': true },
      })).queue;
      ctx.cleanups.push(() => ch.deleteQueue(q));
      const a = await channel(conn);
      const b = await channel(conn);
      const got = [];
      await a.consume(q, (m) => got.push(['a', body(m), m.fields.redelivered]));
      await b.consume(q, (m) => got.push(['b', body(m), m.fields.redelivered]), { noAck: true });
      for (let i = 0; i < 2; i++) ch.sendToQueue(q, Buffer.from(`u${i}`));
      await waitFor(() => got.length === 2, '2 deliveries');
      await a.close(); // unacked u0, u1 are requeued; b becomes active
      await waitFor(() => got.length === 4, 'redeliveries');
      assert.deepEqual(got, [['a', 'u0', false], ['a', 'u1', false], ['b', 'u0', true], ['b', 'u1', true]]);
    },
  },
  {
    name: 'single_active_consumer_ignores_consumer_priority_in_3_10',
    async fn(ctx) {
      // RabbitMQ 3.10: the first registered consumer is the active one, whatever x-priority says.
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const q = (await ch.assertQueue(uniq('sac3'), {
        durable: false, autoDelete: true, arguments: { 'x-single-active-consumer': true },
      })).queue;
      const c1 = await channel(conn);
      const c2 = await channel(conn);
      const got = [];
      await c1.consume(q, (m) => got.push(['c1', body(m)]), { noAck: true, priority: 1 });
      await c2.consume(q, (m) => got.push(['c2', body(m)]), { noAck: true, priority: 5 });
      ch.sendToQueue(q, Buffer.from('p0'));
      ch.sendToQueue(q, Buffer.from('p1'));
      await waitFor(() => got.length === 2, '2 deliveries');
      assert.deepEqual(got, [['c1', 'p0'], ['c1', 'p1']]);
    },
  },
  {
    name: 'single_active_consumer_refuses_exclusive_consumer_403',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const q = (await ch.assertQueue(uniq('sac4'), {
        durable: false, autoDelete: true, arguments: { 'x-single-active-consumer': true },
      })).queue;
      const c = await channel(conn);
      await expectChannelError(c.consume(q, () => {}, { exclusive: true }), 403,
        `ACCESS_REFUSED - queue '${q}' in vhost '/' in exclusive use`);
    },
  },

  // ---- exclusive consumers -------------------------------------------------
  {
    name: 'exclusive_consumer_locks_out_others_403_until_cancelled',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const q = (await ch.assertQueue(uniq('exclc'), { durable: false, autoDelete: false })).queue;
      ctx.cleanups.push(() => ch.deleteQueue(q));
      const owner = await channel(conn);
      const { consumerTag } = await owner.consume(q, () => {}, { exclusive: true });
      const other = await channel(conn);
      await expectChannelError(other.consume(q, () => {}), 403,
        `ACCESS_REFUSED - queue '${q}' in vhost '/' in exclusive use`);
      const other2 = await channel(conn);
      await expectChannelError(other2.consume(q, () => {}, { exclusive: true }), 403,
        `ACCESS_REFUSED - queue '${q}' in vhost '/' in exclusive use`);
      await owner.cancel(consumerTag);
      const other3 = await channel(conn);
      await other3.consume(q, () => {});
      // and an exclusive consumer cannot join a queue that already has consumers
      const other4 = await channel(conn);
      await expectChannelError(other4.consume(q, () => {}, { exclusive: true }), 403,
        `ACCESS_REFUSED - queue '${q}' in vhost '/' in exclusive use`);
    },
  },

  // ---- queue expiry (x-expires) ---------------------------------------------
  {
    name: 'queue_expires_when_unused',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const q = uniq('expires');
      await ch.assertQueue(q, { durable: false, expires: 300 }); // amqplib sends a short ('s')
      ch.sendToQueue(q, Buffer.from('messages do not keep a queue alive'));
      await waitGone(conn, q, 300, 'the queue to expire');
    },
  },
  {
    name: 'queue_expires_not_while_it_has_a_consumer_and_after_the_last_one_leaves',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const q = uniq('expires2');
      await ch.assertQueue(q, { durable: false, expires: 300 });
      const c = await channel(conn);
      const { consumerTag } = await c.consume(q, () => {});
      await sleep(800);
      assert.equal((await ch.checkQueue(q)).consumerCount, 1);
      await c.cancel(consumerTag);
      await waitGone(conn, q, 300, 'expiry after the consumer left');
    },
  },
  {
    name: 'queue_expires_timer_renewed_by_redeclare_and_get',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const q = uniq('expires3');
      await ch.assertQueue(q, { durable: false, expires: 1000 });
      for (let i = 0; i < 5; i++) {
        await sleep(250);
        await ch.assertQueue(q, { durable: false, expires: 1000 });
      }
      for (let i = 0; i < 5; i++) {
        await sleep(250);
        await ch.get(q, { noAck: true });
      }
      // 2.5 s after it was declared, it is still there (each renewal was within 1 s)
      assert.equal((await ch.checkQueue(q)).queue, q, 'still there after 2.5 s of renewals');
      await waitGone(conn, q, 1000, 'expiry once left alone');
    },
  },

  // ---- length limits ---------------------------------------------------------
  {
    name: 'max_length_reject_publish_nacks_on_confirm_channel',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn, true);
      const q = (await ch.assertQueue('', {
        exclusive: true, maxLength: 2, overflow: 'reject-publish',
      })).queue;
      const outcomes = await Promise.all([0, 1, 2, 3].map((i) => new Promise((resolve) => {
        ch.sendToQueue(q, Buffer.from(`r${i}`), {}, (err) => resolve(err ? 'nack' : 'ack'));
      })));
      assert.deepEqual(outcomes, ['ack', 'ack', 'nack', 'nack']);
      const got = await consumeN(ch, q, 2);
      assert.deepEqual(got.map(body), ['r0', 'r1']);
      await new Promise((resolve, reject) => ch.sendToQueue(q, Buffer.from('r4'), {},
        (err) => (err ? reject(new Error('r4 was nacked')) : resolve())));
    },
  },
  {
    name: 'max_length_drop_head_is_the_default_overflow',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn, true);
      const q = (await ch.assertQueue('', { exclusive: true, maxLength: 3 })).queue;
      for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(`d${i}`));
      await ch.waitForConfirms(); // all acked: drop-head never refuses a publish
      assert.equal((await ch.checkQueue(q)).messageCount, 3);
      assert.deepEqual((await consumeN(ch, q, 3)).map(body), ['d2', 'd3', 'd4']);
    },
  },
  {
    name: 'max_length_bytes_counts_body_bytes_and_drops_head',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn, true);
      const q = (await ch.assertQueue('', {
        exclusive: true, arguments: { 'x-max-length-bytes': 10 },
      })).queue;
      for (const b of ['aaaa', 'bbbb', 'cccc']) {
        ch.sendToQueue(q, Buffer.from(b), { headers: { big: 'headers are not counted'.repeat(10) } });
      }
      await ch.waitForConfirms();
      assert.equal((await ch.checkQueue(q)).messageCount, 2);
      assert.deepEqual((await consumeN(ch, q, 2)).map(body), ['bbbb', 'cccc']);
    },
  },
  {
    name: 'max_length_zero_with_reject_publish_refuses_everything',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn, true);
      const q = (await ch.assertQueue('', {
        exclusive: true, maxLength: 0, overflow: 'reject-publish',
      })).queue;
      const r = await new Promise((resolve) => ch.sendToQueue(q, Buffer.from('x'), {},
        (err) => resolve(err ? 'nack' : 'ack')));
      assert.equal(r, 'nack');
      assert.equal((await ch.checkQueue(q)).messageCount, 0);
    },
  },

  // ---- TTL and dead-lettering through amqplib's options ---------------------
  {
    name: 'message_ttl_option_with_dead_letter_options',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const dlx = uniq('dlx');
      await ch.assertExchange(dlx, 'direct', { durable: false, autoDelete: true });
      const dlq = (await ch.assertQueue('', { exclusive: true })).queue;
      await ch.bindQueue(dlq, dlx, 'expired');
      const q = (await ch.assertQueue('', {
        exclusive: true, messageTtl: 50, deadLetterExchange: dlx, deadLetterRoutingKey: 'expired',
      })).queue; // messageTtl 50 goes out as a byte ('b')
      ch.sendToQueue(q, Buffer.from('late'), { headers: { keep: 'me' } });
      const m = await getOne(ch, dlq);
      assert.equal(body(m), 'late');
      assert.equal(m.fields.routingKey, 'expired');
      assert.equal(m.fields.exchange, dlx);
      const h = m.properties.headers;
      assert.equal(h.keep, 'me');
      assert.equal(h['x-death'].length, 1);
      const d = h['x-death'][0];
      assert.deepEqual([d.count, d.reason, d.queue, d.exchange, d['routing-keys']], [1, 'expired', q, '', [q]]);
      assert.equal(h['x-first-death-reason'], 'expired');
      assert.equal(h['x-first-death-queue'], q);
      assert.equal(h['x-first-death-exchange'], '');
    },
  },
  {
    name: 'message_ttl_expires_messages_waiting_behind_a_busy_consumer',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const dlq = (await ch.assertQueue('', { exclusive: true })).queue;
      const q = (await ch.assertQueue('', {
        exclusive: true, messageTtl: 200, deadLetterExchange: '', deadLetterRoutingKey: dlq,
      })).queue;
      const c = await channel(conn);
      await c.prefetch(1);
      const got = [];
      await c.consume(q, (m) => got.push(m));
      ch.sendToQueue(q, Buffer.from('first'));
      ch.sendToQueue(q, Buffer.from('second'));
      await waitFor(() => got.length === 1, 'first delivery');
      // 'second' waits (prefetch 1) and expires meanwhile: dead-lettered, never delivered
      const d = await getOne(ch, dlq);
      assert.equal(body(d), 'second');
      assert.equal(d.properties.headers['x-death'][0].reason, 'expired');
      c.ack(got[0]);
      await sleep(300);
      assert.deepEqual(got.map(body), ['first']);
    },
  },
  {
    name: 'nack_without_requeue_dead_letters_and_expiration_option',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const dlq = (await ch.assertQueue('', { exclusive: true })).queue;
      const q = (await ch.assertQueue('', {
        exclusive: true, deadLetterExchange: '', deadLetterRoutingKey: dlq,
      })).queue;
      ch.sendToQueue(q, Buffer.from('n'), { expiration: 60000 }); // amqplib sends "60000"
      const m = await getOne(ch, q, { noAck: false });
      assert.equal(m.properties.expiration, '60000');
      ch.nack(m, false, false);
      const d = await getOne(ch, dlq);
      assert.equal(d.properties.expiration, undefined);
      const x = d.properties.headers['x-death'][0];
      assert.deepEqual([x.reason, x.queue, x['original-expiration'], x.count], ['rejected', q, '60000', 1]);
    },
  },
  {
    name: 'integer_argument_types_compare_by_value',
    async fn(ctx) {
      // amqplib encodes small integers as byte / short; RabbitMQ accepts every
      // integer type and compares values, not types, when a queue is redeclared
      const conn = await connect(ctx);
      let ch = await channel(conn);
      const q = uniq('types');
      await ch.assertQueue(q, {
        durable: false, autoDelete: true, arguments: { 'x-message-ttl': { '!': 'long', value: 1000 } },
      });
      await ch.assertQueue(q, { durable: false, autoDelete: true, messageTtl: 1000 }); // short
      await ch.assertQueue(q, {
        durable: false, autoDelete: true, arguments: { 'x-message-ttl': { '!': 'int', value: 1000 } },
      });
      await expectChannelError(ch.assertQueue(q, {
        durable: false, autoDelete: true, arguments: { 'x-message-ttl': '1000' },
      }), 406, `PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '${q}' in vhost '/': `
        + "received '1000' but current is '1000'");
      ch = await channel(conn);
      const q2 = (await ch.assertQueue('', { exclusive: true, maxPriority: 5 })).queue; // byte
      ch.sendToQueue(q2, Buffer.from('lo'), { priority: 1 });
      ch.sendToQueue(q2, Buffer.from('hi'), { priority: 5 });
      await waitFor(async () => (await ch.checkQueue(q2)).messageCount === 2, '2 queued');
      assert.deepEqual((await consumeN(ch, q2, 2)).map(body), ['hi', 'lo']);
    },
  },

  // ---- prefetch, cancel notification, connection ------------------------------
  {
    name: 'prefetch_per_consumer_and_global',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const counts = {};
      for (const global of [false, true]) {
        const qa = (await ch.assertQueue('', { exclusive: true })).queue;
        const qb = (await ch.assertQueue('', { exclusive: true })).queue;
        for (let i = 0; i < 5; i++) {
          ch.sendToQueue(qa, Buffer.from('a'));
          ch.sendToQueue(qb, Buffer.from('b'));
        }
        await waitFor(async () => (await ch.checkQueue(qb)).messageCount === 5, 'messages queued');
        const c = await channel(conn);
        await c.prefetch(2, global);
        let n = 0;
        await c.consume(qa, () => { n++; });
        await c.consume(qb, () => { n++; });
        await waitFor(() => n >= 2, 'first deliveries');
        await sleep(500); // time for any delivery the limit would (wrongly) allow
        counts[global ? 'global' : 'per_consumer'] = n;
        await c.close();
      }
      // global=false: 2 per consumer; global=true (RabbitMQ): 2 shared by the channel
      assert.deepEqual(counts, { per_consumer: 4, global: 2 });
    },
  },
  {
    name: 'server_cancels_consumer_when_queue_is_deleted',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn);
      const q = (await ch.assertQueue(uniq('srvcancel'), { durable: false })).queue;
      const c = await channel(conn);
      const seen = [];
      await c.consume(q, (m) => seen.push(m));
      await ch.deleteQueue(q);
      await waitFor(() => seen.length === 1, 'basic.cancel from the server');
      assert.equal(seen[0], null, 'amqplib reports a server cancel as a null message');
    },
  },
  {
    name: 'heartbeat_negotiated_connection_stays_up',
    async fn(ctx) {
      const conn = await connect(ctx, { url: `${URL}?heartbeat=1` });
      const ch = await channel(conn);
      const q = (await ch.assertQueue('', { exclusive: true })).queue;
      await sleep(3500);
      ch.sendToQueue(q, Buffer.from('alive'));
      assert.equal(body(await getOne(ch, q)), 'alive');
    },
  },
  {
    name: 'unknown_vhost_is_530_not_allowed',
    async fn() {
      let err = null;
      try {
        const c = await amqp.connect(`${URL}/compat-no-such-vhost`, { timeout: 5000 });
        await c.close();
      } catch (e) {
        err = e;
      }
      assert.ok(err, 'connection refused');
      // amqplib 0.10 reports only that connection.close came instead of open-ok
      // (pika's test checks the 530 reply code and text of the same answer)
      assert.equal(err.message, 'Expected ConnectionOpenOk; got <ConnectionClose channel:0>');
    },
  },
  {
    name: 'confirm_channel_get_ack_nack_and_errors',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch = await channel(conn, true);
      const q = (await ch.assertQueue('', { exclusive: true })).queue;
      for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`g${i}`), { persistent: true, messageId: `id${i}` });
      await ch.waitForConfirms();
      const m0 = await ch.get(q);
      assert.equal(m0.fields.messageCount, 2);
      assert.equal(m0.properties.deliveryMode, 2);
      assert.equal(m0.properties.messageId, 'id0');
      const m1 = await ch.get(q);
      ch.nack(m1, true, true); // both back, in order
      const again = await consumeN(ch, q, 3, { noAck: false });
      assert.deepEqual(again.map((m) => [body(m), m.fields.redelivered]),
        [['g0', true], ['g1', true], ['g2', false]]);
      ch.ackAll();
      const missing = uniq('none');
      await expectChannelError(ch.checkQueue(missing), 404, `NOT_FOUND - no queue '${missing}' in vhost '/'`);
      const ch2 = await channel(conn);
      const x = uniq('xtype');
      await ch2.assertExchange(x, 'topic', { durable: false, autoDelete: true });
      await expectChannelError(ch2.assertExchange(x, 'direct', { durable: false, autoDelete: true }), 406,
        `PRECONDITION_FAILED - inequivalent arg 'type' for exchange '${x}' in vhost '/': `
        + "received 'direct' but current is 'topic'");
    },
  },
  {
    // the RPC pattern of RabbitMQ's tutorials, with direct reply-to: the
    // client consumes amq.rabbitmq.reply-to (no-ack) and publishes with it
    // as replyTo; the server answers to the address it sees there
    name: 'direct_reply_to_rpc',
    async fn(ctx) {
      const server = await channel(await connect(ctx));
      const q = uniq('rpc');
      await server.assertQueue(q, { exclusive: true });
      await server.consume(q, (m) => {
        const n = Number(m.content.toString());
        server.sendToQueue(m.properties.replyTo, Buffer.from(String(n * n)),
          { correlationId: m.properties.correlationId });
        server.ack(m);
      });
      const client = await channel(await connect(ctx));
      const replies = new Map();
      await client.consume('amq.rabbitmq.reply-to', (m) => {
        replies.set(m.properties.correlationId, [body(m), m.fields]);
      }, { noAck: true });
      for (let i = 1; i <= 5; i++) {
        client.sendToQueue(q, Buffer.from(String(i)), { correlationId: `c${i}`, replyTo: 'amq.rabbitmq.reply-to' });
      }
      await waitFor(() => replies.size === 5, '5 replies');
      for (let i = 1; i <= 5; i++) {
        const [b, fields] = replies.get(`c${i}`);
        assert.equal(b, String(i * i));
        assert.equal(fields.exchange, '');
        assert.match(fields.routingKey, /^amq\.rabbitmq\.reply-to\.[^.]/);
        assert.equal(fields.redelivered, false);
      }
    },
  },
  {
    name: 'direct_reply_to_misuse',
    async fn(ctx) {
      const conn = await connect(ctx);
      const ch1 = await channel(conn);
      await expectChannelError(ch1.consume('amq.rabbitmq.reply-to', () => {}, { noAck: false }), 406,
        'PRECONDITION_FAILED - reply consumer cannot acknowledge');
      const ch2 = await channel(conn);
      ch2.sendToQueue('nowhere', Buffer.from('x'), { replyTo: 'amq.rabbitmq.reply-to' });
      await expectChannelError(ch2.checkQueue('amq.rabbitmq.reply-to'), 406,
        'PRECONDITION_FAILED - fast reply consumer does not exist');
      const ch3 = await channel(conn);
      const ok = await ch3.checkQueue('amq.rabbitmq.reply-to');
      assert.deepEqual([ok.messageCount, ok.consumerCount], [0, 1]);
    },
  },
];
