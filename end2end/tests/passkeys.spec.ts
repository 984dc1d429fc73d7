import type { CDPSession, Page } from '@playwright/test';

import {
  CODE_SUBJECT,
  PASSWORD,
  type TestUser,
  expect,
  expectSignedInAs,
  codeInput,
  header,
  latestCode,
  newUser,
  open,
  otherBrowser,
  signUpToProfile,
  snap,
  test,
  waitForHydration,
} from './helpers';

// Passkeys, made and used by Chromium's virtual authenticator (the
// DevTools protocol's WebAuthn domain): a platform authenticator with
// resident keys and user verification, which answers as a phone's or
// laptop's would. WebAuthn needs a secure context with a domain: the suite
// runs on http://localhost (see servers.ts).

interface Authenticator {
  cdp: CDPSession;
  id: string;
}

async function virtualAuthenticator(page: Page): Promise<Authenticator> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

/**
 * A browser without passkeys in autofill: Chromium's virtual authenticator
 * answers a waiting autofill request by itself, so tests of the button
 * turn autofill off.
 */
async function withoutAutofill(page: Page): Promise<void> {
  await page.addInitScript(() => {
    PublicKeyCredential.isConditionalMediationAvailable = async () => false;
  });
}

async function credentials(auth: Authenticator) {
  const { credentials } = await auth.cdp.send('WebAuthn.getCredentials', { authenticatorId: auth.id });
  return credentials;
}

async function logOut(page: Page): Promise<void> {
  await header(page).getByRole('button', { name: 'Log out' }).click();
  await expect(page).toHaveURL(/\/login$/);
}

/** Adds a passkey named `name` from /security/passkeys. */
async function addPasskey(page: Page, user: TestUser, name: string): Promise<void> {
  await open(page, '/security/passkeys');
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.locator('#field-add-password').fill(user.password);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await expect(page.getByTestId('passkey-create')).toBeVisible();
  await expect(page.getByRole('heading', { name: `Create “${name}”` })).toBeVisible();
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Create the passkey' }).click();
  await expect(page).toHaveURL(/\/security\/passkeys\?added$/);
  await expect(page.getByRole('status')).toContainText('Passkey added');
  await expect(page.getByTestId('passkeys')).toContainText(name);
}

test('a passkey is added, then signs in with the button, no username typed', async ({ page }) => {
  await withoutAutofill(page);
  const auth = await virtualAuthenticator(page);
  const user = await signUpToProfile(page, newUser());
  await open(page, '/security/passkeys');
  await expect(page.getByTestId('no-passkeys')).toBeVisible();
  await snap(page, 'passkeys-none');

  await page.getByLabel('Name', { exact: true }).fill('Laptop');
  await page.locator('#field-add-password').fill(user.password);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await expect(page.getByTestId('passkey-create')).toBeVisible();
  await snap(page, 'passkeys-create');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Create the passkey' }).click();
  await expect(page).toHaveURL(/\/security\/passkeys\?added$/);
  await expect(page.getByTestId('passkeys')).toContainText('Laptop');
  await expect(page.getByTestId('passkeys')).toContainText('Not used yet');
  await snap(page, 'passkeys-added');

  // The device keeps it (discoverable), scoped to this site.
  const made = await credentials(auth);
  expect(made).toHaveLength(1);
  expect(made[0].isResidentCredential).toBe(true);
  expect(made[0].rpId).toBe('localhost');

  await logOut(page);
  await open(page, '/login');
  // Autofill offers passkeys in the name field too.
  await expect(page.locator('#field-login')).toHaveAttribute('autocomplete', 'username webauthn');
  await snap(page, 'login-passkey');
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page).toHaveURL(/\/profile$/);
  await expectSignedInAs(page, user.username);

  // The activity log says how.
  await open(page, '/security');
  await expect(page.getByText('Signed in with a passkey')).toBeVisible();
  await expect(page.getByText('Passkey “Laptop” added')).toBeVisible();
  await open(page, '/security/passkeys');
  await expect(page.getByTestId('passkeys')).toContainText('Last used');
});

test('the log-in page offers passkeys in the name field’s autofill', async ({ page }) => {
  await virtualAuthenticator(page);
  const user = await signUpToProfile(page, newUser());
  await addPasskey(page, user, 'Phone');
  // Signed out by dropping the cookies: logging out lands on /login, whose
  // autofill would sign straight back in before the test could look.
  await page.context().clearCookies();
  // A page that needs a sign-in sends to log in, and back.
  await page.goto('/security');
  // A conditional request waits on the field; the virtual authenticator
  // picks its passkey from it as a person would from the autofill list.
  await expect(page).toHaveURL(/\/security$/, { timeout: 15_000 });
  await expectSignedInAs(page, user.username);
  await expect(page.getByText('Signed in with a passkey')).toBeVisible();
});

test('a log-in page left open takes a fresh ceremony before its own expires', async ({ page }) => {
  await withoutAutofill(page);
  await virtualAuthenticator(page);
  const user = await signUpToProfile(page, newUser());
  await addPasskey(page, user, 'Desk');
  await page.context().clearCookies();
  const ceremonies: string[] = [];
  page.on('response', async (response) => {
    if (response.url().endsWith('/api/v1/auth/passkey/options')) {
      ceremonies.push((await response.json()).ceremony);
    }
  });
  await page.clock.install();
  await open(page, '/login');
  await waitForHydration(page);
  await expect.poll(() => ceremonies.length).toBe(1);
  // The server takes answers for 5 minutes; the page renews at 4.
  await page.clock.fastForward('04:01');
  await expect.poll(() => ceremonies.length).toBe(2);
  expect(ceremonies[1]).not.toBe(ceremonies[0]);
  // The answer goes back with the fresh ceremony.
  const posted = page.waitForRequest((r) => r.method() === 'POST' && (r.postData() ?? '').includes('credential='));
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  const form = new URLSearchParams((await posted).postData() ?? '');
  expect(form.get('ceremony')).toBe(ceremonies[1]);
  await expect(page).toHaveURL(/\/profile$/);
  await expectSignedInAs(page, user.username);
});

test('a removed passkey no longer signs in, and says so', async ({ page }) => {
  await withoutAutofill(page);
  await virtualAuthenticator(page);
  const user = await signUpToProfile(page, newUser());
  await addPasskey(page, user, 'Old phone');
  await page.locator('#field-rename-name').fill('Retired phone');
  await page.getByRole('button', { name: 'Rename' }).click();
  await expect(page.getByTestId('passkeys')).toContainText('Retired phone');

  // Removing asks for the password.
  await page.locator('#field-remove-password').fill('not the password');
  await page.getByRole('button', { name: 'Remove', exact: true }).click();
  await expect(page.locator('#field-remove-password')).toHaveAttribute('aria-invalid', 'true');
  await page.locator('#field-remove-password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Remove', exact: true }).click();
  await expect(page.getByTestId('no-passkeys')).toBeVisible();

  await logOut(page);
  await open(page, '/login');
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'not registered here' })).toBeVisible();
  await expect(page).toHaveURL(/\/login/);
});

test('without a passkey on the device, cancelling changes nothing', async ({ page }) => {
  const auth = await virtualAuthenticator(page);
  // The device says no (as when the person cancels).
  await auth.cdp.send('WebAuthn.setUserVerified', { authenticatorId: auth.id, isUserVerified: false });
  const user = await signUpToProfile(page, newUser());
  await open(page, '/security/passkeys');
  await page.getByLabel('Name', { exact: true }).fill('Laptop');
  await page.locator('#field-add-password').fill(user.password);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await waitForHydration(page);
  const create = page.getByRole('button', { name: 'Create the passkey' });
  await create.click();
  // The ceremony stays open: the button is ready again, nothing was added.
  await expect(create).not.toHaveAttribute('aria-disabled', 'true', { timeout: 15_000 });
  await expect(page.getByTestId('no-passkeys')).toBeVisible();
  expect(await credentials(auth)).toHaveLength(0);
});

test('a passwordless sign-up: an email, a passkey, and the address proven by code', async ({ page }) => {
  await withoutAutofill(page);
  await virtualAuthenticator(page);
  const user = newUser();
  await open(page, '/signup');
  await page.getByRole('link', { name: 'Sign up with a passkey instead (no password)' }).click();
  await expect(page).toHaveURL(/\/signup\?passkey$/);
  await expect(page.locator('#field-password')).toHaveCount(0);
  await snap(page, 'signup-passkey');
  await page.getByLabel('Email', { exact: true }).fill(user.email);
  await page.getByLabel('Username', { exact: true }).fill(user.username);
  await page.getByRole('button', { name: 'Continue' }).click();
  await expect(page).toHaveURL(/\/security\/passkeys\?welcome$/);
  await expect(page.getByTestId('passkey-welcome')).toBeVisible();
  await snap(page, 'passkeys-welcome');
  // No password to give: the fresh sign-up is the proof.
  await expect(page.locator('#field-add-password')).toHaveCount(0);
  await page.getByLabel('Name', { exact: true }).fill('This laptop');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Create the passkey' }).click();
  await expect(page.getByTestId('passkeys')).toContainText('This laptop');

  // The address is proven by the mailed code, as for any sign-up.
  const code = await latestCode(page.request, user.email, { subject: CODE_SUBJECT });
  await open(page, '/verify');
  await codeInput(page).fill(code);
  await expect(page).toHaveURL(/\/profile/);

  await logOut(page);
  await open(page, '/login');
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page).toHaveURL(/\/profile$/);
  await expectSignedInAs(page, user.username);

  // No password to delete the account with: the fresh sign-in stands in.
  await open(page, '/delete-account');
  await expect(page.locator('#field-password')).toHaveCount(0);
  await expect(page.getByText('Your account has no password')).toBeVisible();
  await page.getByRole('button', { name: 'Delete my account' }).click();
  await expect(page).toHaveURL(/\/\?deleted=1$/);
});

test('passkey screens in Korean', async ({ browser }) => {
  const { context, page } = await otherBrowser(browser, { locale: 'ko-KR' });
  await virtualAuthenticator(page);
  const user = newUser();
  const res = await page.request.post('/api/v1/auth/signup', {
    data: { email: user.email, username: user.username, password: user.password },
  });
  expect(res.status()).toBe(201);
  await open(page, '/login');
  await expect(page.getByRole('button', { name: '패스키로 로그인' })).toBeVisible();
  await snap(page, 'ko/login-passkey');
  await page.locator('#field-login').fill(user.username);
  await page.locator('#field-password').fill(user.password);
  await page.locator('form:has(#field-login) button[type="submit"]').click();
  await expect(page).toHaveURL(/\/profile$/);
  await open(page, '/security/passkeys');
  await expect(page.getByRole('heading', { name: '패스키', exact: true })).toBeVisible();
  await snap(page, 'ko/passkeys');
  await context.close();
});

test('without JavaScript, the passkey button explains what it needs @nojs', async ({ page }) => {
  await page.goto('/login');
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'need JavaScript' })).toBeVisible();
});
