import { expect, expectSignedOut, header, latestCode, latestMail, makeAdmin, newUser, snap, submitSignUp, test, uniqueName } from './helpers';

// Runs in the "no-js" project only: every form must work as a plain HTML
// POST followed by a redirect.

test('signing up, verifying the email and logging out work without JavaScript', { tag: '@nojs' }, async ({ page, request }) => {
  expect(test.info().project.use.javaScriptEnabled, 'this test must run with JavaScript off').toBe(false);
  const user = newUser();

  await page.goto('/signup');
  await expect(page.getByRole('heading', { name: 'Create your account' })).toBeVisible();
  await snap(page, 'signup-nojs');

  await submitSignUp(page, user);
  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByRole('heading', { name: 'Confirm your email' })).toBeVisible();
  await expect(page.getByTestId('verify-email')).toHaveText(user.email);
  await expect(page.getByTestId('nav-user')).toContainText(user.username);
  // The server renders the cooldown: no new code for a while.
  const resend = page.getByRole('button', { name: /^Send a new code/ });
  await expect(resend).toBeDisabled();
  await expect(resend).toHaveText(/^Send a new code in \d+ s$/);
  await snap(page, 'verify-nojs');

  // No auto-submit without JavaScript: type the mailed code and press the button.
  const code = await latestCode(request, user.email);
  await page.getByLabel('Code', { exact: true }).fill(code);
  await page.getByRole('button', { name: 'Verify email' }).click();

  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole('heading', { name: 'Your profile' })).toBeVisible();
  await expect(page.getByTestId('profile-username')).toHaveText(user.username);
  await expect(page.getByTestId('profile-email')).toHaveText(user.email);
  await expect(page.locator('.badge-ok')).toHaveText('verified');
  await expect(page.getByTestId('verify-banner')).toHaveCount(0);
  await expect(page.getByTestId('nav-user')).toContainText(user.username);
  await snap(page, 'profile-nojs');

  await header(page).getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('heading', { name: 'Welcome back' })).toBeVisible();
  await expectSignedOut(page);

  await page.goto('/profile');
  await expect(page).toHaveURL(/\/login$/);
});

test('form errors are shown without JavaScript', { tag: '@nojs' }, async ({ page }) => {
  await page.goto('/login');
  await page.getByLabel('Email or username').fill('nobody-here');
  await page.getByLabel('Password', { exact: true }).fill('wrong password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/login/);
  await expect(page.getByRole('alert')).toHaveText('Incorrect email, username or password.');
  // What was typed is back (the server drew it), the password is not.
  await expect(page.getByLabel('Email or username')).toHaveValue('nobody-here');
  await expect(page.getByLabel('Password', { exact: true })).toHaveValue('');
  // The keyboard starts where the next thing to type is.
  await expect(page.getByLabel('Password', { exact: true })).toBeFocused();
  await snap(page, 'login-error-nojs');
});

test('a refused sign-up shows again what was typed, never the password, without JavaScript', { tag: '@nojs' }, async ({ page }) => {
  const user = { ...newUser(), password: 'shortpw' };
  await page.goto('/signup');
  await submitSignUp(page, user);
  await expect(page).toHaveURL(/\/signup\?/);
  await expect(page.locator('#field-password-error')).toHaveText('Use at least 8 characters.');
  await expect(page.getByLabel('Email', { exact: true })).toHaveValue(user.email);
  await expect(page.getByLabel('Username', { exact: true })).toHaveValue(user.username);
  await expect(page.getByLabel('Password', { exact: true })).toHaveValue('');
  expect(await page.content(), 'the password is nowhere in the page').not.toContain(user.password);
  // Kept only for the page that showed the refusal.
  expect((await page.context().cookies()).map((c) => c.name)).not.toContain('lk_kept');
  await page.goto('/signup');
  await expect(page.getByLabel('Email', { exact: true })).toHaveValue('');
});

test('a password reset works without JavaScript', { tag: '@nojs' }, async ({ page, request }) => {
  const user = await (async () => {
    const u = newUser();
    await page.goto('/signup');
    await submitSignUp(page, u);
    await expect(page).toHaveURL(/\/verify$/);
    await page.context().clearCookies();
    return u;
  })();

  await page.goto('/forgot');
  await page.getByLabel('Email', { exact: true }).fill(user.email);
  await page.getByRole('button', { name: 'Send reset link' }).click();
  await expect(page).toHaveURL(/\/forgot\?sent=/);
  await expect(page.getByTestId('reset-sent')).toContainText(user.email);

  const mail = await latestMail(request, user.email, { subject: /^Reset your Latchkey password$/ });
  const link = new URL(mail.text!.match(/https?:\/\/\S+?\/reset\?token=[A-Za-z0-9_-]{43}/)![0]);
  await page.goto(link.pathname + link.search);
  await page.getByLabel('New password', { exact: true }).fill('short');
  await page.getByLabel('Repeat the new password', { exact: true }).fill('short');
  await page.getByRole('button', { name: 'Set new password' }).click();
  await expect(page.locator('#field-password-error')).toHaveText('Use at least 8 characters.');
  await expect(page).toHaveURL(/\/reset\?/);

  await page.getByLabel('New password', { exact: true }).fill('plum nebula quietly sings');
  await page.getByLabel('Repeat the new password', { exact: true }).fill('plum nebula quietly sings');
  await page.getByRole('button', { name: 'Set new password' }).click();
  await expect(page).toHaveURL(/\/profile\?changed=password$/);
  await expect(page.getByTestId('password-changed')).toBeVisible();
  await expect(page.getByTestId('nav-user')).toContainText(user.username);
});

test('an administrator registers an app and sees its secret once without JavaScript', { tag: '@nojs' }, async ({ page }) => {
  expect(test.info().project.use.javaScriptEnabled, 'this test must run with JavaScript off').toBe(false);
  const admin = newUser();
  await page.goto('/signup');
  await submitSignUp(page, admin);
  await expect(page).toHaveURL(/\/verify$/);
  await makeAdmin(page, admin);
  const name = uniqueName('Diary-');
  await page.goto('/admin/apps/new');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Redirect URIs').fill('https://calendar.example.com/callback');
  await page.getByRole('button', { name: 'Register app' }).click();
  await expect(page.getByTestId('app-name')).toHaveText(name);
  await expect(page.getByTestId('app-secret')).toHaveText(/^\S{40,}$/);
  await snap(page, 'admin-app-registered-nojs');
  // A new secret replaces it, shown once too.
  const first = await page.getByTestId('app-secret').textContent();
  await page.reload();
  await expect(page.getByTestId('app-secret')).toHaveCount(0);
  await page.getByRole('button', { name: 'Make a new secret' }).click();
  await expect(page.getByTestId('admin-done')).toContainText('new secret');
  await expect(page.getByTestId('app-secret')).toHaveText(/^\S{40,}$/);
  await expect(page.getByTestId('app-secret')).not.toHaveText(first ?? '');
  // Deleting asks for the name.
  await page.getByLabel(`Type ${name} to confirm`).fill(name.toLowerCase());
  await page.getByRole('button', { name: `Delete ${name}` }).click();
  await expect(page.locator('#field-confirm-error')).toHaveText("Type the app's name exactly as shown.");
  await page.getByLabel(`Type ${name} to confirm`).fill(name);
  await page.getByRole('button', { name: `Delete ${name}` }).click();
  await expect(page).toHaveURL(/\/admin\/apps\?deleted$/);
  await expect(page.getByTestId('admin-done')).toHaveText('The app was deleted; its tokens stop working.');
  await expect(page.getByTestId('app-row').filter({ hasText: name })).toHaveCount(0);
});
