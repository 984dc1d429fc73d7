import type { Page } from '@playwright/test';

import {
  codeError,
  codeInput,
  expect,
  expectSignedInAs,
  latestCode,
  latestMail,
  mailsTo,
  newUser,
  open,
  otherBrowser,
  snap,
  submitSignUp,
  test,
  wrongCode,
} from './helpers';
import { HIDING_URL } from './servers';

// SIGNUP_HIDE_EXISTING=true (a second server, tests/servers.ts): sign-up
// answers a taken address exactly like a free one, the owner is told by
// mail, and a code mailed to a free address finishes the sign-up in the
// browser that started it. JavaScript on.

const FINISH_SUBJECT = /^(\d{6}) is your Latchkey code to finish signing up$/;
const EXISTING_SUBJECT = /^You already have a Latchkey account$/;

/** Signs `user` up on the hiding server and expects the code step. */
async function signUpQuietly(page: Page, user: ReturnType<typeof newUser>): Promise<void> {
  await open(page, `${HIDING_URL}/signup`);
  await submitSignUp(page, user);
  await expect(page).toHaveURL(/\/signup\/code\?email=/);
  await expect(page.getByRole('heading', { name: 'Finish signing up' })).toBeVisible();
  await expect(page.getByTestId('signup-email')).toHaveText(user.email);
  await expect(codeInput(page)).toBeVisible();
}

test('a free address finishes signing up with the mailed code, a taken one looks the same', async ({
  page,
  request,
  browser,
}) => {
  const user = newUser();
  await signUpQuietly(page, user);
  await snap(page, 'signup-code');
  const code = await latestCode(request, user.email, { subject: FINISH_SUBJECT });

  // A wrong code first: counted, and answered like any wrong code.
  await codeInput(page).pressSequentially(wrongCode(code), { delay: 30 });
  await expect(codeError(page)).toContainText('4 tries left');
  const freeWrong = await codeError(page).textContent();
  await codeInput(page).fill('');
  await codeInput(page).pressSequentially(code, { delay: 30 });
  await expect(page).toHaveURL(/\/profile$/);
  await expectSignedInAs(page, user.username);
  await expect(page.locator('.badge-ok')).toHaveText('verified');

  // Someone else signs up with the same address: the same screen, the same
  // answer to a code, and the owner gets a note instead of a code.
  const stranger = await otherBrowser(browser);
  const before = await mailsTo(request, user.email);
  await page.waitForTimeout(1_100); // this server's resend cooldown
  await signUpQuietly(stranger.page, { ...newUser(), email: user.email });
  const note = await latestMail(request, user.email, { after: before, subject: EXISTING_SUBJECT });
  expect(note.text ?? '').toContain('/forgot');
  await codeInput(stranger.page).pressSequentially(wrongCode(code), { delay: 30 });
  await expect(codeError(stranger.page)).toHaveText(freeWrong ?? '');
  await snap(stranger.page, 'signup-code-taken');
  expect((await mailsTo(request, user.email)).filter((m) => FINISH_SUBJECT.test(m.subject?.trim() ?? ''))).toHaveLength(1);
  await stranger.context.close();
});
