// Shared helpers of the Node.js scripts of internal/e2e: load the npm
// packages from the folder scripts/install-browser-deps.sh installs them
// into, and launch Debian's Chromium headless with no network of its own.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Exit code of a script whose browser or npm package is missing. */
export const EXIT_MISSING = 3;

function missing(what) {
  process.stderr.write(`${what}: run scripts/install-browser-deps.sh\n`);
  process.exit(EXIT_MISSING);
}

/** The npm package name installed in .cache/browser-tools (or $BROWSER_TOOLS). */
export function installed(name) {
  const tools = process.env.BROWSER_TOOLS || path.join(root, '.cache', 'browser-tools');
  try {
    return createRequire(path.join(tools, 'package.json'))(name);
  } catch (e) {
    return missing(`${name} is not installed in ${tools}`);
  }
}

/** The playwright-core module. */
export function playwright() {
  return installed('playwright-core');
}

/** Launches headless Chromium ($CHROMIUM, else /usr/bin/chromium). */
export async function launch() {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) missing(`${executablePath} is missing`);
  const { chromium } = playwright();
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-default-apps',
      '--disable-extensions',
    ],
  });
}

/** Whether a URL stays on this machine (or is inline data). */
export function isLocal(u) {
  let url;
  try {
    url = new URL(u);
  } catch (e) {
    return false;
  }
  if (url.protocol === 'data:' || url.protocol === 'blob:' || url.protocol === 'about:') return true;
  return ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

/**
 * Aborts every request of the context that leaves this machine and records
 * it in the returned list.
 */
export async function blockRemote(context) {
  const blocked = [];
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (isLocal(u)) return route.continue();
    blocked.push(u);
    return route.abort('blockedbyclient');
  });
  return blocked;
}

/** Records the page's uncaught errors and console errors. */
export function watchErrors(page) {
  const errors = { page: [], console: [] };
  page.on('pageerror', (e) => errors.page.push(String(e && e.stack ? e.stack : e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.console.push(m.text());
  });
  return errors;
}
