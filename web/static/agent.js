// The agent page: renders what /ws/agent pushes, acts through the JSON API. No framework.
//
// The server pushes every state (agent state, pop, call state); the page never polls. The socket
// reconnects with exponential backoff and at once when the tab becomes visible or the network
// comes back; the first messages on a new socket are the current state. The 1 s tick only
// redraws the timers from server timestamps, so background-tab throttling cannot make them wrong.
(() => {
  'use strict';
  const { boot, $, el, api, errorText, wsUrl } = window.dialcrm;
  const S = boot.strings || {};
  const L = boot.labels || {};
  const label = (key, fallback) => L[key] || fallback || key;

  function fill(list, items, render, emptyText) {
    list.replaceChildren(...(items.length ? items.map(render)
      : [el('li', { class: 'muted' }, emptyText)]));
  }

  const when = (iso) => window.dialcrm.when(iso,
    { month: 'numeric', day: 'numeric', hour: '2-digit', minute: '2-digit' });

  // ------------------------------------------------------------------------------ login page --
  const loginForm = $('login-form');
  if (loginForm) {
    loginForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const form = new FormData(loginForm);
      const out = loginForm.querySelector('.error');
      out.textContent = '';
      try {
        const who = await api('POST', '/api/auth/login',
          { username: form.get('username'), password: form.get('password') });
        const next = loginForm.dataset.next || '';  // the server checked it: a path of ours
        const home = who && who.role === 'agent' ? '/agent' : '/console';  // the role's page
        location.assign(/^\/(?![\/\\])[^\s\\]*$/.test(next) ? next : home);
      } catch (err) {
        out.textContent = err.status === 401 ? S.login_failed : errorText(err);
      }
    });
    return;
  }

  // ------------------------------------------------------------------------------ agent desk --
  const desk = {
    agent: { state: boot.agent.state, pause_code: boot.agent.pause_code || null,
      since: Date.now() / 1000 - (boot.agent.seconds_in_state || 0), call_id: boot.agent.call_id },
    pop: null, ws: null, attempts: 0, lastHeard: 0, heartbeat: 15, skew: 0, retry: null,
  };
  window.dialcrmPops = [];  // {call_id, ts, received, rendered, painted}: pop timings (ms)

  const nowServer = () => (Date.now() + desk.skew) / 1000;

  function elapsed(since) {
    if (!since) return '';
    const s = Math.max(0, Math.floor(nowServer() - since));
    const mm = String(Math.floor(s / 60)).padStart(2, '0');
    return `${mm}:${String(s % 60).padStart(2, '0')}`;
  }

  function showError(err) {
    $('error').textContent = err ? errorText(err) : '';
  }

  function flash(text) {
    $('error').textContent = text;
  }

  async function act(method, path, body) {
    showError(null);
    try {
      return await api(method, path, body);
    } catch (err) {
      showError(err);
      return null;
    }
  }

  // -- rendering ------------------------------------------------------------------------------
  function renderAgent() {
    const st = desk.agent.state;
    const badge = $('agent-state');
    badge.textContent = label(`state_${st}`, st);
    badge.dataset.state = st;
    $('agent-pause-code').textContent = st === 'paused' && desk.agent.pause_code
      ? `(${desk.agent.pause_code})` : '';
    $('dialer-login').hidden = st !== 'logged_out' || boot.watching;
    $('dialer-controls').hidden = st === 'logged_out' || boot.watching;
    $('ready').disabled = ['ready', 'reserved', 'on_call', 'wrap_up', 'connecting'].includes(st);
    $('pause').disabled = ['reserved', 'on_call', 'wrap_up', 'paused'].includes(st);
    $('wrapup').hidden = st !== 'wrap_up' || boot.watching;
    renderCallState();
    tick();
  }

  function renderPop(msg, received) {
    const c = msg.customer || {};
    $('pop-empty').hidden = true;
    $('pop-body').hidden = false;
    $('pop-name').textContent = c.name || S.unknown_customer;
    const link = $('pop-customer-link');  // the customer 360 (/customers/{id}), in a new tab
    link.hidden = !c.customer_id;
    if (c.customer_id) link.href = `/customers/${encodeURIComponent(c.customer_id)}`;
    $('pop-number').textContent = msg.number || '';
    $('pop-tags').replaceChildren(...(c.tags || []).map((t) => el('span', { class: 'chip' }, t)));
    const conv = c.conversion;
    $('pop-route').hidden = !conv;
    $('pop-route').textContent = conv ? [label(`route_${conv.route}`, conv.route),
      conv.p_convert != null ? `P ${conv.p_convert.toFixed(2)}` : null,
      conv.overridden ? label('route_overridden') : null].filter(Boolean).join(' · ') : '';
    $('pop-route').title = conv ? conv.reason || '' : '';
    fill($('pop-numbers'), c.numbers || [], (n) => el('li', {}, `${n.e164} · ${n.type}`), '—');
    fill($('pop-tasks'), c.open_tasks || [],
      (t) => el('li', {}, t.due_at ? `${t.title} · ${S.due} ${when(t.due_at)}` : t.title), S.no_tasks);
    fill($('pop-contacts'), c.recent_contacts || [], (k) => el('li', {}, [
      when(k.at), label(`outcome_${k.outcome}`, k.outcome || k.state),
      k.disposition ? label(`disp_${k.disposition}`, k.disposition) : null,
      k.talk_seconds ? `${Math.round(k.talk_seconds)} s` : null,
    ].filter(Boolean).join(' · ')), S.no_contacts);
    const script = c.recommended_script;
    $('pop-script').textContent = script ? `${script.name}\n${script.body}` : S.no_script;
    renderCallState();
    const timing = { call_id: msg.call_id, lead_id: msg.lead_id, ts: msg.ts, received,
      rendered: performance.timeOrigin + performance.now() };
    requestAnimationFrame(() => { timing.painted = performance.timeOrigin + performance.now(); });
    window.dialcrmPops.push(timing);
    if (window.dialcrmPops.length > 1000) window.dialcrmPops.shift();
  }

  function renderCallState() {
    const pop = desk.pop;
    const card = $('pop');
    card.dataset.state = pop ? pop.state : 'none';
    if (!pop) return;
    $('call-state').textContent = label(`call_${pop.state}`, pop.state);
    $('call-state').dataset.state = pop.state;
    const onCall = desk.agent.state === 'on_call' && desk.agent.call_id === pop.call_id;
    $('hangup').hidden = boot.watching || !(onCall || pop.state === 'connected');
    $('accept').hidden = boot.watching || pop.state !== 'offered';
    $('skip').hidden = boot.watching || pop.state !== 'offered';
  }

  function tick() {
    $('agent-timer').textContent = desk.agent.state === 'logged_out' ? '' : elapsed(desk.agent.since);
    const pop = desk.pop;
    $('call-timer').textContent = pop && pop.state !== 'ended'
      ? elapsed(pop.state_ts || pop.ts) : '';
  }

  // -- the socket -----------------------------------------------------------------------------
  const handlers = {
    hello(msg) {
      desk.skew = msg.server_time * 1000 - Date.now();
      desk.heartbeat = msg.heartbeat_s || 15;
      desk.attempts = 0;
      setConn('live');
    },
    agent_state(msg) {
      const before = desk.agent.state;
      desk.agent = { state: msg.state, pause_code: msg.pause_code, since: msg.since,
        call_id: msg.call_id };
      renderAgent();
      if (before !== msg.state && ['wrap_up', 'ready'].includes(msg.state)) loadTasks();
    },
    pop(msg, received) {
      desk.pop = { ...msg };
      renderPop(desk.pop, received);
      tick();
      liveFor(msg.call_id, true);
    },
    pop_refresh(msg) {  // the customer changed since the (prefetched) pop: same call, new data
      if (!desk.pop || desk.pop.call_id !== msg.call_id) return;
      desk.pop.customer = msg.customer;
      renderPop(desk.pop, performance.timeOrigin + performance.now());
    },
    call_state(msg) {
      if (!desk.pop || desk.pop.call_id !== msg.call_id) return;
      desk.pop.state = msg.state;
      desk.pop.state_ts = msg.ts;
      renderCallState();
      tick();
    },
    heartbeat() {},
  };

  // -- live transcript and rule suggestions (pushed: transcript, suggestion, task_created) --
  const live = { call_id: null, seen: new Set() };

  function liveFor(callId, backfill) {
    if (!callId || live.call_id === callId) return;
    live.call_id = callId;
    live.seen = new Set();
    $('live').dataset.call = callId;
    $('suggestions').replaceChildren();
    $('transcript').replaceChildren($('transcript-empty') || el('li', { class: 'muted' }, ''));
    $('transcript-empty').hidden = false;
    if (backfill && !boot.watching) {  // a reload mid-call: what was said so far
      api('GET', `/api/calls/${encodeURIComponent(callId)}/transcript`)
        .then((data) => (data.segments || []).forEach((seg) => addLine({ ...seg, call_id: callId })))
        .catch(() => {});
    }
  }

  function addLine(msg) {
    liveFor(msg.call_id, false);
    if (msg.call_id !== live.call_id || live.seen.has(msg.segment_id)) return;
    live.seen.add(msg.segment_id);
    const list = $('transcript');
    $('transcript-empty').hidden = true;
    const li = el('li', { class: `line ${msg.speaker}${msg.gap ? ' gap' : ''}` });
    li.dataset.start = msg.start_s;
    li.dataset.testid = 'transcript-line';
    li.append(el('span', { class: 'speaker' }, list.dataset[msg.speaker] || msg.speaker));
    li.append(el('span', { class: 'text' }, msg.gap
      ? list.dataset.gap.replace('{reason}', msg.reason || '') : msg.text));
    (msg.concepts || []).forEach((c) => li.append(el('span', { class: 'chip' }, c)));
    const later = [...list.children].find((n) => Number(n.dataset.start) > msg.start_s);
    list.insertBefore(li, later || null);
  }

  function addSuggestion(text, detail, cls) {
    const li = el('li', { class: `suggestion ${cls}` });
    li.dataset.testid = cls;
    li.append(el('strong', {}, text));
    if (detail) li.append(el('span', { class: 'muted' }, detail));
    $('suggestions').prepend(li);
  }

  Object.assign(handlers, {
    transcript(msg) { addLine(msg); },
    suggestion(msg) {
      liveFor(msg.call_id, false);
      const m = msg.message || {};
      addSuggestion(m[boot.lang] || m.en || msg.script,
        `${$('suggestions').dataset.title}: ${msg.script}`, 'suggestion-script');
    },
    task_created(msg) {
      liveFor(msg.call_id, false);
      const t = msg.task || {};
      const due = t.due_at ? ` · ${$('suggestions').dataset.due} ${when(t.due_at)}` : '';
      addSuggestion(`${$('suggestions').dataset.task}: ${t.title}${due}`, null, 'suggestion-task');
      loadTasks();
    },
  });

  function setConn(state) {
    const conn = $('conn');
    conn.dataset.state = state;
    conn.textContent = state === 'live' ? S.live : S.reconnecting;
  }

  function connect() {
    clearTimeout(desk.retry);
    const query = new URLSearchParams({ lang: boot.lang });
    if (boot.watching) query.set('agent', boot.agent_id);
    const ws = new WebSocket(wsUrl(`/ws/agent?${query}`));
    desk.ws = ws;
    ws.onmessage = (event) => {
      const received = performance.timeOrigin + performance.now();
      desk.lastHeard = Date.now();
      let msg;
      try { msg = JSON.parse(event.data); } catch { return; }
      const handle = handlers[msg.type];
      if (handle) handle(msg, received);
    };
    ws.onclose = () => {
      if (desk.ws !== ws) return;
      desk.ws = null;
      setConn('down');
      scheduleReconnect();
    };
    ws.onerror = () => ws.close();
  }

  function scheduleReconnect() {
    const base = Math.min(30000, 500 * 2 ** Math.min(desk.attempts, 6));
    desk.attempts += 1;
    desk.retry = setTimeout(connect, base * (0.75 + Math.random() * 0.5));
    if (desk.attempts >= 2) {  // a refused socket may mean the session expired
      api('GET', '/api/auth/me').catch((err) => {
        if (err.status === 401) location.assign('/login?next=/agent');
      });
    }
  }

  function reconnectIfStale() {
    if (!desk.ws) { connect(); return; }
    const silentFor = Date.now() - desk.lastHeard;
    if (desk.ws.readyState === WebSocket.OPEN && silentFor > 3 * desk.heartbeat * 1000) {
      desk.ws.close();  // onclose reconnects
    }
  }

  // -- actions --------------------------------------------------------------------------------
  function isoWithOffset(local) {
    const d = new Date(local);
    const off = -d.getTimezoneOffset();
    const abs = Math.abs(off);
    const hh = String(Math.floor(abs / 60)).padStart(2, '0');
    const mm = String(abs % 60).padStart(2, '0');
    return `${local.length === 16 ? `${local}:00` : local}${off >= 0 ? '+' : '-'}${hh}:${mm}`;
  }

  async function loadTasks() {
    try {
      const page = await api('GET', '/api/tasks?status=open&limit=50');
      fill($('tasks'), page.items || [], (t) => el('li', {},
        [t.title, t.due_at ? `${S.due} ${when(t.due_at)}` : null].filter(Boolean).join(' · ')),
      S.no_tasks);
    } catch (err) {
      showError(err);
    }
  }

  function bind(id, handler) {
    $(id).addEventListener('click', handler);
  }

  function bindActions() {
    $('dialer-login').addEventListener('submit', (event) => {
      event.preventDefault();
      const form = new FormData(event.target);
      act('POST', '/api/agent/login',
        { extension: form.get('extension'), campaign_id: form.get('campaign_id') });
    });
    bind('ready', () => act('POST', '/api/agent/ready'));
    bind('pause', () => act('POST', '/api/agent/pause', { pause_code: $('pause-code').value }));
    bind('dialer-logout', () => act('POST', '/api/agent/logout'));
    bind('hangup', () => act('POST', '/api/agent/hangup'));
    bind('accept', () => act('POST', '/api/agent/preview/accept'));
    bind('skip', () => act('POST', '/api/agent/preview/skip', { reason: 'skipped by agent' }));
    bind('tasks-refresh', loadTasks);
    window.dialcrm.beforeSignOut.push(async () => {  // the nav's sign-out leaves the dialer too
      if (desk.agent.state !== 'logged_out' && !boot.watching) {
        await api('POST', '/api/agent/logout').catch(() => null);
      }
    });
    $('note-form').addEventListener('submit', async (event) => {
      event.preventDefault();
      const pop = desk.pop;
      if (!pop || !pop.customer || !pop.customer.customer_id) return;
      const body = event.target.elements.body.value;
      const ok = await act('POST', `/api/customers/${pop.customer.customer_id}/notes`,
        { body, call_id: pop.call_id || null });
      if (ok) { event.target.reset(); flash(S.note_saved); }
    });
    const wrap = $('wrapup-form');
    wrap.elements.disposition.addEventListener('change', () => {
      $('callback-field').hidden = wrap.elements.disposition.value !== 'callback';
    });
    wrap.addEventListener('submit', async (event) => {
      event.preventDefault();
      const f = wrap.elements;
      const body = { disposition: f.disposition.value };
      if (f.disposition.value === 'callback' && f.callback_at.value) {
        body.callback_at = isoWithOffset(f.callback_at.value);
      }
      if (f.note.value.trim()) body.note = f.note.value.trim();
      if (f.then_pause.checked) body.pause_code = $('pause-code').value;
      const ok = await act('POST', '/api/agent/disposition', body);
      if (ok) { wrap.reset(); $('callback-field').hidden = true; flash(S.disposition_saved); }
    });
  }

  bindActions();
  renderAgent();
  loadTasks();
  connect();
  setInterval(tick, 1000);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') reconnectIfStale();
  });
  window.addEventListener('online', reconnectIfStale);
  window.addEventListener('focus', reconnectIfStale);
})();
