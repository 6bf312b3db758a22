// The sender's workspace, measured in Debian's Chromium (issue #20's figures):
// - the JavaScript each route loads (gzip of the files it fetched from our origin);
// - the envelope builder's time to interactive with a 40-page document: navigation to the
//   first page painted with its field layer and the palette ready, median of RUNS fresh
//   loads on a desktop viewport, unthrottled and with the CPU throttled 4×;
// - smoothness while dragging: every long task (over 50 ms) recorded by a PerformanceObserver
//   while a field is dragged from the palette onto a page and then moved around it.
// Started by `cargo bench -p gsign-tests --bench web_builder` with GSIGN_BENCH (a JSON file:
// {base_url, access_token, builder, sign}).

import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const RUNS = Number(process.env.GSIGN_BENCH_RUNS ?? 5);
const input = JSON.parse(readFileSync(process.env.GSIGN_BENCH, 'utf8'));
const dist = new URL('../dist/', import.meta.url);

const browser = await chromium.launch({
  executablePath: process.env.GSIGN_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function signedInPage(throttle = 1) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // The session the sign-in page would have stored (the refresh token is never needed here).
  await context.addInitScript((token) => {
    sessionStorage.setItem('gsign.session', JSON.stringify({ access_token: token, refresh_token: 'unused' }));
  }, input.access_token);
  const page = await context.newPage();
  if (throttle !== 1) {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: throttle });
  }
  return { context, page };
}

/** The gzipped size of every script `path` loads from our origin (pdf.js's worker apart). */
async function javascriptOf(path, ready) {
  const { context, page } = await signedInPage();
  const scripts = new Set();
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.origin === new URL(input.base_url).origin && /\.m?js$/.test(url.pathname)) scripts.add(url.pathname);
  });
  await page.goto(`${input.base_url}${path}`);
  await ready(page);
  await page.waitForTimeout(500);
  let app = 0;
  let worker = 0;
  for (const script of scripts) {
    const gz = gzipSync(readFileSync(new URL(`.${script}`, dist))).length;
    if (script.includes('pdf.worker')) worker += gz;
    else app += gz;
  }
  await context.close();
  return { app, worker };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

const painted = (page) =>
  page.locator('.page[data-page="1"] .page-loading').waitFor({ state: 'detached', timeout: 60_000 });
const builderReady = async (page) => {
  await page.locator('.field-layer[data-page="1"]').waitFor({ timeout: 60_000 });
  await painted(page);
  await page.getByRole('group', { name: 'Fields to place' }).getByRole('button', { name: 'Signature' }).waitFor();
};

console.log(`web_builder: Chromium ${browser.version()}, ${RUNS} runs each`);
console.log('JavaScript per route (gzip; pdf.js worker separately):');
const routes = [
  ['/sign (signing page)', input.sign, painted],
  ['/documents', '/documents', (p) => p.getByRole('heading', { name: 'Documents' }).waitFor()],
  ['/envelopes', '/envelopes', (p) => p.getByRole('heading', { name: 'Envelopes' }).waitFor()],
  ['/envelopes/{id} (builder)', input.builder, builderReady],
  ['/library', '/library', (p) => p.getByRole('heading', { name: 'Templates and packs' }).waitFor()],
  ['/organization', '/organization', (p) => p.getByRole('heading', { name: 'Organization' }).waitFor()],
];
for (const [label, path, ready] of routes) {
  const { app, worker } = await javascriptOf(path, ready);
  console.log(`  ${label.padEnd(28)} ${kb(app).padStart(10)}${worker ? ` + worker ${kb(worker)}` : ''}`);
}

console.log('Envelope builder, 40-page document: time to interactive (navigation → page 1 painted, palette ready)');
for (const throttle of [1, 4]) {
  const times = [];
  for (let run = 0; run < RUNS; run += 1) {
    const { context, page } = await signedInPage(throttle);
    await page.goto(`${input.base_url}${input.builder}`);
    await builderReady(page);
    times.push(await page.evaluate(() => performance.now()));
    await context.close();
  }
  console.log(`  CPU ×${throttle}: median ${median(times).toFixed(0)} ms, best ${Math.min(...times).toFixed(0)} ms`);
}

console.log('Dragging (CPU ×1 and ×4): long tasks over 50 ms while a field is dragged onto page 1 and moved around');
for (const throttle of [1, 4]) {
  const { context, page } = await signedInPage(throttle);
  await page.goto(`${input.base_url}${input.builder}`);
  await builderReady(page);
  await page.evaluate(() => {
    window.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) window.__longTasks.push(entry.duration);
    }).observe({ type: 'longtask' });
  });
  // Page 1 in view under the (sticky) palette, as a sender would have it.
  await page.locator('.page[data-page="1"]').evaluate((el) => el.scrollIntoView({ block: 'center' }));
  const from = await page.getByRole('group', { name: 'Fields to place' }).getByRole('button', { name: 'Signature' }).boundingBox();
  const layer = await page.locator('.field-layer[data-page="1"]').boundingBox();
  const dropY = Math.min(Math.max(layer.y, 0) + 400, layer.y + layer.height - 50);
  const start = performance.now();
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(layer.x + layer.width / 2, dropY, { steps: 40 });
  await page.mouse.up();
  const field = page.locator('.placed-field').first();
  await field.waitFor();
  const box = await field.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  for (let i = 0; i < 80; i += 1) {
    const angle = (i / 80) * Math.PI * 2;
    await page.mouse.move(box.x + box.width / 2 + Math.cos(angle) * 150, box.y + box.height / 2 + Math.sin(angle) * 100);
  }
  await page.mouse.up();
  const elapsed = performance.now() - start;
  await page.waitForTimeout(700);
  const tasks = await page.evaluate(() => window.__longTasks);
  const over100 = tasks.filter((d) => d > 100).length;
  console.log(
    `  CPU ×${throttle}: ${tasks.length} long task(s) in ${elapsed.toFixed(0)} ms of dragging, longest ${
      tasks.length ? Math.max(...tasks).toFixed(0) : 0
    } ms, over 100 ms: ${over100}`,
  );
  await context.close();
}

await browser.close();
