import {
  existingUser,
  expect,
  expectSignedInAs,
  newUser,
  open,
  signUp,
  signUpToProfile,
  snap,
  submitSignUp,
  test,
  waitForHydration,
} from './helpers';

test('signing up asks for the emailed code, signed in, and the profile says not verified', async ({ page }) => {
  const user = newUser();
  await signUp(page, user);

  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByRole('heading', { name: 'Confirm your email' })).toBeVisible();
  await expect(page.getByTestId('verify-email')).toHaveText(user.email);
  await expect(page.getByLabel('Code', { exact: true })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Verify email' })).toBeEnabled();
  await expectSignedInAs(page, user.username);

  const names = (await page.context().cookies()).map((c) => c.name);
  expect(names).toEqual(expect.arrayContaining(['lk_access', 'lk_refresh']));
  const access = (await page.context().cookies()).find((c) => c.name === 'lk_access');
  expect(access?.httpOnly, 'the session cookie is HttpOnly').toBe(true);

  // The account exists before the email is confirmed.
  await open(page, '/profile');
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole('heading', { name: 'Your profile' })).toBeVisible();
  await expect(page.getByTestId('profile-username')).toHaveText(user.username);
  await expect(page.getByTestId('profile-email')).toHaveText(user.email);
  await expect(page.locator('.badge-ok')).toHaveCount(0);
  await expect(page.getByTestId('verify-banner')).toBeVisible();
  await expectSignedInAs(page, user.username);
  await snap(page, 'profile');
});

test('sign-up shows each problem under its own field', async ({ page }) => {
  const taken = await existingUser(page);

  // Email already registered.
  // Every value a script of the page stores, copied where a new page can
  // still read it: nothing typed here, a password least of all.
  await page.addInitScript(() => {
    const setItem = Storage.prototype.setItem;
    Storage.prototype.setItem = function (key: string, value: string) {
      if (this === window.sessionStorage) {
        localStorage.setItem('test-writes', (localStorage.getItem('test-writes') ?? '') + `${key}=${value}\n`);
      }
      return setItem.call(this, key, value);
    };
  });
  await open(page, '/signup');
  const tried = { ...newUser(), email: taken.email };
  await page.getByLabel('Password', { exact: true }).fill(tried.password);
  await page.getByRole('button', { name: 'Show password' }).click();
  await submitSignUp(page, tried);
  await expect(page.locator('#field-email-error')).toContainText('already exists');
  await expect(page.getByLabel('Email', { exact: true })).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#field-username-error')).toBeEmpty();
  await expect(page.locator('#field-password-error')).toBeEmpty();
  // The error came back as a new page: what was typed is still there (the
  // password is not kept), and the address is clean again.
  await expect(page.getByLabel('Email', { exact: true })).toHaveValue(tried.email);
  await expect(page.getByLabel('Username', { exact: true })).toHaveValue(tried.username);
  await expect(page.getByLabel('Password', { exact: true })).toHaveValue('');
  await expect(page).toHaveURL(/\/signup$/);
  expect(await page.evaluate(() => Object.keys(sessionStorage)), 'kept values go once used').toEqual([]);
  const writes = (await page.evaluate(() => localStorage.getItem('test-writes'))) ?? '';
  // The server drew the fields again (`ssr::kept`); the tab's storage
  // holds none of what was typed.
  expect(writes, 'the script wrote its entry for the form, holding no values').toMatch(/latchkey-kept:\/fn\/signup=\d+\|\n/);
  expect(writes, 'the server, not the script, kept the form').not.toContain(encodeURIComponent(tried.username));
  // (Form-encoded, a space becomes `+`: look for each word.)
  for (const word of tried.password.split(/\s+/)) {
    expect(writes, 'a password shown as text is still not kept').not.toContain(word);
  }
  await snap(page, 'signup-errors');

  // Username already taken (the email is new).
  await open(page, '/signup');
  await submitSignUp(page, { ...newUser(), username: taken.username });
  await expect(page.locator('#field-username-error')).toContainText('taken');
  await expect(page.getByLabel('Username', { exact: true })).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#field-email-error')).toBeEmpty();
  await expect(page).toHaveURL(/\/signup$/);

  // Password too short.
  await open(page, '/signup');
  await submitSignUp(page, { ...newUser(), password: 'short1' });
  await expect(page.locator('#field-password-error')).toHaveText(/at least \d+ characters/i);
  await expect(page.getByLabel('Password', { exact: true })).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#field-email-error')).toBeEmpty();
  await expect(page.locator('#field-username-error')).toBeEmpty();
  await expect(page).toHaveURL(/\/signup$/);

  // None of this signed anyone in.
  const names = (await page.context().cookies()).map((c) => c.name);
  expect(names).not.toContain('lk_access');
});

test('the session survives a reload and the server renders the user', async ({ page }) => {
  const user = await signUpToProfile(page);

  // The request shares the browser's cookies: this is the raw SSR HTML.
  const response = await page.request.get('/profile', { maxRedirects: 0 });
  expect(response.status()).toBe(200);
  const html = await response.text();
  expect(html).toContain(user.username);
  expect(html).toContain(user.email);
  expect(html).toContain('data-testid="profile-username"');
  expect(html).toContain('data-testid="nav-user"');

  await page.reload();
  await waitForHydration(page);
  await expect(page).toHaveURL(/\/profile$/);
  await expectSignedInAs(page, user.username);
  await expect(page.getByTestId('profile-username')).toHaveText(user.username);
});
