
(function () {
  'use strict';

  // ---- Configuration ------------------------------------------------------

  const $ = function (id) { return document.getElementById(id); };
  const config = readConfig();
  const endpoint = new URL(config.endpoint || '/graphql', location.href);
  const socketURL = (function () {
    const u = new URL(endpoint.href);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    return u.href;
  })();
  const STORAGE_KEY = 'helpscout-log:wall:token';
  const FEED_SIZE = 30;
  const BACKOFF_MS = [1000, 2000, 5000, 10000];
  const ACK_TIMEOUT_MS = 10000;
  const PING_EVERY_MS = 15000;
  const PONG_TIMEOUT_MS = 10000;
  const BUDGET_EVERY_MS = 10000;
  const TODAY_EVERY_MS = 30000;
  const SUMMARY_EVERY_MS = 30000;
  const STALE_AFTER_MS = 3000; // how long the feed may be down before the screen says it is not live
  const RATE_TARGET = 0.95;
  const GAUGE_MIN = 0.5;

  const OPS = config.operations || {};

  const TYPE_LABELS = {
    TICKET_CREATED: 'Ticket created',
    CUSTOMER_SYNCED: 'Customer synced',
    CUSTOMER_UPDATED: 'Customer updated',
    CONVERSATION_SYNCED: 'Conversation synced',
    CONVERSATION_UPDATED: 'Conversation updated',
    ERROR: 'Integration error',
  };
  const STATUS_LABELS = { SUCCESS: 'OK', FAILED: 'FAILED', PENDING: 'PENDING' };
  const HEALTH_LABELS = { HEALTHY: 'Healthy', DEGRADED: 'Below 95%', FAILING: 'Failing', NO_DATA: 'No data' };

  const el = {
    conn: $('conn'), clock: $('clock'), feed: $('feed'), feedEmpty: $('feed-empty'),
    announce: $('announce'), stale: $('stale'), health: $('health'),
    page: [document.querySelector('header.top'), $('wall'), document.querySelector('footer.bottom')],
    rateBox: $('rate-box'), rate: $('rate'), rateDetail: $('rate-detail'), gauge: $('rate-gauge'),
    tickets: $('tickets'), budgetBox: $('budget-box'), budget: $('budget'), budgetDetail: $('budget-detail'),
    chart: $('chart'), updated: $('updated'), changeToken: $('change-token'),
    signin: $('signin'), signinForm: $('signin-form'), signinReason: $('signin-reason'), tokenInput: $('token-input'),
  };

  function readConfig() {
    try {
      return JSON.parse($('wall-config').textContent) || {};
    } catch (e) {
      return {};
    }
  }

  // ---- Token --------------------------------------------------------------

  // authorization is the Authorization header value ("Bearer …"), or null.
  let authorization = initialAuthorization();

  function headerValue(headers, name) {
    for (const k in headers || {}) {
      if (k.toLowerCase() === name.toLowerCase()) return headers[k];
    }
    return null;
  }

  function asBearer(token) {
    const t = String(token || '').trim().replace(/^bearer\s+/i, '').trim();
    return t ? 'Bearer ' + t : null;
  }

  function storedToken() {
    try { return localStorage.getItem(STORAGE_KEY); } catch (e) { return null; }
  }

  function storeToken(token) {
    try { localStorage.setItem(STORAGE_KEY, token); } catch (e) { /* private mode: keep it in memory */ }
  }

  // The token comes from the server's configuration, else from the URL
  // fragment (#token=…, then removed from the address bar and kept in
  // localStorage), else from localStorage. A token in the fragment leaves
  // the address bar even when the configured one wins.
  function initialAuthorization() {
    const fromFragment = fragmentToken();
    const configured = headerValue(config.headers, 'Authorization');
    if (configured) return configured;
    return fromFragment || asBearer(storedToken());
  }

  // fragmentToken takes a token from the URL fragment (#token=…): it keeps
  // it in localStorage and removes it from the address bar.
  function fragmentToken() {
    const fragment = new URLSearchParams(location.hash.replace(/^#/, ''));
    const token = asBearer(fragment.get('token'));
    if (token) {
      storeToken(token.slice(7));
      history.replaceState(null, '', location.pathname + location.search);
    }
    return token;
  }

  // A token put into the fragment of the open page replaces the current one.
  window.addEventListener('hashchange', function () {
    const token = fragmentToken();
    if (token) {
      authorization = token;
      start();
    }
  });

  function requestHeaders() {
    const h = {};
    for (const k in config.headers || {}) {
      if (k.toLowerCase() !== 'authorization') h[k] = config.headers[k];
    }
    if (authorization) h.Authorization = authorization;
    return h;
  }

  // ---- GraphQL over HTTP --------------------------------------------------

  class AuthError extends Error {}

  function errorCode(e) { return e && e.extensions && e.extensions.code; }
  function isAuthCode(code) { return code === 'UNAUTHENTICATED' || code === 'FORBIDDEN'; }
  function authErrorIn(errors) {
    const e = (errors || []).find(function (x) { return isAuthCode(errorCode(x)); });
    return e ? new AuthError(e.message || errorCode(e)) : null;
  }

  // gql runs a query and returns its data; it throws AuthError when the
  // token is refused and Error for anything else that kept data away.
  async function gql(query, variables, field) {
    let resp;
    try {
      resp = await fetch(endpoint.href, {
        method: 'POST',
        headers: Object.assign({ 'Content-Type': 'application/json', Accept: 'application/json' }, requestHeaders()),
        body: JSON.stringify({ query: query, variables: variables || {} }),
        cache: 'no-store',
        credentials: 'omit',
      });
    } catch (e) {
      throw new Error('the server cannot be reached');
    }
    let body;
    try {
      body = await resp.json();
    } catch (e) {
      throw new Error('the server answered HTTP ' + resp.status);
    }
    const auth = authErrorIn(body.errors);
    if (auth) throw auth;
    const data = body.data || {};
    if (field && (data[field] === null || data[field] === undefined)) {
      const e = (body.errors || [])[0];
      const err = new Error(e ? e.message : 'no ' + field + ' in the answer');
      err.code = errorCode(e);
      throw err;
    }
    return data;
  }

  // ---- State --------------------------------------------------------------

  const events = new Map(); // event id -> event
  const rows = new Map(); // event id -> <li>
  let lastCursor = null; // the newest feed cursor received: the list's liveCursor, then each change's
  let loaded = false; // whether the first page of events was read
  let loadedOnce = false; // whether anything was shown, so that it can go stale
  let lastLive = null; // when the feed stopped being live (null while live)
  let lastReceived = null; // when the last page or change arrived
  let running = false;
  let session = 0; // bumped by start and stop, so that late answers of an old token are dropped
  let generation = 0; // bumped to disown an old socket
  let socket = null;
  let acked = false;
  let previousAcked = true; // whether the last socket got connection_ack
  let attempt = 0;
  let nextId = 1;
  let reconnected = false; // whether a socket of this session was live before
  let feedId = null;
  let summaryId = null;
  let summaryLive = false;
  let reconnectTimer = null;
  let countdownTimer = null;
  let pingTimer = null;
  let pongTimer = null;
  let ackTimer = null;
  let todayTimer = null;
  const timers = [];

  // ANNOUNCEMENTS are what a screen reader hears when the connection
  // changes state; the countdown and the events themselves stay quiet.
  const ANNOUNCEMENTS = {
    live: 'Live.',
    reconnecting: 'Connection lost, reconnecting.',
    offline: 'This device is offline.',
    'signed-out': 'Signed out.',
  };

  function setConn(state, text) {
    const was = el.conn.dataset.state;
    el.conn.dataset.state = state;
    el.conn.textContent = text;
    if (state !== was && ANNOUNCEMENTS[state]) announce(ANNOUNCEMENTS[state]);
    if (state === 'live') {
      lastLive = null;
    } else if (lastLive === null) {
      lastLive = Date.now();
    }
    showStale();
  }

  function announce(text) {
    el.announce.textContent = text;
  }

  // showStale marks the screen as not live once the feed has been down for
  // STALE_AFTER_MS: the figures and rows are dimmed, and a banner says since
  // when nothing has been received.
  function showStale() {
    const down = loadedOnce && lastLive !== null && Date.now() - lastLive >= STALE_AFTER_MS;
    if (!down) {
      if (!el.stale.hidden) {
        el.stale.hidden = true;
        delete document.body.dataset.stale;
      }
      return;
    }
    const since = lastReceived || lastLive;
    el.stale.textContent = 'Not live: shown as of ' + timeFormat.format(new Date(since)) + ' (' + age(Date.now() - since) + ' ago)';
    if (el.stale.hidden) {
      el.stale.hidden = false;
      document.body.dataset.stale = '';
    }
  }

  function age(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return s + ' s';
    const m = Math.floor(s / 60);
    if (m < 60) return m + ' min';
    const h = Math.floor(m / 60);
    if (h < 48) return h + ' h ' + (m % 60) + ' min';
    return Math.floor(h / 24) + ' days';
  }

  function stamp(what) {
    lastReceived = Date.now();
    el.updated.textContent = what + ' ' + timeFormat.format(new Date(lastReceived));
  }

  // ---- Start, stop, sign-in -----------------------------------------------

  function start() {
    stop();
    session++;
    if (!authorization) {
      showSignin('');
      return;
    }
    hideSignin();
    running = true;
    reconnected = false;
    attempt = 0;
    previousAcked = true;
    setConn('connecting', 'Connecting…');
    refreshSummary();
    refreshToday();
    refreshBudget();
    timers.push(setInterval(refreshBudget, BUDGET_EVERY_MS));
    timers.push(setInterval(refreshToday, TODAY_EVERY_MS));
    timers.push(setInterval(function () { if (!summaryLive) refreshSummary(); }, SUMMARY_EVERY_MS));
    connect();
  }

  function stop() {
    running = false;
    session++;
    loaded = false;
    lastCursor = null;
    dropSocket();
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    clearInterval(countdownTimer);
    clearTimeout(todayTimer);
    todayTimer = null;
    timers.splice(0).forEach(clearInterval);
  }

  function signOut(reason) {
    stop();
    showSignin(reason);
  }

  function showSignin(reason) {
    // The server's reason may end with the feed cursor to resume from,
    // which means nothing on the screen.
    reason = (reason || '').replace(/; resubscribe with after: .*$/, '');
    const expired = /expired/i.test(reason);
    if (expired) reason = 'The token has expired: enter a new one.';
    el.signinReason.textContent = reason;
    el.signin.hidden = false;
    // While the prompt is up, the page behind it is out of reach.
    el.page.forEach(function (n) { if (n) n.inert = true; });
    el.tokenInput.value = '';
    el.tokenInput.focus();
    if (!running) setConn('signed-out', expired ? 'Token expired' : reason ? 'Token refused' : 'Needs a token');
  }

  function hideSignin() {
    el.signin.hidden = true;
    el.page.forEach(function (n) { if (n) n.inert = false; });
  }

  el.signinForm.addEventListener('submit', function (e) {
    e.preventDefault();
    const value = asBearer(el.tokenInput.value);
    if (!value) return;
    storeToken(value.slice(7));
    authorization = value;
    el.tokenInput.value = '';
    start();
  });
  el.changeToken.addEventListener('click', function () { showSignin(''); });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape' && running) hideSignin();
  });

  // ---- Connection ---------------------------------------------------------

  // connect reads the first page of events (once), then opens the socket.
  async function connect() {
    const gen = generation, s = session;
    try {
      if (!loaded) {
        await loadEvents(s);
      } else if (!previousAcked) {
        await gql(OPS.viewer, null, 'viewer'); // a refused token closes sockets without a word
      }
    } catch (e) {
      if (gen !== generation || s !== session) return;
      if (e instanceof AuthError) { signOut(e.message); return; }
      scheduleReconnect(e.message);
      return;
    }
    if (gen !== generation || s !== session) return;
    openSocket();
  }

  async function loadEvents(s) {
    const data = await gql(OPS.events, { first: FEED_SIZE }, 'syncEvents');
    if (s !== session) return;
    const edges = data.syncEvents.edges || [];
    events.clear();
    edges.forEach(function (edge) { events.set(edge.node.id, edge.node); });
    // The feed's own cursor, taken before the page was read: every change
    // since (status changes of these rows included) follows on the feed.
    lastCursor = data.syncEvents.liveCursor || (edges.length ? edges[0].cursor : null);
    loaded = true;
    loadedOnce = true;
    renderFeed(false);
    stamp('Loaded');
  }

  function openSocket() {
    const gen = ++generation;
    let ws;
    try {
      ws = new WebSocket(socketURL, 'graphql-transport-ws');
    } catch (e) {
      scheduleReconnect('cannot open a WebSocket');
      return;
    }
    socket = ws;
    acked = false;
    ackTimer = setTimeout(function () {
      if (gen === generation && !acked) lost('no connection_ack in time');
    }, ACK_TIMEOUT_MS);
    ws.onopen = function () {
      if (gen !== generation) return;
      const payload = requestHeaders();
      send({ type: 'connection_init', payload: payload });
    };
    ws.onmessage = function (m) {
      if (gen !== generation) return;
      let msg;
      try { msg = JSON.parse(m.data); } catch (e) { lost('unreadable message'); return; }
      onMessage(msg);
    };
    ws.onclose = function (ev) {
      if (gen !== generation) return;
      if (ev.code === 4401 || ev.code === 4403) {
        signOut(ev.reason || (ev.code === 4401 ? 'The token was refused.' : 'This token may not watch the log.'));
        return;
      }
      lost(ev.reason || 'connection closed (' + ev.code + ')');
    };
  }

  function send(msg) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(msg));
  }

  // dropSocket disowns and closes the current socket.
  function dropSocket() {
    generation++;
    clearTimeout(ackTimer);
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    if (socket) {
      const ws = socket;
      socket = null;
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000, 'bye'); } catch (e) { /* already closed */ }
    }
    feedId = summaryId = null;
    summaryLive = false;
  }

  // lost handles a connection that ended or stopped answering.
  function lost(reason) {
    previousAcked = acked;
    acked = false;
    dropSocket();
    if (running) scheduleReconnect(reason);
  }

  function scheduleReconnect(reason) {
    const delay = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
    attempt++;
    clearTimeout(reconnectTimer);
    clearInterval(countdownTimer);
    const due = Date.now() + delay;
    const show = function () {
      const s = Math.max(1, Math.ceil((due - Date.now()) / 1000));
      if (navigator.onLine === false) setConn('offline', 'Offline');
      else setConn('reconnecting', 'Reconnecting in ' + s + ' s');
      el.conn.title = reason || '';
    };
    show();
    countdownTimer = setInterval(show, 250);
    reconnectTimer = setTimeout(function () {
      reconnectTimer = null;
      clearInterval(countdownTimer);
      if (!running) return;
      setConn('connecting', 'Connecting…');
      connect();
    }, delay);
  }

  function reconnectNow() {
    if (running && !socket && reconnectTimer) {
      clearTimeout(reconnectTimer);
      clearInterval(countdownTimer);
      reconnectTimer = null;
      setConn('connecting', 'Connecting…');
      connect();
    }
  }
  window.addEventListener('online', reconnectNow);
  // The browser knows that the network is gone: say so rather than count
  // down to attempts that cannot succeed (they go on, and 'online' hurries
  // the next one).
  window.addEventListener('offline', function () {
    if (running && !acked) setConn('offline', 'Offline');
  });

  function onMessage(msg) {
    switch (msg.type) {
      case 'connection_ack':
        acked = true;
        previousAcked = true;
        attempt = 0;
        clearTimeout(ackTimer);
        el.conn.title = '';
        setConn('live', 'Live');
        subscribe();
        pingTimer = setInterval(ping, PING_EVERY_MS);
        if (reconnected) {
          // What was polled over HTTP may be as old as the outage.
          refreshToday();
          refreshBudget();
        }
        reconnected = true;
        break;
      case 'ping':
        send({ type: 'pong' });
        break;
      case 'pong':
        clearTimeout(pongTimer);
        break;
      case 'next':
        onNext(msg.id, msg.payload || {});
        break;
      case 'error':
        onError(msg.id, Array.isArray(msg.payload) ? msg.payload : [msg.payload]);
        break;
      case 'complete':
        if (msg.id === feedId) lost('the server ended the feed');
        else if (msg.id === summaryId) { summaryLive = false; summaryId = null; refreshSummary(); }
        break;
    }
  }

  function ping() {
    send({ type: 'ping' });
    clearTimeout(pongTimer);
    pongTimer = setTimeout(function () { lost('no answer to ping'); }, PONG_TIMEOUT_MS);
  }

  function subscribe() {
    feedId = String(nextId++);
    send({ id: feedId, type: 'subscribe', payload: { query: OPS.feed, variables: { after: lastCursor } } });
    summaryId = String(nextId++);
    summaryLive = true;
    send({ id: summaryId, type: 'subscribe', payload: { query: OPS.liveSummary, variables: {} } });
  }

  function onNext(id, payload) {
    const auth = authErrorIn(payload.errors);
    if (auth) { signOut(auth.message); return; }
    const data = payload.data || {};
    if (id === feedId) {
      const change = data.syncEvents;
      if (!change) {
        // A refused subscription (a cursor no longer valid, say) comes as a
        // result with errors: handle it as an error of the feed.
        onError(id, payload.errors && payload.errors.length ? payload.errors : [{ message: 'empty change' }]);
        return;
      }
      lastCursor = change.cursor;
      applyEvent(change.event, !change.replay);
      stamp('Updated');
    } else if (id === summaryId && data.summary) {
      renderSummary(data.summary);
    }
  }

  function onError(id, errors) {
    const auth = authErrorIn(errors);
    if (auth) { signOut(auth.message); return; }
    const first = errors[0] || {};
    if (id === feedId) {
      if (errorCode(first) === 'BAD_USER_INPUT' && lastCursor) {
        loaded = false; // the cursor is no longer usable: read the list again
        lastCursor = null;
      }
      lost(first.message || 'the feed failed');
    } else if (id === summaryId) {
      summaryLive = false;
      summaryId = null;
      refreshSummary();
    }
  }

  // ---- Figures --------------------------------------------------------------

  async function refreshSummary() {
    const s = session;
    try {
      const data = await gql(OPS.summary, null, 'summary');
      if (s === session) renderSummary(data.summary);
    } catch (e) {
      if (s === session && e instanceof AuthError) signOut(e.message);
    }
  }

  async function refreshToday() {
    const s = session;
    try {
      // Today as the screen's clock shows it: since local midnight.
      const midnight = new Date();
      midnight.setHours(0, 0, 0, 0);
      const data = await gql(OPS.today, { from: midnight.toISOString() }, 'summary');
      if (s === session) el.tickets.textContent = numberFormat.format(data.summary.ticketsCreated);
    } catch (e) {
      if (s === session && e instanceof AuthError) signOut(e.message);
    }
  }

  // refreshTodaySoon reads the count a second after a ticket was created;
  // the tickets of that second wait for the same read, so that a steady
  // stream of them still updates the figure every second.
  function refreshTodaySoon() {
    if (todayTimer) return;
    todayTimer = setTimeout(function () {
      todayTimer = null;
      refreshToday();
    }, 1000);
  }

  async function refreshBudget() {
    const s = session;
    try {
      const data = await gql(OPS.budget, null, 'rateLimitBudget');
      if (s === session) renderBudget(data.rateLimitBudget);
    } catch (e) {
      if (s !== session) return;
      if (e instanceof AuthError) { signOut(e.message); return; }
      el.budgetBox.dataset.level = 'na';
      el.budget.textContent = 'n/a';
      el.budgetDetail.textContent = e.message;
    }
  }

  function renderBudget(b) {
    const limit = b.limit || 0;
    const remaining = b.remaining !== null && b.remaining !== undefined ? b.remaining : Math.max(0, limit - b.used);
    const ratio = typeof b.remainingRatio === 'number' ? b.remainingRatio : (limit ? remaining / limit : 0);
    el.budget.textContent = numberFormat.format(remaining);
    let detail = 'of ' + numberFormat.format(limit) + ' units left this minute';
    if (b.pausedUntil) detail = 'paused after a 429 until ' + timeFormat.format(new Date(b.pausedUntil));
    el.budgetDetail.textContent = detail;
    el.budgetBox.dataset.level = b.pausedUntil || ratio <= 0 ? 'out' : ratio < 0.25 ? 'low' : 'ok';
  }

  function renderSummary(s) {
    const health = s.health || 'NO_DATA';
    if (el.rateBox.dataset.health !== health && el.rateBox.dataset.health !== 'NO_DATA') {
      announce('Success rate ' + (HEALTH_LABELS[health] || health).toLowerCase() + '.');
    }
    el.rateBox.dataset.health = health;
    el.health.textContent = HEALTH_LABELS[health] || health;
    el.rate.textContent = typeof s.successRate === 'number' ? percent(s.successRate) : '–';
    el.gauge.setAttribute('aria-label', 'success rate ' + el.rate.textContent + ' against the 95% line');
    el.rateDetail.textContent = numberFormat.format(s.succeeded) + ' succeeded · ' +
      numberFormat.format(s.failed) + ' failed · ' + numberFormat.format(s.pending) + ' pending';
    renderGauge(s.successRate);
    renderChart(s.timeline || []);
  }

  function percent(r) {
    const p = r * 100;
    const whole = Math.round(p);
    return (Math.abs(p - whole) < 0.05 ? String(whole) : p.toFixed(1)) + '%';
  }

  // ---- SVG ----------------------------------------------------------------

  const SVG = 'http://www.w3.org/2000/svg';
  function svg(name, attrs, text) {
    const n = document.createElementNS(SVG, name);
    for (const k in attrs) n.setAttribute(k, attrs[k]);
    if (text !== undefined) n.textContent = text;
    return n;
  }

  // The gauge runs from GAUGE_MIN to 100%, with the 95% line marked above it.
  function renderGauge(rate) {
    const w = 400, barY = 22, barH = 18;
    const pos = function (r) { return w * Math.min(1, Math.max(0, (r - GAUGE_MIN) / (1 - GAUGE_MIN))); };
    const g = el.gauge;
    g.replaceChildren();
    g.appendChild(svg('rect', { class: 'track', x: 0, y: barY, width: w, height: barH, rx: 3 }));
    if (typeof rate === 'number') {
      g.appendChild(svg('rect', { class: 'fill', x: 0, y: barY, width: pos(rate), height: barH, rx: 3 }));
    }
    const t = pos(RATE_TARGET);
    g.appendChild(svg('line', { class: 'target', x1: t, x2: t, y1: barY - 4, y2: barY + barH + 4 }));
    g.appendChild(svg('text', { class: 'target-label', x: t, y: 14, 'text-anchor': 'middle' }, percent(RATE_TARGET)));
    g.appendChild(svg('text', { x: 0, y: 58 }, percent(GAUGE_MIN)));
    g.appendChild(svg('text', { x: w, y: 58, 'text-anchor': 'end' }, '100%'));
  }

  let chartBuckets = [];

  // renderChart draws the hourly bars at the chart's own pixel size, so that
  // its labels have the page's type size on any screen.
  function renderChart(buckets) {
    chartBuckets = buckets;
    const c = el.chart;
    const W = Math.max(200, Math.round(c.clientWidth || 720));
    const H = Math.max(80, Math.round(c.clientHeight || 220));
    const fs = (parseFloat(getComputedStyle(document.documentElement).fontSize) || 16) * 0.85; // .chart text
    const top = Math.round(fs * 1.5), bottom = H - Math.round(fs * 1.5);
    c.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    c.replaceChildren();
    const pattern = svg('pattern', { id: 'fail-hatch', width: 8, height: 8, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' });
    pattern.appendChild(svg('rect', { class: 'hatch-bg', width: 8, height: 8 }));
    pattern.appendChild(svg('line', { class: 'hatch-line', x1: 0, y1: 0, x2: 0, y2: 8 }));
    const defs = svg('defs', {});
    defs.appendChild(pattern);
    c.appendChild(defs);
    c.appendChild(svg('line', { class: 'axis', x1: 0, x2: W, y1: bottom + 0.5, y2: bottom + 0.5 }));
    if (!buckets.length) {
      c.setAttribute('aria-label', 'successes and failures per hour: no data');
      return;
    }
    const max = Math.max(1, ...buckets.map(function (b) { return b.succeeded + b.failed; }));
    const slot = W / buckets.length;
    const bw = Math.max(1, slot * 0.72);
    const scale = (bottom - top) / max;
    const failed = buckets.reduce(function (n, b) { return n + b.failed; }, 0);
    c.setAttribute('aria-label', 'successes and failures per hour, at most ' + numberFormat.format(max) +
      ' an hour; ' + numberFormat.format(failed) + ' failed in the last 24 hours');
    c.appendChild(svg('text', { x: 0, y: Math.round(fs) }, 'max ' + numberFormat.format(max) + ' / h'));
    // Hour labels every 6 hours, or every 12 when the chart is narrow.
    const every = slot * 6 < fs * 4 ? 12 : 6;
    buckets.forEach(function (b, i) {
      const x = i * slot + (slot - bw) / 2;
      const start = new Date(b.start);
      const g = svg('g', {});
      g.appendChild(svg('title', {}, hourFormat.format(start) + ': ' + b.succeeded + ' succeeded, ' + b.failed + ' failed'));
      const hs = b.succeeded * scale, hf = b.failed * scale;
      if (hs > 0) g.appendChild(svg('rect', { class: 'ok', x: x, y: bottom - hs, width: bw, height: hs }));
      if (hf > 0) {
        const hh = Math.max(hf, 3);
        g.appendChild(svg('rect', { class: 'bad', fill: 'url(#fail-hatch)', x: x, y: bottom - hs - hh, width: bw, height: hh }));
      }
      c.appendChild(g);
      if ((buckets.length - 1 - i) % every === 0) {
        // Labels at the edges stay inside the chart.
        const anchor = i === buckets.length - 1 ? 'end' : x < fs * 2 ? 'start' : 'middle';
        const lx = anchor === 'end' ? x + bw : anchor === 'start' ? x : x + bw / 2;
        c.appendChild(svg('text', { x: lx, y: H - Math.round(fs * 0.3), 'text-anchor': anchor }, hourFormat.format(start)));
      }
    });
  }

  // ---- Feed ---------------------------------------------------------------

  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  const hourFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hour12: false });
  const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit', hour12: false });
  const clockFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit', hour12: false });
  const numberFormat = new Intl.NumberFormat();

  function applyEvent(ev, fresh) {
    if (!ev || !ev.id) return;
    const before = events.get(ev.id);
    events.set(ev.id, ev);
    if (ev.type === 'TICKET_CREATED' && ev.status === 'SUCCESS' && (!before || before.status !== 'SUCCESS')) {
      refreshTodaySoon();
    }
    renderFeed(fresh ? ev.id : false);
  }

  function newer(a, b) {
    const ta = Date.parse(a.occurredAt), tb = Date.parse(b.occurredAt);
    if (ta !== tb) return tb - ta;
    const ia = Number(a.id), ib = Number(b.id);
    if (!isNaN(ia) && !isNaN(ib)) return ib - ia;
    return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
  }

  function renderFeed(freshId) {
    const list = Array.from(events.values()).sort(newer).slice(0, FEED_SIZE);
    const keep = new Set(list.map(function (e) { return e.id; }));
    for (const id of Array.from(events.keys())) {
      if (!keep.has(id)) events.delete(id);
    }
    for (const [id, li] of rows) {
      if (!keep.has(id)) { li.remove(); rows.delete(id); }
    }
    list.forEach(function (ev, i) {
      let li = rows.get(ev.id);
      if (!li) {
        li = document.createElement('li');
        rows.set(ev.id, li);
      }
      // A burst re-renders the list for every change: only rows whose event
      // (or the day it is shown against) changed are rebuilt.
      const sig = rowSignature(ev);
      if (li.dataset.sig !== sig) {
        fillRow(li, ev);
        li.dataset.sig = sig;
      }
      if (ev.id === freshId && mayHighlight(Date.now())) {
        li.classList.remove('fresh');
        void li.offsetWidth; // restart the animation
        li.classList.add('fresh');
      }
      const at = el.feed.children[i];
      if (at !== li) el.feed.insertBefore(li, at || null);
    });
    el.feedEmpty.hidden = list.length > 0;
    clipRows();
  }

  // mayHighlight lets at most HIGHLIGHTS_AT_ONCE new rows light up within
  // one highlight's length, so that a burst does not set the whole list
  // flashing on a screen across the room.
  const HIGHLIGHT_MS = 2500, HIGHLIGHTS_AT_ONCE = 3;
  const highlights = [];
  function mayHighlight(now) {
    while (highlights.length && now - highlights[0] > HIGHLIGHT_MS) highlights.shift();
    if (highlights.length >= HIGHLIGHTS_AT_ONCE) return false;
    highlights.push(now);
    return true;
  }

  function rowSignature(ev) {
    return [ev.status, ev.occurredAt, ev.type, ev.attempt, ev.customerEmail, ev.ticketNumber, ev.conversationId,
      ev.helpScoutUrl, ev.errorCode, ev.errorMessage, ev.httpStatus, dayKey(new Date())].join('\u0001');
  }

  function dayKey(d) {
    return d.getFullYear() + '-' + d.getMonth() + '-' + d.getDate();
  }

  // clipRows hides the rows that do not fit whole into the list's box.
  function clipRows() {
    const limit = el.feed.clientHeight;
    const overflow = el.feed.scrollHeight > limit + 1;
    for (const li of el.feed.children) {
      const clipped = overflow && li.offsetTop + li.offsetHeight > limit + 1;
      if (li.classList.contains('clipped') !== clipped) li.classList.toggle('clipped', clipped);
    }
  }

  function span(cls, text) {
    const s = document.createElement('span');
    s.className = cls;
    s.textContent = text;
    return s;
  }

  function fillRow(li, ev) {
    const status = String(ev.status || '').toLowerCase();
    const fresh = li.classList.contains('fresh');
    li.className = 'event ' + status + (fresh ? ' fresh' : '');
    li.dataset.id = ev.id;
    li.dataset.status = ev.status;
    li.dataset.type = ev.type;
    // Today's events show the time of day; older ones (after a quiet
    // weekend, say) the day too, so that they do not pass for today's.
    const at = new Date(ev.occurredAt);
    const time = span('time', dayKey(at) === dayKey(new Date()) ? timeFormat.format(at) : dayFormat.format(at));
    time.title = ev.occurredAt;
    const who = span('who', ev.customerEmail || (ev.direction === 'FROM_HELPSCOUT' ? 'from HelpScout' : '—'));
    who.title = who.textContent;
    let error = null;
    if (ev.status === 'FAILED') {
      const parts = [ev.errorCode, ev.errorMessage].filter(Boolean).join(': ');
      error = span('error', (parts || 'failed') + (ev.httpStatus ? ' (HTTP ' + ev.httpStatus + ')' : ''));
      error.title = error.textContent;
    }
    const conv = span('conv', '');
    const label = ev.ticketNumber ? '#' + ev.ticketNumber : ev.conversationId ? 'conv ' + ev.conversationId : '';
    if (label && typeof ev.helpScoutUrl === 'string' && /^https:\/\//.test(ev.helpScoutUrl)) {
      const a = document.createElement('a');
      a.href = ev.helpScoutUrl;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      a.textContent = label;
      conv.appendChild(a);
    } else {
      conv.textContent = label;
    }
    const type = span('type', TYPE_LABELS[ev.type] || ev.type);
    if (ev.attempt > 1) type.textContent += ' (attempt ' + ev.attempt + ')';
    li.replaceChildren(time, type, span('status', STATUS_LABELS[ev.status] || ev.status), who, conv);
    if (error) li.appendChild(error);
  }

  // ---- Clock --------------------------------------------------------------

  let today = dayKey(new Date());
  function tick() {
    const now = new Date();
    el.clock.textContent = clockFormat.format(now);
    el.clock.dateTime = now.toISOString();
    if (dayKey(now) !== today) {
      today = dayKey(now);
      renderFeed(false); // yesterday's rows now show their day
    }
    showStale();
  }
  tick();
  setInterval(tick, 1000);
  renderGauge(null);
  renderChart([]);

  // A new screen size (or a TV switching modes) changes what fits.
  if (typeof ResizeObserver === 'function') {
    let pending = false;
    new ResizeObserver(function () {
      if (pending) return;
      pending = true;
      requestAnimationFrame(function () {
        pending = false;
        renderChart(chartBuckets);
        clipRows();
      });
    }).observe(document.body);
  }

  start();
})();
