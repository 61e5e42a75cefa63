/**
 * Debian's Chromium driven by playwright-core, launched the one way every browser test does:
 * headless, no sandbox (tests may run as root in a container), no GPU, and nothing that reaches
 * the network on its own (background fetches, component updates, first-run pages), so a test
 * sees only the requests its page makes.
 */
import type { Browser } from 'playwright-core';

export const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';

/** `timeoutMs`: how long the launch may take (a busy machine can need more than playwright's 30 s). */
export async function launchChromium(opts: { timeoutMs?: number } = {}): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
    timeout: opts.timeoutMs,
  });
}
