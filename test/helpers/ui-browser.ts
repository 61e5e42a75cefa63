/**
 * What the repository browser tests share: Chromium (helpers/chromium.ts), an
 * htpasswd file and access rules with an all-rights user (admin) and a read-only one (viewer),
 * and a page opened and signed in at a given viewport.
 */
import { writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM } from './chromium.js';
import { execFileP, hasCommand } from './processes.js';

export { CHROMIUM, launchChromium } from './chromium.js';

const ACCESS = `
rules:
  - repository: "*"
    users: [admin]
    actions: ["*"]
  - repository: "*"
    users: [viewer]
    actions: [pull]
`;

export const ADMIN: [string, string] = ['admin', 'admin-pw'];
export const VIEWER: [string, string] = ['viewer', 'viewer-pw'];

export const basicAuth = ([user, password]: [string, string]) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** Why the browser tests cannot run here, or undefined when they can. */
export function browserTestsMissing(): string | undefined {
  if (!existsSync(CHROMIUM)) return 'chromium not installed';
  if (!hasCommand('skopeo')) return 'skopeo not installed';
  if (!hasCommand('htpasswd')) return 'htpasswd (apache2-utils) not installed';
  return undefined;
}

/** `--htpasswd` and `--access` flags for admin (everything) and viewer (pull only), files written in dir. */
export async function userFlags(dir: string): Promise<string[]> {
  const htpasswd = join(dir, 'users.htpasswd');
  await execFileP('htpasswd', ['-Bbc', '-C', '5', htpasswd, ...ADMIN]);
  await execFileP('htpasswd', ['-Bb', '-C', '5', htpasswd, ...VIEWER]);
  const access = join(dir, 'access.yaml');
  await writeFile(access, ACCESS);
  return ['--htpasswd', htpasswd, '--access', access];
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
