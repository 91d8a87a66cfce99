#!/usr/bin/env node
// The web console in a real browser: starts tandemd on free loopback ports
// with a temporary data directory, opens the console in Debian's Chromium
// (driven by playwright-core, headless, a fresh profile), logs in, walks the
// side-by-side view (set up, publish 5, consumers A and B take one each, two
// consumer groups read, replay) and every other tab, and asserts what the
// page shows (DOM text). Any page error, console error, failed request or
// request to another host fails the run. Writes a screenshot of the
// side-by-side view. Before logging in, a wrong password must show RabbitMQ's
// "Login failed" on the page (no browser login dialog, no request loop); at
// the end the same console is opened from tandemd's HTTPS listener
// (management.ssl.*, a certificate made here with the openssl command) and
// must log in, render and fail a wrong login the same way.
//
// Usage: node console-test.js TANDEMD [--screenshot FILE]
// Environment: CHROMIUM (default /usr/bin/chromium), BROWSER_TEST_TIMEOUT
// (seconds for the whole run, default 180).
// Prints PASS:/FAIL: per check and 'N passed, N failed'; exits 1 on any failure.
'use strict';

const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const args = process.argv.slice(2);
const tandemd = args[0];
let shotPath = path.join(os.tmpdir(), 'tandem-side-by-side.png');
for (let i = 1; i < args.length; i++) if (args[i] === '--screenshot') shotPath = args[++i];
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const WAIT = 15000; // one step's bound, ms

let passed = 0, failed = 0;
const pageErrors = [];
let td = null, browser = null, tmp = null, allowError = null;

function log(s) { process.stdout.write(s + '\n'); }
function fail(msg) { throw new Error(msg); }

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

async function waitHttp(url, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try { const r = await fetch(url); if (r.ok) return; } catch (e) { /* not up yet */ }
    if (td.exitCode !== null) fail('tandemd exited with ' + td.exitCode + ' (log: ' + path.join(tmp, 'tandemd.log') + ')');
    if (Date.now() > end) fail('tandemd did not answer on ' + url + ' within ' + ms + ' ms');
    await new Promise(r => setTimeout(r, 100));
  }
}

async function check(name, fn) {
  const errs = pageErrors.length;
  try {
    await fn();
    if (pageErrors.length > errs) fail('page error: ' + [...new Set(pageErrors.slice(errs))].slice(0, 3).join(' | '));
    passed++;
    log('PASS: browser.' + name);
  } catch (e) {
    failed++;
    log('FAIL: browser.' + name + ': ' + (e && e.message ? e.message.split('\n')[0] : e));
  }
}

async function main() {
  if (!tandemd || !fs.existsSync(tandemd)) fail('usage: console-test.js TANDEMD (no such file: ' + tandemd + ')');
  if (!fs.existsSync(chromiumPath)) fail('Chromium not found at ' + chromiumPath + ' (apt-get install chromium)');
  let chromium;
  try { ({ chromium } = require('playwright-core')); } catch (e) { fail('playwright-core is not installed (npm ci in ' + __dirname + ')'); }

  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-browser-'));
  // a self-signed certificate for the HTTPS listener (the browser is told to
  // accept it: what is tested is the console over TLS, not the browser's trust)
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', path.join(tmp, 'server.key'), '-out', path.join(tmp, 'server.pem')], { stdio: 'ignore', timeout: 30000 });
  const [amqp, http, kafka, https] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const out = fs.openSync(path.join(tmp, 'tandemd.log'), 'w');
  td = spawn(tandemd, ['--data-dir', path.join(tmp, 'data'), '--amqp-port', String(amqp), '--http-port', String(http),
    '--kafka-port', String(kafka), '--management.ssl.port', String(https),
    '--management.ssl.certfile', path.join(tmp, 'server.pem'), '--management.ssl.keyfile', path.join(tmp, 'server.key')],
  { stdio: ['ignore', out, out] });
  const base = 'http://127.0.0.1:' + http;
  const sbase = 'https://127.0.0.1:' + https;
  await waitHttp(base + '/', 10000);

  browser = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: chromiumPath, headless: true, timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1360, height: 900 }, ignoreHTTPSErrors: true
  });

  const page = browser.pages()[0] || await browser.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('pageerror', e => pageErrors.push('pageerror: ' + e.message));
  // Chromium logs every HTTP error answer as a console error; only the one
  // step that provokes one (an out-of-range replay) allows it, by URL.
  page.on('console', m => {
    if (m.type() !== 'error') return;
    const where = (m.location() || {}).url || '';
    if (allowError && allowError.test(where)) return;
    pageErrors.push('console: ' + m.text() + (where ? ' (' + where + ')' : ''));
  });
  // a request the page itself cancels by going to another page is no error
  page.on('requestfailed', r => {
    const why = (r.failure() || {}).errorText;
    if (why !== 'net::ERR_ABORTED') pageErrors.push('request failed: ' + r.url() + ' ' + why);
  });
  // the console must need nothing but the origin of the page that asks (the
  // HTTP listener's or the HTTPS one's: a request of the HTTP page still
  // under way while the test goes to the HTTPS one is the HTTP page's own)
  const originOf = req => { try { return new URL(req.frame().url()).origin; } catch (e) { return ''; } };
  await page.route('**/*', route => {
    const req = route.request(), u = req.url();
    const own = req.isNavigationRequest() ? [base, sbase] : [originOf(req)];
    if (own.some(o => o && o !== 'null' && u.startsWith(o + '/'))) return route.continue();
    pageErrors.push('request to another host: ' + u);
    return route.abort();
  });

  const text = sel => page.locator(sel).first().innerText();
  const waitText = (sel, want) => page.waitForFunction(([s, w]) => {
    const e = document.querySelector(s);
    return !!e && (w instanceof RegExp ? w.test(e.textContent) : e.textContent.includes(w));
  }, [sel, want], { timeout: WAIT }).catch(async () => {
    const e = await page.$(sel);
    fail(sel + ' never showed ' + want + '; it shows: ' + (e ? JSON.stringify(await e.textContent()) : '(absent)') +
      '; #err: ' + JSON.stringify(await text('#err')));
  });
  const waitRegex = (sel, src) => page.waitForFunction(([s, r]) => {
    const e = document.querySelector(s);
    return !!e && new RegExp(r).test(e.textContent);
  }, [sel, src], { timeout: WAIT }).catch(async () => {
    const e = await page.$(sel);
    fail(sel + ' never matched /' + src + '/; it shows: ' + (e ? JSON.stringify(await e.textContent()) : '(absent)') +
      '; #err: ' + JSON.stringify(await text('#err')));
  });
  // rows of a table as arrays of cell texts (header row left out)
  const rows = sel => page.$$eval(sel + ' tr', trs => trs.slice(1).map(tr => Array.from(tr.cells).map(c => c.textContent)));
  const col = (r, i) => r.map(x => x[i]);
  const eq = (got, want, what) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) fail(what + ': got ' + JSON.stringify(got) + ', want ' + JSON.stringify(want));
  };

  // A wrong password: the page says so and asks again. Chromium logs the
  // 401s as console errors; this step allows them.
  const loginFails = async () => {
    await page.waitForSelector('#login:not(.hidden)');
    allowError = /\/api\//;
    await page.fill('#u', 'guest');
    await page.fill('#p', 'not-the-password');
    await page.click('#login button');
    await waitText('#err', 'Login failed');
    await page.waitForSelector('#login:not(.hidden)');
    eq(await page.inputValue('#p'), '', 'password field after a failed login');
    eq(await page.evaluate(() => sessionStorage.getItem('tandem-auth')), null, 'stored credentials after a failed login');
    // the page refreshes every 5 s (refresh()): it must not go on sending the
    // wrong password; count the page's fetch calls around two refreshes
    const calls = await page.evaluate(async () => {
      let n = 0;
      const f = window.fetch;
      window.fetch = function () { n++; return f.apply(this, arguments); };
      await refresh(true);
      await refresh();
      window.fetch = f;
      return n;
    });
    eq(calls, 0, 'API requests after a failed login');
    allowError = null;
  };
  await check('login_failed', async () => {
    await page.goto(base + '/');
    await loginFails();
  });

  await check('login', async () => {
    await page.goto(base + '/');
    await page.waitForSelector('#login:not(.hidden)');
    await page.fill('#u', 'guest');
    await page.fill('#p', 'guest');
    await page.click('#login button');
    await page.waitForSelector('#rate-chart');
    await waitText('h3', 'tandem');
  });

  await check('side.setup', async () => {
    await page.click('nav a[href="#side"]');
    await page.waitForSelector('#sd-setup-btn');
    await page.click('#sd-setup-btn');
    await waitText('#sd-setup-msg', 'ready: fanout exchange side.demo bound to side.queue and side.log');
    await page.click('#sd-setup-btn');
    await waitText('#sd-setup-msg', '(already set up)');
    await waitText('#sd-q-ready', '0');
    await page.waitForSelector('#sd-parts-table');
  });

  await check('side.publish5', async () => {
    await page.fill('#sd-n', '5');
    await page.click('#sd-pub-btn');
    await waitText('#sd-pub-msg', 'published 5, routed 5');
    await waitRegex('#sd-q-ready', '^5$');
    eq(await page.$$eval('#sd-qlist li', l => l.map(x => x.textContent)),
      ['message 1', 'message 2', 'message 3', 'message 4', 'message 5'], 'queue list');
    const p = await rows('#sd-parts-table');
    eq([p[0][0], p[0][1], p[0][2]], ['0', '0', '5'], 'partition 0: log start, log end');
  });

  await check('side.log.records', async () => {
    await page.waitForSelector('#sd-records-table');
    const r = await rows('#sd-records-table');
    eq(col(r, 0), ['0', '1', '2', '3', '4'], 'record offsets');
    eq(col(r, 2), ['message 1', 'message 2', 'message 3', 'message 4', 'message 5'], 'record payloads');
  });

  await check('side.competing_consumers', async () => {
    await page.click('#sd-take-A');
    await waitText('#sd-taken-A', 'message 1');
    await waitText('#sd-take-msg', 'consumer A took "message 1"');
    await page.click('#sd-take-B');
    await waitText('#sd-taken-B', 'message 2');
    await waitRegex('#sd-q-ready', '^3$');
    await waitRegex('#sd-q-unacked', '^0$');
    eq(await page.$$eval('#sd-qlist li', l => l.map(x => x.textContent)), ['message 3', 'message 4', 'message 5'], 'queue list after A and B');
    if ((await text('#sd-taken-A')).includes('message 2')) fail('A shows B\'s message');
    await page.waitForSelector('#sd-q-noreplay');
    const nr = await text('#sd-q-noreplay');
    if (!/No replay/.test(nr) || !/acked message is deleted/.test(nr)) fail('no-replay note: ' + nr);
  });

  await check('side.log.unchanged_by_queue', async () => {
    const r = await rows('#sd-records-table');
    eq(col(r, 2), ['message 1', 'message 2', 'message 3', 'message 4', 'message 5'], 'the log after the queue was read');
  });

  await check('side.groups', async () => {
    const g2before = await text('#sd-side-g2-state');
    await page.fill('#sd-side-g1-count', '3');
    await page.click('#sd-side-g1-read');
    await waitText('#sd-side-g1-out', 'last read got 3');
    eq(await page.$$eval('#sd-side-g1-out li .payload', l => l.map(x => x.textContent)),
      ['message 1', 'message 2', 'message 3'], 'g1 read');
    await page.waitForSelector('table#sd-side-g1-offsets');
    const o = await rows('#sd-side-g1-offsets');
    eq(o[0], ['0', '3', '5', '2'], 'g1 partition, committed, log end, lag');
    eq(await text('#sd-side-g2-state'), g2before, 'g2 after g1 read');
    const g2 = await page.$('table#sd-side-g2-offsets');
    if (g2) eq((await rows('#sd-side-g2-offsets'))[0][3], '5', 'g2 lag');
    else await waitText('#sd-side-g2-offsets', 'no committed offset');
    // g2 reads on its own: from the start, whatever g1 did
    await page.click('#sd-side-g2-read');
    await waitText('#sd-side-g2-out', 'last read got 1');
    await waitText('#sd-side-g2-out', 'message 1');
    await page.waitForSelector('table#sd-side-g2-offsets');
    eq((await rows('#sd-side-g2-offsets'))[0], ['0', '1', '5', '4'], 'g2 after its read');
    eq((await rows('#sd-side-g1-offsets'))[0], ['0', '3', '5', '2'], 'g1 after g2 read');
    // g1 goes on where it stopped
    await page.fill('#sd-side-g1-count', '10');
    await page.click('#sd-side-g1-read');
    await waitText('#sd-side-g1-out', 'last read got 2');
    eq(await page.$$eval('#sd-side-g1-out li .payload', l => l.map(x => x.textContent)), ['message 4', 'message 5'], 'g1 second read');
    await waitRegex('#sd-side-g1-offsets', '^.*0\\s*5\\s*5\\s*0$');
  });

  await check('side.replay', async () => {
    await page.fill('#sd-ro', '0');
    await page.fill('#sd-rc', '10');
    await page.click('#sd-replay-btn');
    await page.waitForSelector('#sd-replay-table');
    let r = await rows('#sd-replay-table');
    eq(col(r, 0), ['0', '1', '2', '3', '4'], 'replay offsets');
    eq(col(r, 2), ['message 1', 'message 2', 'message 3', 'message 4', 'message 5'], 'replay payloads');
    await page.fill('#sd-ro', '3');
    await page.click('#sd-replay-btn');
    await page.waitForFunction(() => document.querySelectorAll('#sd-replay-table tr').length === 3);
    r = await rows('#sd-replay-table');
    eq(col(r, 2), ['message 4', 'message 5'], 'replay from 3');
    await page.fill('#sd-ro', '99');
    allowError = /\/messages\?offset=99&/;
    await page.click('#sd-replay-btn');
    await page.waitForSelector('#sd-replay-out .bad');
    allowError = null;
    // the queue side still cannot: nothing came back there
    await waitRegex('#sd-q-ready', '^3$');
  });

  await check('side.escaping', async () => {
    const evil = '<img src=x onerror="window.__pwned=1"><b id="inj">x</b>';
    const r = await fetch(base + '/api/exchanges/%2F/side.demo/publish', { method: 'POST',
      headers: { Authorization: 'Basic ' + Buffer.from('guest:guest').toString('base64'), 'Content-Type': 'application/json' },
      body: JSON.stringify({ properties: {}, routing_key: '', payload: evil, payload_encoding: 'string' }) });
    if (!r.ok) fail('publish: ' + r.status);
    await page.fill('#sd-ro', '5');
    await page.click('#sd-replay-btn');
    await waitText('#sd-replay-table', evil);
    await waitText('#sd-qlist', evil);
    if (await page.$('#inj') || await page.$('#side img')) fail('payload markup became elements');
    if (await page.evaluate(() => window.__pwned)) fail('payload script ran');
    await page.click('#sd-take-A');
    await waitText('#sd-taken-A', 'message 3');
    await page.click('#sd-take-B');
    await page.click('#sd-take-A');
    await page.click('#sd-take-B');
    await waitText('#sd-taken-B', evil);
    await waitRegex('#sd-q-ready', '^0$');
  });

  await check('side.screenshot', async () => {
    // the state the README shows: 5 published, A and B took one each, g1 read 3
    await page.click('#sd-reset-btn');
    await waitText('#sd-setup-msg', 'deleted side.demo');
    await page.click('#sd-setup-btn');
    await waitText('#sd-setup-msg', 'ready:');
    await page.fill('#sd-n', '5');
    await page.click('#sd-pub-btn');
    await waitText('#sd-pub-msg', 'published 5, routed 5');
    await page.click('#sd-take-A');
    await waitText('#sd-taken-A', 'message 1');
    await page.click('#sd-take-B');
    await waitText('#sd-taken-B', 'message 2');
    await page.fill('#sd-side-g1-count', '3');
    await page.click('#sd-side-g1-read');
    await waitText('#sd-side-g1-out', 'last read got 3');
    await page.fill('#sd-ro', '0');
    await page.fill('#sd-rc', '5');
    await page.click('#sd-replay-btn');
    await page.waitForFunction(() => document.querySelectorAll('#sd-replay-table tr').length === 6);
    await waitRegex('#sd-q-ready', '^3$');
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await page.locator('#side').screenshot({ path: shotPath });
    log('screenshot: ' + shotPath);
  });

  const tabs = [['overview', '#rate-chart'], ['queues', '#queues-table'], ['exchanges', '#exchanges-table'],
    ['bindings', '#bindings-table'], ['connections', '#connections-table'], ['topics', '#topics-table'], ['groups', '#groups-table'],
    ['cluster', '#cluster-nodes']];
  for (const [t, sel] of tabs) {
    await check('tab.' + t, async () => {
      await page.click('nav a[href="#' + t + '"]');
      await page.waitForSelector(sel);
      const e = await text('#err');
      if (e) fail('#err: ' + e);
      if (t === 'queues') await waitText('#queues-table', 'side.log');
      if (t === 'bindings') await waitText('#bindings-table', 'side.demo');
      if (t === 'topics') await waitText('#topics-table', 'side.log');
      if (t === 'groups') await waitText('#groups-table', 'side-g1');
      if (t === 'cluster') await waitText('#cluster-head', 'single node');
    });
  }
  await check('overview.chart', async () => {
    await page.click('nav a[href="#overview"]');
    await page.waitForSelector('#rate-chart polyline', { state: 'attached' });
    const n = await page.$$eval('#rate-chart polyline', l => l.length);
    eq(n, 3, 'chart series');
  });
  // The same console from the HTTPS listener: a fresh tab (no stored login)
  await check('https.login_failed', async () => {
    await page.evaluate(() => sessionStorage.clear());
    await page.goto(sbase + '/');
    if (!page.url().startsWith('https://')) fail('not on HTTPS: ' + page.url());
    await loginFails();
  });
  await check('https.login', async () => {
    await page.fill('#u', 'guest');
    await page.fill('#p', 'guest');
    await page.click('#login button');
    await page.waitForSelector('#rate-chart');
    await waitText('h3', 'tandem');
    await page.click('nav a[href="#queues"]');
    await waitText('#queues-table', 'side.log');
    const e = await text('#err');
    if (e) fail('#err: ' + e);
  });
  await check('no_page_errors', async () => { if (pageErrors.length) fail([...new Set(pageErrors)].slice(0, 5).join(' | ')); });
}

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  if (td && td.exitCode === null) {
    td.kill('SIGTERM');
    await new Promise(r => { const t = setTimeout(() => { td.kill('SIGKILL'); r(); }, 5000); td.on('exit', () => { clearTimeout(t); r(); }); });
  }
  if (tmp && !failed) fs.rmSync(tmp, { recursive: true, force: true });
  else if (tmp) log('kept ' + tmp + ' (tandemd.log) for the failure');
}

const limit = setTimeout(() => {
  log('FAIL: browser: the run took longer than ' + (process.env.BROWSER_TEST_TIMEOUT || 180) + ' s');
  failed++;
  cleanup().finally(() => process.exit(1));
}, Number(process.env.BROWSER_TEST_TIMEOUT || 180) * 1000);

main().catch(e => { failed++; log('FAIL: browser: ' + (e && e.message || e)); })
  .then(cleanup)
  .then(() => {
    clearTimeout(limit);
    log(passed + ' passed, ' + failed + ' failed');
    process.exit(failed || !passed ? 1 : 0);
  });
