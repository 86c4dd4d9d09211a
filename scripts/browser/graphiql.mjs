// graphiql.mjs checks that the GraphiQL playground works offline: it opens
// $BASE_URL/ in headless Chromium with every request to another host
// aborted, puts $TOKEN into the headers editor, types a query into the
// query editor, clicks the run button and waits for the answer in the
// result pane. It prints one JSON line: {"ok":…, "result":…, "blocked":[…],
// "pageErrors":[…], "error":…} and exits 0 only when the answer came and
// nothing tried to leave this machine. $SCREENSHOT, when set, is a PNG path.
// With $TAB, it runs that example tab as it opens instead of typing $QUERY,
// and reports the tab's variables; $TIMEZONE sets the browser's time zone.
// With $REOPEN_TIMEZONE as well, it then opens the page again in that time
// zone with this browser's saved state and reports the tab's variables
// there (reopenedVariables).
import { launch, blockRemote, watchErrors } from './lib.mjs';

const base = process.env.BASE_URL;
const token = process.env.TOKEN || '';
const query = process.env.QUERY || '{ viewer { role subject } }';
const expect = process.env.EXPECT || '"role": "MANAGER"';
const timeout = Number(process.env.TIMEOUT_MS || 20000);
const tab = process.env.TAB || '';
const timezoneId = process.env.TIMEZONE || undefined;
const reopenTimezone = process.env.REOPEN_TIMEZONE || '';
if (!base) {
  process.stderr.write('BASE_URL is not set\n');
  process.exit(2);
}

const browser = await launch();
const report = { ok: false, result: '', variables: '', reopenedVariables: '', blocked: [], pageErrors: [], consoleErrors: [] };
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, timezoneId });
  report.blocked = await blockRemote(context);
  const page = await context.newPage();
  const errors = watchErrors(page);
  report.pageErrors = errors.page;
  report.consoleErrors = errors.console;

  await page.goto(new URL('/', base).href, { waitUntil: 'load' });
  await page.waitForSelector('.graphiql-container .graphiql-query-editor .CodeMirror', { timeout });

  const toolEditor = page.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').first();
  // tabVariables opens the example's tab and returns its variables.
  const tabVariables = async (p) => {
    await p.getByRole('tab', { name: tab }).click({ timeout });
    await p.getByRole('button', { name: 'Variables' }).click({ timeout });
    const editor = p.locator('.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror').first();
    return (await editor.innerText({ timeout })).replace(/\u00a0/g, ' ');
  };
  if (tab) {
    // The example's tab, with the variables it opens with.
    report.variables = await tabVariables(page);
  } else {
    // A new tab, so that no example's operation name lingers.
    await page.getByRole('button', { name: 'New tab' }).click({ timeout });
  }

  // The headers editor: open its tab, replace its text with the token.
  if (token) {
    await page.getByRole('button', { name: 'Headers' }).click({ timeout });
    await toolEditor.click({ timeout });
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(JSON.stringify({ Authorization: 'Bearer ' + token }));
  }

  if (!tab) {
    // The query editor: replace its text with the query.
    await page.locator('.graphiql-query-editor .CodeMirror').first().click({ timeout });
    await page.keyboard.press('Control+A');
    await page.keyboard.insertText(query);
  }

  // Run at once, before GraphiQL has parsed the new text: the page must
  // still send a subscription over the WebSocket.
  await page.locator('button.graphiql-execute-button').click({ timeout });
  const result = page.locator('.graphiql-response, .result-window').first();
  try {
    await page.waitForFunction((want) => {
      const r = document.querySelector('.graphiql-response, .result-window');
      return r && r.innerText.replace(/\u00a0/g, ' ').includes(want);
    }, expect, { timeout, polling: 100 });
  } finally {
    report.result = (await result.innerText().catch(() => '')).replace(/\u00a0/g, ' ').trim();
  }
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
  if (tab && reopenTimezone) {
    // The same browser later, elsewhere: its saved tabs come back.
    const again = await browser.newContext({
      viewport: { width: 1400, height: 900 }, timezoneId: reopenTimezone, storageState: await context.storageState(),
    });
    const blocked2 = await blockRemote(again);
    const page2 = await again.newPage();
    const errors2 = watchErrors(page2);
    await page2.goto(new URL('/', base).href, { waitUntil: 'load' });
    await page2.waitForSelector('.graphiql-container .graphiql-query-editor .CodeMirror', { timeout });
    report.reopenedVariables = await tabVariables(page2);
    report.pageErrors.push(...errors2.page);
    report.blocked.push(...blocked2);
  }
  report.ok = report.blocked.length === 0 && report.pageErrors.length === 0;
} catch (e) {
  report.error = String(e && e.message ? e.message : e);
} finally {
  await browser.close().catch(() => {});
}
process.stdout.write(JSON.stringify(report) + '\n');
process.exit(report.ok ? 0 : 1);
