import {
  expect,
  expectAccessible,
  LOGIN_FAILED,
  makeAdmin,
  newUser,
  open,
  signUp,
  snap,
  submitSignUp,
  test,
} from './helpers';

// The admin console's first page (/admin): the last 30 days as charts the
// server draws. Each day is a column reached by pointer or Tab, showing its
// numbers; a table under each chart holds the same figures.

test('an admin reads the last 30 days by pointer, keyboard and table', async ({ page }) => {
  const admin = await signUp(page);
  await makeAdmin(page, admin);
  // Today's log-ins: one that works and one that does not.
  const ok = await page.request.post('/api/v1/auth/login', {
    data: { login: admin.username, password: admin.password },
  });
  expect(ok.status()).toBe(200);
  const stranger = newUser();
  const wrong = await page.request.post('/api/v1/auth/login', {
    data: { login: stranger.username, password: stranger.password },
  });
  expect(wrong.status()).toBe(401);
  expect((await wrong.json()).error.message).toBe(LOGIN_FAILED);

  await open(page, '/admin');
  await expect(page.getByRole('heading', { name: 'Overview', level: 1 })).toBeVisible();
  const tabs = page.getByRole('navigation', { name: 'Admin console' }).getByRole('link');
  await expect(tabs).toHaveText(['Overview', 'Users', 'Apps', 'Webhooks', 'Activity log']);
  await expect(tabs.first()).toHaveAttribute('aria-current', 'page');
  for (const name of ['Sign-ups and active users', 'Log-ins', 'Codes and mail', 'Webhook deliveries']) {
    await expect(page.getByRole('heading', { name, level: 2 })).toBeVisible();
  }
  await expect(page.locator('.chart-day')).toHaveCount(4 * 30);

  // Pointing at today's log-ins shows its numbers.
  const logins = page.getByTestId('chart-logins');
  const today = logins.locator('.chart-day').last();
  await expect(today).toHaveAttribute('aria-label', /: Log-ins [1-9][\d,]*, Failed [1-9][\d,]*, Throttled \d/);
  await expect(today.locator('.chart-tip')).toBeHidden();
  // Its hit area: the column's box also spans its (hidden) tip.
  await today.locator('.chart-hit').hover();
  await expect(today.locator('.chart-tip')).toBeVisible();
  await expect(today.locator('.chart-tip text')).toHaveText((await today.getAttribute('aria-label')) ?? '');

  // By keyboard: from the last tab, Tab reaches the first chart's table,
  // then its first day.
  await page.mouse.move(0, 0);
  await tabs.last().focus();
  await page.keyboard.press('Tab');
  await expect(page.locator('summary:focus')).toHaveAttribute('aria-label', 'Show the numbers: Sign-ups and active users');
  await page.keyboard.press('Tab');
  const first = page.getByTestId('chart-accounts').locator('.chart-day').first();
  await expect(first).toBeFocused();
  await expect(first.locator('.chart-tip')).toBeVisible();
  await expect(first).toHaveAttribute('aria-label', /: Sign-ups \d+, Active users \d+$/);
  await page.keyboard.press('Tab');
  await expect(page.getByTestId('chart-accounts').locator('.chart-day').nth(1)).toBeFocused();
  await today.focus();
  await snap(page, 'admin-overview');

  // The table: newest day first, the same numbers as the column.
  await logins.getByText('Show the numbers').click();
  const rows = logins.locator('tbody tr');
  await expect(rows).toHaveCount(30);
  const label = (await today.getAttribute('aria-label')) ?? '';
  const count = (name: string) => label.match(new RegExp(`${name} ([\\d,]*\\d)`))?.[1];
  await expect(rows.first().locator('td')).toHaveText([count('Log-ins')!, count('Failed')!, count('Throttled')!]);
  await expectAccessible(page, 'the overview with a table open');
});

test('the overview works without JavaScript @nojs', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const admin = newUser();
  await page.goto('/signup');
  await submitSignUp(page, admin);
  await expect(page).toHaveURL(/\/verify$/);
  await makeAdmin(page, admin);
  await page.goto('/admin');
  await expect(page.getByRole('heading', { name: 'Overview', level: 1 })).toBeVisible();
  const today = page.getByTestId('chart-accounts').locator('.chart-day').last();
  await today.locator('.chart-hit').hover();
  await expect(today.locator('.chart-tip')).toBeVisible();
  await page.getByTestId('chart-webhooks').getByText('Show the numbers').click();
  await expect(page.getByTestId('chart-webhooks').locator('tbody tr')).toHaveCount(30);
  await context.close();
});
