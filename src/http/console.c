/*
 * The web console at "/": one HTML page with its script, embedded here so
 * tandemd serves it with no build step for anyone.  It reads the
 * management API (overview, queues, exchanges, bindings, connections and
 * channels, topics with partitions and offsets, consumer groups with lag),
 * refreshes every 5 s (message rates are the API's 5 s samples), and can
 * publish a message.  It logs in with its own
 * form and sends basic authentication itself (credentials kept in the
 * tab's sessionStorage), so the browser's password dialog never shows.
 * Edit the page in place: it is plain HTML and JavaScript inside a C string.
 *
 * Must not depend on: other front ends.
 */
#include <event2/buffer.h>
#include <event2/http.h>

void hx_console(struct evhttp_request *req);

static const char page[] =
	"<!doctype html>\n"
	"<html lang='en'><head><meta charset='utf-8'><title>tandem</title>\n"
	"<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
	"<style>\n"
	"body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}\n"
	"header{background:#233;color:#fff;padding:8px 16px;display:flex;gap:16px;align-items:center}\n"
	"header b{font-size:18px}\n"
	"nav a{color:#cde;margin-right:12px;cursor:pointer;text-decoration:none}\n"
	"nav a.on{color:#fff;border-bottom:2px solid #fc6}\n"
	"main{padding:12px 16px}\n"
	"table{border-collapse:collapse;background:#fff;margin:8px 0}\n"
	"th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}\n"
	"th{background:#eef}\n"
	"td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
	".box{display:inline-block;background:#fff;border:1px solid #ddd;padding:8px 14px;margin:4px;min-width:110px}\n"
	".box div{font-size:22px}\n"
	"#err{color:#b00}\n"
	"form{background:#fff;border:1px solid #ddd;padding:8px;margin:8px 0}\n"
	"input{margin-right:6px}\n"
	"small{color:#666}\n"
	"</style></head>\n"
	"<body>\n"
	"<header><b>tandem</b><nav id='nav'></nav><span id='who'></span><small id='upd'></small></header>\n"
	"<main>\n"
	"<form id='login' style='display:none'>User <input id='u' value='guest'> Password <input id='p' type='password' value='guest'>\n"
	"<button>Log in</button> <small>HTTP basic authentication against the broker's users</small></form>\n"
	"<div id='err'></div><div id='view'></div>\n"
	"</main>\n"
	"<script>\n"
	"'use strict';\n"
	"var tabs=['overview','queues','exchanges','bindings','connections','topics','groups'];\n"
	"var tab=location.hash.slice(1)||'overview', auth=sessionStorage.getItem('tandem-auth');\n"
	"function esc(s){return String(s).replace(/[&<>']/g,function(c){return {'&':'&amp;','<':'&lt;','>':'&gt;',\"'\":'&#39;'}[c]})}\n"
	"function api(path,opt){opt=opt||{};opt.headers={'Authorization':'Basic '+auth,'Content-Type':'application/json'};\n"
	" return fetch('/api/'+path,opt).then(function(r){if(r.status==401){showLogin();throw new Error('login required')}\n"
	" return r.text().then(function(t){var j=t?JSON.parse(t):null;if(!r.ok)throw new Error((j&&j.reason)||r.statusText);return j})})}\n"
	"function showLogin(){document.getElementById('login').style.display='block'}\n"
	"document.getElementById('login').onsubmit=function(e){e.preventDefault();\n"
	" auth=btoa(document.getElementById('u').value+':'+document.getElementById('p').value);\n"
	" sessionStorage.setItem('tandem-auth',auth);this.style.display='none';refresh()};\n"
	"function table(rows,cols){var h='<table><tr>'+cols.map(function(c){return '<th>'+esc(c[0])+'</th>'}).join('')+'</tr>';\n"
	" rows.forEach(function(r){h+='<tr>'+cols.map(function(c){var v=c[1](r);return '<td'+(typeof v=='number'?' class=n':'')+'>'+esc(v)+'</td>'}).join('')+'</tr>'});\n"
	" return h+'</table>'+(rows.length?'':'<small>none</small>')}\n"
	"function box(t,v){return '<div class=box>'+esc(t)+'<div>'+esc(v)+'</div></div>'}\n"
	"function ms(o,k){return (o.message_stats&&o.message_stats[k])||0}\n"
	"function rt(o,k){var d=o.message_stats&&o.message_stats[k+'_details'];return d?Math.round(d.rate*10)/10:0}\n"
	"var views={\n"
	" overview:function(){return api('overview').then(function(o){var q=o.queue_totals,t=o.object_totals;\n"
	"  return '<h3>'+esc(o.product_name+' '+o.product_version+' on '+o.node)+'</h3>'+\n"
	"  box('ready',q.messages_ready)+box('unacked',q.messages_unacknowledged)+box('published',ms(o,'publish'))+\n"
	"  box('delivered',ms(o,'deliver_get'))+box('acked',ms(o,'ack'))+'<br>'+box('publish/s',rt(o,'publish'))+box('deliver/s',rt(o,'deliver_get'))+box('ack/s',rt(o,'ack'))+'<br>'+box('connections',t.connections)+\n"
	"  box('channels',t.channels)+box('queues',t.queues)+box('exchanges',t.exchanges)+box('consumers',t.consumers)+\n"
	"  '<h4>Listeners</h4>'+table(o.listeners,[['protocol',function(l){return l.protocol}],['address',function(l){return l.ip_address}],['port',function(l){return l.port}]])})},\n"
	" queues:function(){return api('queues').then(function(qs){return table(qs,[['vhost',function(q){return q.vhost}],['name',function(q){return q.name}],\n"
	"  ['ready',function(q){return q.messages_ready}],['unacked',function(q){return q.messages_unacknowledged}],['consumers',function(q){return q.consumers}],\n"
	"  ['published',function(q){return ms(q,'publish')}],['publish/s',function(q){return rt(q,'publish')}],['delivered',function(q){return ms(q,'deliver_get')}],['acked',function(q){return ms(q,'ack')}],\n"
	"  ['durable',function(q){return q.durable}],['arguments',function(q){return JSON.stringify(q.arguments)}]])+\n"
	"  '<form id=pub>Publish to exchange <input id=px placeholder=amq.default size=12> key <input id=pk size=12> body <input id=pb size=20> <button>publish</button> <span id=pr></span></form>'})},\n"
	" exchanges:function(){return api('exchanges').then(function(xs){return table(xs,[['vhost',function(x){return x.vhost}],['name',function(x){return x.name||'(default)'}],\n"
	"  ['type',function(x){return x.type}],['durable',function(x){return x.durable}],['in',function(x){return ms(x,'publish_in')}]])})},\n"
	" bindings:function(){return api('bindings').then(function(bs){return table(bs,[['vhost',function(b){return b.vhost}],['source',function(b){return b.source||'(default)'}],\n"
	"  ['destination',function(b){return b.destination}],['type',function(b){return b.destination_type}],['routing key',function(b){return b.routing_key}],['arguments',function(b){return JSON.stringify(b.arguments)}]])})},\n"
	" connections:function(){return Promise.all([api('connections'),api('channels')]).then(function(a){return '<h4>Connections</h4>'+table(a[0],[['name',function(c){return c.name}],\n"
	"  ['protocol',function(c){return c.protocol}],['user',function(c){return c.user}],['vhost',function(c){return c.vhost}],['channels',function(c){return c.channels}],['state',function(c){return c.state}]])+\n"
	"  '<h4>Channels</h4>'+table(a[1],[['name',function(c){return c.name}],['consumers',function(c){return c.consumer_count}],['unacked',function(c){return c.messages_unacknowledged}],\n"
	"  ['prefetch',function(c){return c.prefetch_count}],['confirm',function(c){return c.confirm}]])})},\n"
	" topics:function(){return api('topics').then(function(ts){var rows=[];ts.forEach(function(t){t.partition_details.forEach(function(p){rows.push([t,p])})});\n"
	"  return table(rows,[['topic',function(r){return r[0].name}],['partition',function(r){return r[1].partition}],['log start',function(r){return r[1].log_start_offset}],\n"
	"  ['log end',function(r){return r[1].log_end_offset}],['segments',function(r){return r[1].segments}],['bytes',function(r){return r[1].bytes}],\n"
	"  ['retention.ms',function(r){return r[0].config['retention.ms']}]])+'<small>A log keeps records after they are read: each consumer group has its own offset (see groups); retention removes whole segments.</small>'})},\n"
	" groups:function(){return api('groups').then(function(gs){var rows=[];gs.forEach(function(g){g.offsets.forEach(function(o){rows.push([g,o])})});\n"
	"  return table(rows,[['group',function(r){return r[0].group}],['topic',function(r){return r[1].topic}],['partition',function(r){return r[1].partition}],\n"
	"  ['committed',function(r){return r[1].committed_offset}],['log end',function(r){return r[1].log_end_offset}],['lag',function(r){return r[1].lag}]])})}\n"
	"};\n"
	"function nav(){document.getElementById('nav').innerHTML=tabs.map(function(t){return '<a href=#'+t+(t==tab?' class=on':'')+'>'+t+'</a>'}).join('')}\n"
	"function refresh(){nav();if(!auth){showLogin();return}\n"
	" if(document.activeElement&&document.activeElement.tagName=='INPUT')return;\n"
	" views[tab]().then(function(h){document.getElementById('view').innerHTML=h;document.getElementById('err').textContent='';\n"
	"  document.getElementById('upd').textContent='updated '+new Date().toLocaleTimeString();hook()},\n"
	"  function(e){document.getElementById('err').textContent=e.message})}\n"
	"function hook(){var f=document.getElementById('pub');if(!f)return;f.onsubmit=function(e){e.preventDefault();\n"
	" var x=document.getElementById('px').value||'amq.default';\n"
	" api('exchanges/%2F/'+encodeURIComponent(x)+'/publish',{method:'POST',body:JSON.stringify({properties:{},\n"
	"  routing_key:document.getElementById('pk').value,payload:document.getElementById('pb').value,payload_encoding:'string'})})\n"
	" .then(function(r){document.getElementById('pr').textContent=r.routed?'routed':'not routed';document.activeElement.blur();setTimeout(refresh,200)},\n"
	"  function(e){document.getElementById('pr').textContent=e.message})}}\n"
	"window.onhashchange=function(){tab=location.hash.slice(1)||'overview';refresh()};\n"
	"refresh();setInterval(refresh,5000);\n"
	"</script></body></html>\n";

void hx_console(struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	if (b)
		evbuffer_add_reference(b, page, sizeof(page) - 1, NULL, NULL);
	evhttp_send_reply(req, b ? 200 : 500, b ? "OK" : "Internal Server Error", b);
	if (b)
		evbuffer_free(b);
}
