import type { APIRequestContext, Page } from '@playwright/test';

import {
  LOGIN_FAILED,
  PASSWORD,
  expect,
  expectSignedInAs,
  expectSignedOut,
  header,
  latestMail,
  open,
  otherBrowser,
  signUp,
  signUpToProfile,
  snap,
  submitLogin,
  test,
} from './helpers';

// Passwords: forgot → emailed link → reset; change in the profile; delete
// the account. JavaScript on (the no-JS reset is in nojs.spec.ts).

const NEW_PASSWORD = 'plum nebula quietly sings';
const RESET_SUBJECT = /^Reset your Latchkey password$/;
const CHANGED_SUBJECT = /^Your Latchkey password was changed$/;

/** The path and query of the reset link in the newest reset mail to `email`. */
async function resetLink(request: APIRequestContext, email: string): Promise<string> {
  const mail = await latestMail(request, email, { subject: RESET_SUBJECT });
  const match = mail.text?.match(/https?:\/\/\S+?\/reset\?token=[A-Za-z0-9_-]{43}/);
  expect(match, `a reset link in: ${mail.text}`).not.toBeNull();
  const url = new URL(match![0]);
  return url.pathname + url.search;
}

async function askForLink(page: Page, email: string): Promise<void> {
  await open(page, '/login');
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await expect(page).toHaveURL(/\/forgot$/);
  await expect(page.getByRole('heading', { name: 'Reset your password' })).toBeVisible();
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByRole('button', { name: 'Send reset link' }).click();
  await expect(page).toHaveURL(/\/forgot\?sent=/);
  await expect(page.getByTestId('reset-sent')).toContainText(`If an account exists for ${email}`);
}

test('a reset link sets a new password once and signs out every other session', async ({ page, browser, request }) => {
  const user = await signUp(page);

  // A second browser, signed in as the same user.
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  await otherPage.goto('/login');
  await submitLogin(otherPage, user.email, PASSWORD);
  await expect(otherPage).toHaveURL(/\/profile$/);

  // The first browser forgot its session and the password.
  await page.context().clearCookies();
  await askForLink(page, user.email);
  await snap(page, 'forgot-sent');

  const link = await resetLink(request, user.email);
  // The link's answer sends no Referer and takes the token out of the URL.
  const landing = await request.get(link, { maxRedirects: 0 });
  expect(landing.status()).toBe(302);
  expect(landing.headers()['referrer-policy']).toBe('no-referrer');
  expect(landing.headers()['location']).toBe('/reset');
  await open(page, link);
  await expect(page).toHaveURL(/\/reset$/);
  await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
  await expect(page.getByTestId('reset-email')).toHaveText(user.email);

  // The meter judges as the server will: a common password is not allowed.
  const field = page.getByLabel('New password', { exact: true });
  await field.fill('password1');
  await expect(page.getByTestId('strength')).toContainText('Not allowed');
  await expect(page.getByTestId('strength')).toHaveAttribute('data-score', '0');
  await snap(page, 'reset-weak');
  await field.fill(NEW_PASSWORD);
  await expect(page.getByTestId('strength')).toContainText(/Good|Strong/);
  await page.getByLabel('Repeat the new password', { exact: true }).fill(NEW_PASSWORD);
  await snap(page, 'reset');
  await page.getByRole('button', { name: 'Set new password' }).click();

  await expect(page).toHaveURL(/\/profile\?changed=password$/);
  await expect(page.getByTestId('password-changed')).toBeVisible();
  await expectSignedInAs(page, user.username);
  await latestMail(request, user.email, { subject: CHANGED_SUBJECT });

  // The other browser's session is over.
  await otherPage.goto('/profile');
  await expect(otherPage).toHaveURL(/\/login$/);
  // The old password no longer works; the new one does.
  await submitLogin(otherPage, user.email, PASSWORD);
  await expect(otherPage.locator('form:has(#field-login) .form-alert')).toHaveText(LOGIN_FAILED);
  await submitLogin(otherPage, user.email, NEW_PASSWORD);
  await expect(otherPage).toHaveURL(/\/profile$/);
  await other.close();

  // The link worked once (tried again from a signed-out browser).
  await page.context().clearCookies();
  await open(page, link);
  await expect(page.getByRole('heading', { name: "This link can't be used" })).toBeVisible();
  await expect(page.getByTestId('reset-link-error')).toContainText('already used');
  await snap(page, 'reset-used');
  await page.getByRole('link', { name: 'Send me a new link' }).click();
  await expect(page).toHaveURL(/\/forgot$/);
});

test('an unknown address gets the same answer as a real one', async ({ page }) => {
  await askForLink(page, `nobody-${Date.now()}@example.com`);
  await expectSignedOut(page);
  await open(page, '/forgot');
  await snap(page, 'forgot');
});

test('changing the password needs the current one and keeps this session', async ({ page }) => {
  const user = await signUpToProfile(page);
  await page.getByRole('link', { name: 'Change password' }).click();
  await expect(page).toHaveURL(/\/password$/);
  await expect(page.getByRole('heading', { name: 'Change your password' })).toBeVisible();

  const current = page.getByLabel('Current password', { exact: true });
  const fresh = page.getByLabel('New password', { exact: true });
  const repeat = page.getByLabel('Repeat the new password', { exact: true });
  const submit = page.getByRole('button', { name: 'Change password' });

  await current.fill('not my password');
  await fresh.fill(NEW_PASSWORD);
  await repeat.fill(NEW_PASSWORD);
  await submit.click();
  await expect(page.locator('#field-current_password-error')).toHaveText('That is not your current password.');
  await expect(current).toHaveAttribute('aria-invalid', 'true');

  await current.fill(PASSWORD);
  await fresh.fill(NEW_PASSWORD);
  await repeat.fill(`${NEW_PASSWORD}!`);
  await submit.click();
  await expect(page.locator('#field-confirm-error')).toContainText('The two passwords differ');
  await snap(page, 'change-password-error');

  await current.fill(PASSWORD);
  await fresh.fill(NEW_PASSWORD);
  await repeat.fill(NEW_PASSWORD);
  await submit.click();
  await expect(page).toHaveURL(/\/profile\?changed=password$/);
  await expect(page.getByTestId('password-changed')).toBeVisible();
  await expectSignedInAs(page, user.username);

  await header(page).getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await submitLogin(page, user.username, NEW_PASSWORD);
  await expect(page).toHaveURL(/\/profile$/);
});

test('deleting the account needs the password and removes it', async ({ page }) => {
  const user = await signUpToProfile(page);
  await snap(page, 'profile-passwords');
  await page.getByRole('link', { name: 'Delete my account…' }).click();
  await expect(page).toHaveURL(/\/delete-account$/);
  await expect(page.getByRole('heading', { name: 'Delete your account' })).toBeVisible();
  await snap(page, 'delete-account');

  const password = page.getByLabel('Your password', { exact: true });
  await password.fill('not my password');
  await page.getByRole('button', { name: 'Delete my account' }).click();
  await expect(page.locator('#field-password-error')).toHaveText('That is not your current password.');

  await password.fill(PASSWORD);
  await page.getByRole('button', { name: 'Delete my account' }).click();
  await expect(page).toHaveURL(/\/\?deleted=1$/);
  await expect(page.getByTestId('deleted-notice')).toBeVisible();
  await expectSignedOut(page);

  await open(page, '/login');
  await submitLogin(page, user.email, PASSWORD);
  await expect(page.locator('form:has(#field-login) .form-alert')).toHaveText(LOGIN_FAILED);
});

test('a reset link for another account is refused while signed in', async ({ page, browser, request }) => {
  // The attacker asks for a reset link for their own account…
  const { context: attackerBrowser, page: attackerPage } = await otherBrowser(browser);
  const attacker = await signUp(attackerPage);
  await attackerPage.context().clearCookies();
  await askForLink(attackerPage, attacker.email);
  const link = await resetLink(request, attacker.email);
  await attackerBrowser.close();

  // …and sends it to a signed-in victim, whose browser plants no token.
  const victim = await signUp(page);
  await open(page, link);
  await expect(page).toHaveURL(/\/reset\?other_account=1$/);
  await expect(page.getByRole('heading', { name: "This link can't be used" })).toBeVisible();
  await expect(page.getByTestId('reset-link-error')).toContainText('signed in to another account');
  await snap(page, 'reset-other-account');
  const cookies = await page.context().cookies();
  expect(cookies.map((c) => c.name)).not.toContain('lk_reset');
  await expectSignedInAs(page, victim.username);
});
