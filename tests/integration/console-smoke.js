// The web console's script (served at /console.js) run in node with a stub
// DOM against a live tandemd: every view must render from the real API, the
// side-by-side view's actions must work against it (set up, publish, take
// from the queue), and a payload full of markup must come out escaped.
// The real-browser test is compat/browser/ (Chromium); this one needs only
// node, so `make check` runs it.
// Then a wrong password: the page must say RabbitMQ's "Login failed", forget
// the credentials, show the login form and send nothing more until the user
// logs in again (no request loop); the API URLs must be relative, so the same
// page works over HTTPS.
// Usage: node console-smoke.js http://127.0.0.1:15672   (node >= 18 for fetch)
//        node console-smoke.js https://127.0.0.1:15671  (NODE_EXTRA_CA_CERTS=ca.pem)
// Run by tests/integration/test_http.c (and over HTTPS by test_https.c).
'use strict';
const base = process.argv[2];
const els = {};
const values = { u: 'guest', p: 'guest', 'sd-x': 'smoke.x', 'sd-type': 'fanout', 'sd-bkey': '',
  'sd-q': 'smoke.q', 'sd-l': 'smoke.log', 'sd-n': '3', 'sd-rk': '', 'sd-rp': '0', 'sd-ro': '0', 'sd-rc': '10' };
function el(id) {
  if (!els[id]) {
    els[id] = { id, style: {}, innerHTML: '', textContent: '', className: '', options: [],
      value: values[id] !== undefined ? values[id] : '',
      classList: { set: new Set(), add(c) { this.set.add(c); }, remove(c) { this.set.delete(c); } },
      addEventListener() {}, contains: () => false,
      getAttribute(a) { return this.attrs && this.attrs[a]; } };
  }
  return els[id];
}
global.document = { getElementById: el, activeElement: null, addEventListener() {}, querySelectorAll: () => [] };
global.location = { hash: '' };
let stored = Buffer.from('guest:guest').toString('base64');
global.sessionStorage = { getItem: () => stored, setItem(k, v) { stored = v; }, removeItem() { stored = null; } };
global.window = { addEventListener() {}, confirm: () => false };
global.btoa = s => Buffer.from(s).toString('base64');
const realFetch = fetch;
let fetches = 0;
let cannedCluster = null; // when set, the answer to api/cluster (a node of a cluster)
let cannedQueues = null; // when set, the answer to api/queues (a node of a cluster)
global.fetch = (p, o) => {
  fetches++;
  // relative to the page, never to a fixed scheme or host
  if (/^(\/|[a-z]+:)/i.test(p)) throw new Error('console fetches an absolute URL: ' + p);
  if (cannedCluster && p === 'api/cluster') {
    return Promise.resolve(new Response(JSON.stringify(cannedCluster), { status: 200,
      headers: { 'Content-Type': 'application/json' } }));
  }
  if (cannedQueues && p === 'api/queues') {
    return Promise.resolve(new Response(JSON.stringify(cannedQueues), { status: 200,
      headers: { 'Content-Type': 'application/json' } }));
  }
  return realFetch(new URL(p, base + '/').href, o);
};
global.setInterval = () => {};
function must(cond, what) { if (!cond) throw new Error(what); }

(async () => {
  const page = await realFetch(base + '/');
  const html = await page.text();
  must(/text\/html/.test(page.headers.get('content-type')), 'index.html content type');
  must(html.includes('src="console.js"') && html.includes('href="console.css"'), 'index.html loads console.js and console.css');
  must(!/<script>[^<]/.test(html), 'no inline script (the CSP forbids it)');
  const css = await realFetch(base + '/console.css');
  must(css.ok && /text\/css/.test(css.headers.get('content-type')), 'console.css');
  const jsr = await realFetch(base + '/console.js');
  must(/javascript/.test(jsr.headers.get('content-type')), 'console.js content type');
  const js = await jsr.text();
  eval(js + '\n;global.__c={views:views,sideActs:sideActs,refreshSide:refreshSide,sideSkeleton:sideSkeleton,esc:esc};');
  const c = global.__c;
  for (const t of ['overview', 'queues', 'exchanges', 'bindings', 'connections', 'topics', 'groups', 'cluster']) {
    const h = await c.views[t]();
    must(h.includes('<table') || h.includes('class="box"'), t + ': ' + h);
    console.log(t, 'ok', h.length);
  }
  // the cluster view: this single node says so and lists itself
  const single = await c.views.cluster();
  must(single.includes('single node') && single.includes('id="cluster-nodes"') && single.includes('controller, this node') &&
    !single.includes('cluster-partitions'), 'cluster, single node: ' + single);
  // a node of a three-node cluster (src/http/cluster_doc.c's form): nodes,
  // controller, partitions with under-replicated and offline rows marked
  cannedCluster = { clustered: true, node_id: 2, controller: 3,
    nodes: [1, 2, 3].map(i => ({ id: i, host: '10.0.0.' + i, kafka_port: 9092, amqp_port: 5672, http_port: 15672 })),
    partitions: [
      { topic: 'audit', partition: 0, leader: 2, leader_epoch: 4, replicas: [2, 3, 1], isr: [2, 3], high_watermark: 5,
        under_replicated: true, offline: false, max_follower_lag: 3 },
      { topic: 'orders', partition: 0, leader: 1, leader_epoch: 7, replicas: [1, 2, 3], isr: [1, 2, 3], high_watermark: 0,
        under_replicated: false, offline: false, max_follower_lag: 0 },
      { topic: '<b>x</b>', partition: 1, leader: -1, leader_epoch: 2, replicas: [3, 1, 2], isr: [3], high_watermark: 0,
        under_replicated: false, offline: true, max_follower_lag: 0 }],
    under_replicated: 1, offline: 1 };
  const cl = await c.views.cluster();
  cannedCluster = null;
  must(cl.includes('3 live nodes, controller node 3; this is node 2'), 'cluster head: ' + cl);
  must(/<td class="n">3<\/td><td>10\.0\.0\.3<\/td>.*?<td>controller<\/td>/.test(cl), 'controller marked: ' + cl);
  must(cl.includes('<td>this node</td>'), 'this node marked: ' + cl);
  must(/<tr class="under"><td>audit<\/td><td class="n">0<\/td><td class="n">2<\/td><td class="n">4<\/td><td>2, 3, 1<\/td><td>2, 3<\/td>/.test(cl),
    'under-replicated row: ' + cl);
  must(/<tr><td>orders<\/td><td class="n">0<\/td><td class="n">1<\/td>/.test(cl), 'in-sync row unmarked: ' + cl);
  must(/<tr class="offline"><td>&lt;b&gt;x&lt;\/b&gt;<\/td><td class="n">1<\/td><td>none<\/td>/.test(cl) && !cl.includes('<b>x'),
    'offline row, name escaped: ' + cl);
  must(cl.includes('1 under-replicated, 1 offline'), 'cluster health: ' + cl);
  console.log('cluster ok');
  // the queues of a cluster's node: a stream queue's leader and members,
  // the one out of the ISR marked, a leaderless one, a classic one bare
  const node = i => 'tandem@node-' + i;
  cannedQueues = [
    { vhost: '/', name: 'orders', type: 'stream', arguments: { 'x-queue-type': 'stream' }, leader: node(2),
      members: [node(2), node(3), node(1)], online: [node(2), node(1)] },
    { vhost: '/', name: 'lost', type: 'stream', arguments: { 'x-queue-type': 'stream' }, leader: null,
      members: [node(3)], online: [] },
    { vhost: '/', name: 'jobs', type: 'classic', arguments: {} }];
  const cq = await c.views.queues();
  cannedQueues = null;
  must(cq.includes('<th>leader</th><th>members</th>'), 'queues: leader and members columns: ' + cq);
  must(cq.includes('<td>orders</td><td>stream</td><td>tandem@node-2</td>' +
    '<td>tandem@node-2, tandem@node-3 (out of sync), tandem@node-1</td>'), 'stream queue of a cluster: ' + cq);
  must(cq.includes('<td>lost</td><td>stream</td><td>none</td><td>tandem@node-3 (out of sync)</td>'), 'no leader: ' + cq);
  must(cq.includes('<td>jobs</td><td>classic</td><td></td><td></td>'), 'classic queue: ' + cq);
  console.log('queue leaders ok');
  must(c.esc('<a href="x" onclick=\'y\'>&`') === '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;', 'esc');
  must(c.sideSkeleton().includes('id="sd-take-A"'), 'side skeleton');
  // the side-by-side flow
  await c.sideActs.setup();
  await c.sideActs.setup(); // idempotent
  must(/ready/.test(els['sd-setup-msg'].textContent), 'setup: ' + els['sd-setup-msg'].textContent);
  // this single node leads the demo's stream queue and is its one member
  const ov = await (await realFetch(base + '/api/overview', { headers: { Authorization: 'Basic ' + btoa('guest:guest') } })).json();
  const qv = await c.views.queues();
  const me = c.esc(ov.node);
  must(qv.includes('<td>smoke.log</td><td>stream</td><td>' + me + '</td><td>' + me + '</td>'), 'stream queue leader ' + me + ': ' + qv);
  must(qv.includes('<td>smoke.q</td><td>classic</td><td></td><td></td>'), 'classic queue, no leader: ' + qv);
  await c.sideActs.publish();
  must(els['sd-pub-msg'].textContent === 'published 3, routed 3', 'publish: ' + els['sd-pub-msg'].textContent);
  const evil = '<img src=x onerror="globalThis.pwned=1">';
  const r = await realFetch(base + '/api/exchanges/%2F/smoke.x/publish', { method: 'POST',
    headers: { Authorization: 'Basic ' + btoa('guest:guest'), 'Content-Type': 'application/json' },
    body: JSON.stringify({ properties: {}, routing_key: '', payload: evil, payload_encoding: 'string' }) });
  must(r.ok, 'publish markup');
  el('sd-take-A').attrs = { 'data-who': 'A' };
  el('sd-take-B').attrs = { 'data-who': 'B' };
  await c.sideActs.take(el('sd-take-A'));
  await c.sideActs.take(el('sd-take-B'));
  await c.refreshSide();
  must(/id="sd-q-ready">2</.test(els['sd-qstats'].innerHTML), 'ready 2: ' + els['sd-qstats'].innerHTML);
  must(els['sd-taken-A'].innerHTML.includes('message 1') && els['sd-taken-B'].innerHTML.includes('message 2'), 'A and B took 1 and 2');
  const list = els['sd-qmsgs'].innerHTML;
  must(list.includes('message 3') && !list.includes('message 2'), 'queue lists what is left: ' + list);
  must(list.includes('&lt;img src=x onerror=&quot;') && !list.includes('<img'), 'payload escaped: ' + list);
  must(els['sd-parts'].innerHTML.includes('sd-parts-table'), 'partitions: ' + els['sd-parts'].innerHTML);
  // the log side: the records stay, a group reads from its own offset, replay
  must(els['sd-records'].innerHTML.includes('message 1') && els['sd-records'].innerHTML.includes('&lt;img'), 'records: ' + els['sd-records'].innerHTML);
  el('sd-smoke-g1').attrs = { 'data-group': 'side-g1' };
  el('sd-side-g1-count').value = '2';
  await c.sideActs['group-read'](el('sd-smoke-g1'));
  await c.refreshSide();
  must(/<td class="n">2<\/td><td class="n">4<\/td><td class="n">2<\/td>/.test(els['sd-side-g1-state'].innerHTML), 'g1 committed 2, end 4, lag 2: ' + els['sd-side-g1-state'].innerHTML);
  must(/no committed offset/.test(els['sd-side-g2-state'].innerHTML), 'g2 untouched: ' + els['sd-side-g2-state'].innerHTML);
  el('sd-ro').value = '3';
  await c.sideActs.replay();
  await c.refreshSide();
  const rep = els['sd-replay-out'].innerHTML;
  must(rep.includes('&lt;img src=x onerror=&quot;') && !rep.includes('message 3') && !rep.includes('<img'), 'replay from 3: ' + rep);
  await c.sideActs.reset();
  console.log('side by side ok');

  // a wrong password: a fresh page whose stored credentials are wrong
  stored = Buffer.from('guest:wrong').toString('base64');
  el('login').classList.add('hidden');
  el('err').textContent = '';
  eval(js + '\n;global.__d={refresh:refresh};');
  const end = Date.now() + 10000;
  while (el('err').textContent !== 'Login failed' && Date.now() < end) await new Promise(r => setTimeout(r, 20));
  must(el('err').textContent === 'Login failed', 'wrong password: #err says ' + JSON.stringify(el('err').textContent));
  must(!el('login').classList.set.has('hidden'), 'wrong password: the login form is shown');
  must(stored === null, 'wrong password: the credentials are forgotten');
  must(el('p').value === '', 'wrong password: the password field is cleared');
  const before = fetches;
  await global.__d.refresh(true);
  await global.__d.refresh();
  must(fetches === before, 'no request after a failed login until the user logs in again: ' + (fetches - before));
  console.log('login failure ok');
})().catch(e => { console.error('FAIL', e); process.exit(1); });
