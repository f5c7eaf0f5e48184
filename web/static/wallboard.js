// The managers' wallboard: renders what /ws/wallboard pushes (whole snapshots). No polling:
// the only timer ticks the "time in state" counters locally between pushes.
(() => {
  'use strict';
  const { boot, $, el, api, errorText, pct, when, wsUrl } = window.dialcrm;
  const S = boot.strings;
  const SVG = 'http://www.w3.org/2000/svg';
  const state = { board: null, receivedAt: 0, ws: null, attempts: 0, retry: 0, monitor: null };

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const mm = String(Math.floor(s / 60) % 60).padStart(2, '0');
    const ss = String(s % 60).padStart(2, '0');
    return s >= 3600 ? `${Math.floor(s / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  // Supervisor monitoring: listen / whisper / barge on an agent's live call (POST), stop (DELETE).
  const MODES = ['listen', 'whisper', 'barge'];

  function monitorMsg(text, bad = false) {
    const node = $('mon-msg');
    node.textContent = text;
    node.classList.toggle('bad', bad);
  }

  async function monitorCall(callId, mode) {
    const ext = $('mon-ext').value.trim();
    if (ext) localStorage.setItem('dialcrm.monitor.ext', ext);
    const path = `/api/dialer/calls/${encodeURIComponent(callId)}/monitor`;
    monitorMsg('…');
    let data = {};
    try {
      data = mode ? await api('POST', path, ext ? { mode, extension: ext } : { mode })
        : await api('DELETE', path);
    } catch (err) {
      monitorMsg(`${S.mon_failed}: ${errorText(err)}`, true);
      return;
    }
    state.monitor = mode ? { call_id: callId, mode: data.mode } : null;
    monitorMsg(mode ? `${S.mon_active}: ${S[`mon_${data.mode}`]} · ${data.extension}` : S.mon_stopped);
    if (state.board) renderAgents(state.board);
  }

  function monitorButtons(callId) {
    const box = el('span', { class: 'row monitor', 'data-testid': 'monitor' });
    const mine = state.monitor && state.monitor.call_id === callId;
    for (const mode of MODES) {
      const button = el('button', { type: 'button', class: 'small', 'data-testid': `mon-${mode}`,
        'aria-pressed': mine && state.monitor.mode === mode ? 'true' : 'false' }, S[`mon_${mode}`]);
      button.addEventListener('click', () => monitorCall(callId, mode));
      box.append(button);
    }
    if (mine) {
      const stop = el('button', { type: 'button', class: 'small', 'data-testid': 'mon-stop' }, S.mon_stop);
      stop.addEventListener('click', () => monitorCall(callId, null));
      box.append(stop);
    }
    return box;
  }

  function renderAgents(board) {
    const live = new Set(board.agents.filter((a) => a.state === 'on_call').map((a) => a.call_id));
    if (state.monitor && !live.has(state.monitor.call_id)) state.monitor = null;  // call ended
    for (const [st, n] of Object.entries(board.agent_counts)) {
      const node = $(`count-${st}`);
      if (node) node.textContent = String(n);
    }
    const list = $('agents');
    list.replaceChildren();
    if (!board.agents.length) list.append(el('li', { class: 'muted' }, S.no_agents));
    for (const a of board.agents) {
      const li = el('li', { class: 'row spread', 'data-agent': a.agent_id });
      li.append(el('span', {}, a.agent_id));
      const right = el('span', { class: 'row' });
      const label = S[`state_${a.state}`] || a.state;
      right.append(el('span', { class: 'badge', 'data-state': a.state, 'data-testid': 'agent-state' },
        a.pause_code ? `${label} · ${a.pause_code}` : label));
      right.append(el('span', { class: 'timer', 'data-since': String(a.seconds_in_state) },
        clock(a.seconds_in_state)));
      if (a.state === 'on_call' && a.call_id) right.append(monitorButtons(a.call_id));
      li.append(right);
      list.append(li);
    }
  }

  function chart(board, campaignId) {
    const W = 300; const H = 80;
    const points = board.history.filter((p) => p.campaigns[campaignId]);
    const box = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
      'aria-label': `${S.wb_abandon_rate} / ${S.wb_connects}` });
    const maxRate = Math.max(board.target * 2, ...points.map((p) => p.campaigns[campaignId].abandon_rate));
    const maxConn = Math.max(1, ...points.map((p) => p.campaigns[campaignId].connects));
    const y = (v, max) => (H - 4 - (v / max) * (H - 8)).toFixed(1);
    box.append(svg('line', { x1: 0, x2: W, y1: y(board.target, maxRate), y2: y(board.target, maxRate),
      class: 'target' }));
    if (points.length >= 2) {
      const t0 = points[0].t; const span = Math.max(1, points[points.length - 1].t - t0);
      const x = (p) => (((p.t - t0) / span) * W).toFixed(1);
      const line = (key, max) => points.map((p) => `${x(p)},${y(p.campaigns[campaignId][key], max)}`).join(' ');
      box.append(svg('polyline', { points: line('connects', maxConn), class: 'connects' }));
      box.append(svg('polyline', { points: line('abandon_rate', maxRate), class: 'abandons' }));
      const minutes = Math.round(span / 60);
      const caption = svg('text', { x: 2, y: 10, class: 'caption' });
      caption.textContent = `${minutes} ${S.wb_minutes_ago}`;
      box.append(caption);
    }
    return box;
  }

  function renderCampaigns(board) {
    const root = $('campaigns');
    root.replaceChildren();
    if (!board.campaigns.length) root.append(el('p', { class: 'muted' }, S.no_campaigns));
    for (const c of board.campaigns) {
      const card = el('article', { class: 'campaign', 'data-campaign': c.campaign_id,
        'data-alarm': c.alarm ? 'on' : 'off' });
      card.append(el('h3', {}, `${c.name || c.campaign_id} (${c.mode})`));
      if (c.alarm) {
        card.append(el('p', { class: 'alarm', role: 'alert', 'data-testid': 'alarm' },
          `${S.wb_alarm}: ${c.alarm}${c.alarm_message ? ` — ${c.alarm_message}` : ''}`));
      }
      const stats = el('dl', { class: 'stats' });
      const add = (label, value, attrs = {}) => {
        stats.append(el('dt', {}, label));
        stats.append(el('dd', attrs, value));
      };
      add(S.wb_dials, String(c.dials));
      add(S.wb_answers, String(c.live_answers));
      add(S.wb_connects, String(c.connects));
      const target = c.abandon_target ?? board.target;
      add(S.wb_abandon_rate, `${pct(c.abandon_rate)} / ${S.wb_target} ${pct(target)}`,
        { class: c.over_target ? 'bad' : 'ok', 'data-testid': 'abandon-rate' });
      const reg = c.regulatory;
      if (reg) {
        add(`${S.wb_regulatory} (${S[`wb_window_${reg.window}`] || reg.window})`,
          `${reg.rate == null ? '—' : pct(reg.rate)} / ${S.wb_target} ${pct(reg.target)}`,
          { class: reg.over_target ? 'bad' : 'ok', 'data-testid': 'regulatory-rate' });
      }
      add(S.wb_answer_rate, c.answer_rate == null ? '—' : pct(c.answer_rate),
        { 'data-testid': 'answer-rate' });
      add(S.wb_dials_per_connect, c.dials_per_connect == null ? '—' : String(c.dials_per_connect),
        { 'data-testid': 'dials-per-connect' });
      add(S.wb_occupancy, c.occupancy == null ? '—' : pct(c.occupancy),
        { 'data-testid': 'occupancy' });
      add(S.wb_hopper, String(c.hopper), { class: c.alarm ? 'bad' : '', 'data-testid': 'hopper' });
      card.append(stats);
      card.append(chart(board, c.campaign_id));
      root.append(card);
    }
  }

  // The supervisor to-do list (open tasks from the workflow rules), pushed with every board.
  const due = (iso) => when(iso, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

  function renderTodo(board) {
    const todo = board.todo || { items: [], total: 0 };
    $('todo-count').textContent = String(todo.total);
    const list = $('todo');
    list.replaceChildren();
    if (!todo.items.length) list.append(el('li', { class: 'muted' }, S.todo_none));
    for (const item of todo.items) {
      const li = el('li', { class: 'todo-item', 'data-task': item.id, 'data-testid': 'todo-item' });
      const head = el('div', { class: 'row spread' });
      head.append(el('strong', { 'data-testid': 'todo-customer' }, item.customer || item.customer_id || '—'));
      const meta = el('span', { class: 'muted' });
      meta.textContent = [item.due_at ? `${S.todo_due} ${due(item.due_at)}` : '',
        `${S.todo_owner}: ${item.owner || S.todo_unowned}`].filter(Boolean).join(' · ');
      head.append(meta);
      li.append(head);
      const title = item.title[boot.lang] || item.title.zh;
      li.append(el('div', { 'data-testid': 'todo-reason' }, `${title} [${item.rule_id}]`));
      if (item.evidence.length) {
        li.append(el('div', { class: 'muted small', 'data-testid': 'todo-evidence' },
          `${S.todo_evidence}: ${item.evidence.join('; ')}`));
      }
      list.append(li);
    }
    if (todo.total > todo.items.length) {
      list.append(el('li', { class: 'muted' }, `+${todo.total - todo.items.length} ${S.todo_more}`));
    }
  }

  function render(board) {
    state.board = board;
    state.receivedAt = Date.now();
    for (const k of ['ringing', 'connected', 'waiting']) $(`calls-${k}`).textContent = String(board.calls[k]);
    renderAgents(board);
    renderCampaigns(board);
    renderTodo(board);
  }

  function tick() {  // local only: advance the time-in-state counters since the last push
    const elapsed = (Date.now() - state.receivedAt) / 1000;
    for (const node of document.querySelectorAll('#agents .timer')) {
      node.textContent = clock(Number(node.dataset.since) + elapsed);
    }
  }

  function setConn(st) {
    const conn = $('conn');
    conn.dataset.state = st;
    conn.textContent = st === 'live' ? S.live : S.reconnecting;
  }

  function connect() {
    clearTimeout(state.retry);
    const ws = new WebSocket(wsUrl('/ws/wallboard'));
    state.ws = ws;
    ws.onopen = () => { state.attempts = 0; setConn('live'); };
    ws.onmessage = (event) => {
      let msg;
      try { msg = JSON.parse(event.data); } catch { return; }
      if (msg.type === 'wallboard') render(msg);
    };
    ws.onclose = () => {
      if (state.ws !== ws) return;
      state.ws = null;
      setConn('down');
      const wait = Math.min(30000, 500 * 2 ** Math.min(state.attempts, 6));
      state.attempts += 1;
      state.retry = setTimeout(connect, wait * (0.75 + Math.random() * 0.5));
    };
    ws.onerror = () => ws.close();
  }

  $('mon-ext').value = localStorage.getItem('dialcrm.monitor.ext') || '';
  render(boot.board);
  setInterval(tick, 1000);
  connect();
})();
