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
      since: Date.now() / 1000 - (boot.agent.seconds_in_state || 0), call_id: boot.agent.call_id,
      until: boot.agent.until || null },
    pop: null, ws: null, attempts: 0, lastHeard: 0, heartbeat: 15, skew: 0, retry: null,
    helloAt: 0,  // server time of this socket's hello: a pop older than it is a replay
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
    if (err) $('msg').textContent = '';
  }

  function flash(text) {  // a success: green, in the status line (never in the error line)
    $('error').textContent = '';
    $('msg').textContent = text;
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
    if (st !== 'wrap_up') $('wrapup-error').textContent = '';
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
    fill($('pop-numbers'), c.numbers || [],
      (n) => el('li', {}, `${n.e164} · ${label(`ntype_${n.type}`, n.type)}`), '—');
    fill($('pop-notes'), c.recent_notes || [], noteItem, S.no_notes);
    fill($('pop-tasks'), c.open_tasks || [],
      (t) => el('li', {}, t.due_at ? `${t.title} · ${S.due} ${when(t.due_at)}` : t.title), S.no_tasks);
    fill($('pop-contacts'), c.recent_contacts || [], (k) => el('li', {}, [
      when(k.at), k.outcome ? label(`outcome_${k.outcome}`, k.outcome)
        : label(`callstate_${k.state}`, k.state),
      k.disposition ? codeLabel(k.disposition) : null,
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

  // -- the campaign's wrap-up codes (the CRM's table), with their keys --------------------------
  const codes = { campaign: boot.agent.campaign_id || null, list: boot.dispositions || [] };

  function codeLabel(code) {
    const found = codes.list.find((d) => d.code === code);
    return found ? found.label : label(`disp_${code}`, code);
  }

  function renderCodes() {
    const select = $('wrapup-form').elements.disposition;
    const chosen = select.value;
    const first = select.options[0];
    select.replaceChildren(first, ...codes.list.map((d) => {
      const option = el('option', { value: d.code, 'data-category': d.category },
        d.shortcut ? `${d.label} [${d.shortcut}]` : d.label);
      if (d.shortcut) option.dataset.shortcut = d.shortcut;
      return option;
    }));
    if (codes.list.some((d) => d.code === chosen)) select.value = chosen;
  }

  async function loadCodes(campaignId) {
    if (!campaignId || campaignId === codes.campaign) return;
    codes.campaign = campaignId;
    try {
      const page = await api('GET', `/api/dispositions?campaign_id=${encodeURIComponent(campaignId)}`);
      codes.list = (page.items || []).map((d) => ({ code: d.code, category: d.category,
        shortcut: d.shortcut, label: boot.lang === 'zh' ? d.label_zh : d.label_en }));
      renderCodes();
    } catch (err) {
      codes.campaign = null;  // try again at the next state
    }
  }

  function chosenCategory() {
    const select = $('wrapup-form').elements.disposition;
    const option = select.options[select.selectedIndex];
    return option ? option.dataset.category || '' : '';
  }

  function noteItem(n) {
    const li = el('li', {}, n.body);
    li.dataset.testid = 'pop-note';
    const at = n.at || n.created_at;
    if (at) li.prepend(el('span', { class: 'muted' }, `${when(at)} · `));
    return li;
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
    renderHold(onCall);
    $('accept').hidden = boot.watching || pop.state !== 'offered';
    $('skip').hidden = boot.watching || pop.state !== 'offered';
  }

  // -- hold and mute (issue 13 item 5): the state the server answered for this call ----------
  const hold = { call_id: null, on_hold: false, muted: false, since: 0 };

  function renderHold(onCall) {
    if (!onCall || hold.call_id !== desk.agent.call_id) {
      Object.assign(hold, { call_id: desk.agent.call_id, on_hold: false, muted: false });
    }
    $('hold-controls').hidden = boot.watching || !onCall;
    $('hold').textContent = hold.on_hold ? S.unhold : S.hold;
    $('hold').dataset.on = hold.on_hold;
    $('mute').textContent = hold.muted ? S.unmute : S.mute;
    $('mute').dataset.on = hold.muted;
  }

  async function holdAct(path, body) {
    const view = await act('POST', path, body);
    if (!view) return;
    if (!hold.on_hold && view.on_hold) hold.since = nowServer();  // this hold's time
    Object.assign(hold, { call_id: view.call_id, on_hold: !!view.on_hold, muted: !!view.muted });
    renderHold(desk.agent.state === 'on_call');
    tick();
  }

  function tick() {
    $('agent-timer').textContent = desk.agent.state === 'logged_out' ? '' : elapsed(desk.agent.since);
    const pop = desk.pop;
    $('call-timer').textContent = pop && pop.state !== 'ended'
      ? elapsed(pop.state_ts || pop.ts) : '';
    if (pop && hold.call_id === pop.call_id && (hold.on_hold || hold.muted)) {
      const marks = [hold.on_hold ? `${S.on_hold} ${elapsed(hold.since)}` : '', hold.muted ? S.muted : ''];
      $('call-timer').textContent += ` · ${marks.filter(Boolean).join(' · ')}`;
    }
    const until = desk.agent.state === 'wrap_up' ? desk.agent.until : null;
    const countdown = $('wrapup-countdown');
    countdown.hidden = !until;
    if (until) {
      const left = Math.max(0, Math.ceil(until - nowServer()));
      const mm = String(Math.floor(left / 60)).padStart(2, '0');
      countdown.textContent = S.wrapup_left.replace('{time}', `${mm}:${String(left % 60).padStart(2, '0')}`);
      countdown.dataset.left = left;
      countdown.classList.toggle('urgent', left <= 10);
    }
    remindCallbacks();
  }

  // -- the socket -----------------------------------------------------------------------------
  const handlers = {
    hello(msg) {
      desk.skew = msg.server_time * 1000 - Date.now();
      desk.helloAt = msg.server_time;
      desk.heartbeat = msg.heartbeat_s || 15;
      desk.attempts = 0;
      setConn('live');
    },
    agent_state(msg) {
      const before = desk.agent.state;
      desk.agent = { state: msg.state, pause_code: msg.pause_code, since: msg.since,
        call_id: msg.call_id, until: msg.until || null, campaign_id: msg.campaign_id };
      renderAgent();
      loadCodes(msg.campaign_id);
      if (before !== msg.state && ['wrap_up', 'ready'].includes(msg.state)) loadWork();
    },
    pop(msg, received) {
      desk.pop = { ...msg };
      renderPop(desk.pop, received);
      tick();
      // what was said so far, only for a call already under way when this socket opened (a
      // reload): a new pop has nothing to fetch, and its call may not be in the CRM yet
      liveFor(msg.call_id, msg.ts < desk.helloAt && msg.state !== 'offered');
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
    li.dataset.start = Number(msg.start_s) || 0;
    li.dataset.end = Number(msg.end_s) || 0;
    li.dataset.testid = 'transcript-line';
    li.append(el('span', { class: 'speaker' }, list.dataset[msg.speaker] || msg.speaker));
    li.append(el('span', { class: 'text' }, msg.gap
      ? list.dataset.gap.replace('{reason}', label(`gap_${msg.reason}`, msg.reason || ''))
      : msg.text));
    if (msg.speaker === 'customer') {  // what the customer meant; the agent's lines get none
      (msg.concepts || []).forEach((c) => li.append(el('span', { class: 'chip' },
        label(`concept_${c}`, c))));
    }
    const start = Number(li.dataset.start);
    const end = Number(li.dataset.end);
    const later = [...list.querySelectorAll('li.line')].find((n) => Number(n.dataset.start) > start
      || (Number(n.dataset.start) === start && Number(n.dataset.end) > end));
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
      addSuggestion(m[boot.lang] || m.en || $('suggestions').dataset.title,
        $('suggestions').dataset.title, 'suggestion-script');
    },
    task_created(msg) {
      liveFor(msg.call_id, false);
      const t = msg.task || {};
      const due = t.due_at ? ` · ${$('suggestions').dataset.due} ${when(t.due_at)}` : '';
      addSuggestion(`${$('suggestions').dataset.task}: ${t.title}${due}`, null, 'suggestion-task');
      loadWork();
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

  // -- the agent's work: tasks (with the customer, openable, completable) and callbacks ----
  function taskItem(t) {
    const list = $('tasks');
    const li = el('li', { class: 'work' });
    li.dataset.testid = 'task';
    li.dataset.task = t.id;
    const details = el('details');
    const summary = el('summary');
    summary.append(el('strong', { 'data-testid': 'task-customer' }, t.customer_name || S.no_customer));
    summary.append(el('span', {}, ` · ${t.title}`));
    if (t.due_at) summary.append(el('span', { class: 'muted' }, ` · ${S.due} ${when(t.due_at)}`));
    details.append(summary);
    if (t.description) details.append(el('p', { class: 'muted' }, t.description));
    const actions = el('p', { class: 'row wrap' });
    if (t.customer_id && list.dataset.customers) {
      const open = el('a', { href: `/customers/${encodeURIComponent(t.customer_id)}`,
        'data-testid': 'task-open' }, list.dataset.open);
      actions.append(open);
    }
    const done = el('button', { type: 'button', class: 'secondary', 'data-testid': 'task-complete' },
      list.dataset.complete);
    done.addEventListener('click', async () => {
      done.disabled = true;
      const ok = await act('PATCH', `/api/tasks/${encodeURIComponent(t.id)}`, { status: 'done' });
      if (ok) { li.remove(); flash(S.task_done); if (!list.children.length) loadTasks(); }
      else done.disabled = false;
    });
    actions.append(done);
    details.append(actions);
    li.append(details);
    return li;
  }

  async function loadTasks() {
    const mine = boot.user_id && !boot.watching ? `&owner_id=${encodeURIComponent(boot.user_id)}` : '';
    try {
      const page = await api('GET', `/api/tasks?status=open&limit=50${mine}`);
      fill($('tasks'), page.items || [], taskItem, S.no_tasks);
    } catch (err) {
      showError(err);
    }
  }

  function callbackItem(c) {
    const li = el('li', { class: c.overdue ? 'work overdue' : 'work' });
    li.dataset.testid = 'callback';
    li.dataset.lead = c.lead_id;
    li.append(el('strong', { 'data-testid': 'callback-due' }, when(c.due_at)));
    if (c.overdue) li.append(el('span', { class: 'badge late', 'data-testid': 'callback-overdue' },
      $('callbacks').dataset.overdue));
    if (c.scope === 'personal') li.append(el('span', { class: 'badge', 'data-testid': 'callback-personal-badge' },
      S.callback_scope_personal));
    li.append(el('span', {}, ` ${c.customer_name} · ${c.phone} · ${c.campaign_name}`));
    return li;
  }

  const REMIND_BEFORE_S = 300;  // the agent is reminded five minutes before a callback is due
  const reminded = new Set();
  let shownCallbacks = [];

  function remindCallbacks() {  // called by the one-second tick
    const now = nowServer();
    for (const c of shownCallbacks) {
      const due = new Date(c.due_at).getTime() / 1000;
      if (reminded.has(c.lead_id) || !(due - now <= REMIND_BEFORE_S) || due < now) continue;
      reminded.add(c.lead_id);
      flash(S.callback_soon.replace('{who}', c.customer_name).replace('{time}', when(c.due_at)));
      const item = $('callbacks').querySelector(`[data-lead="${c.lead_id}"]`);
      if (item) item.classList.add('soon');
    }
  }

  const pendingCallbacks = new Map();  // lead id -> set here, not yet in the CRM's list

  async function loadCallbacks() {
    if (boot.watching) return;
    try {
      const page = await api('GET', '/api/callbacks?limit=50');
      const items = page.items || [];
      items.forEach((c) => pendingCallbacks.delete(c.lead_id));
      const all = [...items, ...pendingCallbacks.values()]
        .sort((a, b) => new Date(a.due_at) - new Date(b.due_at));
      shownCallbacks = all;
      fill($('callbacks'), all, callbackItem, S.no_callbacks);
    } catch (err) {
      showError(err);
    }
  }

  function loadWork() {
    loadTasks();
    loadCallbacks();
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
    bind('hold', () => holdAct('/api/agent/hold', { hold: !hold.on_hold }));
    bind('mute', () => holdAct('/api/agent/mute', { mute: !hold.muted }));
    bind('accept', () => act('POST', '/api/agent/preview/accept'));
    bind('skip', () => act('POST', '/api/agent/preview/skip', { reason: 'skipped by agent' }));
    bind('tasks-refresh', loadWork);
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
      $('note-msg').textContent = '';
      const ok = await act('POST', `/api/customers/${pop.customer.customer_id}/notes`,
        { body, call_id: pop.call_id || null });
      if (ok) {  // it shows at once, and at the customer's next pop (the summary's notes)
        event.target.reset();
        $('note-msg').textContent = S.note_saved;
        const list = $('pop-notes');
        list.querySelectorAll('li.muted').forEach((n) => n.remove());
        list.prepend(noteItem(ok));
        (pop.customer.recent_notes = pop.customer.recent_notes || []).unshift(ok);
      }
    });
    const wrap = $('wrapup-form');
    wrap.elements.disposition.addEventListener('change', () => {
      const callback = chosenCategory() === 'callback';
      $('callback-field').hidden = !callback;
      $('callback-personal-field').hidden = !callback;
      wrap.elements.callback_at.required = callback;  // the browser asks for it before sending
    });
    wrap.addEventListener('submit', async (event) => {
      event.preventDefault();
      const f = wrap.elements;
      const body = { disposition: f.disposition.value };
      if (chosenCategory() === 'callback' && f.callback_at.value) {
        body.callback_at = isoWithOffset(f.callback_at.value);
        body.callback_scope = f.callback_personal.checked ? 'personal' : 'campaign';
      }
      if (f.note.value.trim()) body.note = f.note.value.trim();
      if (f.then_pause.checked) body.pause_code = $('pause-code').value;
      $('wrapup-error').textContent = '';
      let ok = null;
      try { ok = await api('POST', '/api/agent/disposition', body); } catch (err) {
        $('wrapup-error').textContent = errorText(err);  // beside the form, not at the top
        if (err.field && f[err.field]) f[err.field].focus();
        return;
      }
      if (ok) {
        wrap.reset();
        $('callback-field').hidden = true;
        $('callback-personal-field').hidden = true;
        f.callback_at.required = false;
        flash(S.disposition_saved);
        if (body.callback_at && desk.pop && desk.pop.lead_id) {  // shown now; the CRM confirms
          const c = desk.pop.customer || {};
          const campaign = (boot.campaigns || []).find((x) => x.id === desk.pop.campaign_id);
          pendingCallbacks.set(desk.pop.lead_id, { lead_id: desk.pop.lead_id,
            customer_name: c.name || S.unknown_customer, phone: desk.pop.number || '',
            campaign_name: campaign ? campaign.name : '', due_at: body.callback_at, overdue: false,
            scope: body.callback_scope });
          loadCallbacks();
        }
      }
    });
  }

  // wrap-up keys: the key in brackets chooses the code (not while typing in a field)
  document.addEventListener('keydown', (event) => {
    if ($('wrapup').hidden || event.ctrlKey || event.metaKey || event.altKey) return;
    const tag = event.target && event.target.tagName;
    if (tag === 'TEXTAREA' || tag === 'INPUT') return;
    const select = $('wrapup-form').elements.disposition;
    const option = [...select.options].find((o) => o.dataset.shortcut === event.key.toLowerCase());
    if (!option) return;
    event.preventDefault();
    select.value = option.value;
    select.dispatchEvent(new Event('change'));
  });

  bindActions();
  renderAgent();
  $('callbacks-zone').textContent = `${S.zone}: ${Intl.DateTimeFormat().resolvedOptions().timeZone}`;
  loadWork();
  connect();
  setInterval(tick, 1000);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') reconnectIfStale();
  });
  window.addEventListener('online', reconnectIfStale);
  window.addEventListener('focus', reconnectIfStale);
})();
