// wall.mjs drives the wall screen (/wall) in headless Chromium for the Go
// tests in internal/e2e. It reads one JSON command per line on stdin and
// answers each with one JSON line on stdout: {"ok":true,...} or
// {"ok":false,"error":"..."}. Requests that would leave this machine are
// aborted and reported by "diagnostics".
//
// Commands (op and arguments):
//   open {url}                      load a page
//   waitState {state, timeoutMs}    wait until #conn has data-state=state
//   waitNotState {state, timeoutMs} wait until it has another state
//   waitSignin {withReason, timeoutMs}
//                                   wait for the token prompt (with a reason
//                                   shown, when withReason); answers the reason
//   signin {token}                  type a token into the prompt and submit it
//   waitEvent {text, status, timeoutMs}
//                                   wait for a feed row containing text (with
//                                   data-status=status when given); answers the
//                                   row's id, status, class, colours, text and
//                                   how many rows show that event
//   text {selector}                 the text of an element
//   waitText {selector, text, timeoutMs}
//                                   wait until an element's text contains text
//   waitShown {selector, shown, timeoutMs}
//                                   wait until an element is shown (or, with
//                                   shown false, hidden or gone); answers its text
//   layout {width, height}          resize the viewport and measure the page:
//                                   the root font size, elements that leave the
//                                   viewport, feed rows cut by the list's edge,
//                                   the rows' count and those with clipped text
//   url                             the page's current URL
//   frames                          the WebSocket frames so far: {socket, dir, payload}
//   requests                        the GraphQL operations sent over HTTP so far
//   diagnostics                     page errors, console errors, blocked requests
//   screenshot {path}               a PNG of the page
//   quit                            close the browser and exit
import readline from 'node:readline';
import { launch, blockRemote, watchErrors } from './lib.mjs';

const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1920, height: 1080 } });
const blocked = await blockRemote(context);
const page = await context.newPage();
const errors = watchErrors(page);

const frames = [];
let sockets = 0;
page.on('websocket', (ws) => {
  const socket = ++sockets;
  ws.on('framesent', (f) => frames.push({ socket, dir: 'sent', payload: String(f.payload) }));
  ws.on('framereceived', (f) => frames.push({ socket, dir: 'received', payload: String(f.payload) }));
  ws.on('close', () => frames.push({ socket, dir: 'closed', payload: '' }));
});
const operations = [];
page.on('request', (r) => {
  if (r.method() !== 'POST') return;
  try {
    const body = JSON.parse(r.postData() || '{}');
    const m = /^\s*(query|mutation)\s+(\w+)/.exec(body.query || '');
    operations.push(m ? m[2] : '(anonymous)');
  } catch (e) {
    operations.push('(unreadable)');
  }
});

const DEFAULT_TIMEOUT = 15000;

async function currentState() {
  return page.evaluate(() => {
    const c = document.getElementById('conn');
    return c ? { state: c.dataset.state, text: c.textContent, title: c.title } : null;
  });
}

const ops = {
  async open({ url }) {
    await page.goto(url, { waitUntil: 'load' });
    return { url: page.url() };
  },
  async waitState({ state, timeoutMs }) {
    try {
      await page.waitForSelector(`#conn[data-state="${state}"]`, { timeout: timeoutMs || DEFAULT_TIMEOUT, state: 'attached' });
    } catch (e) {
      throw new Error(`connection state is not ${state}: ${JSON.stringify(await currentState())}`);
    }
    return currentState();
  },
  async waitNotState({ state, timeoutMs }) {
    try {
      await page.waitForSelector(`#conn:not([data-state="${state}"])`, { timeout: timeoutMs || DEFAULT_TIMEOUT, state: 'attached' });
    } catch (e) {
      throw new Error(`connection state stays ${state}`);
    }
    return currentState();
  },
  async waitSignin({ withReason, timeoutMs }) {
    const timeout = timeoutMs || DEFAULT_TIMEOUT;
    await page.waitForSelector('#signin:not([hidden]) #token-input', { timeout, state: 'visible' });
    if (withReason) {
      await page.waitForFunction(() => document.getElementById('signin-reason').textContent.trim() !== '', null, { timeout });
    }
    return { reason: await page.textContent('#signin-reason') };
  },
  async signin({ token }) {
    await page.fill('#token-input', token);
    await page.click('#token-submit');
    return {};
  },
  async waitEvent({ text, status, timeoutMs }) {
    const find = (arg) => {
      const rows = Array.from(document.querySelectorAll('#feed li.event'));
      const row = rows.find((li) => li.textContent.includes(arg.text) && (!arg.status || li.dataset.status === arg.status));
      if (!row) return null;
      const style = getComputedStyle(row);
      return {
        id: row.dataset.id,
        status: row.dataset.status,
        type: row.dataset.type,
        className: row.className,
        background: style.backgroundColor,
        border: style.borderLeftColor,
        statusColor: getComputedStyle(row.querySelector('.status')).color,
        text: row.innerText,
        links: Array.from(row.querySelectorAll('a')).map((a) => a.href),
        sameId: rows.filter((li) => li.dataset.id === row.dataset.id).length,
        matching: rows.filter((li) => li.textContent.includes(arg.text)).length,
      };
    };
    try {
      const handle = await page.waitForFunction(find, { text, status }, { timeout: timeoutMs || DEFAULT_TIMEOUT, polling: 100 });
      return await handle.jsonValue();
    } catch (e) {
      const rows = await page.$$eval('#feed li.event', (lis) => lis.map((li) => li.dataset.status + ' ' + li.textContent));
      throw new Error(`no row with ${JSON.stringify(text)}${status ? ' and status ' + status : ''}; ` +
        `state ${JSON.stringify(await currentState())}; rows: ${JSON.stringify(rows.slice(0, 10))}`);
    }
  },
  async text({ selector }) {
    return { text: await page.textContent(selector) };
  },
  async waitText({ selector, text, timeoutMs }) {
    try {
      await page.waitForFunction((a) => {
        const e = document.querySelector(a.selector);
        return e && e.textContent.includes(a.text);
      }, { selector, text }, { timeout: timeoutMs || DEFAULT_TIMEOUT, polling: 100 });
    } catch (e) {
      throw new Error(`${selector} does not show ${JSON.stringify(text)}: ${JSON.stringify(await page.textContent(selector).catch(() => null))}`);
    }
    return { text: await page.textContent(selector) };
  },
  async waitShown({ selector, shown, timeoutMs }) {
    const want = shown === false ? 'hidden' : 'visible';
    try {
      await page.waitForSelector(selector, { timeout: timeoutMs || DEFAULT_TIMEOUT, state: want });
    } catch (e) {
      throw new Error(`${selector} is not ${want}; state ${JSON.stringify(await currentState())}`);
    }
    return { text: await page.evaluate((sel) => { const e = document.querySelector(sel); return e ? e.textContent : null; }, selector) };
  },
  async layout({ width, height }) {
    await page.setViewportSize({ width, height });
    // Wait for the resize to be laid out and the page's observers to run.
    await page.waitForFunction((w) => innerWidth === w, width, { timeout: DEFAULT_TIMEOUT });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    return page.evaluate(() => {
      const shown = (e) => {
        for (let n = e; n; n = n.parentElement) {
          const cs = getComputedStyle(n);
          if (cs.display === 'none' || cs.visibility === 'hidden') return false;
        }
        return true;
      };
      const name = (e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && typeof e.className === 'string' ? '.' + e.className.trim().replace(/\s+/g, '.') : '');
      const outside = [];
      for (const e of document.querySelectorAll('body *')) {
        if (!shown(e) || e.closest('#signin, .sr-only')) continue;
        const r = e.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        if (r.left < -1 || r.top < -1 || r.right > innerWidth + 1 || r.bottom > innerHeight + 1) {
          outside.push(name(e) + ' ' + [r.left, r.top, r.right, r.bottom].map(Math.round).join(','));
        }
      }
      const list = document.getElementById('feed').getBoundingClientRect();
      const rows = Array.from(document.querySelectorAll('#feed li.event'));
      const visible = rows.filter(shown);
      const cut = visible.filter((li) => li.getBoundingClientRect().bottom > list.bottom + 1).map((li) => li.dataset.id);
      // Text that does not fit must be cut inside its own box (ellipsis),
      // never spill over its neighbours.
      const spills = [];
      for (const li of visible) {
        const box = li.getBoundingClientRect();
        for (const c of li.children) {
          const r = c.getBoundingClientRect();
          if (r.right > box.right + 1 || r.left < box.left - 1) spills.push(li.dataset.id + ' ' + name(c));
        }
      }
      const truncated = visible.flatMap((li) => Array.from(li.querySelectorAll('.who, .error, .type'))
        .filter((c) => c.scrollWidth > c.clientWidth + 1 || c.scrollHeight > c.clientHeight + 1)
        .map((c) => c.textContent));
      return {
        fontSize: parseFloat(getComputedStyle(document.documentElement).fontSize),
        outside: outside.slice(0, 20),
        rows: rows.length,
        visibleRows: visible.length,
        cut,
        spills: spills.slice(0, 20),
        truncated,
        scroll: { width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight },
      };
    });
  },
  async url() {
    return { url: page.url() };
  },
  async frames() {
    return { frames };
  },
  async requests() {
    return { operations };
  },
  async diagnostics() {
    return { pageErrors: errors.page, consoleErrors: errors.console, blocked };
  },
  async screenshot({ path }) {
    await page.screenshot({ path, fullPage: false });
    return { path };
  },
  async quit() {
    await browser.close();
    return {};
  },
};

const out = (v) => process.stdout.write(JSON.stringify(v) + '\n');
const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (e) {
    out({ ok: false, error: 'unreadable command: ' + line });
    continue;
  }
  const op = ops[cmd.op];
  if (!op) {
    out({ ok: false, error: 'unknown op ' + cmd.op });
    continue;
  }
  try {
    out(Object.assign({ ok: true }, await op(cmd)));
  } catch (e) {
    out({ ok: false, error: String(e && e.message ? e.message : e) });
  }
  if (cmd.op === 'quit') break;
}
await browser.close().catch(() => {});
process.exit(0);
