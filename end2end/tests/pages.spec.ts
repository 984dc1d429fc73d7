import { expect, expectSignedOut, header, open, snap, test } from './helpers';

// The public screens, signed out: what they show and how they link together.

test('home page introduces the product and offers sign-up and log-in', async ({ page }) => {
  const response = await open(page, '/');
  expect(response?.status()).toBe(200);
  await expect(page).toHaveTitle('Latchkey');
  await expect(page.getByRole('heading', { level: 1, name: 'Sign-in that stays out of your way.' })).toBeVisible();
  await expectSignedOut(page);
  await snap(page, 'home');

  // Client-side navigation through the header once hydrated.
  await header(page).getByRole('link', { name: 'Sign up' }).click();
  await expect(page).toHaveURL(/\/signup$/);
  await expect(page.getByRole('heading', { name: 'Create your account' })).toBeVisible();

  await header(page).getByRole('link', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('heading', { name: 'Welcome back' })).toBeVisible();
});

test('sign-up page shows an empty, labelled form', async ({ page }) => {
  const response = await open(page, '/signup');
  expect(response?.status()).toBe(200);
  await expect(page).toHaveTitle('Sign up · Latchkey');
  await expect(page.getByRole('heading', { name: 'Create your account' })).toBeVisible();

  const email = page.getByLabel('Email', { exact: true });
  const username = page.getByLabel('Username', { exact: true });
  const password = page.getByLabel('Password', { exact: true });
  await expect(email).toHaveAttribute('id', 'field-email');
  await expect(email).toHaveAttribute('name', 'email');
  await expect(email).toHaveValue('');
  await expect(username).toHaveAttribute('id', 'field-username');
  await expect(username).toHaveAttribute('name', 'username');
  await expect(username).toHaveValue('');
  await expect(password).toHaveAttribute('id', 'field-password');
  await expect(password).toHaveAttribute('name', 'password');
  await expect(password).toHaveAttribute('type', 'password');
  await expect(password).toHaveValue('');
  for (const id of ['field-email-error', 'field-username-error', 'field-password-error']) {
    await expect(page.locator(`#${id}`)).toBeEmpty();
  }
  await expect(page.getByRole('button', { name: 'Create account' })).toBeEnabled();
  await expectSignedOut(page);
  await snap(page, 'signup');
});

test('log-in page shows its form and no error', async ({ page }) => {
  const response = await open(page, '/login');
  expect(response?.status()).toBe(200);
  await expect(page).toHaveTitle('Log in · Latchkey');
  await expect(page.getByRole('heading', { name: 'Welcome back' })).toBeVisible();
  await expect(page.getByLabel('Email or username', { exact: true })).toHaveAttribute('id', 'field-login');
  await expect(page.getByLabel('Email or username', { exact: true })).toHaveAttribute('name', 'login');
  await expect(page.getByLabel('Password', { exact: true })).toHaveAttribute('id', 'field-password');
  await expect(page.getByRole('button', { name: 'Log in' })).toBeEnabled();
  // The alert region exists but is hidden until there is something to say.
  await expect(page.getByRole('alert')).toHaveCount(0);
  await expectSignedOut(page);
  await snap(page, 'login');
});

test('an unknown path answers 404 with the not-found page', async ({ page }) => {
  const response = await open(page, '/no/such/page-here');
  expect(response?.status()).toBe(404);
  await expect(page).toHaveTitle('Page not found · Latchkey');
  await expect(page.getByRole('heading', { level: 1, name: 'Page not found' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Go to the start page' })).toHaveAttribute('href', '/');
  await expectSignedOut(page);
  await snap(page, '404');
});

test('the bundle is sent brotli- or gzip-compressed as the browser asks, and revalidated', async ({ request }) => {
  for (const [asked, sent] of [['br', 'br'], ['gzip', 'gzip'], ['identity', undefined]] as const) {
    const response = await request.get('/pkg/latchkey.wasm', { headers: { 'accept-encoding': asked } });
    expect(response.status()).toBe(200);
    expect(response.headers()['content-encoding']).toBe(sent);
    expect(response.headers()['content-type']).toBe('application/wasm');
    expect(response.headers()['cache-control']).toBe('no-cache');
    // Whatever came over the wire, it unpacks to the module itself.
    expect((await response.body()).subarray(0, 4)).toEqual(Buffer.from('\0asm'));
  }
  const css = await request.get('/pkg/latchkey.css', { headers: { 'accept-encoding': 'br' } });
  expect(css.headers()['content-encoding']).toBe('br');
});
