// kafkajs 2.2.4 through a leader's kill -9 in a 3-node cluster.
// Run by compat/kafka/run.sh after scripts/cluster.sh up 3 (its state
// directory in TANDEM_CLUSTER_DIR): a topic with replication factor 3 and
// min.insync.replicas=2, a producer sending with acks=all one record per
// request, the partition's leader killed with SIGKILL half way; the same
// producer goes on (kafkajs finds the new leader), and every acknowledged
// record is afterwards at the offset it was acknowledged at, in order
// (read back with kcat).
'use strict'
const test = require('node:test')
const assert = require('node:assert')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { Kafka, logLevel } = require('kafkajs')

const cluster = path.join(__dirname, '..', '..', '..', 'scripts', 'cluster.sh')

function nodes () {
  const out = execFileSync(cluster, ['status'], { encoding: 'utf8' })
  const res = {}
  for (const line of out.split('\n')) {
    if (!line.startsWith('node=')) continue
    const kv = Object.fromEntries(line.split(' ').map((f) => f.split('=')))
    res[kv.node] = { kafka: kv.kafka, pid: Number(kv.pid) }
  }
  return res
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

test('an acks=all producer outlives a leader kill -9', { timeout: 120000 }, async () => {
  const ns = nodes()
  assert.strictEqual(Object.keys(ns).length, 3)
  const kafka = new Kafka({ clientId: 'compat-kafkajs-cluster', logLevel: logLevel.NOTHING,
    brokers: Object.values(ns).map((n) => n.kafka),
    retry: { initialRetryTime: 200, retries: 30 } })
  const topic = 'kjs-failover-' + Math.random().toString(36).slice(2, 10)
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1,
    replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }] })
  let leader = -1
  for (let i = 0; i < 100 && leader < 0; i++) {
    const md = await admin.fetchTopicMetadata({ topics: [topic] })
    const p = md.topics[0].partitions[0]
    if (p.leader >= 0 && p.isr.length === 3) leader = p.leader
    else await sleep(200)
  }
  assert.ok(leader >= 0, 'no leader with 3 in-sync replicas')
  const producer = kafka.producer()
  await producer.connect()
  const n = 200
  const acked = []
  for (let i = 0; i < n; i++) {
    if (i === n / 2) process.kill(ns[leader].pid, 'SIGKILL')
    const [r] = await producer.send({ topic, acks: -1,
      messages: [{ partition: 0, value: 'rec-' + String(i).padStart(6, '0') }] })
    acked.push(Number(r.baseOffset))
  }
  await producer.disconnect()

  await admin.disconnect()
  // read back with kcat (no consumer group: groups are not on the cluster yet)
  const boot = Object.values(ns).filter((x) => x.pid !== ns[leader].pid).map((x) => x.kafka).join(',')
  const out = execFileSync('kcat', ['-C', '-b', boot, '-t', topic, '-p', '0', '-o', 'beginning',
    '-e', '-q', '-f', '%o %s\n'], { encoding: 'utf8', timeout: 60000 })
  const seen = new Map()
  for (const line of out.split('\n')) {
    const sp = line.indexOf(' ')
    if (sp > 0) seen.set(Number(line.slice(0, sp)), line.slice(sp + 1))
  }
  let last = -1
  for (let i = 0; i < n; i++) {
    assert.strictEqual(seen.get(acked[i]), 'rec-' + String(i).padStart(6, '0'),
      `record ${i} acknowledged at ${acked[i]}`)
    assert.ok(acked[i] > last, `record ${i} acknowledged out of order`)
    last = acked[i]
  }
})
