import { execFileSync } from 'node:child_process';

import type { Locator, Page } from '@playwright/test';

import {
  PASSWORD,
  type TestUser,
  expect,
  expectSignedInAs,
  header,
  newUser,
  open,
  otherBrowser,
  signUpToProfile,
  snap,
  submitLogin,
  test,
  wrongCode,
} from './helpers';

// Two-step sign-in: an authenticator app set up on /security/two-step, then
// asked for on /login/second-factor after the password. Debian's oathtool
// plays the app (apt-get install oathtool; scripts/tools.sh --browser).

const SECOND_FACTOR_URL = /\/login\/second-factor$/;
const WRONG = 'That code did not work. Enter the current code from your authenticator app, or an unused recovery code.';
const EXPIRED = 'That sign-in took too long or was already finished. Please sign in again.';

/**
 * The app's code for `secret` (base32, spaces allowed) at `when` (oathtool's
 * syntax). A code is accepted once per 30-second step, so the step whose
 * code confirmed the app cannot sign in too: the next one is asked for with
 * `now + 30 seconds` (one step of drift is accepted), not waited for.
 */
function totp(secret: string, when = 'now'): string {
  return execFileSync('oathtool', ['--totp', '-b', secret.replace(/\s+/g, ''), '-N', when], { encoding: 'utf8' }).trim();
}
const NEXT_STEP = 'now + 30 seconds';

function secretOf(page: Page): Locator {
  return page.getByTestId('totp-secret');
}

function recoveryCodes(page: Page): Locator {
  return page.getByTestId('recovery-codes').locator('li code');
}

/** The second step's code field (app code or recovery code). */
function secondFactorInput(page: Page): Locator {
  return page.locator('#field-code');
}

async function logOut(page: Page): Promise<void> {
  await header(page).getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
}

/** Logs in with the password and expects to be asked for the second factor. */
async function passwordStep(page: Page, user: TestUser): Promise<void> {
  await open(page, '/login');
  await submitLogin(page, user.username, PASSWORD);
  await expect(page).toHaveURL(SECOND_FACTOR_URL);
  await expect(page.getByRole('heading', { name: 'Two-step sign-in' })).toBeVisible();
  await expect(header(page).getByRole('link', { name: 'Log in' })).toBeVisible();
}

async function submitSecondFactor(page: Page, code: string): Promise<void> {
  await secondFactorInput(page).fill(code);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
}

/**
 * Sets up an authenticator app for the signed-in user; returns its secret
 * and the recovery codes shown.
 */
async function setUpApp(page: Page): Promise<{ secret: string; codes: string[] }> {
  await open(page, '/security/two-step');
  await expect(page.getByTestId('two-step-off')).toHaveText('Two-step sign-in is off.');
  // The password first: an app added from a borrowed session would lock
  // the owner out.
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await expect(page.locator('#field-start-password-error')).toHaveText('Enter your current password.');
  await page.locator('#field-start-password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await expect(secretOf(page)).toHaveText(/^([A-Z2-7]{4} )*[A-Z2-7]{1,4}$/);
  await expect(page.locator('.qr svg')).toBeVisible();
  const secret = (await secretOf(page).textContent()) ?? '';
  await snap(page, 'two-step-setup');

  await page.getByLabel('Code from the app', { exact: true }).fill(totp(secret));
  await page.getByRole('button', { name: 'Turn on two-step sign-in' }).click();

  await expect(recoveryCodes(page)).toHaveCount(10);
  const codes = await recoveryCodes(page).allTextContents();
  for (const code of codes) {
    expect(code).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
  }
  const download = page.getByRole('link', { name: 'Download as a text file' });
  await expect(download).toHaveAttribute('download', 'latchkey-recovery-codes.txt');
  expect(decodeURIComponent((await download.getAttribute('href')) ?? '')).toContain(codes[0]);
  await expect(page.getByTestId('two-step-on')).toBeVisible();
  await expect(page.getByTestId('codes-left')).toHaveText('10');
  await snap(page, 'two-step-codes');
  return { secret, codes };
}

test('an authenticator app, then a recovery code, finish a password sign-in', async ({ page }) => {
  const user = await signUpToProfile(page);
  await expect(page.getByRole('link', { name: 'Two-step sign-in' })).toHaveAttribute('href', '/security/two-step');
  const { secret, codes } = await setUpApp(page);

  // The session that set it up stays signed in.
  await open(page, '/profile');
  await expectSignedInAs(page, user.username);
  await logOut(page);

  await passwordStep(page, user);
  await snap(page, 'login-second-factor');
  const code = totp(secret, NEXT_STEP);
  await submitSecondFactor(page, wrongCode(code));
  await expect(page.locator('#field-code-error')).toHaveText(WRONG);
  await expect(page).toHaveURL(SECOND_FACTOR_URL);
  await submitSecondFactor(page, code);
  await expect(page).toHaveURL(/\/profile$/);
  await expectSignedInAs(page, user.username);

  // The next sign-in with a recovery code, typed in capitals with spaces.
  await logOut(page);
  await passwordStep(page, user);
  await submitSecondFactor(page, ` ${codes[3].toUpperCase()} `);
  await expect(page).toHaveURL(/\/profile$/);
  await expectSignedInAs(page, user.username);
  await open(page, '/security/two-step');
  await expect(page.getByTestId('codes-left')).toHaveText('9');

  // A recovery code works once.
  await logOut(page);
  await passwordStep(page, user);
  await submitSecondFactor(page, codes[3]);
  await expect(page.locator('#field-code-error')).toHaveText(WRONG);
  await expect(page).toHaveURL(SECOND_FACTOR_URL);
  await expect(header(page).getByRole('link', { name: 'Log in' })).toBeVisible();
});

test('a second step without a pending sign-in says to log in again', async ({ page }) => {
  await open(page, '/login/second-factor');
  await submitSecondFactor(page, '123456');
  await expect(page.getByRole('alert')).toHaveText(EXPIRED);
  await expect(page.getByRole('link', { name: 'Log in again' })).toHaveAttribute('href', '/login');
});

test('new recovery codes replace the old ones, and the app can be removed', async ({ page }) => {
  const user = await signUpToProfile(page);
  const { codes } = await setUpApp(page);

  await page.locator('#field-renew-code').fill(codes[0]);
  await page.getByRole('button', { name: 'Make new recovery codes' }).click();
  await expect(recoveryCodes(page)).toHaveCount(10);
  const renewed = await recoveryCodes(page).allTextContents();
  expect(renewed).not.toContain(codes[1]);

  const removal = page.locator('.card-danger');
  await removal.getByLabel('Password', { exact: true }).fill(user.password);
  await removal.getByLabel('Code from the app, or a recovery code').fill(codes[1]);
  await removal.getByRole('button', { name: 'Remove authenticator app' }).click();
  await expect(removal.locator('#field-remove-code-error')).toHaveText(WRONG);

  await removal.getByLabel('Password', { exact: true }).fill(user.password);
  await removal.getByLabel('Code from the app, or a recovery code').fill(renewed[0]);
  await removal.getByRole('button', { name: 'Remove authenticator app' }).click();
  await expect(page.getByTestId('two-step-off')).toBeVisible();

  // Signing in asks for the password alone again.
  await logOut(page);
  await open(page, '/login');
  await submitLogin(page, user.username, PASSWORD);
  await expect(page).toHaveURL(/\/profile$/);
});

test('setting up and using the app work without JavaScript', { tag: '@nojs' }, async ({ page }) => {
  const user = newUser();
  const res = await page.request.post('/api/v1/auth/signup', {
    data: { email: user.email, username: user.username, password: user.password },
  });
  expect(res.status()).toBe(201);
  await page.goto('/login');
  await submitLogin(page, user.username, PASSWORD);
  await expect(page).toHaveURL(/\/profile$/);

  await page.goto('/security/two-step');
  await page.locator('#field-start-password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
  await expect(page).toHaveURL(/\/security\/two-step\??$/);
  const secret = (await secretOf(page).textContent()) ?? '';
  await page.getByLabel('Code from the app', { exact: true }).fill('000000' === totp(secret) ? '000001' : '000000');
  await page.getByRole('button', { name: 'Turn on two-step sign-in' }).click();
  await expect(page.locator('#field-code-error')).toHaveText(WRONG);
  await page.getByLabel('Code from the app', { exact: true }).fill(totp(secret));
  await page.getByRole('button', { name: 'Turn on two-step sign-in' }).click();
  await expect(page).toHaveURL(/\/security\/two-step\??$/);
  // The codes come back once, through the redirect.
  await expect(recoveryCodes(page)).toHaveCount(10);
  const codes = await recoveryCodes(page).allTextContents();
  await snap(page, 'two-step-codes-nojs');
  await page.reload();
  await expect(recoveryCodes(page)).toHaveCount(0);
  await expect(page.getByTestId('codes-left')).toHaveText('10');

  await header(page).getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/login');
  await submitLogin(page, user.username, PASSWORD);
  await expect(page).toHaveURL(SECOND_FACTOR_URL);
  await submitSecondFactor(page, codes[0]);
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByTestId('nav-user')).toContainText(user.username);
});

test('a session that never proved the app confirms it before changing the password', async ({ page, browser }) => {
  const user = await signUpToProfile(page);
  // Another device signed in before the app was added.
  const { context, page: laptop } = await otherBrowser(browser);
  await open(laptop, '/login');
  await submitLogin(laptop, user.username, PASSWORD);
  await expect(laptop).toHaveURL(/\/profile$/);
  const { secret } = await setUpApp(page);

  await open(laptop, '/password');
  await laptop.getByLabel('Current password', { exact: true }).fill(PASSWORD);
  await laptop.getByLabel('New password', { exact: true }).fill('a brand new passphrase');
  await laptop.getByLabel('Repeat the new password', { exact: true }).fill('a brand new passphrase');
  await laptop.getByRole('button', { name: 'Change password' }).click();
  const alert = laptop.getByRole('alert').filter({ hasText: 'confirm it' });
  await expect(alert).toContainText('confirm it\'s you with a code from your authenticator app');
  await snap(laptop, 'step-up-asked');
  await alert.getByRole('link', { name: 'Confirm with your authenticator app' }).click();
  await expect(laptop).toHaveURL(/\/security\/confirm\?next=%2Fpassword$/);
  await expect(laptop.getByRole('heading', { name: "Confirm it's you" })).toBeVisible();
  await snap(laptop, 'step-up');
  await laptop.locator('#field-code').fill(totp(secret, NEXT_STEP));
  await laptop.getByRole('button', { name: 'Confirm', exact: true }).click();
  await expect(laptop).toHaveURL(/\/password$/);

  await laptop.getByLabel('Current password', { exact: true }).fill(PASSWORD);
  await laptop.getByLabel('New password', { exact: true }).fill('a brand new passphrase');
  await laptop.getByLabel('Repeat the new password', { exact: true }).fill('a brand new passphrase');
  await laptop.getByRole('button', { name: 'Change password' }).click();
  await expect(laptop).toHaveURL(/\/profile\?changed=password$/);
  await expect(laptop.getByTestId('password-changed')).toBeVisible();
  await context.close();
});
