// The sender's workspace in a real browser, as a person uses it, from sign-up to the signed
// PDF: register and confirm the address from the mail, sign in, upload a three-page PDF whose
// pages 2 and 3 are turned (90° and 270°, page 3 with a CropBox), build an envelope for two
// signers in one routing group and an approver after them, drag their signature fields onto
// the turned pages (and place a text field with the keyboard), send, and follow the envelope
// while the signers sign and the approver approves from their mails; then download the final
// PDF. The Rust test (tests/e2e/web.rs `a_sender_builds…`) checks the PDF with pyHanko and
// each dragged field's widget rectangle against where it was dropped.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpoint, context, followTheGuide, launch, mailedLink, story, type Story } from './support';

interface WorkspaceStory extends Story {
  /** The sender's new address. */
  sender: string;
  /** The PDF to upload. */
  pdf: string;
  signers: { name: string; email: string }[];
  approver: { name: string; email: string };
}

const data = story<WorkspaceStory>();
const PASSWORD = 'a sender passphrase';
let browser: Awaited<ReturnType<typeof launch>>;
let page: Page;
/** Where each dragged field was dropped: its centre in points on the displayed page. */
const drops: { page: number; recipient: string; x: number; y: number }[] = [];

beforeAll(async () => {
  browser = await launch();
  page = await (await context(browser, 'desktop')).newPage();
});
afterAll(async () => {
  await browser?.close();
});

/** A mailed link on this story's runner (the same origin in CI; signing.test.ts checks that). */
const here = (link: string) => link.replace(/^https?:\/\/[^/]+/, data.base_url);

/** Drags the palette's `kind` onto `pageNumber` at `share` of its width and height, with the mouse. */
async function dragOnto(kind: string, pageNumber: number, share: { x: number; y: number }, recipient: string) {
  const layer = page.locator(`.field-layer[data-page="${pageNumber}"]`);
  await page.locator(`.page[data-page="${pageNumber}"]`).scrollIntoViewIfNeeded();
  await layer.waitFor();
  await page.locator(`.page[data-page="${pageNumber}"] .page-loading`).waitFor({ state: 'detached', timeout: 20_000 });
  const from = await page.getByRole('group', { name: 'Fields to place' }).getByRole('button', { name: kind }).boundingBox();
  const box = await layer.boundingBox();
  const scale = Number(await layer.getAttribute('data-scale'));
  if (!from || !box) throw new Error('the palette or the page is not on screen');
  const target = { x: box.x + box.width * share.x, y: box.y + box.height * share.y };
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(target.x, target.y, { steps: 12 });
  await page.mouse.up();
  drops.push({ page: pageNumber, recipient, x: (target.x - box.x) / scale, y: (target.y - box.y) / scale });
}

describe("the sender's workspace", () => {
  it('registers, confirms the address and signs in', async () => {
    await page.goto(`${data.base_url}/register`);
    await page.getByLabel('Organization name').fill('Сансар Лизинг ХХК');
    await page.getByLabel('Email address').fill(data.sender);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.goto(here(await mailedLink(data, data.sender, '/verify-email')));
    await page.getByText('Your address is confirmed.').waitFor();
    await page.goto(`${data.base_url}/sign-in`);
    await page.getByLabel('Email address').fill(data.sender);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Workspace' }).waitFor();
  });

  it('uploads a three-page PDF with turned pages and sees it ready', async () => {
    await page.getByRole('navigation', { name: 'Workspace' }).getByRole('link', { name: 'Documents' }).click();
    await page.getByRole('heading', { name: 'Documents' }).waitFor();
    await page.getByText('No documents yet.').waitFor();
    await checkpoint(page, data, 'documents-empty');
    await page.locator('input[type=file]').setInputFiles({
      name: 'Lease 2027.pdf',
      mimeType: 'application/pdf',
      buffer: readFileSync(data.pdf),
    });
    await page.getByRole('list', { name: 'Uploads' }).getByText('Ready').waitFor({ timeout: 60_000 });
    const row = page.getByRole('list', { name: 'Your documents' }).getByRole('listitem').filter({ hasText: 'Lease 2027.pdf' });
    await row.getByText('3 pages').waitFor();
    await checkpoint(page, data, 'documents-ready');
  });

  it('builds the envelope: two signers in group 1, an approver in group 2, fields dragged onto the turned pages', async () => {
    await page.getByRole('button', { name: 'Send “Lease 2027.pdf” for signature' }).click();
    await page.getByRole('heading', { name: 'Recipients' }).waitFor();
    const form = page.getByRole('form', { name: 'Add the recipient' });
    const add = async (who: { name: string; email: string }, role: string, group: string) => {
      await form.getByLabel('Name', { exact: true }).fill(who.name);
      await form.getByLabel('Email address').fill(who.email);
      await form.getByLabel('Role').selectOption({ label: role });
      await form.getByLabel('Routing group').selectOption({ label: group });
      await form.getByRole('button', { name: 'Add the recipient' }).click();
      await page.getByRole('list', { name: /^Group \d$/ }).getByText(who.name).waitFor();
    };
    const [ana, bat] = data.signers;
    if (!ana || !bat) throw new Error('two signers');
    await add(ana, 'Signer', 'Group 1 (new, after the others)');
    await add(bat, 'Signer', 'Group 1');
    // The approver lands in group 1 by mistake and is dragged by the handle into a new group.
    await add(data.approver, 'Approver', 'Group 1');
    expect(await page.getByRole('list', { name: 'Group 1' }).getByRole('listitem').count()).toBe(3);
    const handle = page
      .getByRole('list', { name: 'Group 1' })
      .getByRole('listitem')
      .filter({ hasText: data.approver.name })
      .locator('.drag-handle');
    const from = await handle.boundingBox();
    const zone = await page.locator('.new-group').boundingBox();
    if (!from || !zone) throw new Error('the handle or the new-group zone is not on screen');
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(zone.x + zone.width / 2, zone.y + zone.height / 2, { steps: 10 });
    await page.mouse.up();
    await page.getByRole('list', { name: 'Group 2' }).getByText(data.approver.name).waitFor();
    expect(await page.getByRole('list', { name: 'Group 1' }).getByRole('listitem').count()).toBe(2);
    expect(await page.getByRole('list', { name: 'Group 2' }).getByRole('listitem').count()).toBe(1);

    // Nothing placed yet: the checklist says what is missing.
    await page.getByRole('heading', { name: 'Before sending' }).waitFor();
    expect(await page.getByRole('button', { name: 'Send', exact: true }).isDisabled()).toBe(true);

    // A text field for Ana with the keyboard: the palette's button, then the arrow keys.
    await page.locator('.page[data-page="1"] .page-loading').waitFor({ state: 'detached', timeout: 20_000 });
    await page.getByLabel('New fields are for').selectOption({ label: ana.name });
    await page.getByRole('group', { name: 'Fields to place' }).getByRole('button', { name: 'Text' }).focus();
    await page.keyboard.press('Enter');
    const text = page.getByRole('button', { name: new RegExp(`^Text for ${ana.name}, page \\d$`) });
    await expect.poll(() => text.evaluate((el) => el === document.activeElement)).toBe(true);
    const before = await text.boundingBox();
    await page.keyboard.press('Shift+ArrowRight');
    await page.keyboard.press('ArrowDown');
    await expect.poll(async () => (await text.boundingBox())?.x).toBeGreaterThan((before?.x ?? 0) + 5);
    // Then moved with a finger: touch events through the DevTools protocol.
    const moved = await text.boundingBox();
    if (!moved) throw new Error('the text field is not on screen');
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: true, maxTouchPoints: 1 });
    const at = (dx: number) => ({ x: moved.x + moved.width / 2 + dx, y: moved.y + moved.height / 2 });
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [at(0)] });
    for (let dx = 5; dx <= 40; dx += 5) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: [at(dx)] });
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    await cdp.send('Emulation.setTouchEmulationEnabled', { enabled: false });
    await cdp.detach();
    await expect.poll(async () => (await text.boundingBox())?.x).toBeGreaterThan(moved.x + 30);

    // Signatures dragged with the mouse: Ana's on page 3 (270°, CropBox), Bat's on page 2 (90°).
    await dragOnto('Signature', 3, { x: 0.4, y: 0.7 }, ana.email);
    await page.getByLabel('New fields are for').selectOption({ label: bat.name });
    await dragOnto('Signature', 2, { x: 0.6, y: 0.55 }, bat.email);
    await page.getByRole('button', { name: `Signature for ${bat.name}, page 2` }).waitFor();
    await page.getByRole('button', { name: `Signature for ${ana.name}, page 3` }).waitFor();
    writeFileSync(join(data.artifacts, 'drops.json'), JSON.stringify(drops, null, 2));

    await page.getByText('Everything is in place.').waitFor({ timeout: 20_000 });
    await page.getByRole('status').getByText('Saved').waitFor();
    await checkpoint(page, data, 'builder-ready');
  });

  it('sends it and sees it out for signature', async () => {
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.getByText('Out for signature').first().waitFor({ timeout: 30_000 });
    await page.getByRole('heading', { name: 'Evidence' }).waitFor();
    await checkpoint(page, data, 'tracking-sent');
  });

  data.signers.forEach((signer, index) => {
    it(`${signer.name} signs from the mailed link`, async () => {
      const ctx = await context(browser, index === 0 ? 'phone' : 'desktop');
      const signing = await ctx.newPage();
      try {
        await signing.goto(here(await mailedLink(data, signer.email, '/sign')));
        await signing.getByRole('checkbox', { name: 'I agree to use electronic records and signatures.' }).check();
        await signing.getByRole('button', { name: 'Continue' }).click();
        await signing.locator('.counter').getByText(/required field/).waitFor();
        await followTheGuide(signing, data, index === 0 ? 'keyboard' : 'mouse', `signer${index + 1}`);
        await signing.getByRole('button', { name: 'Finish' }).click();
        await signing.getByRole('dialog', { name: 'Review and submit' }).getByRole('button', { name: 'Submit' }).click();
        await signing.getByText(/Your signature is in the document|You signed|signed/).first().waitFor({ timeout: 90_000 });
      } finally {
        await ctx.close();
      }
    });
  });

  it('the approver approves after both signers', async () => {
    const ctx = await context(browser, 'desktop');
    const approving = await ctx.newPage();
    try {
      await approving.goto(here(await mailedLink(data, data.approver.email, '/sign', () => true, 120_000)));
      await approving.getByRole('checkbox', { name: 'I agree to use electronic records and signatures.' }).check();
      await approving.getByRole('button', { name: 'Continue' }).click();
      await approving.getByRole('button', { name: 'Approve' }).click();
      await approving.getByRole('dialog', { name: 'Review and submit' }).getByRole('button', { name: 'Approve' }).click();
      // The approval completes the envelope: the page says so (not that its link stopped working).
      await approving.getByRole('heading', { name: /You approved|Done: everyone has signed/ }).waitFor();
      await checkpoint(approving, data, 'approver-done');
    } finally {
      await ctx.close();
    }
  });

  it('the sender sees it completed without reloading and downloads the signed PDF', async () => {
    await page.getByRole('button', { name: 'Download the signed PDF' }).waitFor({ timeout: 180_000 });
    await page.getByText(/hash chain verifies/).waitFor();
    const recipients = page.getByRole('list', { name: 'Recipients' });
    expect(await recipients.getByText('Signed', { exact: true }).count()).toBe(2);
    expect(await recipients.getByText('Approved', { exact: true }).count()).toBe(1);
    await checkpoint(page, data, 'tracking-completed');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download the signed PDF' }).click(),
    ]);
    await download.saveAs(join(data.artifacts, 'final.pdf'));

    await page.getByRole('navigation', { name: 'Workspace' }).getByRole('link', { name: 'Envelopes' }).click();
    await page.getByRole('button', { name: /^Completed 1$/ }).click();
    await page.getByRole('link', { name: 'Lease 2027.pdf' }).waitFor();
    await checkpoint(page, data, 'envelopes-completed');
  });
});
