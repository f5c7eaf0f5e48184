// The admin status page: /api/admin/dashboard (health, response times, CRM sync, Asterisk over
// AMI) refreshed every 5 s while the page is visible, and the configuration-reload button.
(() => {
  'use strict';
  const { boot, $, el, api, errorText, pct } = window.dialcrm;
  const S = boot.strings;
  const REFRESH_MS = 5000;

  const num = (v, unit = '') => (v === null || v === undefined ? '–' : `${v}${unit}`);

  function uptime(seconds) {
    if (seconds === null || seconds === undefined) return '–';
    const d = Math.floor(seconds / 86400); const h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60); const s = Math.floor(seconds % 60);
    return `${d ? `${d}d ` : ''}${h}h ${m}m ${s}s`;
  }

  function renderHealth(health) {
    const list = $('health');
    list.replaceChildren();
    for (const [name, c] of Object.entries(health.components)) {
      const li = el('li', { class: 'row spread', 'data-component': name });
      li.append(el('span', {}, S[`comp_${name}`] || name));
      const right = el('span', { class: 'row' });
      const text = c.error || (c.detail ? JSON.stringify(c.detail).slice(0, 120) : '');
      right.append(el('span', { class: 'muted' }, text));
      right.append(el('span', { class: 'badge', 'data-state': c.ok ? 'ok' : 'failing',
        'data-testid': `health-${name}` }, c.ok ? S.ok : S.failing));
      li.append(right);
      list.append(li);
    }
  }

  function renderAsterisk(a) {
    $('ast-error').textContent = a.error || '';
    $('ast-version').textContent = a.version || '–';
    $('ast-uptime').textContent = uptime(a.uptime_s);
    $('ast-startup').textContent = a.startup || '–';
    $('ast-reload').textContent = a.last_reload || '–';
    $('ast-calls').textContent = num(a.current_calls);
    const body = $('contacts');
    body.replaceChildren();
    const contacts = a.contacts || [];
    if (!contacts.length) {
      const tr = el('tr');
      tr.append(el('td', { colspan: '3', class: 'muted' }, S.no_registrations));
      body.append(tr);
    }
    for (const c of contacts) {
      const tr = el('tr', { 'data-endpoint': c.endpoint });
      tr.append(el('td', {}, c.endpoint),
        el('td', {}, null), el('td', { class: 'num' }, num(c.rtt_ms, ' ms')));
      tr.children[1].append(el('span', { class: 'badge', 'data-testid': 'contact-status',
        'data-state': c.status === 'Reachable' ? 'ok' : (c.status === 'Unreachable' ? 'failing' : 'none') },
      c.status));
      body.append(tr);
    }
  }

  function renderTable(id, rows, cells) {
    const body = $(id);
    body.replaceChildren();
    for (const r of rows) {
      const tr = el('tr');
      for (const [value, cls] of cells(r)) tr.append(el('td', cls ? { class: cls } : {}, value));
      body.append(tr);
    }
  }

  async function refresh() {
    let data;
    try {
      data = await api('GET', '/api/admin/dashboard');
    } catch (err) {
      $('updated').textContent = `${S.error}: ${errorText(err)}`;
      return;
    }
    renderHealth(data.health);
    renderAsterisk(data.asterisk);
    renderTable('sync-rows', data.sync, (r) => [[r.lane], [r.delivered, 'num'], [r.failures, 'num'],
      [pct(r.success_rate), 'num'], [num(r.last_lag_s, ' s'), 'num'], [r.pending, 'num']]);
    renderTable('latency-rows', data.latency, (r) => [[`${r.method} ${r.route}`], [r.count, 'num'],
      [num(r.mean_ms, ' ms'), 'num'], [num(r.p50_ms && `≤${r.p50_ms}`, ' ms'), 'num'],
      [num(r.p95_ms && `≤${r.p95_ms}`, ' ms'), 'num']]);
    $('updated').textContent = new Date().toLocaleTimeString();
  }

  $('reload').addEventListener('click', async () => {
    const out = $('reload-result');
    out.textContent = '…';
    try {
      const done = await api('POST', '/api/admin/asterisk/reload', { module: $('reload-module').value });
      out.textContent = `${S.reloaded}: ${done.message}`;
    } catch (err) {
      out.textContent = errorText(err);
    }
    refresh();
  });

  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
})();
