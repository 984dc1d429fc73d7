import { expect, expectAccessible, newUser, open, signUp, snap, test } from './helpers';
import { BRANDED_URL } from './servers';

// A Latchkey made the product's own (fixtures/brand/branded.toml, read
// through LATCHKEY_CONFIG): its name in the header, titles and home page,
// its logo and favicon, its colours (checked for contrast at start-up),
// and its support address and legal links, in both languages, before and
// after the WASM loads. axe stays clean; the screens are photographed
// into screenshots/brand/.

const LANGS = [
  { lang: 'en', locale: 'en-US', login: 'Log in', terms: 'Terms of service', privacy: 'Privacy policy' },
  { lang: 'ko', locale: 'ko-KR', login: '로그인', terms: '이용약관', privacy: '개인정보 처리방침' },
] as const;


for (const { lang, locale, login, terms, privacy } of LANGS) {
  test.describe(`branded (${lang})`, () => {
    test.use({ locale, baseURL: BRANDED_URL });

    test(`the log-in and sign-up pages are the product's own (${lang})`, async ({ page, request }) => {
      await open(page, '/login');
      await expect(page).toHaveTitle(`${login} · Acme Notes`);
      const brand = page.locator('header.site-header .brand');
      await expect(brand).toHaveText('Acme Notes');
      const logo = brand.locator('img');
      await expect(logo).toHaveAttribute('src', /^\/brand\/logo\.[A-Za-z0-9_-]{22}\.svg$/);
      // The logo is beside the name, so it says nothing more to a screen reader.
      await expect(logo).toHaveAttribute('alt', '');
      expect(await logo.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
      await expect(page.locator('link[rel="icon"]')).toHaveAttribute('href', /^\/brand\/icon\.[A-Za-z0-9_-]{22}\.svg$/);

      // The product's colour fills the primary button, with white words.
      const button = page.locator('form button[type="submit"].button-primary').first();
      await expect(button).toHaveCSS('background-color', 'rgb(15, 118, 110)');
      await expect(button).toHaveCSS('color', 'rgb(255, 255, 255)');

      // Support and legal links on every page.
      const footer = page.locator('footer.site-footer');
      await expect(footer.getByRole('link', { name: 'help@acme.test' })).toHaveAttribute('href', 'mailto:help@acme.test');
      await expect(footer.getByRole('link', { name: terms })).toHaveAttribute('href', 'https://acme.test/terms');
      await expect(footer.getByRole('link', { name: privacy })).toHaveAttribute('href', 'https://acme.test/privacy');

      await page.setViewportSize({ width: 1280, height: 800 });
      await expectAccessible(page, `branded log-in (${lang})`);
      await snap(page, `brand/${lang}-login-1280`);
      await page.setViewportSize({ width: 360, height: 780 });
      await snap(page, `brand/${lang}-login-360`);
      // The dark theme's colours were derived to read on its grounds.
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.setViewportSize({ width: 1280, height: 800 });
      await expectAccessible(page, `branded log-in, dark (${lang})`);
      await snap(page, `brand/${lang}-login-dark-1280`);
      await page.emulateMedia({ colorScheme: 'light' });

      // Sign-up says what the visitor agrees to, with both links.
      await open(page, '/signup');
      const agree = page.getByTestId('signup-agreement');
      await expect(agree.getByRole('link', { name: terms })).toHaveAttribute('href', 'https://acme.test/terms');
      await expect(agree.getByRole('link', { name: privacy })).toHaveAttribute('href', 'https://acme.test/privacy');
      await page.setViewportSize({ width: 1280, height: 800 });
      await expectAccessible(page, `branded sign-up (${lang})`);
      await snap(page, `brand/${lang}-signup-1280`);

      // The files are kept by browsers for a year: their names change with them.
      const css = await page.locator('link[rel="stylesheet"][href^="/brand/"]').getAttribute('href');
      expect(css).toMatch(/^\/brand\/colours\.[A-Za-z0-9_-]{22}\.css$/);
      const served = await request.get(`${BRANDED_URL}${css}`);
      expect(served.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(await served.text()).toContain('--accent:#0f766e;');
    });
  });
}

test.describe('branded', () => {
  test.use({ baseURL: BRANDED_URL, locale: 'en-US' });

  test('the home page speaks for the product, and signing up there works', async ({ page }) => {
    await open(page, '/');
    await expect(page).toHaveTitle('Acme Notes');
    await expect(page.locator('h1')).toHaveText('Your Acme Notes account');
    await expect(page.getByText('one small, fast binary')).toHaveCount(0);
    await snap(page, 'brand/en-home-1280');

    await signUp(page, newUser());
    await expect(page).toHaveTitle(/ · Acme Notes$/);
  });

  test('the pages need no JavaScript @nojs', async ({ page }) => {
    await page.goto('/login');
    await expect(page.locator('header.site-header .brand')).toHaveText('Acme Notes');
    await expect(page.locator('footer.site-footer')).toContainText('help@acme.test');
    await expect(page.locator('form button[type="submit"].button-primary').first()).toHaveCSS(
      'background-color',
      'rgb(15, 118, 110)',
    );
  });
});
