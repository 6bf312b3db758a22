// The account pages a mailed link opens, in the browser: sign-up and its verification link
// (and the same link a second time), sign-in (wrong, then right) and the home, a password
// reset requested and confirmed by mail, and an invitation accepted.

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { checkpoint, context, launch, mailedLink, story, type Story } from './support';

interface AccountsStory extends Story {
  /** A new address to register with. */
  newcomer: string;
  /** An address the Rust test invited into its organization. */
  invited: string;
}

const data = story<AccountsStory>();
let browser: Awaited<ReturnType<typeof launch>>;
let page: Page;

beforeAll(async () => {
  browser = await launch();
  page = await (await context(browser, 'desktop')).newPage();
});
afterAll(async () => {
  await browser?.close();
});

async function signIn(email: string, password: string): Promise<void> {
  await page.goto(`${data.base_url}/sign-in`);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('the account pages', () => {
  it('registers, verifies the address from the mail, and refuses the used link', async () => {
    await page.goto(`${data.base_url}/register`);
    await page.getByLabel('Organization name').fill('Хан-Уул Түрээс ХХК');
    await page.getByLabel('Email address').fill(data.newcomer);
    await page.getByLabel('Password', { exact: true }).fill('a long enough passphrase');
    await checkpoint(page, data, 'register');
    await page.getByRole('button', { name: 'Create the account' }).click();
    await page.getByText(`we sent a link to ${data.newcomer}`).waitFor();
    await checkpoint(page, data, 'register-sent');

    const link = await mailedLink(data, data.newcomer, '/verify-email');
    await page.goto(link);
    await page.getByText('Your address is confirmed.').waitFor();
    await checkpoint(page, data, 'verify-email-done');
    await page.goto(link);
    await page.getByText('This confirmation link does not work').waitFor();
    await checkpoint(page, data, 'verify-email-used');
  });

  it('signs in (a wrong password first) and shows the home', async () => {
    await signIn(data.newcomer, 'not the passphrase');
    await page.getByText('The email address or the password is wrong.').waitFor();
    await checkpoint(page, data, 'sign-in-wrong');
    await signIn(data.newcomer, 'a long enough passphrase');
    await page.getByRole('heading', { name: `Welcome, ${data.newcomer}` }).waitFor();
    await checkpoint(page, data, 'home');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });

  it('resets the password through the mailed link', async () => {
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByLabel('Email address').fill(data.newcomer);
    await checkpoint(page, data, 'reset-request');
    await page.getByRole('button', { name: 'Send the link' }).click();
    await page.getByText('If an account uses that address').waitFor();
    const link = await mailedLink(data, data.newcomer, '/reset-password');
    await page.goto(link);
    await page.getByLabel('New password', { exact: true }).fill('another long passphrase');
    await checkpoint(page, data, 'reset-confirm');
    await page.getByRole('button', { name: 'Save the new password' }).click();
    await page.getByText('Your password is changed.').waitFor();
    await checkpoint(page, data, 'reset-done');
    await page.goto(link);
    await page.getByLabel('New password', { exact: true }).fill('yet another passphrase');
    await page.getByRole('button', { name: 'Save the new password' }).click();
    await page.getByText('This reset link does not work').waitFor();
    await signIn(data.newcomer, 'another long passphrase');
    await page.getByRole('heading', { name: `Welcome, ${data.newcomer}` }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
  });

  it('accepts an invitation and signs in', async () => {
    const link = await mailedLink(data, data.invited, '/accept-invitation');
    await page.goto(link);
    await page.getByLabel('First name').fill('Сарнай');
    await page.getByLabel('Last name').fill('Дорж');
    await page.getByLabel('Password', { exact: true }).fill('colleague passphrase');
    await checkpoint(page, data, 'accept-invitation');
    await page.getByRole('button', { name: 'Create my account' }).click();
    await page.getByText('Your account is ready.').waitFor();
    await signIn(data.invited, 'colleague passphrase');
    await page.getByRole('heading', { name: 'Welcome, Сарнай' }).waitFor();
    await page.getByRole('list', { name: 'Waiting for you' }).getByText('Lease 2027').waitFor();
    await checkpoint(page, data, 'home-waiting-for-you');
  });

  it('answers an unknown address with a page, not an error', async () => {
    await page.goto(`${data.base_url}/no/such/page`);
    await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    await checkpoint(page, data, 'not-found');
  });
});
