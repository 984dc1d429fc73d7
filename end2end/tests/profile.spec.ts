import {
  expect,
  expectSignedInAs,
  newUser,
  signUpToProfile,
  submitLogin,
  test,
  uniqueName,
  waitForHydration,
} from './helpers';

test('changing the username saves it and updates the header', async ({ page }) => {
  const user = await signUpToProfile(page);
  const renamed = uniqueName('r');

  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Save username' }) });
  await expect(page.getByRole('heading', { name: 'Change username' })).toBeVisible();
  const input = form.getByLabel('New username', { exact: true });
  await expect(input).toHaveAttribute('id', 'field-username');
  await expect(input).toHaveValue(user.username);

  // Typed in capitals; stored (and shown) in lower case.
  await input.fill(renamed.toUpperCase());
  await form.getByRole('button', { name: 'Save username' }).click();

  await expect(page.getByText('Saved.', { exact: true })).toBeVisible();
  await expectSignedInAs(page, renamed);
  await expect(page.getByTestId('nav-user')).not.toContainText(user.username);
  await expect(page.getByTestId('profile-username')).toHaveText(renamed);

  // It is stored, not just shown.
  await page.reload();
  await waitForHydration(page);
  await expectSignedInAs(page, renamed);
  await expect(page.getByTestId('profile-username')).toHaveText(renamed);

  // A refused rename after it says only what is wrong, not "Saved." too.
  await input.fill('x');
  await form.getByRole('button', { name: 'Save username' }).click();
  await expect(page.locator('#field-username-error')).not.toBeEmpty();
  await expect(page.getByText('Saved.', { exact: true })).toHaveCount(0);
});

test('the profile is only for signed-in users', async ({ page }) => {
  const response = await page.goto('/profile');
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('heading', { name: 'Welcome back' })).toBeVisible();
  expect(response?.ok(), 'the redirect ends on a page that loads').toBe(true);
});

for (const js of [true, false]) {
  test(
    `a page that needs a sign-in brings the visitor back to it ${js ? 'with' : 'without'} JavaScript`,
    { tag: js ? [] : ['@nojs'] },
    async ({ page, request }) => {
      const user = newUser();
      const created = await request.post('/api/v1/auth/signup', {
        data: { email: user.email, username: user.username, password: user.password },
      });
      expect(created.status(), await created.text()).toBe(201);
      await page.goto('/sessions');
      await expect(page).toHaveURL(/\/login\?next=%2Fsessions$/);
      await expect(page.getByTestId('login-for-page')).toHaveText(
        'Log in to go on to the page you opened.',
      );
      if (js) await waitForHydration(page);
      // A refused try keeps where the visitor was going.
      await submitLogin(page, user.username, 'not the right password at all');
      await expect(page.getByRole('alert').filter({ hasText: /\S/ })).toBeVisible();
      await submitLogin(page, user.username, user.password);
      await expect(page).toHaveURL(/\/sessions$/);
      await expect(page.getByRole('heading', { level: 1 })).toHaveText('Devices and sessions');
      await expectSignedInAs(page, user.username);
    },
  );
}
