import { createHash } from 'node:crypto';

import { expect, expectSignedOut, header, navUser, open, signUp, snap, test } from './helpers';

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

test('the bundle has hashed names, is sent compressed as the browser asks, and is kept for a year', async ({ request }) => {
  const html = await request.get('/login');
  // The page names this build's files, so it is asked for again every time.
  expect(html.headers()['cache-control']).toBe('no-cache');
  const body = await html.text();
  const wasm = body.match(/href="(\/pkg\/latchkey\.[\w-]+\.wasm)"/)?.[1];
  const js = body.match(/href="(\/pkg\/latchkey\.[\w-]+\.js)"/)?.[1];
  const css = body.match(/href="(\/pkg\/latchkey\.[\w-]+\.css)"/)?.[1];
  expect([wasm, js, css], 'the page links content-hashed asset names').not.toContain(undefined);
  // Kept a year exactly when the name is the digest of what is sent (the
  // build rewrites the main JS and WASM after naming them: those revalidate).
  const expected = (file: string, content: Buffer) => {
    const digest = createHash('md5').update(content).digest('base64url');
    return file.split('.').at(-2) === digest ? 'public, max-age=31536000, immutable' : 'no-cache';
  };
  for (const [asked, sent] of [['br', 'br'], ['gzip', 'gzip'], ['identity', undefined]] as const) {
    const response = await request.get(wasm!, { headers: { 'accept-encoding': asked } });
    expect(response.status()).toBe(200);
    expect(response.headers()['content-encoding']).toBe(sent);
    expect(response.headers()['content-type']).toBe('application/wasm');
    expect(response.headers()['vary']).toBe('accept-encoding');
    // Whatever came over the wire, it unpacks to the module itself.
    const module = await response.body();
    expect(module.subarray(0, 4)).toEqual(Buffer.from('\0asm'));
    expect(response.headers()['cache-control']).toBe(expected(wasm!, module));
  }
  for (const file of [js!, css!]) {
    const response = await request.get(file, { headers: { 'accept-encoding': 'br' } });
    expect(response.headers()['content-encoding']).toBe('br');
    expect(response.headers()['cache-control']).toBe(expected(file, await response.body()));
  }
  // The stylesheet's name is its digest: kept a year.
  const sheet = await request.get(css!);
  expect(sheet.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
  // The unhashed stylesheet stays for pages outside the app, revalidated.
  const alias = await request.get('/pkg/latchkey.css', { headers: { 'accept-encoding': 'br' } });
  expect(alias.status()).toBe(200);
  expect(alias.headers()['content-encoding']).toBe('br');
  expect(alias.headers()['cache-control']).toBe('no-cache');
  // A name this build did not make is never stored (the next instance of a
  // rolling upgrade may have it).
  const missing = await request.get('/pkg/latchkey.no-such-build.wasm');
  expect(missing.status()).toBe(404);
  expect(missing.headers()['cache-control']).toBe('no-store');
});

test('a first visit to /login is one small module whose islands wake; a link is a page load', async ({ page }) => {
  // What the wire carried (compressed bodies), per kind of file.
  const sizes: Promise<[string, number]>[] = [];
  page.on('requestfinished', (r) => {
    sizes.push(r.sizes().then((s) => [r.resourceType() === 'document' ? 'html' : r.url(), s.responseBodySize]));
  });
  await open(page, '/login');
  const loaded = await Promise.all(sizes);
  const modules = loaded.filter(([url]) => url.endsWith('.wasm'));
  expect(modules, 'one WASM module: the islands').toHaveLength(1);
  const total = loaded.reduce((sum, [, bytes]) => sum + bytes, 0);
  // The budget of issue 18: HTML + JS + WASM + CSS, as the browser got them.
  expect(total, `first visit: ${JSON.stringify(loaded)}`).toBeLessThanOrEqual(150 * 1024);
  // The islands are awake: the password's Show button only appears then.
  await expect(page.getByRole('button', { name: 'Show password' })).toBeVisible();

  // Pages are the server's: following a link loads the next one.
  const user = await signUp(page);
  let documents = 0;
  page.on('request', (r) => {
    if (r.resourceType() === 'document') documents += 1;
  });
  await navUser(page).click();
  await expect(page.getByTestId('profile-username')).toHaveText(user.username);
  expect(documents).toBe(1);
});

test('an error written into a link shows only words of the app, never the link\'s', async ({ page }) => {
  // How a refused form's error returns: `?__path=<its function>&__err=<base64 JSON>`.
  // Anyone can write one into a link to the real site.
  const forged = Buffer.from(
    JSON.stringify({ code: 'forbidden', message: 'Your account is locked. Call +1 555 0100 now.' }),
  ).toString('base64url');
  await open(page, `/login?__path=/fn/login&__err=${forged}`);
  const alert = page.getByRole('alert').filter({ hasText: /\S/ });
  await expect(alert).toHaveText('The request could not be read. Please check the form and try again.');
  await expect(page.getByText(/555/)).toHaveCount(0);
  // Once shown, the address forgets it.
  await expect(page).toHaveURL(/\/login$/);
});
