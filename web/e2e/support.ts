// What the browser stories share: Debian's Chromium driven by playwright-core (no browser is
// downloaded), the two viewports, the local mail (moto's SES), axe, and screenshots written as
// test artifacts. The Rust end-to-end tests (tests/e2e/web.rs) set the stack and the sender's
// side up and pass the story's data in the file named by GSIGN_STORY.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';

/** The story's input, written by the Rust test. */
export interface Story {
  /** The runner serving the API and the web app, e.g. `http://127.0.0.1:41234`. */
  base_url: string;
  /** moto's endpoint: its `/moto-api/data.json` holds every mail SES accepted. */
  moto_url: string;
  /** Where screenshots and downloads go. */
  artifacts: string;
  [key: string]: unknown;
}

export function story<T extends Story>(): T {
  const file = process.env.GSIGN_STORY;
  if (!file) throw new Error('GSIGN_STORY is not set: run the browser stories through cargo test (tests/e2e/web.rs)');
  const data = JSON.parse(readFileSync(file, 'utf8')) as T;
  mkdirSync(data.artifacts, { recursive: true });
  return data;
}

export type Viewport = 'phone' | 'desktop';

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.GSIGN_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A fresh browser context: a phone (390×844, touch) or a desktop, in `locale`. */
export async function context(browser: Browser, viewport: Viewport, locale = 'en-US'): Promise<BrowserContext> {
  const phone = viewport === 'phone';
  const created = await browser.newContext({
    viewport: phone ? { width: 390, height: 844 } : { width: 1280, height: 900 },
    deviceScaleFactor: phone ? 2 : 1,
    isMobile: phone,
    hasTouch: phone,
    locale,
    acceptDownloads: true,
  });
  // What the page complains about lands in the story's output, next to a failure it explains.
  created.on('page', (page) => {
    page.on('pageerror', (error) => console.error(`[page error] ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') {
        console.error(`[console ${message.type()}] ${message.text()}`);
      }
    });
    page.on('response', (response) => {
      if (response.status() >= 500) {
        void response
          .text()
          .catch(() => '')
          .then((body) => console.error(`[server error] ${response.status()} ${response.url()} ${body.slice(0, 300)}`));
      }
    });
    page.on('requestfailed', (request) =>
      console.error(`[request failed] ${request.url()}: ${request.failure()?.errorText}`),
    );
  });
  return created;
}

/** Fails the test on any serious or critical axe violation (WCAG 2.1 A and AA rules). */
export async function expectAccessible(page: Page, state: string): Promise<void> {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    `axe on "${state}"`,
  ).toEqual([]);
}

const SIZES = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 900 } };

/**
 * Screenshots of the page's current state at both viewports (the context's own last), for
 * people to look at; they are not compared.
 */
export async function snap(page: Page, data: Story, name: string): Promise<void> {
  const own = page.viewportSize() ?? SIZES.desktop;
  const ownName = own.width < 700 ? 'phone' : 'desktop';
  const other = ownName === 'phone' ? 'desktop' : 'phone';
  await page.setViewportSize(SIZES[other]);
  await page.screenshot({ path: join(data.artifacts, `${name}.${other}.png`) });
  await page.setViewportSize(own);
  await page.screenshot({ path: join(data.artifacts, `${name}.${ownName}.png`) });
}

/** Checks the page in its current state: axe, then a screenshot. */
export async function checkpoint(page: Page, data: Story, name: string): Promise<void> {
  await expectAccessible(page, name);
  await snap(page, data, name);
}

interface MotoMail {
  destinations: { ToAddresses?: string[] };
  body: string;
  subject?: string;
}

function decodeHtml(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(parseInt(dec, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/**
 * The first link under `path` (e.g. `/sign`) in the newest mail to `to` that `accept` likes,
 * waiting until the local SES has one: what a person clicks in their inbox.
 */
export async function mailedLink(
  data: Story,
  to: string,
  path: string,
  accept: (body: string) => boolean = () => true,
  timeoutMs = 30_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // moto answers its state with an HTML error page now and then while other tests write
    // to it: that is a miss to retry, not a failure.
    const response = await fetch(`${data.moto_url}/moto-api/data.json`);
    const state = (await response.json().catch(() => ({}))) as { ses?: { Message?: MotoMail[] } };
    const mails = [...(state.ses?.Message ?? [])].reverse();
    for (const mail of mails) {
      if (!(mail.destinations.ToAddresses ?? []).includes(to)) continue;
      const body = decodeHtml(mail.body);
      if (!accept(body)) continue;
      const escaped = path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      const match = new RegExp(`https?://[^\\s"'<>]+${escaped}\\?token=[A-Za-z0-9_-]+`).exec(body);
      if (match) return match[0];
    }
    if (Date.now() > deadline) throw new Error(`no mail to ${to} with a ${path} link within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

/** Draws a signature-like scribble across `selector` with the mouse. */
export async function drawWithMouse(page: Page, selector: string): Promise<void> {
  const box = await page.locator(selector).boundingBox();
  if (!box) throw new Error(`${selector} is not visible`);
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + 20, y);
  await page.mouse.down();
  for (let i = 1; i <= 12; i += 1) {
    await page.mouse.move(box.x + 20 + i * ((box.width - 40) / 12), y + (i % 2 ? -25 : 25), { steps: 2 });
  }
  await page.mouse.up();
}

/** Draws with a finger: touch events through the DevTools protocol (Playwright's touchscreen only taps). */
export async function drawWithFinger(page: Page, selector: string): Promise<void> {
  const box = await page.locator(selector).boundingBox();
  if (!box) throw new Error(`${selector} is not visible`);
  const session = await page.context().newCDPSession(page);
  const y = box.y + box.height / 2;
  const at = (i: number) => ({ x: box.x + 20 + i * ((box.width - 40) / 10), y: y + (i % 2 ? -20 : 20) });
  await session.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [at(0)] });
  for (let i = 1; i <= 10; i += 1) {
    await session.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [at(i)] });
  }
  await session.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
  await session.detach();
}

/** Fills every required field by following the guide, as a signer would. */
export async function followTheGuide(
  page: Page,
  data: Story,
  adopt: 'mouse' | 'finger' | 'keyboard',
  shot: string,
): Promise<void> {
  const counter = page.locator('.counter');
  for (let step = 0; step < 20; step += 1) {
    const text = (await counter.textContent()) ?? '';
    if (text.includes('All required fields are done')) return;
    await page.getByRole('button', { name: 'Next field' }).click();
    const focused = page.locator(':focus');
    // A field on a page not yet mounted (a phone, a later page) takes the focus once its page
    // is drawn: wait for the field itself, not for whatever holds the focus meanwhile.
    await expect
      .poll(async () => ((await focused.count()) === 1 ? ((await focused.getAttribute('id')) ?? '') : ''), {
        timeout: 15_000,
      })
      .toMatch(/^field-/);
    const id = (await focused.getAttribute('id')) ?? '';
    const className = (await focused.getAttribute('class')) ?? '';
    const type = await focused.getAttribute('type');
    expect(id, 'the guide focuses a field').toMatch(/^field-/);
    if (className.includes('field-signature') || className.includes('field-initial')) {
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog', { name: 'Adopt your signature' });
      if (await dialog.isVisible()) {
        await checkpoint(page, data, `${shot}-adopt`);
        if (adopt === 'keyboard') {
          await expect(page.getByLabel('Your full name')).toBeTruthy();
          await page.getByRole('button', { name: 'Adopt and sign' }).press('Enter');
        } else {
          await page.getByRole('radio', { name: 'Draw' }).check();
          if (adopt === 'mouse') await drawWithMouse(page, '.signature-pad');
          else await drawWithFinger(page, '.signature-pad');
          await checkpoint(page, data, `${shot}-drawn`);
          await page.getByRole('button', { name: 'Adopt and sign' }).click();
        }
        await dialog.waitFor({ state: 'hidden' });
      }
    } else if (type === 'checkbox') {
      await page.keyboard.press('Space');
    } else if (type === 'text') {
      await page.keyboard.type('Ulaanbaatar, Сүхбаатар дүүрэг');
    } else {
      throw new Error(`the guide stopped on an unexpected field: ${className}`);
    }
  }
  throw new Error('the guide never said every required field was done');
}
