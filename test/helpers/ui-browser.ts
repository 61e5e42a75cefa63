/**
 * What the repository browser tests share: Chromium (helpers/chromium.ts), the admin and
 * read-only viewer users (helpers/gateway-users.ts), and a page opened and signed in at a
 * given viewport.
 */
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM } from './chromium.js';
import { hasCommand } from './processes.js';

export { CHROMIUM, launchChromium } from './chromium.js';

export { ADMIN, VIEWER, basicAuth, userFlags } from './gateway-users.js';

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserTestsMissing(): string | undefined {
  if (!existsSync(CHROMIUM)) return 'chromium not installed';
  if (!hasCommand('skopeo')) return 'skopeo not installed';
  if (!hasCommand('htpasswd')) return 'htpasswd (apache2-utils) not installed';
  return undefined;
}

/** A fresh context at width x height on the browser page, signed in as user when given. */
export async function openBrowserPage(
  browser: Browser,
  base: string,
  width: number,
  height: number,
  user?: [string, string],
): Promise<{ page: Page; status: number | undefined }> {
  const ctx = await browser.newContext({ viewport: { width, height } });
  const page = await ctx.newPage();
  const res = await page.goto(`${base}/-/ui`);
  if (user) {
    await page.fill('#user', user[0]);
    await page.fill('#password', user[1]);
    await page.click('#sign-in');
  }
  return { page, status: res?.status() };
}

/** The tag rows on screen, in order. */
export const shownTags = (page: Page) =>
  page.locator('tr.tag-row').evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.tag));

export const tagRow = (page: Page, tag: string) => page.locator(`tr.tag-row[data-tag="${tag}"]`);
