// The signing page's speed, measured in Debian's Chromium: time to the first page painted and
// to "ready to sign" (first page painted, the recipient's fields on it, the guide usable) for
// each link in GSIGN_BENCH (a JSON file: [{label, link}]), unthrottled and with the CPU
// throttled 4× (to stand for a phone), best of RUNS fresh loads each; and the JavaScript the
// page ships before pdf.js, gzipped. Started by `cargo bench -p gsign-tests --bench web_signing`.

import { readFileSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';

const RUNS = Number(process.env.GSIGN_BENCH_RUNS ?? 3);
const links = JSON.parse(readFileSync(process.env.GSIGN_BENCH, 'utf8'));

function shippedJavaScript() {
  const dir = new URL('../dist/assets/', import.meta.url);
  const sizes = { app: 0, pdfjs: 0, worker: 0 };
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.js') && !name.endsWith('.mjs')) continue;
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
  await page.locator('.page[data-page="1"]').waitFor({ timeout: 120_000 });
  await page.locator('.page[data-page="1"] .page-loading').waitFor({ state: 'detached', timeout: 120_000 });
  await page.getByRole('button', { name: 'Next field' }).waitFor();
  await page.locator('.field').first().waitFor();
  const ready = await page.evaluate(() => performance.now());
  const marks = await page.evaluate(() =>
    Object.fromEntries(
      ['gsign:pdf-requested', 'gsign:pdf-opened', 'gsign:page-1-loaded', 'gsign:first-page'].map((name) => [
        name,
        performance.getEntriesByName(name)[0]?.startTime ?? Number.NaN,
      ]),
    ),
  );
  await context.close();
  return {
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
    const best = (key) => Math.min(...runs.map((r) => r[key]));
    results.push({
      document: label,
      cpu: `${throttle}x`,
      first_page_ms: Math.round(best('painted')),
      ready_to_sign_ms: Math.round(best('ready')),
      // Where the time goes: the app asks for the PDF, pdf.js has it open, page 1 is parsed.
      pdf_requested_ms: Math.round(best('requested')),
      pdf_open_ms: Math.round(best('opened')),
      page1_parsed_ms: Math.round(best('loaded')),
    });
  }
}
await browser.close();
console.table(results);
const js = shippedJavaScript();
console.log(`JavaScript (gzip): app ${(js.app / 1024).toFixed(1)} KB before pdf.js; pdf.js ${(js.pdfjs / 1024).toFixed(1)} KB; its worker ${(js.worker / 1024).toFixed(1)} KB`);
