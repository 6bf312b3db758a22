// Templates and packs in a real browser: an owner writes two clauses (Markdown with
// variables and signature blocks, their JSON Schemas) watching the live preview, publishes
// them, builds two templates and publishes those, then generates a pack from both through the
// form their schemas produce (an empty try first: every problem at once), and sends it. The
// Rust test (tests/e2e/web.rs `an_owner_writes…`) checks the pack's envelopes.

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpoint, context, launch, mailedLink, story, type Story } from './support';

interface LibraryStory extends Story {
  owner: string;
  seller: { name: string; email: string };
  buyer: { name: string; email: string };
  reference: string;
}

const data = story<LibraryStory>();
const here = (link: string) => link.replace(/^https?:\/\/[^/]+/, data.base_url);
let browser: Awaited<ReturnType<typeof launch>>;
let page: Page;

beforeAll(async () => {
  browser = await launch();
  page = await (await context(browser, 'desktop')).newPage();
});
afterAll(async () => {
  await browser?.close();
});

const PARTIES_SCHEMA = {
  type: 'object',
  required: ['contract_no', 'seller'],
  properties: {
    contract_no: { type: 'string', minLength: 3, examples: ['S-2027-001'] },
    seller: {
      type: 'object',
      required: ['name', 'register'],
      properties: {
        name: { type: 'string', minLength: 2 },
        register: { type: 'string', pattern: '^[А-ЯӨҮЁ]{2}[0-9]{8}$', description: 'Two Cyrillic letters and eight digits' },
      },
    },
  },
};
const PRICE_SCHEMA = {
  type: 'object',
  required: ['quantity'],
  properties: { quantity: { type: 'integer', minimum: 1 } },
};

async function writeClause(name: string, body: string, schema: object): Promise<void> {
  await page.getByRole('button', { name: 'New clause' }).click();
  const editor = page.getByRole('region', { name: 'New clause' });
  await editor.getByLabel('Name').fill(name);
  await editor.getByLabel('Text (Markdown)').fill(body);
  await editor.getByLabel('Variables (JSON Schema)').fill(JSON.stringify(schema, null, 2));
  await editor.getByRole('button', { name: 'Save as a draft' }).click();
  await page.getByText(`The clause “${name}” is saved as a draft.`).waitFor();
  await page.getByRole('button', { name: new RegExp(`^Open ${name} v1$`) }).click();
  await page.getByRole('region', { name: `Editing ${name} v1` }).getByRole('button', { name: 'Publish' }).click();
  await page.getByText(`“${name}” is published.`).waitFor();
}

async function writeTemplate(name: string, clauses: string[], roles: string): Promise<void> {
  await page.getByRole('button', { name: 'New template' }).click();
  const editor = page.getByRole('region', { name: 'New template' });
  await editor.getByLabel('Name').fill(name);
  // Gated to Ulaanbaatar, where the pack is made.
  await editor.getByLabel(/^Only in these cities/).fill('UB');
  await editor.getByLabel('Signer roles, in signing order').fill(roles);
  for (const clause of clauses) {
    await editor.getByLabel('Add a published clause').selectOption({ label: `${clause} v1` });
    await editor.getByRole('button', { name: 'Add', exact: true }).click();
  }
  await editor.getByRole('button', { name: 'Save as a draft' }).click();
  await page.getByText(`The template “${name}” is saved as a draft.`).waitFor();
  await page.getByRole('button', { name: new RegExp(`^Open ${name} v1$`) }).click();
  await page.getByRole('region', { name: `Editing ${name} v1` }).getByRole('button', { name: 'Publish' }).click();
  await page.getByText(`“${name}” is published.`).waitFor();
}

describe('templates and packs', () => {
  it('registers and signs in', async () => {
    await page.goto(`${data.base_url}/register`);
    await page.getByLabel('Organization name').fill('Гэрэл Трейд ХХК');
    await page.getByLabel('Email address').fill(data.owner);
    await page.getByLabel('Password', { exact: true }).fill('a library passphrase');
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.goto(here(await mailedLink(data, data.owner, '/verify-email')));
    await page.getByText('Your address is confirmed.').waitFor();
    await page.goto(`${data.base_url}/sign-in`);
    await page.getByLabel('Email address').fill(data.owner);
    await page.getByLabel('Password', { exact: true }).fill('a library passphrase');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Workspace' }).getByRole('link', { name: 'Templates' }).click();
    await page.getByRole('heading', { name: 'Templates and packs' }).waitFor();
  });

  it('writes two clauses with a live preview and publishes them', async () => {
    await page.getByRole('button', { name: 'Clauses', exact: true }).click();
    await page.getByRole('button', { name: 'New clause' }).click();
    const editor = page.getByRole('region', { name: 'New clause' });
    await editor.getByLabel('Text (Markdown)').fill('## Талууд\n\nГэрээ №{{contract_no}}: {{seller.name}}\n\n{{signature:seller}}');
    await editor.getByLabel('Variables (JSON Schema)').fill('{ not json');
    await editor.getByText(/This is not valid JSON/).waitFor();
    await editor.getByLabel('Variables (JSON Schema)').fill(JSON.stringify(PARTIES_SCHEMA));
    // The preview: the heading, the example value, the unknown value by name, the signature block.
    const preview = editor.locator('.markdown-preview');
    await preview.getByRole('heading', { name: 'Талууд' }).waitFor();
    await preview.locator('mark.variable', { hasText: 'S-2027-001' }).waitFor();
    await preview.locator('mark.variable.missing', { hasText: 'seller.name' }).waitFor();
    await preview.getByText('Signature: seller').waitFor();
    await checkpoint(page, data, 'library-clause-preview');
    await editor.getByRole('button', { name: 'Close' }).click();

    await writeClause('Parties', '## Талууд\n\nГэрээ №{{contract_no}}: {{seller.name}} ({{seller.register}})\n', PARTIES_SCHEMA);
    await writeClause('Price', '## Үнэ\n\nТоо ширхэг: {{quantity}}\n\n{{signature:seller}}\n\n{{signature:buyer}}\n', PRICE_SCHEMA);
    const clauses = page.getByRole('list', { name: 'Clauses' });
    // The notice comes before the list is loaded again: wait for the list itself.
    await expect.poll(() => clauses.getByText('Published').count()).toBe(2);

    // A second version of Parties, a draft: its editor lists both versions.
    await page.getByRole('button', { name: 'Open Parties v1' }).click();
    const v1 = page.getByRole('region', { name: 'Editing Parties v1' });
    await v1.getByLabel('Text (Markdown)').fill('## Талууд\n\nГэрээ №{{contract_no}}, {{seller.name}} ({{seller.register}}).\n');
    await v1.getByRole('button', { name: 'Save as a new version' }).click();
    await page.getByText('A new version of “Parties” is saved as a draft.').waitFor();
    await page.getByRole('button', { name: 'Open Parties v2' }).click();
    const v2 = page.getByRole('region', { name: 'Editing Parties v2' });
    await v2.getByRole('list', { name: 'Versions' }).getByRole('button', { name: 'v1' }).waitFor();
    await checkpoint(page, data, 'library-clause-versions');
    await v2.getByRole('button', { name: 'Close' }).click();
  });

  it('builds two templates from them and publishes both', async () => {
    await page.getByRole('button', { name: 'Templates', exact: true }).click();
    await writeTemplate('Sale agreement', ['Parties', 'Price'], 'seller, buyer');
    await writeTemplate('Receipt', ['Parties'], 'seller');
    await checkpoint(page, data, 'library-templates');
  });

  it('generates a pack from both templates: every problem at once, then the pack', async () => {
    await page.getByRole('button', { name: 'Packs', exact: true }).click();
    await page.getByRole('button', { name: 'New pack' }).click();
    const form = page.getByRole('form', { name: 'New pack' });
    await form.getByRole('checkbox', { name: 'Sale agreement v1' }).check();
    await form.getByRole('checkbox', { name: 'Receipt v1' }).check();
    await form.getByLabel('seller › register *').waitFor();
    await form.getByLabel('seller › register *').fill('AB1');
    await form.getByRole('button', { name: 'Generate the pack' }).click();
    // Reference, contract_no, seller.name, seller.register, quantity, and both signers.
    await form.getByText('7 problem(s) to fix before the pack can be generated.').waitFor();
    await checkpoint(page, data, 'library-pack-problems');

    await form.getByLabel('Reference (a deal or order number)').fill(data.reference);
    await form.getByLabel('contract_no *').fill('S-2027-014');
    await form.getByLabel('seller › name *').fill('Гэрэл Трейд ХХК');
    await form.getByLabel('seller › register *').fill('УБ12345678');
    await form.getByLabel('quantity *').fill('3');
    for (const [role, who] of [
      ['seller', data.seller],
      ['buyer', data.buyer],
    ] as const) {
      const group = form.getByRole('group', { name: role, exact: true });
      await group.getByLabel('Name').fill(who.name);
      await group.getByLabel('Email address').fill(who.email);
    }
    await form.getByRole('button', { name: 'Generate the pack' }).click();
    const pack = page.getByRole('region', { name: `Pack ${data.reference}` });
    await pack.getByText('Document 2').waitFor({ timeout: 60_000 });
    expect(await pack.getByText('Not sent').count()).toBe(2);
    await checkpoint(page, data, 'library-pack-generated');
    await pack.getByRole('button', { name: 'Send for signature' }).click();
    await expect.poll(() => pack.getByText('Out for signature').count(), { timeout: 30_000 }).toBe(3);
    await checkpoint(page, data, 'library-pack-issued');
    // Each document's envelope is one click away.
    await pack.getByRole('link', { name: 'Follow the envelope of document 1' }).click();
    await page.getByRole('heading', { name: 'Evidence' }).waitFor();
    await page.getByText('Out for signature').first().waitFor();
  });
});
