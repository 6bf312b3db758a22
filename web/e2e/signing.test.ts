// Recipients signing in a real browser, from the links in their mails. The Rust test that
// starts this (tests/e2e/web.rs `three_signers_and_a_cc_sign_in_the_browser…`) sent the
// envelope through the API and checks the downloaded PDF with pyHanko afterwards.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkpoint,
  context,
  followTheGuide,
  launch,
  mailedLink,
  story,
  type Story,
  type Viewport,
} from './support';

interface Signer {
  email: string;
  access_code: string;
  /** How the signature is adopted: drawn with a mouse or a finger, or typed with the keyboard. */
  adopt: 'mouse' | 'finger' | 'keyboard';
  viewport: Viewport;
}

interface SequentialStory extends Story {
  envelope_name: string;
  signers: Signer[];
  cc: { email: string; viewport: Viewport };
}

const data = story<SequentialStory>();
let browser: Awaited<ReturnType<typeof launch>>;

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

describe('three signers in order, with an access code, and a cc', () => {
  data.signers.forEach((signer, index) => {
    it(`signer ${index + 1} signs from the mailed link (${signer.viewport}, ${signer.adopt})`, async () => {
      const shot = `signer${index + 1}-${signer.viewport}`;
      const link = await mailedLink(data, signer.email, '/sign');
      expect(link.startsWith(data.base_url), `${link} opens the app that sent it`).toBe(true);
      const ctx = await context(browser, signer.viewport);
      const page = await ctx.newPage();
      try {
        await page.goto(link);
        await expect.poll(() => page.getByRole('heading', { name: 'Enter the access code' }).count()).toBe(1);
        await expect(page.getByRole('heading', { name: data.envelope_name })).toBeTruthy();
        await checkpoint(page, data, `${shot}-1-access-code`);

        if (index === 0) {
          // A wrong code first: the page says how many attempts are left.
          await page.getByRole('textbox', { name: 'Access code', exact: true }).fill('000000');
          await page.getByRole('button', { name: 'Unlock' }).click();
          await page.getByText('Attempts left: 4').waitFor();
          await checkpoint(page, data, `${shot}-1b-wrong-code`);
        }
        await page.getByRole('textbox', { name: 'Access code', exact: true }).fill(signer.access_code);
        await page.getByRole('button', { name: 'Unlock' }).click();

        await page.getByRole('heading', { name: 'Agree to use electronic records and signatures' }).waitFor();
        await checkpoint(page, data, `${shot}-2-consent`);
        await page.getByRole('checkbox', { name: 'I agree to use electronic records and signatures.' }).check();
        await page.getByRole('button', { name: 'Continue' }).click();

        await page.locator('.counter').getByText(/required field/).waitFor();
        // The first page is painted (its placeholder text goes away).
        await page.locator('.page[data-page="1"]').waitFor({ timeout: 20_000 });
        await page.locator('.page[data-page="1"] .page-loading').waitFor({ state: 'detached', timeout: 20_000 });
        await checkpoint(page, data, `${shot}-3-document`);

        await followTheGuide(page, data, signer.adopt, shot);
        await checkpoint(page, data, `${shot}-4-all-done`);
        await page.getByRole('button', { name: 'Finish' }).click();
        await page.getByRole('dialog', { name: 'Review and submit' }).waitFor();
        await checkpoint(page, data, `${shot}-5-review`);
        await page.getByRole('button', { name: 'Submit' }).click();

        // The worker puts the signature in the PDF; the page follows without a reload.
        await page
          .getByText(/Your signature is in the document|everyone has signed|Everyone has signed/)
          .waitFor({ timeout: 90_000 });
        await checkpoint(page, data, `${shot}-6-signed`);
      } finally {
        await ctx.close();
      }
    });
  });

  it('the cc opens the completion mail and downloads both PDFs', async () => {
    const shot = `cc-${data.cc.viewport}`;
    const link = await mailedLink(data, data.cc.email, '/sign', (body) => body.includes('everyone has signed'), 90_000);
    const ctx = await context(browser, data.cc.viewport);
    const page = await ctx.newPage();
    try {
      await page.goto(link);
      await page.getByRole('heading', { name: 'Everyone has signed' }).waitFor();
      await checkpoint(page, data, `${shot}-completed`);
      for (const [button, file] of [
        ['Download the signed document (PDF)', 'final.pdf'],
        ['Download the certificate of completion (PDF)', 'certificate.pdf'],
      ] as const) {
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          page.getByRole('link', { name: button }).click(),
        ]);
        expect(download.suggestedFilename()).toMatch(/\.pdf$/);
        await download.saveAs(join(data.artifacts, file));
      }
    } finally {
      await ctx.close();
    }
  });
});
