// Running the organization in a real browser: an owner registers, invites a member and a
// viewer who accept from their mails and see only the menus and buttons their roles allow,
// creates an API key (shown once), registers a webhook, sends it a test event and sees the
// delivery in the log with its attempt; then changes their own password. The Rust test
// (tests/e2e/web.rs `an_owner_runs…`) runs the webhook receiver and checks what it got.

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpoint, context, launch, mailedLink, story, type Story } from './support';

interface OrganizationStory extends Story {
  owner: string;
  member: string;
  viewer: string;
  /** The webhook receiver's URL. */
  receiver: string;
}

const data = story<OrganizationStory>();
const here = (link: string) => link.replace(/^https?:\/\/[^/]+/, data.base_url);
let browser: Browser;
let owner: Page;

beforeAll(async () => {
  browser = await launch();
  owner = await (await context(browser, 'desktop')).newPage();
});
afterAll(async () => {
  await browser?.close();
});

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto(`${data.base_url}/sign-in`);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Workspace' }).waitFor();
}

const menu = (page: Page) => page.getByRole('navigation', { name: 'Workspace' }).getByRole('link');

/** Accepts the invitation mailed to `email` in a fresh phone context and signs in there. */
async function accept(email: string, first: string): Promise<Page> {
  const page = await (await context(browser, 'phone')).newPage();
  await page.goto(here(await mailedLink(data, email, '/accept-invitation')));
  await page.getByLabel('First name').fill(first);
  await page.getByLabel('Last name').fill('Test');
  await page.getByLabel('Password', { exact: true }).fill(`${first} passphrase`);
  await page.getByRole('button', { name: 'Create my account' }).click();
  await page.getByText('Your account is ready.').waitFor();
  await signIn(page, email, `${first} passphrase`);
  return page;
}

describe('running the organization', () => {
  it('registers the owner, who sees the organization menu', async () => {
    await owner.goto(`${data.base_url}/register`);
    await owner.getByLabel('Organization name').fill('Говь Трейд ХХК');
    await owner.getByLabel('Email address').fill(data.owner);
    await owner.getByLabel('Password', { exact: true }).fill('an owner passphrase');
    await owner.getByRole('button', { name: 'Create the account' }).click();
    await owner.goto(here(await mailedLink(data, data.owner, '/verify-email')));
    await owner.getByText('Your address is confirmed.').waitFor();
    await signIn(owner, data.owner, 'an owner passphrase');
    await menu(owner).getByText('Organization').waitFor();
    expect(await menu(owner).allTextContents()).toEqual(['Home', 'Documents', 'Envelopes', 'Templates', 'Organization', 'Account']);
  });

  it('invites a member and a viewer', async () => {
    await menu(owner).getByText('Organization').click();
    await owner.getByRole('heading', { name: 'Organization' }).waitFor();
    const form = owner.getByRole('form', { name: 'Invite' });
    for (const [email, role] of [
      [data.member, 'Member'],
      [data.viewer, 'Viewer'],
    ] as const) {
      await form.getByLabel('Email address').fill(email);
      await form.getByLabel('Role').selectOption({ label: role });
      await form.getByRole('button', { name: 'Invite' }).click();
      await owner.getByText(`An invitation went to ${email}.`).waitFor();
    }
    const members = owner.getByRole('list', { name: 'Members' });
    await members.getByRole('combobox', { name: `Role of ${data.viewer}` }).waitFor();
    expect(await members.getByText('Invited', { exact: true }).count()).toBe(2);
    await checkpoint(owner, data, 'organization-members');
  });

  it('the member accepts and may send, but sees no organization menu', async () => {
    const page = await accept(data.member, 'Сарнай');
    expect(await menu(page).allTextContents()).toEqual(['Home', 'Documents', 'Envelopes', 'Templates', 'Account']);
    await menu(page).getByText('Documents').click();
    await page.getByRole('button', { name: 'Choose files' }).waitFor();
    await checkpoint(page, data, 'member-documents');
    await page.goto(`${data.base_url}/account`);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await page.getByText(/Member · Говь Трейд ХХК/).waitFor();
    await checkpoint(page, data, 'member-account');
    await page.context().close();
  });

  it('the viewer accepts and may only read', async () => {
    const page = await accept(data.viewer, 'Bold');
    expect(await menu(page).allTextContents()).toEqual(['Home', 'Documents', 'Envelopes', 'Templates', 'Account']);
    await menu(page).getByText('Documents').click();
    await page.getByText('No documents yet.').waitFor();
    expect(await page.getByRole('button', { name: 'Choose files' }).count()).toBe(0);
    await checkpoint(page, data, 'viewer-documents');
    await page.context().close();
  });

  it('creates an API key and sees it once', async () => {
    await owner.getByRole('button', { name: 'API keys' }).click();
    await owner.getByLabel('Key name').fill('Contracts system');
    await owner.getByRole('checkbox', { name: 'webhooks:manage' }).check();
    await owner.getByRole('button', { name: 'Create the key' }).click();
    const once = owner.locator('.once');
    await once.getByText('Copy it now: it is not shown again.').waitFor();
    expect(await once.locator('code').textContent()).toMatch(/^\S{20,}$/);
    await checkpoint(owner, data, 'organization-key-created');
    await owner.getByRole('list', { name: 'API keys' }).getByText('Contracts system').waitFor();
  });

  it('registers a webhook, sends a test event and sees it delivered', async () => {
    await owner.getByRole('button', { name: 'Webhooks' }).click();
    await owner.getByLabel('Endpoint URL (https)').fill(data.receiver);
    await owner.getByRole('button', { name: 'Add the endpoint' }).click();
    await owner.locator('.once').getByText(/^whsec_/).waitFor();
    const row = owner.getByRole('list', { name: 'Webhooks' }).getByRole('listitem').filter({ hasText: data.receiver });
    await row.getByRole('button', { name: 'Send a test event' }).click();
    const log = row.getByRole('region', { name: 'Delivery log' });
    await log.getByText('webhook.test').waitFor({ timeout: 30_000 });
    await log.getByText('Delivered').waitFor({ timeout: 30_000 });
    await log.getByRole('list', { name: 'Attempts' }).getByText(/HTTP 200/).waitFor();
    await checkpoint(owner, data, 'organization-webhook-delivered');
  });

  it('issues a certificate from the organization CA, reads the audit trail and the plan', async () => {
    await owner.getByRole('button', { name: 'Certificates' }).click();
    const form = owner.getByRole('form', { name: 'New certificate' });
    await form.getByLabel('Label').fill('Director signing');
    await form.getByLabel('Name in the certificate').fill('Ганбат Дорж');
    await form.getByRole('button', { name: 'Create the certificate' }).click();
    await owner.getByText('The certificate “Director signing” is ready.').waitFor({ timeout: 30_000 });
    const row = owner.getByRole('list', { name: 'Certificates' }).getByRole('listitem').filter({ hasText: 'Director signing' });
    await row.getByText('Active').waitFor();
    await checkpoint(owner, data, 'organization-certificates');

    await owner.getByRole('button', { name: 'Audit trail' }).click();
    await owner.getByRole('list', { name: 'Audit trail' }).getByText('member.invited').first().waitFor();
    await owner.getByLabel('Action').fill('api_key.created');
    await owner.getByRole('search', { name: 'Filter the audit trail' }).getByRole('button', { name: 'Show' }).click();
    await expect.poll(() => owner.getByRole('list', { name: 'Audit trail' }).getByText('member.invited').count()).toBe(0);
    await checkpoint(owner, data, 'organization-audit');

    await owner.getByRole('button', { name: 'Billing' }).click();
    await owner.getByRole('heading', { name: /^Plan: / }).waitFor();
    await owner.getByRole('img', { name: /^Usage from / }).waitFor();
    await owner.getByRole('heading', { name: 'This period’s invoice' }).waitFor();
    await checkpoint(owner, data, 'organization-billing');
  });

  it('changes the password, the old one stops working, and signs out everywhere', async () => {
    await menu(owner).getByText('Account').click();
    await owner.getByLabel('Current password').fill('an owner passphrase');
    await owner.getByLabel('New password', { exact: true }).fill('a newer owner passphrase');
    await owner.getByRole('button', { name: 'Change the password' }).click();
    await owner.getByText('Your password is changed').waitFor();
    await checkpoint(owner, data, 'account-password-changed');
    await owner.getByRole('navigation', { name: 'Workspace' }).getByRole('button', { name: 'Sign out' }).click();
    await owner.getByLabel('Email address').fill(data.owner);
    await owner.getByLabel('Password', { exact: true }).fill('an owner passphrase');
    await owner.getByRole('button', { name: 'Sign in' }).click();
    await owner.getByText('The email address or the password is wrong.').waitFor();
    await signIn(owner, data.owner, 'a newer owner passphrase');
    await menu(owner).getByText('Account').click();
    await owner.getByRole('button', { name: 'Sign out everywhere' }).click();
    await owner.getByRole('heading', { name: 'Sign in' }).waitFor();
  });
});
