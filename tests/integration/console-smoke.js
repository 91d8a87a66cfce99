// The web console's script (served at /) run in node with a stub DOM
// against a live tandemd: every view must render from the real API.
// Usage: node console-smoke.js http://127.0.0.1:15672   (node >= 18 for fetch)
// Run by tests/integration/test_http.c when node is installed.
const base = process.argv[2];
const els = {};
function el(id) { return els[id] || (els[id] = { id, style: {}, innerHTML: '', textContent: '', value: id == 'u' || id == 'p' ? 'guest' : '' }); }
global.document = { getElementById: el, activeElement: null };
global.location = { hash: '' };
global.sessionStorage = { getItem: () => Buffer.from('guest:guest').toString('base64'), setItem() {} };
global.window = {};
global.btoa = s => Buffer.from(s).toString('base64');
const realFetch = fetch;
global.fetch = (p, o) => realFetch(base + p, o);
global.setInterval = () => {};
(async () => {
  const html = await (await realFetch(base + '/')).text();
  const js = html.split('<script>')[1].split('</script>')[0];
  eval(js + '\n;global.__views=views;global.__refresh=refresh;global.__tab=function(t){tab=t};');
  for (const t of ['overview','queues','exchanges','bindings','connections','topics','groups']) {
    const h = await __views[t]();
    if (!h.includes('<table') && !h.includes('class=box')) throw new Error(t + ': ' + h);
    console.log(t, 'ok', h.length);
  }
})().catch(e => { console.error('FAIL', e); process.exit(1); });
