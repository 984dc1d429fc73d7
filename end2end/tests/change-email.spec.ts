import type { Locator, Page } from '@playwright/test';

import {
  CHANGE_EMAIL_SUBJECT,
  CODE_SUBJECT,
  LOGIN_FAILED,
  codeError,
  codeInput,
  existingUser,
  expect,
  expectSignedInAs,
  expectSignedOut,
  header,
  latestCode,
  latestMail,
  mailsTo,
  open,
  otherBrowser,
  signUpToProfile,
  snap,
  submitLogin,
  test,
  uniqueName,
  waitForHydration,
} from './helpers';

// Changing the account's email (/email, signed in only): step 1 takes the new
// address and the current password and mails a code to the new address;
// step 2 (/email?new=…) takes the code, and only then does the address
// change. The old address is then mailed a link that undoes it. JavaScript on.

/** Subject of the notice mailed to the old address after a change. */
const CHANGED_SUBJECT = /^The email address of your Latchkey account was changed$/;

function heading(page: Page): Locator {
  return page.getByRole('heading', { name: 'Change your email' });
}

function newEmailInput(page: Page): Locator {
  return page.getByLabel('New email', { exact: true });
}

function newEmailError(page: Page): Locator {
  return page.locator('#field-new_email-error');
}

function passwordInput(page: Page): Locator {
  return page.getByLabel('Current password', { exact: true });
}

/** Fills step 1 with `address` and `password` and submits it. */
async function askForCode(page: Page, address: string, password: string): Promise<void> {
  await expect(heading(page)).toBeVisible();
  const button = page.getByRole('button', { name: 'Send code' });
  await expect(button).toBeEnabled();
  await newEmailInput(page).fill(address);
  await passwordInput(page).fill(password);
  await button.click();
}

/** Changes the signed-in user's address to `address` through both steps. */
async function changeEmail(
  page: Page,
  request: Parameters<typeof latestCode>[0],
  address: string,
  password: string,
): Promise<void> {
  await open(page, '/email');
  await askForCode(page, address, password);
  await expectStepTwo(page, address);
  const code = await latestCode(request, address, { subject: CHANGE_EMAIL_SUBJECT });
  await codeInput(page).pressSequentially(code, { delay: 50 });
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByTestId('profile-email')).toHaveText(address);
}

/** The "this wasn't me" link in the newest change notice to `to`. */
async function undoLink(request: Parameters<typeof latestMail>[0], to: string): Promise<string> {
  const notice = await latestMail(request, to, { subject: CHANGED_SUBJECT });
  const link = /https?:\/\/\S+\/email\/revert\?token=[A-Za-z0-9_-]+/.exec(notice.text ?? '');
  expect(link, 'the notice carries the undo link').not.toBeNull();
  return new URL(link![0]).pathname + new URL(link![0]).search;
}

/** Expects step 2 for `address`: the URL carries it, the page names it, the code field waits. */
async function expectStepTwo(page: Page, address: string): Promise<void> {
  await expect(page).toHaveURL(/\/email\?new=/);
  expect(new URL(page.url()).searchParams.get('new'), 'the address in the URL').toBe(address);
  await expect(heading(page)).toBeVisible();
  await expect(page.getByTestId('new-email')).toHaveText(address);
  await expect(page.locator('p').filter({ has: page.getByTestId('new-email') })).toContainText(
    `We sent a 6-digit code to ${address}.`,
  );
  await expect(codeInput(page)).toHaveAttribute('id', 'field-code');
  await expect(codeInput(page)).toHaveValue('');
  await expect(page.getByRole('button', { name: 'Change email' })).toBeEnabled();
  await expect(newEmailInput(page)).toHaveCount(0);
}

async function logOut(page: Page): Promise<void> {
  await header(page).getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expectSignedOut(page);
}

/** Logs in from a fresh /login and expects the profile of `username`. */
async function logIn(page: Page, login: string, password: string, username: string): Promise<void> {
  await open(page, '/login');
  await submitLogin(page, login, password);
  await expect(page).toHaveURL(/\/profile$/);
  await expectSignedInAs(page, username);
}

test('a code mailed to the new address changes the email, verified, and the new address logs in', async ({
  page,
  request,
}) => {
  const user = await signUpToProfile(page);
  await expect(page.getByTestId('profile-email')).toHaveText(user.email);
  await expect(page.locator('.badge-ok')).toHaveCount(0);
  await latestMail(request, user.email, { subject: CODE_SUBJECT });
  const oldMails = await mailsTo(request, user.email);

  // The profile links to the page, next to the address.
  const change = page.getByRole('link', { name: 'Change', exact: true });
  await expect(change).toHaveAttribute('href', '/email');
  await change.click();
  await expect(page).toHaveURL(/\/email$/);

  // Step 1.
  await expect(heading(page)).toBeVisible();
  await expect(newEmailInput(page)).toHaveAttribute('id', 'field-new_email');
  await expect(newEmailInput(page)).toHaveAttribute('name', 'new_email');
  await expect(newEmailInput(page)).toHaveValue('');
  await expect(newEmailError(page)).toBeEmpty();
  await expect(passwordInput(page)).toHaveAttribute('autocomplete', 'current-password');
  await expect(codeInput(page)).toHaveCount(0);
  await snap(page, 'change-email');

  const newEmail = `${uniqueName('n')}@example.com`;
  // A stolen session alone cannot start a change: the password is asked for.
  await askForCode(page, newEmail, 'not the password at all');
  await expect(page.locator('#field-password-error')).toHaveText('That is not your current password.');
  await expect(page).toHaveURL(/\/email$/);
  expect(await mailsTo(request, newEmail), 'no code without the password').toHaveLength(0);
  await askForCode(page, newEmail, user.password);

  // Step 2.
  await expectStepTwo(page, newEmail);
  await expect(codeError(page)).toBeEmpty();
  await snap(page, 'change-email-sent');

  // The code goes to the new address, and only there.
  const mail = await latestMail(request, newEmail, { subject: CHANGE_EMAIL_SUBJECT });
  const code = CHANGE_EMAIL_SUBJECT.exec(mail.subject.trim())![1];
  expect(mail.text ?? '', 'the text body carries the code').toContain(code);
  expect(mail.to.map((t) => t.address.toLowerCase())).toEqual([newEmail]);
  expect(await mailsTo(request, newEmail)).toHaveLength(1);
  expect(await mailsTo(request, user.email), 'nothing to the old address yet').toHaveLength(oldMails.length);

  // Nothing changes before the code is entered.
  const peek = await page.context().newPage();
  await peek.goto('/profile');
  await expect(peek.getByTestId('profile-email')).toHaveText(user.email);
  await peek.close();

  // The 6th digit submits: no click.
  await codeInput(page).pressSequentially(code, { delay: 50 });
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole('heading', { name: 'Your profile' })).toBeVisible();
  await expect(page.getByTestId('profile-email')).toHaveText(newEmail);
  // The code proved the new address.
  await expect(page.locator('.badge-ok')).toHaveText('verified');
  await expect(page.getByTestId('verify-banner')).toHaveCount(0);
  await expectSignedInAs(page, user.username);
  // The old address was never verified (it may have been someone else's):
  // it gets no power to undo the change.
  await page.waitForTimeout(500);
  expect(
    (await mailsTo(request, user.email)).filter((m) => CHANGED_SUBJECT.test(m.subject?.trim() ?? '')),
    'no undo link for an address never verified',
  ).toHaveLength(0);

  // Stored, not just shown.
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId('profile-email')).toHaveText(newEmail);
  await expect(page.locator('.badge-ok')).toHaveText('verified');

  // The new address logs in with the same password...
  await logOut(page);
  await logIn(page, newEmail, user.password, user.username);
  await expect(page.getByTestId('profile-email')).toHaveText(newEmail);

  // ...and the old one no longer names the account.
  await logOut(page);
  await open(page, '/login');
  await submitLogin(page, user.email, user.password);
  await expect(page.getByRole('alert')).toHaveText(LOGIN_FAILED);
  await expect(page).toHaveURL(/\/login$/);
  await expectSignedOut(page);
});

test('the current address is refused under the field, whatever its case', async ({ page, request }) => {
  const user = await signUpToProfile(page);
  await latestMail(request, user.email, { subject: CODE_SUBJECT });
  const mailsBefore = await mailsTo(request, user.email);

  for (const address of [user.email, user.email.toUpperCase()]) {
    await open(page, '/email');
    await askForCode(page, address, user.password);
    await expect(newEmailError(page)).toHaveText('That is already your email.');
    await expect(newEmailInput(page)).toHaveAttribute('aria-invalid', 'true');
    await expect(page).toHaveURL(/\/email$/);
    await expect(page.getByTestId('new-email')).toHaveCount(0);
    await expect(codeInput(page)).toHaveCount(0);
  }

  // No code was sent.
  await page.waitForTimeout(1_000);
  expect(await mailsTo(request, user.email)).toHaveLength(mailsBefore.length);
});

test("another account's address is refused once the code is entered", async ({ page, request }) => {
  const other = await existingUser(page);
  await latestMail(request, other.email, { subject: CODE_SUBJECT });
  const otherMails = await mailsTo(request, other.email);
  const user = await signUpToProfile(page);

  await open(page, '/email');
  await askForCode(page, other.email, user.password);
  await expectStepTwo(page, other.email);

  // The code reaches the address (the other account's inbox) all the same.
  const code = await latestCode(request, other.email, { after: otherMails, subject: CHANGE_EMAIL_SUBJECT });
  await codeInput(page).pressSequentially(code, { delay: 50 });

  await expect(page.getByText(/already exists/).filter({ visible: true }).first()).toBeVisible();
  await expect(page).toHaveURL(/\/email\?new=/);

  // Neither account changed.
  await open(page, '/profile');
  await expect(page.getByTestId('profile-email')).toHaveText(user.email);
  await expect(page.locator('.badge-ok')).toHaveCount(0);
  await expectSignedInAs(page, user.username);

  await logOut(page);
  await logIn(page, other.email, other.password, other.username);
  await expect(page.getByTestId('profile-email')).toHaveText(other.email);
});

test("the old address's link undoes a change: the address comes back and every device is signed out", async ({
  page,
  request,
  browser,
}) => {
  // The owner's verified account; the intruder's browser is signed in to
  // it, knows the password, and moves it.
  const user = await signUpToProfile(page);
  const verifyCode = await latestCode(request, user.email);
  const verified = await page.request.post('/api/v1/me/email/verify', { data: { code: verifyCode } });
  expect(verified.status(), await verified.text()).toBe(200);
  const intruder = `${uniqueName('x')}@example.com`;
  await changeEmail(page, request, intruder, user.password);

  // The owner opens the link from their mailbox on another device.
  const owner = await otherBrowser(browser);
  await open(owner.page, await undoLink(request, user.email));
  await expect(owner.page.getByRole('heading', { name: 'Undo the email change' })).toBeVisible();
  await expect(owner.page.locator('main')).toContainText(`from ${user.email} to ${intruder}`);
  await snap(owner.page, 'revert-email');
  // One keyboard press does it.
  const undo = owner.page.getByRole('button', { name: "This wasn't me: undo it" });
  await undo.focus();
  await owner.page.keyboard.press('Enter');
  await expect(owner.page).toHaveURL(/\/email\/revert\?done=1$/);
  await expect(owner.page.getByTestId('revert-done')).toContainText('Your old address is your account\'s again');
  await snap(owner.page, 'revert-email-done');

  // The intruder's session is over, and the password they knew opens nothing.
  await page.goto('/profile');
  await expect(page).toHaveURL(/\/login$/);
  await submitLogin(page, user.email, user.password);
  await expect(page.getByRole('alert')).toHaveText(LOGIN_FAILED);

  // The owner gets back in with a code to the restored address.
  await owner.page.getByRole('link', { name: 'Sign in with a code' }).click();
  await expect(owner.page).toHaveURL(/\/login\/code/);
  await owner.page.getByLabel('Email', { exact: true }).fill(user.email);
  await owner.page.getByRole('button', { name: 'Email me a code' }).click();
  const code = await latestCode(request, user.email, { subject: /^(\d{6}) is your Latchkey sign-in code$/ });
  await codeInput(owner.page).pressSequentially(code, { delay: 50 });
  await expect(owner.page).toHaveURL(/\/profile/);
  await expect(owner.page.getByTestId('profile-email')).toHaveText(user.email);

  // The link worked once.
  await open(owner.page, await undoLink(request, user.email));
  await expect(owner.page.getByRole('heading', { name: "This link can't be used" })).toBeVisible();
  await expect(owner.page.getByTestId('revert-link-error')).toContainText('already used');
  await owner.context.close();
});
