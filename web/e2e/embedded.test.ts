// Embedded signing: the sender's own page frames GSign's signing page (an origin the
// organization allows), the signer signs inside it, and the parent page hears every terminal
// state by postMessage — also when the frame is opened after the envelope ended. A view URL
// opens once; a page on an origin the organization does not list cannot frame it at all.

import { createServer, type Server } from 'node:http';
import type { Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpoint, context, launch, story, type Story } from './support';

interface EmbeddedStory extends Story {
  /** `Bearer …` of the sender, and the route that makes a view URL for the embedded signer. */
  bearer: string;
  view_path: string;
  envelope_id: string;
  /** The port of the allowed parent page (the organization lists http://127.0.0.1:PORT). */
  allowed_port: number;
  /** A port whose page the organization does not list. */
  foreign_port: number;
}

const data = story<EmbeddedStory>();
let browser: Awaited<ReturnType<typeof launch>>;
const servers: Server[] = [];

/** The sender's page: frames `?src=` and records what the frame posts. */
const PARENT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sender's portal</title></head>
<body><h1>Sender's portal</h1><iframe id="gsign" title="Sign the document" style="width:100%;height:800px;border:0"></iframe>
<script>
  window.events = [];
  window.addEventListener('message', (e) => { if (e.data && e.data.source === 'gsign') window.events.push(e.data); });
  document.getElementById('gsign').src = new URLSearchParams(location.search).get('src');
</script></body></html>`;

function serve(port: number): Promise<void> {
  const server = createServer((_, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(PARENT);
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
}

async function viewUrl(): Promise<string> {
  const response = await fetch(`${data.base_url}${data.view_path}`, {
    method: 'POST',
    headers: { authorization: data.bearer },
  });
  expect(response.status).toBe(201);
  const body = (await response.json()) as { url: string; expires_at: string };
  expect(body.url.startsWith(`${data.base_url}/embed/sign?ticket=`)).toBe(true);
  return body.url;
}

async function parent(port: number, src: string): Promise<{ page: Page; frame: () => Frame }> {
  const ctx = await context(browser, 'desktop');
  const page = await ctx.newPage();
  await page.goto(`http://127.0.0.1:${port}/?src=${encodeURIComponent(src)}`);
  const frame = () => {
    const found = page.frames().find((f) => f !== page.mainFrame());
    if (!found) throw new Error('no iframe');
    return found;
  };
  return { page, frame };
}

async function events(page: Page): Promise<{ event: string; envelope_id: string | null }[]> {
  return page.evaluate(() => (window as unknown as { events: { event: string; envelope_id: string | null }[] }).events);
}

beforeAll(async () => {
  browser = await launch();
  await serve(data.allowed_port);
  await serve(data.foreign_port);
});
afterAll(async () => {
  await browser?.close();
  for (const server of servers) server.close();
});

describe('embedded signing', () => {
  it('signs inside the sender’s page, which hears “signed”', async () => {
    const { page, frame } = await parent(data.allowed_port, await viewUrl());
    await frame().getByRole('checkbox', { name: 'I agree to use electronic records and signatures.' }).check();
    await frame().getByRole('button', { name: 'Continue' }).click();
    await frame().locator('.page[data-page="1"]').waitFor({ timeout: 20_000 });
    await frame().getByRole('button', { name: 'Next field' }).click();
    await frame().locator(':focus').press('Enter');
    await frame().getByRole('button', { name: 'Adopt and sign' }).click();
    await frame().getByText('All required fields are done').waitFor();
    await checkpoint(page, data, 'embedded-in-parent');
    await frame().getByRole('button', { name: 'Finish' }).click();
    await frame().getByRole('button', { name: 'Submit' }).click();
    await expect.poll(async () => (await events(page)).map((e) => e.event), { timeout: 60_000 }).toContain('signed');
    const signed = (await events(page)).find((e) => e.event === 'signed');
    expect(signed?.envelope_id).toBe(data.envelope_id);
    await page.context().close();
  });

  it('opens a view URL once: the second time the parent hears “error”', async () => {
    const url = await viewUrl();
    const first = await parent(data.allowed_port, url);
    await first.frame().getByRole('heading').first().waitFor();
    await first.page.context().close();
    const again = await parent(data.allowed_port, url);
    await again.frame().getByRole('heading', { name: 'This signing view was opened already' }).waitFor();
    await expect.poll(async () => (await events(again.page)).map((e) => e.event)).toContain('error');
    await checkpoint(again.page, data, 'embedded-opened-twice');
    await again.page.context().close();
  });

  it('tells the parent “completed” when opened after the envelope ended', async () => {
    // The only signer signed: the envelope completes once the worker sealed it.
    await expect
      .poll(
        async () => {
          const response = await fetch(`${data.base_url}/v1/envelopes/${data.envelope_id}`, {
            headers: { authorization: data.bearer },
          });
          return ((await response.json()) as { status: string }).status;
        },
        { timeout: 90_000, interval: 500 },
      )
      .toBe('completed');
    const { page, frame } = await parent(data.allowed_port, await viewUrl());
    await frame().getByRole('heading', { name: 'Everyone has signed' }).waitFor();
    await expect.poll(async () => (await events(page)).map((e) => e.event)).toContain('completed');
    await page.context().close();
  });

  it('cannot be framed by a page the organization does not list', async () => {
    const { page, frame } = await parent(data.foreign_port, await viewUrl());
    // Chromium refuses to render it (frame-ancestors): the frame never shows the app.
    await page.waitForTimeout(1500);
    expect(await frame().locator('#root').count()).toBe(0);
    expect(await events(page)).toEqual([]);
    await page.context().close();
  });
});
