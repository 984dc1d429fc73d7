import {
  LOGIN_FAILED,
  PASSWORD,
  type TestUser,
  expect,
  makeAdmin,
  newUser,
  open,
  otherBrowser,
  signUp,
  signUpToProfile,
  snap,
  submitLogin,
  test,
} from './helpers';
import type { Page } from '@playwright/test';

// The admin console (/admin): find a user, act on them, and see every step in
// the activity log. The admin is made with the server's create-admin command.

async function adminPage(page: Page): Promise<TestUser> {
  const admin = await signUp(page);
  await makeAdmin(page, admin);
  await open(page, '/admin/users');
  await expect(page.getByRole('heading', { name: 'Users', level: 1 })).toBeVisible();
  await expect(page.getByTestId('nav-admin')).toBeVisible();
  return admin;
}

/** Searches the user list and opens `user`'s page. */
async function findUser(page: Page, user: TestUser): Promise<void> {
  await open(page, '/admin/users');
  await page.getByLabel('Search').fill(user.username);
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(new RegExp(`/admin/users\\?q=${user.username}`));
  await expect(page.getByTestId('user-row')).toHaveCount(1);
  await expect(page.getByTestId('user-count')).toHaveText('1–1 of 1 user');
  await page.getByTestId('user-row').getByRole('link', { name: user.username }).click();
  await expect(page.getByTestId('admin-user-name')).toHaveText(user.username);
}

test('an admin finds a user, disables, re-enables and promotes them, all in the log', async ({ page, browser }) => {
  const admin = await adminPage(page);
  await snap(page, 'admin-users');

  // The user, signed in in a browser of their own.
  const { context: theirs, page: theirPage } = await otherBrowser(browser);
  const user = await signUpToProfile(theirPage);

  await findUser(page, user);
  await expect(page.getByTestId('admin-user-status')).toHaveText('Active');
  await expect(page.getByTestId('session')).toHaveCount(1);
  await snap(page, 'admin-user');

  // Disable: their open session is refused on its next request.
  await page.getByRole('button', { name: 'Disable account' }).click();
  await expect(page.getByTestId('admin-done')).toContainText('disabled');
  await expect(page.getByTestId('admin-user-status')).toHaveText('disabled');
  await expect(page.getByTestId('session')).toHaveCount(0);
  await theirPage.goto('/profile');
  await expect(theirPage).toHaveURL(/\/login$/);
  await submitLogin(theirPage, user.username, PASSWORD);
  await expect(theirPage.getByRole('alert')).toContainText('This account has been disabled');

  // Enable: they can sign in again.
  await page.getByRole('button', { name: 'Enable account' }).click();
  await expect(page.getByTestId('admin-user-status')).toHaveText('Active');
  await theirPage.goto('/login');
  await submitLogin(theirPage, user.username, PASSWORD);
  await expect(theirPage).toHaveURL(/\/profile$/);

  // Promote: their next page shows the console link.
  await page.getByRole('button', { name: 'Make an administrator' }).click();
  await expect(page.getByTestId('admin-user-role')).toHaveText('Administrator');
  await theirPage.goto('/profile');
  await expect(theirPage.getByTestId('nav-admin')).toBeVisible();

  // The user's recent activity names each step and the admin who took it.
  const activity = page.getByTestId('activity');
  await expect(activity).toContainText(`Role changed to administrator by ${admin.username}`);
  await expect(activity).toContainText(`Account enabled by ${admin.username}`);
  await expect(activity).toContainText(`Account disabled (1 session ended) by ${admin.username}`);
  await expect(activity).toContainText('Sign-in refused: the account is disabled');

  // The whole log, admin actions only.
  await page.getByRole('link', { name: 'Activity log' }).click();
  await expect(page.getByRole('heading', { name: 'Activity log' })).toBeVisible();
  await page.getByLabel('Account or IP address').fill(user.username);
  await page.getByLabel('Admin actions only').check();
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/admin=1/);
  const items = page.getByTestId('activity').locator('li');
  await expect(items).toHaveCount(3);
  await expect(items.first()).toContainText(`${user.username}: Role changed to administrator by ${admin.username}`);
  await snap(page, 'admin-activity');

  // The user sees the same steps on their own security screen, without names.
  await open(theirPage, '/security');
  await expect(theirPage.getByRole('heading', { name: 'Security activity' })).toBeVisible();
  const own = theirPage.getByTestId('activity');
  await expect(own).toContainText('Account disabled (1 session ended) by an administrator');
  await expect(own).not.toContainText(admin.username);
  await snap(theirPage, 'security');
  await theirs.close();
});

test('members get a 403 page, visitors are sent to log in', async ({ page }) => {
  const response = await page.goto('/admin');
  await expect(page).toHaveURL(/\/login\?next=%2Fadmin$/);
  expect(response?.status()).toBe(200);

  await signUp(page);
  const refused = await page.goto('/admin/activity');
  expect(refused?.status()).toBe(403);
  await expect(page.getByTestId('forbidden')).toContainText('Administrators only');
  await expect(page.getByTestId('nav-admin')).toHaveCount(0);
  await snap(page, 'admin-forbidden');
});

test('an admin deletes a user after typing their name', async ({ page, request }) => {
  await adminPage(page);
  const user = newUser();
  const created = await request.post('/api/v1/auth/signup', {
    data: { email: user.email, username: user.username, password: user.password },
  });
  expect(created.status()).toBe(201);

  await findUser(page, user);
  await page.getByRole('button', { name: `Delete ${user.username}` }).click();
  await expect(page.locator('#field-confirm-error')).toHaveText('Type the username exactly to confirm.');
  await page.getByLabel('Type the username to confirm').fill(user.username);
  await page.getByRole('button', { name: `Delete ${user.username}` }).click();
  await expect(page).toHaveURL(/\/admin\/users\?deleted=/);
  await expect(page.getByTestId('admin-done')).toHaveText(`The account ${user.username} was deleted.`);
  const login = await request.post('/api/v1/auth/login', { data: { login: user.username, password: PASSWORD } });
  expect(login.status()).toBe(401);
  expect((await login.json()).error.message).toBe(LOGIN_FAILED);
});

test('the console works without JavaScript @nojs', async ({ page, browser }) => {
  const admin = newUser();
  await page.goto('/signup');
  await page.getByLabel('Email', { exact: true }).fill(admin.email);
  await page.getByLabel('Username', { exact: true }).fill(admin.username);
  await page.getByLabel('Password', { exact: true }).fill(admin.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/verify$/);
  await makeAdmin(page, admin);

  const theirs = await browser.newContext({ javaScriptEnabled: false });
  const theirPage = await theirs.newPage();
  const user = newUser();
  const created = await theirPage.request.post('/api/v1/auth/signup', {
    data: { email: user.email, username: user.username, password: user.password },
  });
  expect(created.status()).toBe(201);

  await page.goto('/admin/users');
  await page.getByLabel('Search').fill(user.username);
  await page.getByLabel('Status').selectOption('active');
  await page.getByRole('button', { name: 'Search' }).click();
  await expect(page).toHaveURL(/status=active/);
  await page.getByTestId('user-row').getByRole('link', { name: user.username }).click();
  await page.getByRole('button', { name: 'Disable account' }).click();
  await expect(page).toHaveURL(/done=disable/);
  await expect(page.getByTestId('admin-user-status')).toHaveText('disabled');
  await page.getByRole('button', { name: 'Make an administrator' }).click();
  await expect(page.getByTestId('admin-user-role')).toHaveText('Administrator');
  await theirs.close();
});
