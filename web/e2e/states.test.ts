// Every state a signing link can show besides the happy path, in the browser: not your turn
// (with who is acting), decline (and the other signer's link afterwards), a voided envelope,
// an unknown link, a viewer and an approver, wrong access codes up to the lockout, a link the
// sender handed out (it opens once), the
// interface in Mongolian, and a 40-page document signed on a phone with a finger, its pages
// drawn only as they come into view.

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpoint, context, drawWithFinger, launch, mailedLink, story, type Story } from './support';

interface StatesStory extends Story {
  /** Sequential: `first` acts before `second`. */
  declined: { first: string; first_name: string; second_link: string };
  /** The voided envelope's signer (the Rust test voids it once told to, see `void_url`). */
  voided: { signer: string };
  /** A one-signer envelope of a 40-page document, a signature on page 40. */
  long: { signer: string; pages: number };
  /** A signer whose interface is Mongolian (browser language mn-MN). */
  mongolian: { signer: string };
  /** A signer of an envelope the sender set to Mongolian, in an English browser. */
  sender_language: { signer: string };
  /** A parallel envelope's approver and viewer (beside a signer who keeps it open). */
  roles: { approver: string; viewer: string };
  /** A signer whose link asks for an access code, which the story never knows. */
  locked: { signer: string };
  /** A signing link the sender handed out instead of mail (`/sign?ticket=…`): it opens once. */
  handed_out: { link: string };
}

const data = story<StatesStory>();
let browser: Awaited<ReturnType<typeof launch>>;

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

async function open(link: string, viewport: 'phone' | 'desktop' = 'phone', locale = 'en-US'): Promise<Page> {
  const ctx = await context(browser, viewport, locale);
  const page = await ctx.newPage();
  await page.goto(link);
  return page;
}

describe('the states of a signing link', () => {
  it('says whose turn it is, then the decline, then that the envelope ended', async () => {
    // The second signer of a sequential envelope is mailed only on their turn; the test made
    // them a link early (as one forwarded before its time would be).
    const second = await open(data.declined.second_link);
    await second.getByRole('heading', { name: 'It is not your turn yet' }).waitFor();
    await second.getByText(`Waiting for: ${data.declined.first_name}`).waitFor();
    await checkpoint(second, data, 'not-your-turn');

    const first = await open(await mailedLink(data, data.declined.first, '/sign'), 'desktop');
    // The token leaves the address bar (and the tab's history) as soon as the page has it.
    await first.getByRole('checkbox', { name: 'I agree to use electronic records and signatures.' }).waitFor();
    expect(first.url()).not.toContain('token=');
    await first.getByRole('checkbox', { name: 'I agree to use electronic records and signatures.' }).check();
    await first.getByRole('button', { name: 'Continue' }).click();
    await first.getByRole('button', { name: 'Decline' }).click();
    await first.getByRole('dialog', { name: 'Decline to sign' }).waitFor();
    await first.getByLabel('Reason').fill('The rent is wrong.');
    await checkpoint(first, data, 'decline-dialog');
    await first.getByRole('dialog').getByRole('button', { name: 'Decline' }).click();
    await first.getByRole('heading', { name: 'You declined' }).waitFor();
    await checkpoint(first, data, 'declined-by-me');

    await second.reload();
    await second.getByRole('heading', { name: 'This envelope was declined' }).waitFor();
    await checkpoint(second, data, 'declined-by-another');
    await first.context().close();
    await second.context().close();
  });

  it('shows a voided envelope and an unknown link plainly', async () => {
    const link = await mailedLink(data, data.voided.signer, '/sign');
    // The Rust test voided this envelope before the story started.
    const page = await open(link);
    await page.getByRole('heading', { name: 'The sender cancelled this envelope' }).waitFor();
    await checkpoint(page, data, 'voided');

    await page.goto(`${data.base_url}/sign?token=${'x'.repeat(43)}`);
    await page.getByRole('heading', { name: 'This link no longer works' }).waitFor();
    await checkpoint(page, data, 'unknown-link');
    await page.context().close();
  });

  it('lets a viewer view the document and an approver approve it', async () => {
    const viewer = await open(await mailedLink(data, data.roles.viewer, '/sign'));
    await viewer.getByText('You were asked to view this document. Nothing else is needed.').waitFor();
    await viewer.locator('.page[data-page="1"] .page-loading').waitFor({ state: 'detached', timeout: 20_000 });
    await checkpoint(viewer, data, 'viewer');
    await viewer.context().close();

    const approver = await open(await mailedLink(data, data.roles.approver, '/sign'), 'desktop');
    await approver.getByRole('checkbox', { name: 'I agree to use electronic records and signatures.' }).check();
    await approver.getByRole('button', { name: 'Continue' }).click();
    await approver.locator('.page[data-page="1"] .page-loading').waitFor({ state: 'detached', timeout: 20_000 });
    // An approver has no fields to fill: the guide says what approving means instead.
    await approver.getByRole('region', { name: 'Your progress' }).getByText('Approving records your decision').waitFor();
    expect(await approver.getByRole('button', { name: 'Next field' }).count()).toBe(0);
    await checkpoint(approver, data, 'approver');
    await approver.getByRole('button', { name: 'Approve' }).click();
    const dialog = approver.getByRole('dialog', { name: 'Review and submit' });
    await dialog.waitFor();
    await checkpoint(approver, data, 'approver-review');
    await dialog.getByRole('button', { name: 'Approve' }).click();
    await approver.getByRole('heading', { name: 'You approved' }).waitFor();
    await checkpoint(approver, data, 'approved');
    await approver.context().close();
  });

  it('counts wrong access codes down, then says until when the link is locked', async () => {
    const page = await open(await mailedLink(data, data.locked.signer, '/sign'));
    await page.getByRole('heading', { name: 'Enter the access code' }).waitFor();
    await checkpoint(page, data, 'access-code');
    for (const left of [4, 3, 2, 1]) {
      await page.getByRole('textbox', { name: 'Access code' }).fill(`wrong-${left}`);
      await page.getByRole('button', { name: 'Unlock' }).click();
      await page.getByText(`That code is not right. Attempts left: ${left}.`).waitFor();
    }
    await checkpoint(page, data, 'access-code-wrong');
    await page.getByRole('textbox', { name: 'Access code' }).fill('wrong-again');
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByRole('heading', { name: 'Locked for now' }).waitFor();
    await page.getByText(/Too many wrong codes\. Try again after \d+ \w+ \d{4}, \d\d:\d\d\./).waitFor();
    await checkpoint(page, data, 'access-code-locked');
    // Opened again, the link says it is locked before anyone types.
    await page.reload();
    await page.getByRole('heading', { name: 'Locked for now' }).waitFor();
    expect(await page.getByRole('textbox', { name: 'Access code' }).count()).toBe(0);
    await page.context().close();
  });

  it('speaks Mongolian to a browser that asks for it, and switches on request', async () => {
    const page = await open(await mailedLink(data, data.mongolian.signer, '/sign'), 'phone', 'mn-MN');
    await page.getByRole('heading', { name: 'Цахим баримт, цахим гарын үсэг ашиглахыг зөвшөөрөх' }).waitFor();
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('mn');
    await checkpoint(page, data, 'consent-mongolian');
    await page.getByRole('combobox', { name: 'Хэл' }).selectOption('en');
    await page.getByRole('heading', { name: 'Agree to use electronic records and signatures' }).waitFor();
    await page.context().close();
  });

  it('opens a handed-out link once, keeps it through a reload, and says so to a second browser', async () => {
    const page = await open(data.handed_out.link);
    await page.getByRole('heading', { name: 'Agree to use electronic records and signatures' }).waitFor();
    // The ticket is spent: it leaves the address bar, and the tab keeps the signing session.
    expect(page.url()).not.toContain('ticket=');
    await page.reload();
    await page.getByRole('heading', { name: 'Agree to use electronic records and signatures' }).waitFor();
    await checkpoint(page, data, 'handed-out-link');
    const other = await open(data.handed_out.link, 'desktop');
    await other.getByRole('heading', { name: 'This link was opened already' }).waitFor();
    await checkpoint(other, data, 'handed-out-link-used');
    await other.context().close();
    await page.context().close();
  });

  it("speaks the envelope's language when the sender chose one", async () => {
    const page = await open(await mailedLink(data, data.sender_language.signer, '/sign'), 'desktop', 'en-US');
    await page.getByRole('heading', { name: 'Цахим баримт, цахим гарын үсэг ашиглахыг зөвшөөрөх' }).waitFor();
    await checkpoint(page, data, 'consent-envelope-language');
    await page.context().close();
  });

  it('signs a 40-page document on a phone, drawing pages only as they come into view', async () => {
    const page = await open(await mailedLink(data, data.long.signer, '/sign'));
    await page.getByRole('checkbox', { name: 'I agree to use electronic records and signatures.' }).check();
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('.page[data-page="1"]').waitFor({ timeout: 20_000 });
    await page.locator('.page[data-page="1"] .page-loading').waitFor({ state: 'detached', timeout: 20_000 });
    // The column is laid out for every page, but only the pages near the screen exist, and
    // only those are drawn.
    expect(await page.locator('.pages').getAttribute('data-layout')).toMatch(new RegExp(`^${data.long.pages}:`));
    expect(await page.locator('.page').count()).toBeLessThan(8);
    const painted = await page.locator('.page:not(:has(.page-loading))').count();
    expect(painted).toBeLessThan(8);
    await checkpoint(page, data, 'long-document-start');

    // The guide takes the signer to the field on page 1, then to the one on page 40.
    await page.getByRole('button', { name: 'Next field' }).click();
    await expect.poll(() => page.locator(':focus').getAttribute('class')).toContain('field-signature');
    await page.keyboard.press('Enter');
    await page.getByRole('radio', { name: 'Draw' }).check();
    await drawWithFinger(page, '.signature-pad');
    await page.getByRole('button', { name: 'Adopt and sign' }).click();
    await page.getByText('1 required field left').waitFor();
    await page.getByRole('button', { name: 'Next field' }).click();
    const last = page.locator(`.page[data-page="${data.long.pages}"]`);
    await last.locator('.page-loading').waitFor({ state: 'detached', timeout: 20_000 });
    await expect.poll(() => page.locator(':focus').getAttribute('id')).toMatch(/^field-/);
    expect(await last.locator(':focus').count(), 'the focused field is on the last page').toBe(1);
    // The adopted signature applies to this field with one press.
    await page.keyboard.press('Enter');
    await page.getByText('All required fields are done').waitFor();
    await checkpoint(page, data, 'long-document-last-page');
    await page.getByRole('button', { name: 'Finish' }).click();
    await page.getByRole('button', { name: 'Submit' }).click();
    await page.getByText(/Your signature is in the document|everyone has signed|Everyone has signed/).waitFor({ timeout: 90_000 });
    await page.context().close();
  });
});
