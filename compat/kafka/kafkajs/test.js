// kafkajs 2.2.4 (pinned in package-lock.json) against tandemd's Kafka listener.
// Run by compat/kafka/run.sh (KAFKA_BOOTSTRAP, BROKER_CTL for restarts):
// create topic with 3 partitions, keyed produce lands by murmur2, consume
// from the beginning and from an offset with exact contents, list offsets,
// gzip, a group of 2 splitting 3 partitions with commit / restart / resume,
// a second group reading everything, delete topic, retention by size and
// by time; an idempotent producer through a kill -9 of the broker;
// transactions committed and aborted, read by a read_committed and a
// read_uncommitted consumer; SASL SCRAM and PLAIN, over plaintext and over
// SASL_SSL (KAFKA_SASL_SSL_BOOTSTRAP, KAFKA_CA).
'use strict'
const test = require('node:test')
const assert = require('node:assert')
const { execFileSync } = require('node:child_process')
const { Kafka, logLevel, CompressionTypes, ConfigResourceTypes } = require('kafkajs')
const murmur2 = require('kafkajs/src/producer/partitioners/default/murmur2')

const brokers = [process.env.KAFKA_BOOTSTRAP || '127.0.0.1:9092']
const kafka = new Kafka({ clientId: 'compat-kafkajs', brokers, logLevel: logLevel.NOTHING,
  retry: { initialRetryTime: 100, retries: 20 } })
const uid = () => Math.random().toString(36).slice(2, 10)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const partitionOf = (key, n) => (murmur2(key) & 0x7fffffff) % n

async function withAdmin (fn) {
  const admin = kafka.admin()
  await admin.connect()
  try { return await fn(admin) } finally { await admin.disconnect() }
}

async function create (topic, numPartitions, configEntries = []) {
  await withAdmin((a) => a.createTopics({ waitForLeaders: true,
    topics: [{ topic, numPartitions, replicationFactor: 1, configEntries }] }))
}

async function produce (topic, messages, opts = {}) {
  const producer = kafka.producer()
  await producer.connect()
  const res = await producer.send({ topic, messages, acks: -1, ...opts })
  await producer.disconnect()
  return res
}

// Consumes with a fresh group until `count` messages arrived or timeout.
async function consume (topic, { count, groupId = 'read-' + uid(), fromBeginning = true,
  seek = null, timeout = 20000, readUncommitted = false } = {}) {
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, readUncommitted })
  const got = []
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning })
  let done
  const finished = new Promise((resolve) => { done = resolve })
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      got.push({ partition, offset: Number(message.offset), key: message.key && message.key.toString(),
        value: message.value.toString(), headers: message.headers })
      if (got.length >= count) done()
    }
  })
  if (seek) consumer.seek({ topic, ...seek })
  await Promise.race([finished, sleep(timeout)])
  await consumer.disconnect()
  return got
}

test('create a topic with 3 partitions', async () => {
  const topic = 'create-' + uid()
  await create(topic, 3)
  const md = await withAdmin((a) => a.fetchTopicMetadata({ topics: [topic] }))
  assert.strictEqual(md.topics[0].partitions.length, 3)
  const topics = await withAdmin((a) => a.listTopics())
  assert.ok(topics.includes(topic))
  const again = await withAdmin((a) => a.createTopics({ topics: [{ topic, numPartitions: 3 }] }))
  assert.strictEqual(again, false) // already exists
})

test('describe configs of a topic and of the broker', async () => {
  const topic = 'configs-' + uid()
  await create(topic, 1, [{ name: 'retention.ms', value: '123456' }])
  const res = await withAdmin((a) => a.describeConfigs({ includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] }))
  const r = res.resources[0]
  assert.strictEqual(r.errorCode, 0)
  const byName = Object.fromEntries(r.configEntries.map((e) => [e.configName, e]))
  assert.strictEqual(byName['retention.ms'].configValue, '123456')
  assert.strictEqual(byName['retention.ms'].isDefault, false)
  assert.strictEqual(byName['cleanup.policy'].configValue, 'delete')
  assert.strictEqual(byName['cleanup.policy'].isDefault, true)
  const broker = await withAdmin((a) => a.describeConfigs({ includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.BROKER, name: '1', configNames: ['num.partitions'] }] }))
  assert.deepStrictEqual(broker.resources[0].configEntries.map((e) => e.configName), ['num.partitions'])
  assert.strictEqual(broker.resources[0].configEntries[0].readOnly, true)
})

// Half the sends before a kill -9 and start of the broker, half after: the
// producer's sequences go on where the log (rebuilt at start) left them.
test('an idempotent producer: InitProducerId, sequences, every record once and in order', async () => {
  const topic = 'idem-' + uid()
  await create(topic, 1)
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  for (let i = 0; i < 10; i++) {
    if (i === 5 && process.env.BROKER_CTL) {
      execFileSync(process.env.BROKER_CTL, ['kill'])
      execFileSync(process.env.BROKER_CTL, ['start'])
    }
    const res = await producer.send({ topic, acks: -1,
      messages: [{ value: 'a' + i }, { value: 'b' + i }] })
    assert.strictEqual(res[0].errorCode, 0)
    assert.strictEqual(res[0].baseOffset, String(2 * i))
  }
  await producer.disconnect()
  const got = await consume(topic, { count: 20 })
  const want = [...Array(10).keys()].flatMap((i) => ['a' + i, 'b' + i])
  assert.deepStrictEqual(got.map((m) => m.value.toString()), want)
  assert.deepStrictEqual(got.map((m) => m.offset), want.map((_, i) => i))
})

test('transactions: an aborted one is not read, a committed one is, with its offsets', async () => {
  const topic = 'txn-' + uid()
  const src = 'txnsrc-' + uid()
  const groupId = 'txng-' + uid()
  await create(topic, 2)
  await create(src, 1)
  const producer = kafka.producer({ transactionalId: 'compat-' + uid(), idempotent: true,
    maxInFlightRequests: 1 })
  await producer.connect()
  let txn = await producer.transaction()
  await txn.send({ topic, messages: [{ value: 'x1', partition: 0 }, { value: 'x2', partition: 1 }] })
  await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: src, partitions: [{ partition: 0, offset: '5' }] }] })
  await txn.abort()
  txn = await producer.transaction()
  await txn.send({ topic, messages: [{ value: 'c1', partition: 0 }, { value: 'c2', partition: 1 }] })
  await txn.sendOffsets({ consumerGroupId: groupId, topics: [{ topic: src, partitions: [{ partition: 0, offset: '3' }] }] })
  await txn.commit()
  await producer.disconnect()
  // a read_committed consumer (kafkajs' default, readUncommitted: false)
  // drops the aborted records; it reads past them and the markers to the end
  const got = await consume(topic, { count: 2, timeout: 5000 })
  assert.deepStrictEqual(got.map((m) => m.value).sort(), ['c1', 'c2'])
  assert.deepStrictEqual(got.map((m) => m.offset).sort(), [2, 2]) // after x, abort marker
  const all = await consume(topic, { count: 4, readUncommitted: true })
  assert.deepStrictEqual(all.map((m) => m.value).sort(), ['c1', 'c2', 'x1', 'x2'])
  const offsets = await withAdmin((a) => a.fetchOffsets({ groupId, topics: [src] }))
  assert.strictEqual(offsets[0].partitions[0].offset, '3')
})

test('alter configs of a topic: the new set replaces the old one', async () => {
  const topic = 'alter-' + uid()
  await create(topic, 1, [{ name: 'retention.ms', value: '123456' }])
  const res = await withAdmin((a) => a.alterConfigs({ validateOnly: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic,
      configEntries: [{ name: 'segment.ms', value: '60000' }] }] }))
  assert.strictEqual(res.resources[0].errorCode, 0)
  const after = await withAdmin((a) => a.describeConfigs({ includeSynonyms: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] }))
  const byName = Object.fromEntries(after.resources[0].configEntries.map((e) => [e.configName, e]))
  assert.strictEqual(byName['segment.ms'].configValue, '60000')
  assert.strictEqual(byName['segment.ms'].isDefault, false)
  assert.strictEqual(byName['retention.ms'].isDefault, true) // left out: the default again
  await assert.rejects(withAdmin((a) => a.alterConfigs({ validateOnly: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic,
      configEntries: [{ name: 'no.such.config', value: '1' }] }] })), (e) => e.type === 'INVALID_CONFIG')
})

test('delete groups: an empty group goes with its offsets, a gone one is GROUP_ID_NOT_FOUND', async () => {
  const topic = 'delgroup-' + uid()
  const groupId = 'g-' + uid()
  await create(topic, 1)
  await produce(topic, [{ value: 'x' }])
  const got = await consume(topic, { count: 1, groupId })
  assert.strictEqual(got.length, 1)
  // every topic of the group, asked without naming any (OffsetFetch v3+: null topics)
  const all = await withAdmin((a) => a.fetchOffsets({ groupId }))
  assert.deepStrictEqual(all.map((t) => [t.topic, t.partitions[0].offset]), [[topic, '1']])
  const res = await withAdmin((a) => a.deleteGroups([groupId]))
  assert.deepStrictEqual(res.map((g) => [g.groupId, g.errorCode]), [[groupId, 0]])
  const offsets = await withAdmin((a) => a.fetchOffsets({ groupId, topics: [topic] }))
  assert.strictEqual(offsets[0].partitions[0].offset, '-1')
  await assert.rejects(withAdmin((a) => a.deleteGroups([groupId])),
    (e) => e.groups && e.groups[0].error.type === 'GROUP_ID_NOT_FOUND')
})

test('delete records moves the log start; reads below it are out of range; -1 is the high watermark', async () => {
  const topic = 'delrec-' + uid()
  await create(topic, 1)
  await produce(topic, Array.from({ length: 10 }, (_, i) => ({ value: 'r' + i, partition: 0 })))
  // kafkajs wants the topic's metadata in its admin client first
  const del = (offset) => withAdmin(async (a) => {
    await a.fetchTopicMetadata({ topics: [topic] })
    return a.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset }] })
  })
  await del('4')
  const offs = await withAdmin((a) => a.fetchTopicOffsets(topic))
  assert.deepStrictEqual([offs[0].low, offs[0].high], ['4', '10'])
  const got = await consume(topic, { count: 6 })
  assert.deepStrictEqual(got.map((m) => [m.offset, m.value]),
    [4, 5, 6, 7, 8, 9].map((o) => [o, 'r' + o]))
  await del('-1')
  const all = await withAdmin((a) => a.fetchTopicOffsets(topic))
  assert.deepStrictEqual([all[0].low, all[0].high], ['10', '10'])
  // past the high watermark: the partition's OFFSET_OUT_OF_RANGE
  await assert.rejects(del('11'), (e) => e.cause && e.cause.partitions &&
    e.cause.partitions[0].error.type === 'OFFSET_OUT_OF_RANGE')
})

test('keyed produce lands by murmur2', async () => {
  const topic = 'keyed-' + uid()
  await create(topic, 3)
  const keys = Array.from({ length: 30 }, (_, i) => 'key-' + i)
  await produce(topic, keys.map((k) => ({ key: k, value: 'v-' + k })))
  const got = await consume(topic, { count: 30 })
  assert.strictEqual(got.length, 30)
  for (const m of got) assert.strictEqual(m.partition, partitionOf(m.key, 3), m.key)
})

test('consume from the beginning and from an offset, exact contents', async () => {
  const topic = 'exact-' + uid()
  await create(topic, 1)
  const values = Array.from({ length: 20 }, (_, i) => 'm' + i)
  await produce(topic, values.map((v) => ({ value: v, headers: { h: v } })))
  let got = await consume(topic, { count: 20 })
  assert.deepStrictEqual(got.map((m) => m.value), values)
  assert.deepStrictEqual(got.map((m) => m.offset), values.map((_, i) => i))
  assert.strictEqual(got[3].headers.h.toString(), 'm3')
  got = await consume(topic, { count: 8, seek: { partition: 0, offset: '12' } })
  assert.deepStrictEqual(got.map((m) => m.value), values.slice(12))
  // messages remain after consumption
  got = await consume(topic, { count: 20 })
  assert.strictEqual(got.length, 20)
})

test('list offsets', async () => {
  const topic = 'offsets-' + uid()
  await create(topic, 1)
  const base = 1600000000000
  await produce(topic, [0, 1, 2, 3, 4].map((i) => ({ value: 'x', timestamp: String(base + i * 1000) })))
  const offs = await withAdmin((a) => a.fetchTopicOffsets(topic))
  assert.deepStrictEqual(offs.map((o) => [o.partition, o.low, o.high]), [[0, '0', '5']])
  const byTime = await withAdmin((a) => a.fetchTopicOffsetsByTimestamp(topic, base + 1500))
  assert.strictEqual(byTime[0].offset, '2')
})

test('gzip produce then consume', async () => {
  const topic = 'gzip-' + uid()
  await create(topic, 1)
  const values = Array.from({ length: 50 }, (_, i) => 'compressed-' + i)
  await produce(topic, values.map((v) => ({ value: v })), { compression: CompressionTypes.GZIP })
  const got = await consume(topic, { count: 50 })
  assert.deepStrictEqual(got.map((m) => m.value), values)
})

test('a group of 2 splits 3 partitions, commits, resumes after a restart; a second group reads all',
  async () => {
    const topic = 'grp-' + uid()
    const groupId = 'g-' + uid()
    await create(topic, 3)
    const msgs = []
    for (let p = 0; p < 3; p++) for (let i = 0; i < 10; i++) msgs.push({ partition: p, value: `p${p}-${i}` })
    await produce(topic, msgs)

    const members = [0, 1].map(() => kafka.consumer({ groupId, maxWaitTimeInMs: 200,
      sessionTimeout: 10000, heartbeatInterval: 500 }))
    const seen = [new Set(), new Set()]
    const assigned = [[], []]
    let total = 0
    for (let i = 0; i < 2; i++) {
      const c = members[i]
      c.on(c.events.GROUP_JOIN, (e) => {
        assigned[i] = (e.payload.memberAssignment[topic] || []).slice()
      })
      await c.connect()
      await c.subscribe({ topic, fromBeginning: true })
      await c.run({ eachMessage: async ({ message }) => { seen[i].add(message.value.toString()); total++ } })
    }
    const deadline = Date.now() + 60000
    while (Date.now() < deadline) {
      const all = new Set([...seen[0], ...seen[1]])
      if (all.size === 30 && assigned[0].length > 0 && assigned[1].length > 0 &&
          assigned[0].length + assigned[1].length === 3) break
      await sleep(200)
    }
    assert.ok(assigned[0].length > 0 && assigned[1].length > 0, JSON.stringify(assigned))
    assert.deepStrictEqual([...assigned[0], ...assigned[1]].sort(), [0, 1, 2])
    assert.strictEqual(new Set([...seen[0], ...seen[1]]).size, 30)
    for (const c of members) await c.disconnect() // commits what was consumed

    if (process.env.BROKER_CTL) execFileSync(process.env.BROKER_CTL, ['restart'])
    const more = []
    for (let p = 0; p < 3; p++) for (let i = 0; i < 2; i++) more.push({ partition: p, value: `p${p}-new-${i}` })
    await produce(topic, more)
    let got = await consume(topic, { groupId, count: 100, timeout: 8000 })
    assert.deepStrictEqual(got.map((m) => m.value).sort(), more.map((m) => m.value).sort())

    got = await consume(topic, { count: 36, groupId: 'h-' + uid() })
    assert.strictEqual(got.length, 36)

    const groups = await withAdmin((a) => a.listGroups())
    assert.ok(groups.groups.some((g) => g.groupId === groupId))
    const desc = await withAdmin((a) => a.describeGroups([groupId]))
    assert.strictEqual(desc.groups[0].state, 'Empty')
  })

test('delete topic', async () => {
  const topic = 'delete-' + uid()
  await create(topic, 1)
  await produce(topic, [{ value: 'x' }])
  await withAdmin((a) => a.deleteTopics({ topics: [topic] }))
  const topics = await withAdmin((a) => a.listTopics())
  assert.ok(!topics.includes(topic))
})

async function waitLogStart (topic) {
  const deadline = Date.now() + 15000
  let offs
  while (Date.now() < deadline) {
    offs = await withAdmin((a) => a.fetchTopicOffsets(topic))
    if (Number(offs[0].low) > 0) break
    await sleep(200)
  }
  return offs[0]
}

test('retention by size moves the log start offset', async () => {
  const topic = 'retsize-' + uid()
  await create(topic, 1, [{ name: 'segment.bytes', value: '2048' }, { name: 'retention.bytes', value: '4096' }])
  for (let i = 0; i < 50; i++) await produce(topic, [{ value: 'v'.repeat(200) }])
  const o = await waitLogStart(topic)
  assert.ok(Number(o.low) > 0, JSON.stringify(o))
  assert.strictEqual(o.high, '50')
})

test('retention by time moves the log start offset', async () => {
  const topic = 'rettime-' + uid()
  await create(topic, 1, [{ name: 'segment.bytes', value: '1024' }, { name: 'retention.ms', value: '60000' }])
  const old = Date.now() - 3600 * 1000
  for (let i = 0; i < 30; i++) await produce(topic, [{ value: 'an old record with some bytes', timestamp: String(old + i) }])
  await produce(topic, [{ value: 'new' }])
  const o = await waitLogStart(topic)
  assert.ok(Number(o.low) > 0 && Number(o.low) <= 30, JSON.stringify(o))
  assert.strictEqual(o.high, '31')
})

test('SASL SCRAM-SHA-256 and SCRAM-SHA-512 as the default user; a wrong password fails', async () => {
  const topic = 'sasl-' + uid()
  await create(topic, 1)
  for (const mechanism of ['scram-sha-256', 'scram-sha-512', 'plain']) {
    const k = new Kafka({ clientId: 'compat-kafkajs-sasl', brokers, logLevel: logLevel.NOTHING,
      sasl: { mechanism, username: 'guest', password: 'guest' }, retry: { retries: 2 } })
    const producer = k.producer()
    await producer.connect()
    await producer.send({ topic, messages: [{ value: mechanism }], acks: -1 })
    await producer.disconnect()
  }
  const got = await consume(topic, { count: 3 })
  assert.deepStrictEqual(got.map((m) => m.value), ['scram-sha-256', 'scram-sha-512', 'plain'])
  const bad = new Kafka({ clientId: 'compat-kafkajs-sasl', brokers, logLevel: logLevel.NOTHING,
    sasl: { mechanism: 'scram-sha-256', username: 'guest', password: 'wrong' }, retry: { retries: 0 } })
  const p = bad.producer()
  await assert.rejects(p.connect(), (e) => e.name === 'KafkaJSSASLAuthenticationError' ||
    (e.originalError && e.originalError.name === 'KafkaJSSASLAuthenticationError') ||
    /SASL|Authentication failed/.test(String(e.message)))
})

test('SASL_SSL: ssl with the test CA plus SASL SCRAM-SHA-256 and PLAIN; ssl alone gets nothing', {
  skip: !process.env.KAFKA_SASL_SSL_BOOTSTRAP && 'no SASL_SSL listener (KAFKA_SASL_SSL_BOOTSTRAP)'
}, async () => {
  const fs = require('node:fs')
  const sslBrokers = [process.env.KAFKA_SASL_SSL_BOOTSTRAP]
  const ssl = { ca: [fs.readFileSync(process.env.KAFKA_CA, 'utf-8')] }
  const topic = 'sasl-ssl-' + uid()
  await create(topic, 1)
  for (const mechanism of ['scram-sha-256', 'plain']) {
    const k = new Kafka({ clientId: 'compat-kafkajs-sasl-ssl', brokers: sslBrokers, ssl,
      logLevel: logLevel.NOTHING, sasl: { mechanism, username: 'guest', password: 'guest' },
      retry: { retries: 2 } })
    const producer = k.producer()
    await producer.connect()
    await producer.send({ topic, messages: [{ value: mechanism + ' over TLS' }], acks: -1 })
    await producer.disconnect()
  }
  const got = await consume(topic, { count: 2 })
  assert.deepStrictEqual(got.map((m) => m.value), ['scram-sha-256 over TLS', 'plain over TLS'])
  const bare = new Kafka({ clientId: 'compat-kafkajs-ssl-only', brokers: sslBrokers, ssl,
    logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 3000, requestTimeout: 5000 })
  const a = bare.admin()
  await assert.rejects(a.connect().then(() => a.listTopics()))
  await a.disconnect().catch(() => {})
})
