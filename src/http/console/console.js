// tandem's web console: reads and drives the management API (/api/...) of
// the broker that serves it; no library, no other host. Every number it shows
// is one the API returned; the page only lays them out (and keeps the recent
// overview rate samples for the charts).
//
// Safety: everything that comes from the broker or the user (names,
// payloads, reasons) goes into the page through esc(); the server's
// Content-Security-Policy allows no inline script either, so handlers are
// attached by delegation on data-act attributes, never as onclick="...".
'use strict';

var TABS = [['overview', 'overview'], ['side', 'side by side'], ['queues', 'queues'],
  ['exchanges', 'exchanges'], ['bindings', 'bindings'], ['connections', 'connections'],
  ['topics', 'topics'], ['groups', 'groups'], ['cluster', 'cluster']];
var tab = location.hash.slice(1) || 'overview';
var auth = sessionStorage.getItem('tandem-auth');
var VH = '%2F'; // the console works in vhost "/"

function $(id) { return document.getElementById(id); }
function esc(s) {
  return String(s === undefined || s === null ? '' : s).replace(/[&<>"'`]/g, function (c) {
    return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' }[c];
  });
}
function enc(s) { return encodeURIComponent(s); }

// ---- API -------------------------------------------------------------------
function ApiError(status, body, fallback) {
  this.status = status;
  this.error = body && body.error;
  this.message = (body && (body.reason || body.error)) || fallback;
}
ApiError.prototype = Object.create(Error.prototype);

var LOGIN_REFUSED = ['Login failed', 'Not management user'];
// URLs are relative to the page ('api/...'), so the console works wherever
// the broker serves it: http:// or https://, on any host and port.
function api(path, opt) {
  opt = opt || {};
  opt.headers = { 'Authorization': 'Basic ' + auth };
  // The credentials go in our own header; 'omit' keeps the browser's HTTP
  // auth out of it, so a 401 (with RabbitMQ's WWW-Authenticate) comes back
  // to this script instead of opening the browser's login dialog.
  opt.credentials = 'omit';
  if (opt.json !== undefined) {
    opt.body = JSON.stringify(opt.json);
    opt.headers['Content-Type'] = 'application/json';
  }
  return fetch('api/' + path, opt).then(function (r) {
    return r.text().then(function (t) {
      var j = null;
      try { j = t ? JSON.parse(t) : null; } catch (e) { j = null; }
      // wrong credentials (RabbitMQ's "Login failed") or a user the API
      // refuses ("Not management user"): forget them, ask again, say why;
      // other 401s ("Access refused.", "Not administrator user") refuse one action
      if (r.status === 401 && (!j || !j.reason || LOGIN_REFUSED.indexOf(j.reason) >= 0)) {
        var why = (j && j.reason) || 'Login failed';
        loginFailed(why);
        throw new ApiError(401, j, why);
      }
      if (!r.ok) throw new ApiError(r.status, j, r.status + ' ' + r.statusText);
      return j;
    });
  });
}
function showLogin() { $('login').classList.remove('hidden'); }
function loginFailed(why) {
  auth = null;
  sessionStorage.removeItem('tandem-auth');
  $('p').value = '';
  $('view').innerHTML = '';
  $('err').textContent = why;
  showLogin();
}
$('login').addEventListener('submit', function (e) {
  e.preventDefault();
  auth = btoa($('u').value + ':' + $('p').value);
  sessionStorage.setItem('tandem-auth', auth);
  $('err').textContent = '';
  this.classList.add('hidden');
  if (document.activeElement) document.activeElement.blur();
  refresh(true);
});

// ---- small HTML builders (all text through esc) ---------------------------
// rowClass(r), when given, names a class for a row ('' for none)
function table(rows, cols, id, rowClass) {
  var h = '<table' + (id ? ' id="' + esc(id) + '"' : '') + '><tr>' +
    cols.map(function (c) { return '<th>' + esc(c[0]) + '</th>'; }).join('') + '</tr>';
  rows.forEach(function (r) {
    var cls = rowClass ? rowClass(r) : '';
    h += '<tr' + (cls ? ' class="' + esc(cls) + '"' : '') + '>' + cols.map(function (c) {
      var v = c[1](r);
      return '<td' + (typeof v === 'number' ? ' class="n"' : '') + '>' + esc(v) + '</td>';
    }).join('') + '</tr>';
  });
  return h + '</table>' + (rows.length ? '' : '<small>none</small>');
}
function box(t, v) { return '<div class="box">' + esc(t) + '<div>' + esc(v) + '</div></div>'; }
function stat(id, t, v) { return '<span class="stat">' + esc(t) + ' <b id="' + esc(id) + '">' + esc(v) + '</b></span>'; }
function ms(o, k) { return (o.message_stats && o.message_stats[k]) || 0; }
function rate(o, k) { var d = o.message_stats && o.message_stats[k + '_details']; return d ? d.rate : 0; }
function rt(o, k) { return Math.round(rate(o, k) * 10) / 10; }
function payloadText(m) {
  return m.payload_encoding === 'base64' ? 'base64:' + m.payload : m.payload;
}
function msgTable(msgs, id) {
  return table(msgs, [['offset', function (m) { return m.offset; }],
    ['partition', function (m) { return m.partition; }],
    ['payload', function (m) { return payloadText(m); }],
    ['timestamp', function (m) { return m.timestamp >= 0 ? new Date(m.timestamp).toISOString().slice(11, 23) : ''; }]], id);
}

// ---- overview: boxes and rate charts ------------------------------------
// The charts plot the API's own rates (message_stats.*_details.rate, sampled
// by the broker every 5 s), one point per poll; the page keeps the last 60.
var samples = [];
var SERIES = [['publish', 'publish/s'], ['deliver_get', 'deliver/s'], ['ack', 'ack/s']];
function sample(o) {
  var last = samples[samples.length - 1], t = Date.now();
  if (last && t - last.t < 1000) return;
  samples.push({ t: t, v: SERIES.map(function (s) { return rate(o, s[0]); }) });
  if (samples.length > 60) samples.shift();
}
function chart() {
  var W = 640, H = 160, L = 44, B = 18, n = samples.length;
  var max = 0;
  samples.forEach(function (s) { s.v.forEach(function (v) { if (v > max) max = v; }); });
  var top = max > 0 ? max : 1;
  var h = '<svg class="chart" id="rate-chart" width="' + W + '" height="' + H + '" viewBox="0 0 ' + W + ' ' + H + '">';
  for (var g = 0; g <= 4; g++) {
    var y = 6 + (H - B - 6) * g / 4;
    h += '<line class="grid" x1="' + L + '" x2="' + W + '" y1="' + y + '" y2="' + y + '"/>' +
      '<text x="2" y="' + (y + 4) + '">' + esc(Math.round(top * (4 - g) / 4 * 10) / 10) + '</text>';
  }
  SERIES.forEach(function (s, i) {
    var pts = samples.map(function (p, j) {
      var x = L + (W - L - 4) * (n > 1 ? j / (n - 1) : 1);
      var y = 6 + (H - B - 6) * (1 - p.v[i] / top);
      return x.toFixed(1) + ',' + y.toFixed(1);
    });
    if (pts.length === 1) pts.unshift((L) + ',' + pts[0].split(',')[1]);
    h += '<polyline class="s' + i + '" points="' + esc(pts.join(' ')) + '"/>';
  });
  h += '<text x="' + L + '" y="' + (H - 4) + '">' + esc(n ? 'last ' + n + (n === 1 ? ' sample' : ' samples') + ', one per poll (5 s); messages per second' : 'waiting for samples') + '</text></svg>';
  return h + '<div>' + SERIES.map(function (s, i) {
    var last = samples.length ? samples[samples.length - 1].v[i] : 0;
    return '<span class="k' + i + '">&#9644; ' + esc(s[1]) + ' ' + esc(Math.round(last * 10) / 10) + '</span> ';
  }).join('') + '</div>';
}

// A stream queue's replicas (its "members"), the ones out of sync (not
// "online") marked; nothing for a classic queue.
function queueMembers(q) {
  if ((q.type !== 'stream' && q.type !== 'quorum') || !q.members) return '';
  var online = q.online || [];
  return q.members.map(function (m) { return online.indexOf(m) < 0 ? m + ' (out of sync)' : m; }).join(', ');
}

var views = {
  overview: function () {
    return api('overview').then(function (o) {
      sample(o);
      var q = o.queue_totals || {}, t = o.object_totals || {};
      return '<h3>' + esc(o.product_name + ' ' + o.product_version + ' on ' + o.node) + '</h3>' +
        '<h4>Message rates</h4>' + chart() +
        box('ready', q.messages_ready) + box('unacked', q.messages_unacknowledged) +
        box('published', ms(o, 'publish')) + box('delivered', ms(o, 'deliver_get')) + box('acked', ms(o, 'ack')) + '<br>' +
        box('connections', t.connections) + box('channels', t.channels) + box('queues', t.queues) +
        box('exchanges', t.exchanges) + box('consumers', t.consumers) +
        '<h4>Listeners</h4>' + table(o.listeners || [], [['protocol', function (l) { return l.protocol; }],
          ['address', function (l) { return l.ip_address; }], ['port', function (l) { return l.port; }]]);
    });
  },
  queues: function () {
    return api('queues').then(function (qs) {
      return table(qs, [['vhost', function (q) { return q.vhost; }], ['name', function (q) { return q.name; }],
        ['type', function (q) { return (q.arguments && q.arguments['x-queue-type']) || 'classic'; }],
        ['leader', function (q) { return q.type !== 'stream' && q.type !== 'quorum' ? '' : q.leader || 'none'; }],
        ['members', queueMembers],
        ['ready', function (q) { return q.messages_ready; }], ['unacked', function (q) { return q.messages_unacknowledged; }],
        ['consumers', function (q) { return q.consumers; }], ['published', function (q) { return ms(q, 'publish'); }],
        ['publish/s', function (q) { return rt(q, 'publish'); }], ['delivered', function (q) { return ms(q, 'deliver_get'); }],
        ['acked', function (q) { return ms(q, 'ack'); }], ['durable', function (q) { return q.durable; }],
        ['arguments', function (q) { return JSON.stringify(q.arguments); }]], 'queues-table') +
        '<form id="pub">Publish to exchange <input id="px" placeholder="amq.default" size="12"> routing key <input id="pk" size="12">' +
        ' body <input id="pb" size="20"> <button>publish</button> <span id="pr"></span></form>';
    });
  },
  exchanges: function () {
    return api('exchanges').then(function (xs) {
      return table(xs, [['vhost', function (x) { return x.vhost; }], ['name', function (x) { return x.name || '(default)'; }],
        ['type', function (x) { return x.type; }], ['durable', function (x) { return x.durable; }],
        ['internal', function (x) { return x.internal; }], ['in', function (x) { return ms(x, 'publish_in'); }],
        ['out', function (x) { return ms(x, 'publish_out'); }]], 'exchanges-table');
    });
  },
  bindings: function () {
    return api('bindings').then(function (bs) {
      return table(bs, [['vhost', function (b) { return b.vhost; }], ['source', function (b) { return b.source || '(default)'; }],
        ['destination', function (b) { return b.destination; }], ['type', function (b) { return b.destination_type; }],
        ['routing key', function (b) { return b.routing_key; }], ['arguments', function (b) { return JSON.stringify(b.arguments); }]], 'bindings-table');
    });
  },
  connections: function () {
    return Promise.all([api('connections'), api('channels')]).then(function (a) {
      return '<h4>Connections</h4>' + table(a[0], [['name', function (c) { return c.name; }],
        ['protocol', function (c) { return c.protocol; }], ['user', function (c) { return c.user; }],
        ['vhost', function (c) { return c.vhost; }], ['channels', function (c) { return c.channels; }],
        ['state', function (c) { return c.state; }]], 'connections-table') +
        '<h4>Channels</h4>' + table(a[1], [['name', function (c) { return c.name; }],
          ['consumers', function (c) { return c.consumer_count; }], ['unacked', function (c) { return c.messages_unacknowledged; }],
          ['prefetch', function (c) { return c.prefetch_count; }], ['confirm', function (c) { return c.confirm; }]]);
    });
  },
  topics: function () {
    return api('topics').then(function (ts) {
      var rows = [];
      ts.forEach(function (t) { t.partition_details.forEach(function (p) { rows.push([t, p]); }); });
      return table(rows, [['topic', function (r) { return r[0].name; }], ['partition', function (r) { return r[1].partition; }],
        ['log start', function (r) { return r[1].log_start_offset; }], ['log end', function (r) { return r[1].log_end_offset; }],
        ['segments', function (r) { return r[1].segments; }], ['bytes', function (r) { return r[1].bytes; }],
        ['retention.ms', function (r) { return r[0].config['retention.ms']; }],
        ['retention.bytes', function (r) { return r[0].config['retention.bytes']; }]], 'topics-table') +
        '<p class="note">A log keeps records after they are read: each consumer group has its own committed offset ' +
        '(see groups). Retention deletes whole segments, oldest first; log start is the first record still kept.</p>';
    });
  },
  groups: function () {
    return api('groups').then(function (gs) {
      var rows = [];
      gs.forEach(function (g) { (g.offsets || []).forEach(function (o) { rows.push([g, o]); }); });
      return table(rows, [['group', function (r) { return r[0].group; }], ['state', function (r) { return r[0].state || ''; }],
        ['topic', function (r) { return r[1].topic; }], ['partition', function (r) { return r[1].partition; }],
        ['committed', function (r) { return r[1].committed_offset; }], ['log end', function (r) { return r[1].log_end_offset; }],
        ['lag', function (r) { return r[1].lag; }]], 'groups-table') +
        (gs.length ? '<p>' + gs.map(function (g) {
          return '<button data-act="group-reset" data-group="' + esc(g.group) + '">reset ' + esc(g.group) + '</button> ';
        }).join('') + '<small>reset forgets a group\'s committed offsets (refused while Kafka members are in it)</small></p>' : '') +
        '<p class="note">Lag is the log end offset minus the committed offset: records the group has not read yet.</p>';
    });
  },
  cluster: function () {
    return api('cluster').then(function (c) {
      var h = c.clustered
        ? '<h3 id="cluster-head">' + esc(c.nodes.length + ' live node' + (c.nodes.length === 1 ? '' : 's') +
          ', controller ' + (c.controller >= 0 ? 'node ' + c.controller : 'none') + '; this is node ' + c.node_id) + '</h3>'
        : '<h3 id="cluster-head">single node (not clustered: zookeeper_connect is not set)</h3>';
      h += '<h4>Nodes</h4>' + table(c.nodes, [['id', function (n) { return n.id; }],
        ['host', function (n) { return n.host; }], ['kafka', function (n) { return n.kafka_port; }],
        ['amqp', function (n) { return n.amqp_port; }], ['http', function (n) { return n.http_port; }],
        ['link', function (n) { return n.cluster_port || ''; }],
        ['role', function (n) { return (n.id === c.controller ? 'controller' : '') + (n.id === c.node_id ? (n.id === c.controller ? ', ' : '') + 'this node' : ''); }]],
        'cluster-nodes');
      if (!c.clustered) return h;
      function ids(a) { return (a || []).join(', '); }
      return h + '<h4>Partitions</h4>' +
        (c.under_replicated || c.offline
          ? '<p class="bad" id="cluster-health">' + esc(c.under_replicated + ' under-replicated, ' + c.offline + ' offline') + '</p>'
          : '<p class="ok" id="cluster-health">all partitions fully replicated</p>') +
        table(c.partitions, [['topic', function (p) { return p.topic; }], ['partition', function (p) { return p.partition; }],
          ['leader', function (p) { return p.leader >= 0 ? p.leader : 'none'; }], ['epoch', function (p) { return p.leader_epoch; }],
          ['replicas', function (p) { return ids(p.replicas); }], ['ISR', function (p) { return ids(p.isr); }],
          ['high watermark', function (p) { return p.high_watermark; }], ['follower lag', function (p) { return p.max_follower_lag; }],
          ['state', function (p) { return p.offline ? 'offline' : p.under_replicated ? 'under-replicated' : 'in sync'; }]],
        'cluster-partitions', function (p) { return p.offline ? 'offline' : p.under_replicated ? 'under' : ''; }) +
        '<p class="note">Writes and reads go to a partition\'s leader; the ISR are the replicas that have everything up to ' +
        'the high watermark, the offset consumers read to. A partition is under-replicated while a replica is out of its ISR, ' +
        'offline while it has no leader.</p>';
    });
  },
  side: null // below: it keeps its form and updates parts of itself
};

// ---- the side-by-side view --------------------------------------------------
// One exchange bound to a classic queue and to a stream queue (a log): the
// same publish lands in both, and the two columns show what each model does
// with it.
var sd = {
  taken: { A: [], B: [] }, // what each competing consumer got (the API's answers)
  reads: {},               // group -> last fetch answer
  replay: null,            // last replay answer
  note: {},                // element id -> [class, text] set by actions
  peekKey: null, peek: [], seq: 0
};
var GROUPS = ['side-g1', 'side-g2'];
function find(list, key, v) {
  for (var i = 0; i < list.length; i++) if (list[i][key] === v && (!list[i].vhost || list[i].vhost === '/')) return list[i];
  return null;
}
function sdNames() {
  return { x: $('sd-x').value.trim(), type: $('sd-type').value, bkey: $('sd-bkey').value,
    q: $('sd-q').value.trim(), l: $('sd-l').value.trim() };
}

function sideSkeleton() {
  function groupCard(g) {
    return '<div id="sd-' + esc(g) + '"><b>group ' + esc(g) + '</b>' +
      '<div id="sd-' + esc(g) + '-state"></div>' +
      'read <input class="num" id="sd-' + esc(g) + '-count" type="number" min="1" value="1"> ' +
      '<button data-act="group-read" data-group="' + esc(g) + '" id="sd-' + esc(g) + '-read">read</button>' +
      '<div id="sd-' + esc(g) + '-out"></div></div>';
  }
  return '<div id="side">' +
    '<form id="sd-setup" class="panel">Exchange <input id="sd-x" value="side.demo" size="10"> ' +
    '<select id="sd-type"><option>fanout</option><option>direct</option><option>topic</option></select> ' +
    'binding key <input id="sd-bkey" size="8"> &rarr; classic queue <input id="sd-q" value="side.queue" size="10"> ' +
    'and stream queue <input id="sd-l" value="side.log" size="10"> ' +
    '<button data-act="setup" id="sd-setup-btn">Set up demo</button> <button data-act="reset" id="sd-reset-btn">Reset demo</button> ' +
    '<span id="sd-setup-msg"></span><br>' +
    'Publish <input class="num" id="sd-n" type="number" min="1" max="100" value="5"> numbered messages with routing key ' +
    '<input id="sd-rk" size="8"> <button data-act="publish" id="sd-pub-btn">Publish</button> <span id="sd-pub-msg"></span>' +
    '<div class="note">One publish to the exchange lands in both: the exchange routes the message to every bound queue, ' +
    'and a stream queue is a log (the topic of the same name), so the Kafka side reads the same records.</div></form>' +
    '<div class="cols">' +
    '<div class="col queue"><h3>Queue <span id="sd-qname"></span> <small>(classic)</small></h3>' +
    '<div id="sd-qstats"></div>' +
    '<p><b>Competing consumers.</b> Each button takes one message (basic.get, then ack). ' +
    'A message one consumer took is gone for the other.</p>' +
    '<button data-act="take" data-who="A" id="sd-take-A">Consumer A: take one</button> ' +
    '<button data-act="take" data-who="B" id="sd-take-B">Consumer B: take one</button> <span id="sd-take-msg"></span>' +
    '<div class="pair"><div id="sd-taken-A"></div><div id="sd-taken-B"></div></div>' +
    '<h4>Messages still in the queue</h4><div id="sd-qmsgs"></div>' +
    '<div class="gone" id="sd-q-noreplay"><b>No replay.</b> An acked message is deleted from the queue; ' +
    'nothing can read it again. The queue holds only what no consumer has acked yet.</div>' +
    '</div>' +
    '<div class="col log"><h3>Log <span id="sd-lname"></span> <small>(stream queue = topic)</small></h3>' +
    '<div id="sd-parts"></div>' +
    '<h4>Records in the log</h4><div id="sd-records"></div>' +
    '<p><b>Consumer groups.</b> Each group pulls from its own committed offset; reading commits past what it got. ' +
    'Reading in one group does not move the other.</p>' +
    '<div class="pair">' + GROUPS.map(groupCard).join('') + '</div>' +
    '<div class="kept" id="sd-replay"><b>Replay.</b> Records stay after they are read: read again from any offset. ' +
    'Partition <select id="sd-rp"><option>0</option></select> from offset <input class="num" id="sd-ro" type="number" min="0" value="0"> ' +
    'count <input class="num" id="sd-rc" type="number" min="1" value="10"> ' +
    '<button data-act="replay" id="sd-replay-btn">replay from offset</button><div id="sd-replay-out"></div></div>' +
    '</div></div>' +
    '<dl class="explain">' +
    '<dt>Ack deletes; retention keeps</dt><dd>A queue deletes a message when its consumer acks it. ' +
    'Reading a log changes nothing in it: a record stays until retention removes it.</dd>' +
    '<dt>Push and pull</dt><dd>A queue pushes messages to its subscribed consumers (basic.consume, up to their prefetch); ' +
    'the buttons here use basic.get, one message per click. A log is pulled: a reader asks for records from an offset ' +
    '(a Kafka Fetch; here the group read and the replay).</dd>' +
    '<dt>Competing consumers and groups</dt><dd>The consumers of one queue compete: each message goes to one of them. ' +
    'Every consumer group reads every record, with its own committed offset; inside a group the partitions are divided among its members.</dd>' +
    '<dt>Order</dt><dd>A queue keeps one order, first in first out (a rejected message goes back to its place). ' +
    'A log keeps order per partition: offsets grow within a partition, and there is no order across partitions.</dd>' +
    '<dt>Retention</dt><dd>Retention never deletes single records: it deletes whole segments, oldest first, once they are past ' +
    'retention.ms or the partition is over retention.bytes; log start then moves to the first record still kept. ' +
    'The segments column counts a partition\'s segment files.</dd></dl>' +
    '</div>';
}

function setNote(id, cls, text) { sd.note[id] = [cls, text]; var e = $(id); if (e) { e.className = cls; e.textContent = text; } }
function busy(on) {
  document.querySelectorAll('#side button').forEach(function (b) { b.disabled = on; });
}
function num(id, dflt) { var v = parseInt($(id).value, 10); return isNaN(v) ? dflt : v; }

// Reads everything the view shows and renders it; an older refresh that
// answers late is dropped.
function refreshSide() {
  var n = sdNames(), seq = ++sd.seq;
  // lists, not GETs of single objects: what is not there yet is no error
  return Promise.all([api('queues/' + VH), api('topics'), api('groups')]).then(function (a) {
    var q = find(a[0], 'name', n.q), t = find(a[1], 'name', n.l);
    var groups = GROUPS.map(function (g) { return find(a[2], 'group', g); });
    var parts = t ? t.partition_details : [];
    var recs = Promise.all(parts.map(function (p) {
      return api('topics/' + enc(n.l) + '/partitions/' + p.partition + '/messages?offset=' + p.log_start_offset + '&count=50')
        .catch(function (e) { return { error: e.message }; });
    }));
    // The queue's messages are listed by reading them with requeue (as
    // RabbitMQ's console does), only when its counts changed since.
    var key = q ? [q.messages_ready, q.messages_unacknowledged, ms(q, 'publish'), ms(q, 'ack')].join('/') : null;
    var peek = !q ? Promise.resolve([]) : key === sd.peekKey ? Promise.resolve(sd.peek) :
      api('queues/' + VH + '/' + enc(n.q) + '/get', { method: 'POST',
        json: { count: Math.min(q.messages_ready, 20), ackmode: 'ack_requeue_true', encoding: 'auto' } })
        .then(function (m) { sd.peekKey = key; sd.peek = m; return m; });
    if (q && q.messages_ready === 0) peek = Promise.resolve([]);
    return Promise.all([recs, peek]).then(function (b) {
      if (seq !== sd.seq) return;
      renderSide(n, q, t, groups, b[0], b[1]);
    });
  });
}

// Kafka's -1 for a retention setting means no limit.
function limit(v) { return v === undefined ? '(broker default)' : String(v) === '-1' ? '-1 (no limit)' : v; }
function renderSide(n, q, t, groups, recs, peek) {
  $('sd-qname').textContent = n.q;
  $('sd-lname').textContent = n.l;
  $('sd-qstats').innerHTML = q ? stat('sd-q-ready', 'ready', q.messages_ready) +
    stat('sd-q-unacked', 'unacked', q.messages_unacknowledged) + stat('sd-q-consumers', 'consumers', q.consumers) +
    stat('sd-q-published', 'published', ms(q, 'publish')) + stat('sd-q-acked', 'acked', ms(q, 'ack'))
    : '<span class="bad">no queue ' + esc(n.q) + ' in vhost / yet: set up the demo</span>';
  ['A', 'B'].forEach(function (who) {
    var got = sd.taken[who];
    $('sd-taken-' + who).innerHTML = '<b>Consumer ' + who + ' took</b>' + (got.length ? '<ol>' + got.map(function (m) {
      return '<li><span class="payload">' + esc(payloadText(m)) + '</span> <small>(' + esc(m.message_count) + ' left after it)</small></li>';
    }).join('') + '</ol>' : '<div><small>nothing yet</small></div>');
  });
  $('sd-qmsgs').innerHTML = !q ? '' : (peek.length ? '<ol id="sd-qlist">' + peek.map(function (m) {
    return '<li class="payload">' + esc(payloadText(m)) + '</li>';
  }).join('') + '</ol>' : '<small id="sd-qlist">the queue is empty</small>') +
    (q.messages_ready > peek.length ? '<small>first ' + esc(peek.length) + ' of ' + esc(q.messages_ready) + '</small>' : '') +
    '<div class="note">Listed by reading them with requeue, as RabbitMQ\'s console does: they go back in their place, marked redelivered.</div>';

  var parts = t ? t.partition_details : [];
  $('sd-parts').innerHTML = t ? table(parts, [['partition', function (p) { return p.partition; }],
    ['log start', function (p) { return p.log_start_offset; }], ['log end', function (p) { return p.log_end_offset; }],
    ['segments', function (p) { return p.segments; }], ['bytes', function (p) { return p.bytes; }]], 'sd-parts-table') +
    '<small>retention.ms ' + esc(limit(t.config['retention.ms'])) +
    ', retention.bytes ' + esc(limit(t.config['retention.bytes'])) + '</small>'
    : '<span class="bad">no topic ' + esc(n.l) + ' yet: set up the demo (a stream queue is a topic)</span>';
  var rp = $('sd-rp'), want = parts.map(function (p) { return String(p.partition); }).join(',');
  if (parts.length && Array.prototype.map.call(rp.options, function (o) { return o.value; }).join(',') !== want) {
    rp.innerHTML = parts.map(function (p) { return '<option>' + esc(p.partition) + '</option>'; }).join('');
  }
  var all = [], errs = [];
  recs.forEach(function (r) { if (r.error) errs.push('reading the records: ' + r.error); else all = all.concat(r.messages); });
  $('sd-records').innerHTML = errs.length ? '<span class="bad">' + esc(errs[0]) + '</span>' :
    msgTable(all, 'sd-records-table') + (t ? '<small>from log start; read by offset, nothing is removed</small>' : '');

  GROUPS.forEach(function (g, i) {
    var info = groups[i], offs = info ? (info.offsets || []).filter(function (o) { return o.topic === n.l; }) : [];
    var h = info && info.state ? '<div>state ' + esc(info.state) + (info.members ? ', ' + esc(info.members.length) + ' Kafka members' : '') + '</div>' : '';
    h += offs.length ? table(offs, [['partition', function (o) { return o.partition; }],
      ['committed', function (o) { return o.committed_offset; }], ['log end', function (o) { return o.log_end_offset; }],
      ['lag', function (o) { return o.lag; }]], 'sd-' + g + '-offsets')
      : '<small id="sd-' + esc(g) + '-offsets">no committed offset on ' + esc(n.l) + ' yet: its first read starts at log start</small>';
    $('sd-' + g + '-state').innerHTML = h;
    var last = sd.reads[g];
    $('sd-' + g + '-out').innerHTML = last ? '<div>last read got ' + esc(last.messages.length) + ':</div>' +
      (last.messages.length ? '<ol>' + last.messages.map(function (m) {
        return '<li><span class="payload">' + esc(payloadText(m)) + '</span> <small>offset ' + esc(m.offset) + '</small></li>';
      }).join('') + '</ol>' : '<small>nothing new: the group is at the log end</small>') : '';
  });
  $('sd-replay-out').innerHTML = sd.replay ? (sd.replay.error ? '<span class="bad">' + esc(sd.replay.error) + '</span>' :
    '<div>partition ' + esc(sd.replay.partition) + ': log start ' + esc(sd.replay.log_start_offset) + ', log end ' +
    esc(sd.replay.log_end_offset) + '; next offset after these ' + esc(sd.replay.next_offset) + '</div>' + msgTable(sd.replay.messages, 'sd-replay-table')) : '';
  Object.keys(sd.note).forEach(function (id) { var e = $(id); if (e) { e.className = sd.note[id][0]; e.textContent = sd.note[id][1]; } });
}

var sideActs = {
  setup: function () {
    var n = sdNames(), steps = [];
    var x = { type: n.type, durable: true, auto_delete: false, internal: false, arguments: {} };
    return api('exchanges/' + VH + '/' + enc(n.x), { method: 'PUT', json: x })
      .then(function () { return api('queues/' + VH + '/' + enc(n.q), { method: 'PUT', json: { durable: true, auto_delete: false, arguments: {} } }); })
      .then(function () {
        return api('queues/' + VH + '/' + enc(n.l), { method: 'PUT',
          json: { durable: true, auto_delete: false, arguments: { 'x-queue-type': 'stream' } } });
      })
      .then(function () { return api('bindings/' + VH); })
      .then(function (bs) {
        // bind only what is not bound yet, so the button can be pressed again
        [n.q, n.l].forEach(function (d) {
          var have = bs.some(function (b) {
            return b.source === n.x && b.destination === d && b.destination_type === 'queue' && b.routing_key === n.bkey;
          });
          if (!have) steps.push(api('bindings/' + VH + '/e/' + enc(n.x) + '/q/' + enc(d), { method: 'POST', json: { routing_key: n.bkey, arguments: {} } }));
        });
        return Promise.all(steps);
      })
      .then(function () {
        setNote('sd-setup-msg', 'ok', 'ready: ' + n.type + ' exchange ' + n.x + ' bound to ' + n.q + ' and ' + n.l +
          (steps.length ? '' : ' (already set up)'));
      });
  },
  reset: function () {
    var n = sdNames();
    // the groups first: deleting the topic takes their offsets on it along
    return api('groups').then(function (gs) {
      return Promise.all(GROUPS.filter(function (g) { return find(gs, 'group', g); })
        .map(function (g) { return api('groups/' + enc(g), { method: 'DELETE' }); }));
    }).then(function () {
      return Promise.all([api('queues/' + VH), api('exchanges/' + VH)]);
    }).then(function (a) {
      var gone = [];
      [n.q, n.l].forEach(function (d) { if (find(a[0], 'name', d)) gone.push(api('queues/' + VH + '/' + enc(d), { method: 'DELETE' })); });
      if (find(a[1], 'name', n.x)) gone.push(api('exchanges/' + VH + '/' + enc(n.x), { method: 'DELETE' }));
      return Promise.all(gone);
    }).then(function () {
      sd.taken = { A: [], B: [] }; sd.reads = {}; sd.replay = null; sd.peekKey = null;
      setNote('sd-setup-msg', 'ok', 'deleted ' + n.x + ', ' + n.q + ', ' + n.l + ' and the groups\' offsets');
      setNote('sd-pub-msg', '', ''); setNote('sd-take-msg', '', '');
    });
  },
  publish: function () {
    var n = sdNames(), count = Math.max(1, Math.min(100, num('sd-n', 5))), rk = $('sd-rk').value;
    // number the payloads after what the log already holds (its end offsets)
    return api('topics').then(function (ts) {
      var base = 0, t = find(ts, 'name', n.l);
      if (t) t.partition_details.forEach(function (p) { base += p.log_end_offset; });
      var routed = 0, i = 0;
      function one() {
        if (i === count) return Promise.resolve();
        i++;
        return api('exchanges/' + VH + '/' + enc(n.x) + '/publish', { method: 'POST',
          json: { properties: {}, routing_key: rk, payload: 'message ' + (base + i), payload_encoding: 'string' } })
          .then(function (r) { if (r && r.routed) routed++; return one(); });
      }
      return one().then(function () {
        setNote('sd-pub-msg', routed === count ? 'ok' : 'bad', 'published ' + count + ', routed ' + routed +
          (routed === count ? '' : ' (no binding matched the others)'));
      });
    });
  },
  take: function (el) {
    var n = sdNames(), who = el.getAttribute('data-who');
    return api('queues/' + VH + '/' + enc(n.q) + '/get', { method: 'POST',
      json: { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto' } }).then(function (m) {
      if (!m.length) { setNote('sd-take-msg', 'bad', 'consumer ' + who + ': the queue is empty'); return; }
      sd.taken[who].push(m[0]);
      setNote('sd-take-msg', 'ok', 'consumer ' + who + ' took "' + payloadText(m[0]) + '" and acked it');
    });
  },
  'group-read': function (el) {
    var n = sdNames(), g = el.getAttribute('data-group'), c = Math.max(1, num('sd-' + g + '-count', 1));
    return api('groups/' + enc(g) + '/fetch', { method: 'POST', json: { topic: n.l, count: c } }).then(function (r) {
      sd.reads[g] = r;
    });
  },
  replay: function () {
    var n = sdNames(), p = $('sd-rp').value || '0';
    return api('topics/' + enc(n.l) + '/partitions/' + enc(p) + '/messages?offset=' + Math.max(0, num('sd-ro', 0)) +
      '&count=' + Math.max(1, num('sd-rc', 10))).then(function (r) { sd.replay = r; },
      function (e) { sd.replay = { error: e.message }; });
  }
};

function sideAct(name, el) {
  busy(true);
  $('err').textContent = '';
  return sideActs[name](el).catch(function (e) { $('err').textContent = name + ': ' + e.message; })
    .then(function () { return refreshSide(); })
    .catch(function (e) { $('err').textContent = e.message; })
    .then(function () { busy(false); });
}

// ---- navigation and refresh ---------------------------------------------------
function nav() {
  $('nav').innerHTML = TABS.map(function (t) {
    return '<a href="#' + esc(t[0]) + '"' + (t[0] === tab ? ' class="on"' : '') + '>' + esc(t[1]) + '</a>';
  }).join('');
}
function stamp() { $('upd').textContent = 'updated ' + new Date().toLocaleTimeString(); }
var timer = null;
function refresh(forced) {
  nav();
  if (!auth) { showLogin(); return Promise.resolve(); }
  var typing = document.activeElement && /^(INPUT|SELECT)$/.test(document.activeElement.tagName) &&
    $('view').contains(document.activeElement);
  if (tab === 'side') {
    if (!$('side')) $('view').innerHTML = sideSkeleton();
    return refreshSide().then(function () { $('err').textContent = ''; stamp(); }, function (e) { $('err').textContent = e.message; });
  }
  if (tab !== 'overview') api('overview').then(sample, function () {}); // keep the chart's samples going
  if (typing && !forced) return Promise.resolve();
  var v = views[tab] || views.overview;
  return v().then(function (h) {
    $('view').innerHTML = h;
    $('err').textContent = '';
    stamp();
  }, function (e) { $('err').textContent = e.message; });
}

document.addEventListener('click', function (e) {
  var el = e.target.closest ? e.target.closest('[data-act]') : null;
  if (!el) return;
  e.preventDefault();
  var act = el.getAttribute('data-act');
  if (sideActs[act]) sideAct(act, el);
  else if (act === 'group-reset') {
    var g = el.getAttribute('data-group');
    if (!window.confirm('Forget the committed offsets of group ' + g + '?')) return;
    api('groups/' + enc(g), { method: 'DELETE' }).then(function () { refresh(true); }, function (err) { $('err').textContent = err.message; });
  }
});
document.addEventListener('submit', function (e) {
  if (e.target.id === 'sd-setup') { e.preventDefault(); return; }
  if (e.target.id !== 'pub') return;
  e.preventDefault();
  var x = $('px').value || 'amq.default';
  api('exchanges/' + VH + '/' + enc(x) + '/publish', { method: 'POST', json: { properties: {},
    routing_key: $('pk').value, payload: $('pb').value, payload_encoding: 'string' } })
    .then(function (r) { $('pr').textContent = r.routed ? 'routed' : 'not routed'; document.activeElement.blur(); setTimeout(refresh, 200); },
      function (err) { $('pr').textContent = err.message; });
});
window.addEventListener('hashchange', function () { tab = location.hash.slice(1) || 'overview'; $('view').innerHTML = ''; refresh(true); });
refresh(true);
timer = setInterval(refresh, 5000);
