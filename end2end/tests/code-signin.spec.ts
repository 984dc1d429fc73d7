import type { Locator, Page } from '@playwright/test';

import {
  CODE_SUBJECT,
  SIGNIN_SUBJECT,
  codeError,
  codeInput,
  existingUser,
  expect,
  expectSignedInAs,
  expectSignedOut,
  latestMail,
  mailsTo,
  open,
  snap,
  test,
  uniqueName,
  waitForHydration,
  wrongCode,
} from './helpers';

// Passwordless sign-in (/login/code): step 1 asks for the address and mails a
// 6-digit code to it if it has an account; step 2 (/login/code?email=…) takes
// the code. Both steps answer the same whether or not the account exists.
// JavaScript on.

const EXPIRED = 'This code has expired or was already used. Send a new one.';
const COOLDOWN = /^A code was just sent\. You can ask for another in (\d+) s\.$/;

function heading(page: Page): Locator {
  return page.getByRole('heading', { name: 'Sign in with a code' });
}

/** Step 1: the form that asks for the address. */
function requestForm(page: Page): Locator {
  return page.locator('form:has(#field-email)');
}

function emailInput(page: Page): Locator {
  return page.getByLabel('Email', { exact: true });
}

/** Step 2: the sentence naming the address the code went to (if it has an account). */
function sentNotice(page: Page): Locator {
  return page.locator('p').filter({ has: page.getByTestId('code-email') });
}

function sentSentence(email: string): string {
  return `If an account exists for ${email}, we sent a 6-digit code to it.`;
}

/** Fills step 1 with `email` and submits it. */
async function askForCode(page: Page, email: string): Promise<void> {
  await expect(heading(page)).toBeVisible();
  const button = page.getByRole('button', { name: 'Email me a code' });
  await expect(button).toBeEnabled();
  await emailInput(page).fill(email);
  await button.click();
}

/** Expects step 2 for `email`: the URL carries it, the page names it, the code field waits. */
async function expectStepTwo(page: Page, email: string): Promise<void> {
  await expect(page).toHaveURL(/\/login\/code\?email=/);
  expect(new URL(page.url()).searchParams.get('email'), 'the address in the URL').toBe(email);
  await expect(heading(page)).toBeVisible();
  await expect(page.getByTestId('code-email')).toHaveText(email);
  await expect(sentNotice(page)).toContainText(sentSentence(email));
  await expect(codeInput(page)).toHaveAttribute('id', 'field-code');
  await expect(codeInput(page)).toHaveValue('');
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeEnabled();
  await expect(page.getByRole('link', { name: 'Use a different email' })).toHaveAttribute('href', '/login/code');
  await expect(emailInput(page)).toHaveCount(0);
}

/** The step-2 sentence with the address blanked out, to compare two answers. */
async function noticeShape(page: Page, email: string): Promise<string> {
  const text = (await sentNotice(page).textContent()) ?? '';
  return text.split(email).join('<address>').replace(/\s+/g, ' ').trim();
}

function sessionCookies(cookies: { name: string; value: string }[]): string[] {
  return cookies.filter((c) => c.name.startsWith('lk_') && c.value !== '').map((c) => c.name);
}

test('an emailed code signs an existing user in as soon as its 6th digit is typed', async ({ page, request }) => {
  const user = await existingUser(page);
  // Sign-up mailed a verification code first; the sign-in code must come in a newer mail.
  await latestMail(request, user.email, { subject: CODE_SUBJECT });
  const before = await mailsTo(request, user.email);

  // The log-in page offers the code instead of the password.
  await open(page, '/login');
  await expectSignedOut(page);
  const instead = page.getByRole('link', { name: 'Email me a sign-in code instead' });
  await expect(instead).toHaveAttribute('href', '/login/code');
  await instead.click();
  await expect(page).toHaveURL(/\/login\/code$/);

  // Step 1.
  await expect(heading(page)).toBeVisible();
  await expect(emailInput(page)).toHaveAttribute('id', 'field-email');
  await expect(emailInput(page)).toHaveAttribute('name', 'email');
  await expect(emailInput(page)).toHaveValue('');
  await expect(requestForm(page).getByRole('alert')).toHaveCount(0);
  await expect(codeInput(page)).toHaveCount(0);
  await snap(page, 'login-code');

  await askForCode(page, user.email);

  // Step 2, still signed out.
  await expectStepTwo(page, user.email);
  await expect(codeError(page)).toBeEmpty();
  await expectSignedOut(page);
  await snap(page, 'login-code-sent');

  // Exactly one new mail, the sign-in code, and it is the newest to this address.
  const mail = await latestMail(request, user.email, { after: before, subject: SIGNIN_SUBJECT });
  const code = SIGNIN_SUBJECT.exec(mail.subject.trim())![1];
  expect(mail.text ?? '', 'the text body carries the code').toContain(code);
  expect(mail.to.map((t) => t.address.toLowerCase())).toEqual([user.email]);
  const after = await mailsTo(request, user.email);
  expect(after).toHaveLength(before.length + 1);
  expect(after[after.length - 1].id, 'the sign-in mail is the newest').toBe(mail.id);

  // A wrong code is refused and counted...
  const input = codeInput(page);
  await input.fill(wrongCode(code));
  await expect(codeError(page)).toHaveText('That code is not right. 4 tries left.');
  await expect(input).toHaveAttribute('aria-invalid', 'true');
  await expect(page).toHaveURL(/\/login\/code\?email=/);
  await expectSignedOut(page);

  // ...the right one signs in on its 6th digit: no click.
  await expect(page.getByRole('button', { name: 'Sign in' })).toBeEnabled();
  await input.clear();
  await input.pressSequentially(code, { delay: 50 });
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole('heading', { name: 'Your profile' })).toBeVisible();
  await expectSignedInAs(page, user.username);
  await expect(page.getByTestId('profile-username')).toHaveText(user.username);
  await expect(page.getByTestId('profile-email')).toHaveText(user.email);
  // Sign-up left the address unverified; the code proved it.
  await expect(page.locator('.badge-ok')).toHaveText('verified');
  await expect(page.getByTestId('verify-banner')).toHaveCount(0);
  expect(sessionCookies(await page.context().cookies())).toEqual(expect.arrayContaining(['lk_access', 'lk_refresh']));

  // Stored, not just shown.
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId('profile-email')).toHaveText(user.email);
  await expect(page.locator('.badge-ok')).toHaveText('verified');
  await expectSignedInAs(page, user.username);

  // A signed-in visitor is sent away from the code page.
  await page.goto('/login/code');
  await expect(page).toHaveURL(/\/profile$/);

  // The code works once.
  await page.context().clearCookies();
  await open(page, `/login/code?email=${encodeURIComponent(user.email)}`);
  await expectStepTwo(page, user.email);
  await codeInput(page).pressSequentially(code, { delay: 50 });
  await expect(codeError(page)).toHaveText(EXPIRED);
  await expect(page).toHaveURL(/\/login\/code\?email=/);
  await expectSignedOut(page);
});

test('an address without an account gets the same answer, but no mail and no working code', async ({ page, request }) => {
  const nobody = `${uniqueName('nobody')}@example.com`;

  await open(page, '/login/code');
  await askForCode(page, nobody);

  // The page does not tell that there is no account.
  await expectStepTwo(page, nobody);
  await expect(page.getByRole('alert')).toHaveCount(0);
  await expect(codeError(page)).toBeEmpty();

  // Nothing is sent.
  await page.waitForTimeout(2_000);
  expect(await mailsTo(request, nobody), 'no mail to an address without an account').toEqual([]);

  // A wrong code gets the answer a real account's wrong code gets, tries
  // left included: the address has a code too (a decoy nobody is sent).
  await codeInput(page).pressSequentially('123456', { delay: 50 });
  await expect(codeError(page)).toHaveText('That code is not right. 4 tries left.');
  await expect(codeInput(page)).toHaveAttribute('aria-invalid', 'true');
  await expect(page).toHaveURL(/\/login\/code\?email=/);
  await expectSignedOut(page);
  expect(sessionCookies(await page.context().cookies()), 'no session').toEqual([]);
});

test('asking again within the cooldown is refused, the same for an unknown address', async ({ page, request }) => {
  const user = await existingUser(page);
  await latestMail(request, user.email, { subject: CODE_SUBJECT });
  const before = await mailsTo(request, user.email);

  await open(page, '/login/code');
  await askForCode(page, user.email);
  await expectStepTwo(page, user.email);
  const knownShape = await noticeShape(page, user.email);
  await latestMail(request, user.email, { after: before, subject: SIGNIN_SUBJECT });

  // Back to step 1, and ask for the same address again at once.
  await page.getByRole('link', { name: 'Use a different email' }).click();
  await expect(page).toHaveURL(/\/login\/code$/);
  await askForCode(page, user.email);

  const alert = requestForm(page).getByRole('alert');
  await expect(alert).toHaveText(COOLDOWN);
  const wait = Number(COOLDOWN.exec(((await alert.textContent()) ?? '').trim())![1]);
  expect(wait).toBeGreaterThan(0);
  expect(wait).toBeLessThanOrEqual(60);
  await expect(page).toHaveURL(/\/login\/code$/);
  await expect(page.getByTestId('code-email')).toHaveCount(0);

  // Only the first request sent a code.
  await page.waitForTimeout(1_000);
  const sent = (await mailsTo(request, user.email)).filter((m) => SIGNIN_SUBJECT.test(m.subject.trim()));
  expect(sent, 'one sign-in mail, not two').toHaveLength(1);

  // An address without an account: the same step 2, then the same refusal.
  const nobody = `${uniqueName('nobody')}@example.com`;
  await open(page, '/login/code');
  await askForCode(page, nobody);
  await expectStepTwo(page, nobody);
  expect(await noticeShape(page, nobody), 'the same sentence as for a real account').toBe(knownShape);

  await open(page, '/login/code');
  await askForCode(page, nobody);
  await expect(requestForm(page).getByRole('alert')).toHaveText(COOLDOWN);
  await expect(page).toHaveURL(/\/login\/code$/);
  expect(await mailsTo(request, nobody)).toEqual([]);
});
