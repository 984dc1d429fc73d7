import type { Locator, Page } from '@playwright/test';

import {
  CODE_SUBJECT,
  expect,
  expectSignedInAs,
  latestCode,
  latestMail,
  mailsTo,
  open,
  signUp,
  signUpToProfile,
  snap,
  test,
  waitForHydration,
  wrongCode,
} from './helpers';

// Email verification: sign-up mails a 6-digit code over real SMTP (MailDev,
// see playwright.config.ts); /verify takes it. JavaScript on; the no-JS path
// is in nojs.spec.ts.

function codeInput(page: Page): Locator {
  return page.getByLabel('Code', { exact: true });
}

function codeError(page: Page): Locator {
  return page.locator('#field-code-error');
}

/** The "Verify email" button; while a check runs it reads "Checking…" and does not match. */
function verifyButton(page: Page): Locator {
  return page.getByRole('button', { name: 'Verify email' });
}

/** The second form on /verify: "Send a new code". */
function resendForm(page: Page): Locator {
  return page.locator('form').filter({ has: page.getByRole('button', { name: /^Send a new code/ }) });
}

function resendButton(page: Page): Locator {
  return resendForm(page).getByRole('button', { name: /^Send a new code/ });
}

/** The N of "Send a new code in N s". */
async function countdown(button: Locator): Promise<number> {
  const text = (await button.textContent())?.trim() ?? '';
  const match = /^Send a new code in (\d+) s$/.exec(text);
  if (!match) throw new Error(`the resend button shows no countdown: ${JSON.stringify(text)}`);
  return Number(match[1]);
}

test('the mailed code verifies the email as soon as its 6th digit is typed', async ({ page, request }) => {
  const user = await signUp(page);
  await waitForHydration(page);

  const input = codeInput(page);
  await expect(input).toHaveAttribute('id', 'field-code');
  await expect(input).toHaveAttribute('name', 'code');
  await expect(input).toHaveAttribute('inputmode', 'numeric');
  await expect(input).toHaveAttribute('autocomplete', 'one-time-code');
  await expect(input).toHaveAttribute('maxlength', '6');
  await expect(input).toHaveValue('');
  await expect(codeError(page)).toBeEmpty();
  await expect(verifyButton(page)).toBeEnabled();
  await snap(page, 'verify');

  // Sign-up sent exactly one mail, over SMTP, with the code in subject and body.
  const mail = await latestMail(request, user.email);
  expect(mail.subject).toMatch(CODE_SUBJECT);
  const code = await latestCode(request, user.email);
  expect(code).toMatch(/^\d{6}$/);
  expect(mail.text ?? '', 'the text body carries the code').toContain(code);
  expect(mail.from.map((f) => f.address)).toEqual(['no-reply@latchkey.test']);
  expect(await mailsTo(request, user.email)).toHaveLength(1);

  // Five digits are not enough to submit...
  await input.pressSequentially(code.slice(0, 5), { delay: 50 });
  await page.waitForTimeout(500);
  await expect(page).toHaveURL(/\/verify$/);
  await expect(codeError(page)).toBeEmpty();

  // ...the sixth submits by itself: no click.
  await input.pressSequentially(code.slice(5), { delay: 50 });
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole('heading', { name: 'Your profile' })).toBeVisible();
  await expect(page.locator('.badge-ok')).toHaveText('verified');
  await expect(page.getByTestId('verify-banner')).toHaveCount(0);
  await expectSignedInAs(page, user.username);
  await snap(page, 'profile-verified');

  // Stored, not just shown.
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator('.badge-ok')).toHaveText('verified');
  await expect(page.getByTestId('verify-banner')).toHaveCount(0);

  // /verify now has nothing to ask.
  await open(page, '/verify');
  await expect(page.getByRole('heading', { name: 'Confirm your email' })).toBeVisible();
  await expect(page.getByText('Your email is verified.')).toBeVisible();
  await expect(codeInput(page)).toHaveCount(0);
  const back = page.getByRole('link', { name: 'Go to your profile' });
  await expect(back).toHaveAttribute('href', '/profile');
  await back.click();
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.locator('.badge-ok')).toHaveText('verified');
});

test('wrong codes count down the tries, then the code is dead', async ({ page, request }) => {
  const user = await signUp(page);
  await waitForHydration(page);
  const code = await latestCode(request, user.email);
  const bad = wrongCode(code);
  const input = codeInput(page);
  const error = codeError(page);

  /** Types a full code (which submits it) and waits for the answer. */
  async function enter(value: string, answer: string): Promise<void> {
    await expect(verifyButton(page), 'the previous check has finished').toBeEnabled();
    await input.clear();
    await input.fill(value);
    await expect(error).toHaveText(answer);
  }

  await enter(bad, 'That code is not right. 4 tries left.');
  await expect(input).toHaveAttribute('aria-invalid', 'true');
  await expect(page).toHaveURL(/\/verify$/);
  await snap(page, 'verify-error');

  await enter(bad, 'That code is not right. 3 tries left.');
  await enter(bad, 'That code is not right. 2 tries left.');
  await enter(bad, 'That code is not right. 1 try left.');
  await enter(bad, 'Too many wrong tries: this code no longer works. Send a new one.');

  // Even the right code no longer works.
  await enter(code, 'This code has expired or was already used. Send a new one.');
  await expect(page).toHaveURL(/\/verify$/);

  await open(page, '/profile');
  await expect(page.locator('.badge-ok')).toHaveCount(0);
  await expect(page.getByTestId('verify-banner')).toBeVisible();
});

test('right after sign-up, "Send a new code" waits, counting down', async ({ page }) => {
  await signUp(page);
  await waitForHydration(page);

  const button = resendButton(page);
  await expect(button).toBeDisabled();
  await expect(button).toHaveText(/^Send a new code in \d+ s$/);
  const first = await countdown(button);
  expect(first).toBeGreaterThan(0);
  expect(first).toBeLessThanOrEqual(60);

  // It counts down on screen (once hydrated), and stays disabled meanwhile.
  await expect.poll(() => countdown(button), { timeout: 5_000 }).toBeLessThan(first);
  await expect(button).toBeDisabled();

  // The server renders the same wait on a fresh load.
  await page.reload();
  await waitForHydration(page);
  await expect(resendButton(page)).toBeDisabled();
  await expect(resendButton(page)).toHaveText(/^Send a new code in \d+ s$/);
  expect(await countdown(resendButton(page))).toBeLessThan(first);
});

test('the server itself refuses a new code during the cooldown', async ({ page, request }) => {
  const user = await signUp(page);
  await waitForHydration(page);
  await latestMail(request, user.email);

  // Submit the form although its button is disabled (a stale page would).
  const form = resendForm(page);
  await expect(resendButton(page)).toBeDisabled();
  await form.evaluate((f) => (f as HTMLFormElement).requestSubmit());

  await expect(form.getByRole('alert')).toHaveText(/^A code was just sent\. You can ask for another in \d+ s\.$/);
  await expect(form.locator('[role=status]')).not.toContainText('We sent a new code.');
  expect(await mailsTo(request, user.email), 'no second mail').toHaveLength(1);
});

test('the profile of an unverified user links to /verify', async ({ page }) => {
  const user = await signUpToProfile(page);

  const banner = page.getByTestId('verify-banner');
  await expect(banner).toBeVisible();
  await expect(page.locator('.badge-ok')).toHaveCount(0);
  const link = banner.getByRole('link', { name: 'Enter your code' });
  await expect(link).toHaveAttribute('href', '/verify');

  await link.click();
  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByRole('heading', { name: 'Confirm your email' })).toBeVisible();
  await expect(page.getByTestId('verify-email')).toHaveText(user.email);
});

test('/verify is only for signed-in users', async ({ page }) => {
  const response = await page.goto('/verify');
  await expect(page).toHaveURL(/\/login\?next=%2Fverify$/);
  await expect(page.getByRole('heading', { name: 'Welcome back' })).toBeVisible();
  expect(response?.ok(), 'the redirect ends on a page that loads').toBe(true);
});
