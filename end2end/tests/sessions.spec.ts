import {
  PASSWORD,
  expect,
  expectSignedInAs,
  open,
  signUpToProfile,
  snap,
  submitLogin,
  test,
} from './helpers';

// Devices and sessions (/sessions): every signed-in browser is listed, and
// ending one signs that browser out on its next request.

test('the sessions screen lists two browsers and ends the other one', async ({ page, browser }) => {
  const user = await signUpToProfile(page);
  await expect(page.getByTestId('signed-in-until')).toContainText(/stay signed in until \d+ \w{3} \d{4}, \d\d:\d\d UTC/);

  const other = await browser.newContext({ userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0' });
  const otherPage = await other.newPage();
  await otherPage.goto('/login');
  await submitLogin(otherPage, user.username, PASSWORD);
  await expect(otherPage).toHaveURL(/\/profile$/);

  await page.getByRole('link', { name: 'Devices and sessions' }).click();
  await expect(page).toHaveURL(/\/sessions$/);
  await expect(page.getByRole('heading', { name: 'Devices and sessions' })).toBeVisible();
  const rows = page.getByTestId('session');
  await expect(rows).toHaveCount(2);
  const mine = rows.filter({ has: page.getByText('this device') });
  await expect(mine).toHaveCount(1);
  await expect(mine).toHaveAttribute('data-current', 'true');
  const theirs = page.locator('[data-testid="session"][data-current="false"]');
  await expect(theirs).toContainText('Firefox 133 · Windows 10');
  await snap(page, 'sessions');

  await theirs.getByRole('button', { name: 'End session' }).click();
  await expect(rows).toHaveCount(1);
  await expect(page.getByRole('button', { name: /Log out everywhere else/ })).toHaveCount(0);

  // The other browser is signed out on its next request.
  await otherPage.goto('/profile');
  await expect(otherPage).toHaveURL(/\/login$/);
  await other.close();

  // This browser is still signed in.
  await open(page, '/profile');
  await expectSignedInAs(page, user.username);
});

test('"log out everywhere else" keeps only this browser', async ({ page, browser }) => {
  const user = await signUpToProfile(page);
  const others = [];
  for (let i = 0; i < 2; i++) {
    const context = await browser.newContext();
    const p = await context.newPage();
    await p.goto('/login');
    await submitLogin(p, user.email, PASSWORD);
    await expect(p).toHaveURL(/\/profile$/);
    others.push({ context, page: p });
  }
  await open(page, '/sessions');
  await expect(page.getByTestId('session')).toHaveCount(3);
  await page.getByRole('button', { name: 'Log out everywhere else (2)' }).click();
  await expect(page.getByTestId('session')).toHaveCount(1);
  for (const o of others) {
    await o.page.goto('/profile');
    await expect(o.page).toHaveURL(/\/login$/);
    await o.context.close();
  }
});
