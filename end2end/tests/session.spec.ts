import {
  LOGIN_FAILED,
  existingUser,
  expect,
  expectSignedInAs,
  expectSignedOut,
  header,
  open,
  signUp,
  signUpToProfile,
  snap,
  submitLogin,
  test,
  uniqueName,
  waitForHydration,
} from './helpers';

test('logging out signs the user out everywhere', async ({ page }) => {
  await signUp(page);

  await header(page).getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('heading', { name: 'Welcome back' })).toBeVisible();
  await expectSignedOut(page);

  const cookies = await page.context().cookies();
  const left = cookies.filter((c) => c.name.startsWith('lk_') && c.name !== 'lk_device' && c.value !== '');
  expect(left, 'session cookies are cleared').toEqual([]);
  // The device cookie stays: this browser remains known to the account, so
  // a stranger throttling its log-in does not lock its owner out.
  expect(cookies.map((c) => c.name)).toContain('lk_device');

  // The profile is no longer reachable.
  await page.goto('/profile');
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('heading', { name: 'Welcome back' })).toBeVisible();
  await expectSignedOut(page);
});

test('logging in with the username opens the profile', async ({ page }) => {
  const user = await existingUser(page);

  await open(page, '/login');
  await expectSignedOut(page);
  await submitLogin(page, user.username, user.password);
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByTestId('profile-username')).toHaveText(user.username);
  await expect(page.getByTestId('profile-email')).toHaveText(user.email);
  await expectSignedInAs(page, user.username);

  // A signed-in visitor is sent away from the log-in page.
  await page.goto('/login');
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole('heading', { name: 'Your profile' })).toBeVisible();
});

test('logging in with the email ignores its case', async ({ page }) => {
  const user = await existingUser(page);

  await open(page, '/login');
  await submitLogin(page, user.email.toUpperCase(), user.password);
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByTestId('profile-email')).toHaveText(user.email);
  await expectSignedInAs(page, user.username);
});

test('a wrong password and an unknown account get the same answer', async ({ page }) => {
  const user = await existingUser(page);

  await open(page, '/login');
  await submitLogin(page, user.username, 'not the right password at all');
  const alert = page.getByRole('alert');
  await expect(alert).toHaveText(LOGIN_FAILED);
  await expect(alert).toHaveClass(/form-alert/);
  await expect(page).toHaveURL(/\/login$/);
  await expectSignedOut(page);
  const wrongPassword = (await alert.textContent())?.trim();
  await snap(page, 'login-error');

  await open(page, '/login');
  await expect(page.getByRole('alert')).toHaveCount(0);
  await submitLogin(page, `${uniqueName('nobody')}@example.com`, user.password);
  await expect(page.getByRole('alert')).toHaveText(LOGIN_FAILED);
  const unknownAccount = (await page.getByRole('alert').textContent())?.trim();
  expect(unknownAccount).toBe(wrongPassword);
  await expect(page).toHaveURL(/\/login$/);
  await expectSignedOut(page);

  const names = (await page.context().cookies()).map((c) => c.name);
  expect(names).not.toContain('lk_access');
});

test('a form is posted once while its answer is on the way', async ({ page }) => {
  // Two submits of one form, as a double click makes them (synthetic events
  // post nothing, so the answer of each is read without any navigation).
  const submitTwice = (action: string) =>
    page.evaluate((action) => {
      const form = document.querySelector<HTMLFormElement>(`form[action="${action}"]`)!;
      const submit = () => {
        const event = new Event('submit', { bubbles: true, cancelable: true });
        form.dispatchEvent(event);
        return event.defaultPrevented ? 'held back' : 'posted';
      };
      return [submit(), form.getAttribute('aria-busy'), submit()];
    }, action);

  // A form with a `Submit` button…
  await open(page, '/login');
  expect(await submitTwice('/fn/login')).toEqual(['posted', 'true', 'held back']);
  // …and one without, the header's log-out.
  await signUpToProfile(page);
  expect(await submitTwice('/fn/logout')).toEqual(['posted', 'true', 'held back']);
});

test('an expired access cookie is refreshed transparently', async ({ page, context }) => {
  const user = await signUpToProfile(page);

  const before = await context.cookies();
  const oldAccess = before.find((c) => c.name === 'lk_access');
  const oldRefresh = before.find((c) => c.name === 'lk_refresh');
  expect(oldAccess?.value, 'lk_access after sign-up').toBeTruthy();
  expect(oldRefresh?.value, 'lk_refresh after sign-up').toBeTruthy();

  // What the browser does once the access cookie's max-age has passed.
  await context.clearCookies({ name: 'lk_access' });
  const remaining = (await context.cookies()).map((c) => c.name);
  expect(remaining).not.toContain('lk_access');
  expect(remaining).toContain('lk_refresh');

  const response = await page.reload();
  expect(response?.status()).toBe(200);
  const setCookies = (await response!.headersArray())
    .filter((h) => h.name.toLowerCase() === 'set-cookie')
    .map((h) => h.value);
  expect(setCookies.some((v) => /^lk_access=[^;]+/.test(v)), `Set-Cookie: ${setCookies.join(' | ')}`).toBe(true);

  await waitForHydration(page);
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByTestId('profile-username')).toHaveText(user.username);
  await expectSignedInAs(page, user.username);

  const after = await context.cookies();
  const newAccess = after.find((c) => c.name === 'lk_access');
  const newRefresh = after.find((c) => c.name === 'lk_refresh');
  expect(newAccess?.value, 'a new lk_access cookie').toBeTruthy();
  expect(newRefresh?.value, 'the refresh token is rotated').toBeTruthy();
  expect(newRefresh?.value).not.toBe(oldRefresh?.value);
});
