#!/usr/bin/env node
// Tiny test runner for the amqplib compat suite (no dependencies beyond node).
//
// Loads every test_*.js next to this file; each exports an array of
// {name, fn} (fn is async and gets a context with helpers). Tests run one at a
// time, each bounded by COMPAT_TEST_TIMEOUT seconds (default 60). Prints one
// `PASS: amqplib.name (t s)` / `FAIL: amqplib.name (t s)` line per test and a
// summary; exits 1 if any test failed (or none ran).
//
// Usage: node run.js [-k SUBSTRING]...
// Environment: COMPAT_HOST, COMPAT_PORT, COMPAT_BROKER (set by compat/run).
'use strict';

const fs = require('fs');
const path = require('path');
const util = require('util');

const HOST = process.env.COMPAT_HOST || '127.0.0.1';
const PORT = Number(process.env.COMPAT_PORT || 5672);
const BROKER = process.env.COMPAT_BROKER || 'unknown';
const TEST_TIMEOUT = Number(process.env.COMPAT_TEST_TIMEOUT || 60) * 1000;

const selectors = [];
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '-k' && i + 1 < process.argv.length) selectors.push(process.argv[++i]);
}

// A failing library callback must fail the test that caused it, not the process.
let currentReject = null;
process.on('uncaughtException', (err) => {
  if (currentReject) currentReject(err);
  else console.log('uncaught exception outside a test: ' + (err && err.stack || err));
});
process.on('unhandledRejection', (err) => {
  if (currentReject) currentReject(err);
  else console.log('unhandled rejection outside a test: ' + (err && err.stack || err));
});

async function main() {
  const files = fs.readdirSync(__dirname).filter((f) => /^test_.*\.js$/.test(f)).sort();
  const tests = [];
  for (const f of files) {
    for (const t of require(path.join(__dirname, f))) tests.push(t);
  }
  let passed = 0;
  let failed = 0;
  const t0 = Date.now();
  for (const t of tests) {
    if (selectors.length && !selectors.some((k) => t.name.includes(k))) continue;
    const start = Date.now();
    const ctx = { cleanups: [] };
    let timer;
    try {
      await new Promise((resolve, reject) => {
        currentReject = reject;
        timer = setTimeout(() => reject(new Error(`test exceeded ${TEST_TIMEOUT / 1000} s`)), TEST_TIMEOUT);
        Promise.resolve().then(() => t.fn(ctx)).then(resolve, reject);
      });
      clearTimeout(timer);
      passed++;
      console.log(`PASS: amqplib.${t.name} (${((Date.now() - start) / 1000).toFixed(2)} s)`);
    } catch (err) {
      clearTimeout(timer);
      failed++;
      console.log(`FAIL: amqplib.${t.name} (${((Date.now() - start) / 1000).toFixed(2)} s)`);
      const text = err && err.stack ? err.stack : util.inspect(err);
      for (const line of String(text).split('\n')) console.log('    ' + line);
    } finally {
      currentReject = null;
      for (const c of ctx.cleanups.reverse()) {
        try {
          await Promise.race([c(), new Promise((r) => setTimeout(r, 2000))]);
        } catch (e) {
          // best effort
        }
      }
    }
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(`amqplib: ${passed} passed, ${failed} failed (${secs} s, broker ${BROKER} at ${HOST}:${PORT})`);
  // no test at all is a failure, unless -k selected none of this suite's tests
  process.exit(failed === 0 && (passed > 0 || selectors.length > 0) ? 0 : 1);
}

main().catch((e) => {
  console.log('runner error: ' + (e && e.stack || e));
  process.exit(1);
});
