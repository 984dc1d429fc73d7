import { execFileSync } from 'node:child_process';

import type { Page } from '@playwright/test';

import {
  PASSWORD,
  type TestUser,
  expect,
  expectAccessible,
  makeAdmin,
  newUser,
  open,
  snap,
  submitLogin,
  test,
} from './helpers';

// Every screen, in English and in Korean: axe-core finds no WCAG 2.1 A/AA
// violation, and each is photographed at phone (360 px) and desktop
// (1280 px) widths into end2end/screenshots/<lang>/.

const LOCALES = ['en', 'ko'] as const;
type Lang = (typeof LOCALES)[number];

/** Axe at desktop width, then screenshots at both widths. */
async function check(page: Page, lang: Lang, name: string): Promise<void> {
  await expect(page.locator('html')).toHaveAttribute('lang', lang);
  await page.setViewportSize({ width: 1280, height: 800 });
  await expectAccessible(page, `${name} (${lang})`);
  await snap(page, `${lang}/${name}-1280`);
  await page.setViewportSize({ width: 360, height: 780 });
  // Nothing may stick out sideways on a phone.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, `${name} (${lang}) is wider than the phone`).toBeLessThanOrEqual(0);
  // Wide tables scroll inside their frame; none squeezes a column to a
  // letter a line. (Cells in a closed "Show the numbers" are not laid out.)
  const squeezed = await page.$$eval('th, td', (cells) =>
    cells
      .filter((cell) => cell.checkVisibility() && cell.getBoundingClientRect().width < 56)
      .map((cell) => cell.textContent),
  );
  expect(squeezed, `${name} (${lang}) has squeezed table cells`).toEqual([]);
  // A username too long for the phone's header is cut with an ellipsis,
  // inside the viewport (the test users' 15-letter names do not fit).
  for (const user of await page.locator('.nav-user-name').all()) {
    const fit = await user.evaluate((el) => ({
      cut: el.scrollWidth > el.clientWidth,
      ellipsis: getComputedStyle(el).textOverflow === 'ellipsis',
      inside: el.getBoundingClientRect().right <= window.innerWidth,
    }));
    expect(fit, `${name} (${lang}): the header's username`).toEqual({ cut: true, ellipsis: true, inside: true });
  }
  await snap(page, `${lang}/${name}-360`);
  await page.setViewportSize({ width: 1280, height: 800 });
}

async function createAccount(page: Page): Promise<TestUser> {
  const user = newUser();
  const res = await page.request.post('/api/v1/auth/signup', {
    data: { email: user.email, username: user.username, password: user.password },
  });
  expect(res.status()).toBe(201);
  return user;
}

async function logIn(page: Page, user: TestUser): Promise<void> {
  await open(page, '/login');
  await submitLogin(page, user.username, PASSWORD);
  await expect(page).toHaveURL(/\/profile$/);
}

for (const lang of LOCALES) {
  test.describe(`in ${lang}`, () => {
    test.use({ locale: lang === 'ko' ? 'ko-KR' : 'en-US' });

    test(`visitor screens are accessible (${lang})`, async ({ page }) => {
      const visitorScreens: [string, string][] = [
        ['home', '/'],
        ['signup', '/signup'],
        ['signup-passkey', '/signup?passkey'],
        ['signup-code', '/signup/code?email=someone%40example.com'],
        ['login', '/login'],
        ['login-for-page', '/login?next=%2Fsessions'],
        ['login-code', '/login/code'],
        ['login-code-sent', '/login/code?email=someone%40example.com'],
        ['login-second-factor', '/login/second-factor'],
        ['forgot', '/forgot'],
        ['forgot-sent', '/forgot?sent=someone%40example.com'],
        ['reset-invalid', '/reset'],
        ['revert-email-invalid', '/email/revert?token=not-a-real-token'],
        ['revert-email-done', '/email/revert?done=1'],
        ['not-found', '/no-such-page'],
        ['oauth-problem', '/oauth/problem?why=bad_redirect'],
      ];
      for (const [name, path] of visitorScreens) {
        await open(page, path);
        await check(page, lang, name);
      }

      // Errors are part of the screen: shown, announced and tied to fields.
      await open(page, '/signup');
      await page.getByRole('button', { name: lang === 'ko' ? '가입하기' : 'Create account' }).click();
      const email = page.locator('#field-email');
      await expect(email).toHaveAttribute('aria-invalid', 'true');
      await expect(email).toBeFocused();
      await expect(email).toHaveAttribute('aria-describedby', /field-email-error/);
      await check(page, lang, 'signup-errors');

      await open(page, '/login');
      await submitLogin(page, 'nobody-at-all', 'not the password');
      await expect(page.getByRole('alert').filter({ hasText: /\S/ })).toBeVisible();
      await check(page, lang, 'login-error');
    });

    test(`signed-in and admin screens are accessible (${lang})`, async ({ page }) => {
      // About thirty screens, each checked by axe and shot at two widths.
      test.setTimeout(180_000);
      const admin = await createAccount(page);
      await makeAdmin(page, admin);
      const member = await createAccount(page);
      await logIn(page, admin);
      // An app to consent to (registered before the admin adds an
      // authenticator app, after which the API asks for a fresh code).
      const login = await page.request.post('/api/v1/auth/login', {
        data: { login: admin.email, password: admin.password },
      });
      const registered = await page.request.post('/api/v1/admin/apps', {
        headers: { authorization: `Bearer ${(await login.json()).access_token}` },
        data: {
          name: 'Notebook',
          redirect_uris: ['https://notebook.example.com/callback'],
          confidential: false,
          scopes: ['openid', 'email', 'profile', 'offline_access'],
          grant_types: ['authorization_code', 'refresh_token'],
        },
      });
      expect(registered.status()).toBe(201);
      const clientId = (await registered.json()).client_id;

      const screens: [string, string][] = [
        ['profile', '/profile'],
        ['verify', '/verify'],
        ['change-email', '/email'],
        ['change-email-sent', '/email?new=new-address%40example.com'],
        ['change-password', '/password'],
        ['sessions', '/sessions'],
        ['security', '/security'],
        ['two-step', '/security/two-step'],
        ['passkeys', '/security/passkeys'],
        ['connected-apps', '/security/apps'],
        ['step-up', '/security/confirm?next=%2Fpassword'],
        ['delete-account', '/delete-account'],
        ['admin-overview', '/admin'],
        ['admin-users', '/admin/users'],
        ['admin-activity', '/admin/activity'],
        ['admin-apps', '/admin/apps'],
        ['admin-app-new', '/admin/apps/new'],
        ['admin-app', `/admin/apps/${clientId}`],
        ['admin-webhooks', '/admin/webhooks'],
        ['admin-webhook-new', '/admin/webhooks/new'],
      ];
      for (const [name, path] of screens) {
        await open(page, path);
        await expect(page.locator('.nav-user-name')).toHaveText(admin.username);
        await check(page, lang, name);
      }
      await open(
        page,
        `/oauth/authorize?response_type=code&client_id=${clientId}` +
          '&redirect_uri=https%3A%2F%2Fnotebook.example.com%2Fcallback&scope=openid%20email%20profile%20offline_access' +
          `&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s`,
      );
      await expect(page).toHaveURL(/\/oauth\/consent\?request=/);
      await check(page, lang, 'oauth-consent');

      // Setting up an authenticator app: the QR code, the key, the code field.
      await open(page, '/security/two-step');
      await page.locator('#field-start-password').fill(PASSWORD);
      await page.getByRole('button', { name: lang === 'ko' ? '인증 앱 등록하기' : 'Set up an authenticator app' }).click();
      await expect(page.getByTestId('totp-secret')).toBeVisible();
      await check(page, lang, 'two-step-setup');
      // …and the recovery codes, shown once the app's code confirms it.
      const secret = ((await page.getByTestId('totp-secret').textContent()) ?? '').replace(/\s+/g, '');
      const code = execFileSync('oathtool', ['--totp', '-b', secret], { encoding: 'utf8' }).trim();
      await page.locator('#field-code').fill(code);
      await page.locator('form:has(#field-code) button[type="submit"]').click();
      await expect(page.getByTestId('recovery-codes').locator('li code')).toHaveCount(10);
      await check(page, lang, 'two-step-codes');

      // Adding a passkey: the step that makes it on the device.
      await open(page, '/security/passkeys');
      await page.locator('#field-passkey-name').fill('Laptop');
      await page.locator('#field-add-password').fill(PASSWORD);
      await page.locator('form:has(#field-add-password) button[type="submit"]').click();
      await expect(page.getByTestId('passkey-create')).toBeVisible();
      await check(page, lang, 'passkeys-create');

      await open(page, `/admin/users?q=${member.username}`);
      await page.getByTestId('user-row').getByRole('link', { name: member.username }).click();
      await expect(page.getByTestId('admin-user-name')).toHaveText(member.username);
      await expect(page.locator('.nav-user-name')).toHaveText(admin.username);
      await check(page, lang, 'admin-user');

      // A member's view of the console.
      await page.context().clearCookies();
      await page.context().addCookies([{ name: 'i18n_pref_locale', value: lang, url: page.url() }]);
      await logIn(page, member);
      await open(page, '/admin');
      await expect(page.getByTestId('forbidden')).toBeVisible();
      await expect(page.locator('.nav-user-name')).toHaveText(member.username);
      await check(page, lang, 'admin-forbidden');
    });
  });
}

test('the language follows the browser, switches from the header and stays chosen', async ({ browser }) => {
  const context = await browser.newContext({ locale: 'ko-KR' });
  const page = await context.newPage();
  await page.goto('/login');
  await expect(page.locator('html')).toHaveAttribute('lang', 'ko');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('다시 오신 것을 환영합니다');

  await page.getByRole('button', { name: 'English' }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'en');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Welcome back');
  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Welcome back');
  await context.close();
});

test('Korean readers get Korean errors, pages and mail @nojs', async ({ browser }) => {
  const context = await browser.newContext({ locale: 'en-US', javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByRole('button', { name: '한국어' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.locator('html')).toHaveAttribute('lang', 'ko');
  await submitLogin(page, 'nobody-at-all', 'not the password');
  await expect(page.getByRole('alert')).toHaveText('이메일, 사용자 이름 또는 비밀번호가 올바르지 않습니다.');
  await context.close();
});
