// The signing page's speed, measured in Debian's Chromium: time to the first page painted and
// to "ready to sign" (first page painted, the recipient's fields on it, the guide usable) for
// each link in GSIGN_BENCH (a JSON file: [{label, link}]), unthrottled and with the CPU
// throttled 4× (to stand for a phone), the median (and the best) of RUNS fresh loads each; and
// the JavaScript the page ships before pdf.js, gzipped. Started by `cargo bench -p gsign-tests --bench web_signing`.

import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const RUNS = Number(process.env.GSIGN_BENCH_RUNS ?? 5);
const links = JSON.parse(readFileSync(process.env.GSIGN_BENCH, 'utf8'));

function shippedJavaScript() {
  const dir = new URL('../dist/assets/', import.meta.url);
  const sizes = { app: 0, pdfjs: 0, worker: 0 };
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.js') && !name.endsWith('.mjs')) continue;
    // The sender's workspace and the clause preview are chunks the signing page never loads
    // (bench/builder.mjs measures each route's scripts as requested).
    if (name.startsWith('workspace') || name.startsWith('markdown-it')) continue;
    const gz = gzipSync(readFileSync(new URL(name, dir))).length;
    if (name.startsWith('pdf.worker')) sizes.worker += gz;
    else if (name.startsWith('pdfjs')) sizes.pdfjs += gz;
    else sizes.app += gz;
  }
  return sizes;
}

const browser = await chromium.launch({
  executablePath: process.env.GSIGN_CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

async function measure(link, throttle) {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
  });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: throttle });
  await page.goto(link);
  // The page marks the moment it is ready to sign; waiting for the mark (not polling the page
  // with locators, which at 4x throttling takes the page's own main thread) keeps the
  // measurement from slowing what it measures. Then check that it is what the mark says.
  const ready = await page.evaluate(
    () =>
      new Promise((resolve) => {
        new PerformanceObserver((list, observer) => {
          const mark = list.getEntriesByName('gsign:ready-to-sign')[0];
          if (mark) {
            observer.disconnect();
            resolve(mark.startTime);
          }
        }).observe({ type: 'mark', buffered: true });
      }),
  );
  const checks = await Promise.all([
    page.locator('.page[data-page="1"] .page-loading').count(),
    page.getByRole('button', { name: 'Next field' }).count(),
    page.locator('.field').count(),
  ]);
  if (checks[0] !== 0 || checks[1] !== 1 || checks[2] === 0) {
    throw new Error(`marked ready but not ready to sign: ${JSON.stringify(checks)}`);
  }
  const marks = await page.evaluate(() =>
    Object.fromEntries(
      ['gsign:app-start', 'gsign:view-received', 'gsign:pdf-requested', 'gsign:pdf-opened', 'gsign:page-1-loaded', 'gsign:first-page'].map((name) => [
        name,
        performance.getEntriesByName(name)[0]?.startTime ?? Number.NaN,
      ]),
    ),
  );
  // The signing view's answer and the app's own script, from the browser's resource timing.
  const resources = await page.evaluate(() =>
    performance.getEntriesByType('resource').map((r) => ({ name: r.name, start: r.startTime, end: r.responseEnd })),
  );
  const view = resources.find((r) => new URL(r.name).pathname.startsWith('/v1/signing/'));
  await context.close();
  return {
    app_start: marks['gsign:app-start'],
    view_received: marks['gsign:view-received'],
    view_asked: view?.start ?? Number.NaN,
    view_answered: view?.end ?? Number.NaN,
    painted: marks['gsign:first-page'],
    ready,
    requested: marks['gsign:pdf-requested'],
    opened: marks['gsign:pdf-opened'],
    loaded: marks['gsign:page-1-loaded'],
  };
}

const results = [];
for (const { label, link } of links) {
  for (const throttle of [1, 4]) {
    const runs = [];
    for (let i = 0; i < RUNS; i += 1) runs.push(await measure(link, throttle));
    // The median of the fresh loads (and the best, for the first page).
    const median = (key) => {
      const sorted = runs.map((r) => r[key]).sort((a, b) => a - b);
      return sorted[Math.floor(sorted.length / 2)];
    };
    results.push({
      document: label,
      cpu: `${throttle}x`,
      first_page_ms: Math.round(median('painted')),
      ready_to_sign_ms: Math.round(median('ready')),
      first_page_best_ms: Math.round(Math.min(...runs.map((r) => r.painted))),
      // Where the time goes: the app's code runs; the signing view is asked for, answered
      // and taken by the page; the page asks for the PDF; pdf.js has it open; page 1 is parsed.
      app_start_ms: Math.round(median('app_start')),
      view_asked_ms: Math.round(median('view_asked')),
      view_answered_ms: Math.round(median('view_answered')),
      view_received_ms: Math.round(median('view_received')),
      pdf_requested_ms: Math.round(median('requested')),
      pdf_open_ms: Math.round(median('opened')),
      page1_parsed_ms: Math.round(median('loaded')),
    });
  }
}
await browser.close();
console.table(results);
const js = shippedJavaScript();
console.log(`JavaScript (gzip): app ${(js.app / 1024).toFixed(1)} KB before pdf.js; pdf.js ${(js.pdfjs / 1024).toFixed(1)} KB; its worker ${(js.worker / 1024).toFixed(1)} KB`);
