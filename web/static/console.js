// The manager console: campaigns (live status pushed by /ws/wallboard), one campaign's settings,
// lists (CSV import, penetration, recycling) and reports. Every action goes through the JSON API;
// a refused value is shown next to its field (the API names the field in details.field).
(() => {
  'use strict';
  const boot = JSON.parse(document.getElementById('boot').textContent);
  const S = boot.strings;
  const $ = (id) => document.getElementById(id);
  const root = document.querySelector('.console');
  const page = root.dataset.page;

  function el(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  async function api(method, url, body) {
    const init = { method, credentials: 'same-origin', headers: {} };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let resp;
    try { resp = await fetch(url, init); } catch (e) {
      return { ok: false, status: 0, data: { message: S.error } };
    }
    let data = null;
    try { data = await resp.json(); } catch (e) { data = { message: S.error }; }
    return { ok: resp.ok, status: resp.status, data };
  }

  const pct = (x) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)}%`);
  const mins = (s) => `${(s / 60).toFixed(1)} min`;

  // The API's messages are English; the common ones are said in Chinese on a zh page.
  const ZH = [
    [/^Input should be less than or equal to (.+)$/, '不能大于 $1'],
    [/^Input should be greater than or equal to (.+)$/, '不能小于 $1'],
    [/^Input should be less than (.+)$/, '须小于 $1'],
    [/^Input should be greater than (.+)$/, '须大于 $1'],
    [/^Input should be a valid (number|integer).*$/, '请输入数字'],
    [/^Input should be (.+)$/, '只能是 $1'],
    [/^String should have at least 1 character$/, '不能为空'],
    [/^String should have at most (\d+) characters?$/, '最多 $1 个字符'],
    [/^String should match pattern .*$/, '格式不正确'],
    [/^Extra inputs are not permitted$/, '不支持此字段'],
    [/^must be between (.+) and (.+?)( seconds)?$/, '须在 $1 到 $2 之间'],
    [/^must be one of (.+)$/, '只能是 $1'],
    [/^must be an integer (.+)$/, '须为整数 $1'],
    [/^unknown time zone$/, '未知时区'],
    [/^expected HH:MM$/, '格式须为 HH:MM'],
    [/^the calling window is empty \(start = end\)$/, '拨打时段为空（开始 = 结束）'],
    [/^name is required$/, '名称必填'],
    [/^'to' is before 'from'$/, '结束日期早于开始日期'],
    [/^expected (.+)$/, '格式须为 $1'],
    [/^abandon rate is not reported per agent variant.*$/, '按坐席分组时不报告放弃率：放弃的呼叫从未到达坐席'],
    [/^calls of one unit are correlated.*$/, '同一单位的通话相互关联：单位较少时置信区间偏乐观'],
  ];
  function say(message) {
    const text = String(message || '');
    if (boot.lang !== 'zh') return text;
    for (const [re, zh] of ZH) if (re.test(text)) return text.replace(re, zh);
    return text;
  }

  // ------------------------------------------------------------------ field errors --
  function clearErrors(form) {
    form.querySelectorAll('.fielderror').forEach((n) => { n.textContent = ''; });
    form.querySelectorAll('[aria-invalid]').forEach((n) => n.removeAttribute('aria-invalid'));
  }

  function showErrors(form, data) {
    const details = (data && data.details) || {};
    const problems = details.problems && Array.isArray(details.problems)
      ? details.problems : [{ field: details.field, message: data.message }];
    let shown = 0;
    for (const p of problems) {
      const name = String(p.field || '').split('.').pop();
      const slot = form.querySelector(`.fielderror[data-for="${name}"]`);
      if (!slot) continue;
      slot.textContent = say(String(p.message || '').replace(new RegExp(`^${name}: `), ''));
      const input = form.querySelector(`[name="${name}"]`);
      if (input) { input.setAttribute('aria-invalid', 'true'); if (!shown) input.focus(); }
      shown += 1;
    }
    return shown;
  }

  function formValues(form, initial) {
    const out = {};
    for (const input of form.querySelectorAll('input[name], select[name]')) {
      if (input.type === 'file' || input.name === 'outcomes') continue;
      let value;
      if (input.type === 'checkbox') value = input.checked;
      else if (input.type === 'number') value = input.value === '' ? null : Number(input.value);
      else value = input.value.trim();
      if (input.name === 'timezone' && value === '') continue;
      if (initial && initial[input.name] === value) continue;
      out[input.name] = value;
    }
    return out;
  }

  // -------------------------------------------------------------- campaigns list --
  function liveFigures(c) {
    return `${S[`mode_${c.mode}`] || c.mode} · ${c.dials} / ${c.connects} · ${pct(c.abandon_rate)}`
      + (c.alarm ? ` · ⚠ ${c.alarm}` : '');
  }

  function listPage() {
    const conn = $('conn');
    const rows = () => document.querySelectorAll('tr[data-campaign]');
    function render(board) {
      const running = new Map(board.campaigns.filter((c) => c.running)
        .map((c) => [c.campaign_id, c]));
      for (const tr of rows()) {
        const c = running.get(tr.dataset.campaign);
        const badge = tr.querySelector('[data-testid="running"]');
        badge.dataset.state = c ? 'connected' : 'none';
        badge.textContent = c ? S.dialing : S.not_dialing;
        tr.querySelector('.figures').textContent = c ? liveFigures(c) : '';
        if (c) tr.querySelector('[data-testid="mode"]').textContent = S[`mode_${c.mode}`] || c.mode;
      }
    }
    let attempts = 0;
    function connect() {  // the wallboard's push channel: no polling
      const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/wallboard`);
      ws.onopen = () => { attempts = 0; conn.dataset.state = 'live'; conn.textContent = S.live; };
      ws.onmessage = (ev) => {
        const msg = JSON.parse(ev.data);
        if (msg.type === 'wallboard') render(msg);
      };
      ws.onclose = () => {
        conn.dataset.state = 'reconnecting'; conn.textContent = S.reconnecting;
        attempts += 1;
        setTimeout(connect, Math.min(10000, 500 * 2 ** Math.min(attempts, 5)));
      };
    }
    connect();
    const form = $('new-campaign');
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const status = form.querySelector('[data-testid="form-error"]');
      status.textContent = '';
      const res = await api('POST', '/api/console/campaigns', formValues(form));
      if (res.ok) { location.href = `/console/campaigns/${res.data.campaign.id}`; return; }
      if (!showErrors(form, res.data)) status.textContent = res.data.message || S.error;
      else status.textContent = S.fix_errors;
    });
  }

  // --------------------------------------------------------------- one campaign --
  function campaignPage() {
    const id = root.dataset.campaign;
    const base = `/api/console/campaigns/${id}`;
    const form = $('settings');
    let initial = formValues(form);
    const controlError = $('control-error');

    function showState(view) {
      const c = view.campaign;
      $('status').dataset.state = c.status;
      $('status').textContent = S[`status_${c.status}`] || c.status;
      $('running').dataset.state = view.running ? 'connected' : 'none';
      $('running').textContent = view.running ? S.dialing : S.not_dialing;
      $('live').textContent = view.live ? liveFigures(view.live) : '';
      const r = view.regulatory;
      if (r) {
        const reg = $('regulatory');
        reg.className = r.over_target ? 'bad' : 'ok';
        reg.dataset.over = r.over_target ? 'yes' : 'no';
        reg.textContent = `${S.col_abandon_rate} (${S[`window_${r.window}`]}): ${pct(r.rate)} · `
          + `${S.wb_target} ${pct(r.target)} · ${r.abandoned} / ${r.answered}`
          + (r.over_target ? ` · ${S.wb_over_target}` : '');
      }
      $('mode-switch').value = view.dialing.mode;
      $('start').disabled = view.running;
      $('pause').disabled = !view.running && c.status === 'paused';
      $('stop').disabled = c.status === 'archived' && !view.running;
    }
    showState(boot.campaign);

    async function control(action, body) {
      controlError.textContent = '';
      const res = await api('POST', `${base}/${action}`, body);
      if (!res.ok) { controlError.textContent = res.data.message || S.error; return null; }
      showState(res.data);
      return res.data;
    }
    $('start').addEventListener('click', () => control('start'));
    $('pause').addEventListener('click', () => control('pause'));
    $('stop').addEventListener('click', () => { if (confirm(S.confirm_stop)) control('stop'); });
    $('mode-switch').addEventListener('change', async (ev) => {
      const done = await control('mode', { mode: ev.target.value });
      if (done) $('live').textContent = `${S.mode_switched}: ${S[`mode_${done.dialing.mode}`]}`;
    });

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      const result = $('save-result');
      const changes = formValues(form, initial);
      if (!Object.keys(changes).length) { result.textContent = S.no_changes; return; }
      result.textContent = '…';
      const res = await api('PATCH', base, changes);
      if (!res.ok) {
        result.dataset.state = 'error';
        result.textContent = showErrors(form, res.data) ? S.fix_errors : (res.data.message || S.error);
        return;
      }
      initial = formValues(form);
      result.dataset.state = 'saved';
      result.textContent = res.data.applied_live ? S.saved_live : S.saved;
      document.querySelector('[data-testid="campaign-name"]').textContent = res.data.campaign.name;
      showState(res.data);
    });

    // lists: import, penetration, recycling
    const importForm = $('import');
    importForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const status = $('import-status');
      const data = new FormData();
      const file = importForm.querySelector('[name="file"]').files[0];
      if (!file) { status.textContent = S.error; return; }
      data.append('on_conflict', importForm.querySelector('[name="on_conflict"]').value);
      const mapping = importForm.querySelector('[name="mapping"]').value.trim();
      if (mapping) data.append('mapping', mapping);
      data.append('file', file, file.name);
      status.textContent = S.uploading;
      const res = await api('POST', `/api/campaigns/${id}/leads/import`, data);
      if (!res.ok) { status.textContent = res.data.message || S.error; return; }
      status.textContent = res.data.error ? res.data.error.message : '';
      renderImport(res.data);
      loadPenetration();
    });

    function renderImport(report) {
      const summary = importForm.querySelector('[data-testid="import-summary"]');
      summary.replaceChildren();
      for (const key of ['created', 'merged', 'rejected']) {
        summary.append(el('span', { class: 'badge', 'data-testid': `import-${key}` },
          `${S[key]}: ${report.summary[key] || 0}`));
      }
      const body = $('import-rows');
      body.replaceChildren();
      for (const r of report.rows) {
        const tr = el('tr', { 'data-status': r.status });
        tr.append(el('td', {}, r.row), el('td', {}, S[r.status] || r.status),
          el('td', {}, [r.reason, r.field, r.e164].filter(Boolean).join(' · ')));
        body.append(tr);
      }
      $('import-report').hidden = false;
    }

    async function loadPenetration() {
      const res = await api('GET', `/api/campaigns/${id}/penetration`);
      if (!res.ok) return;
      for (const k of ['total', 'dialed', 'contacted', 'done', 'remaining']) {
        $(`pen-${k}`).textContent = String(res.data[k]);
      }
      for (const [k, n] of Object.entries(res.data.remaining_by_reason)) {
        const node = $(`rem-${k}`);
        if (node) node.textContent = String(n);
      }
    }
    loadPenetration();

    $('recycle').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const outcomes = [...ev.target.querySelectorAll('[name="outcomes"]:checked')].map((n) => n.value);
      const res = await api('POST', `/api/campaigns/${id}/recycle`, { outcomes });
      $('recycle-result').textContent = res.ok ? `${res.data.recycled} ${S.recycled}`
        : (res.data.message || S.error);
      if (res.ok) loadPenetration();
    });
  }

  // -------------------------------------------------------------------- reports --
  function reportsPage() {
    const form = $('report-form');
    const from = form.querySelector('[name="from"]');
    if (!from.value) {
      const d = new Date(`${boot.today}T12:00:00Z`);
      d.setUTCDate(d.getUTCDate() - 6);
      from.value = d.toISOString().slice(0, 10);
    }
    function query(extra) {
      const q = new URLSearchParams();
      for (const name of ['from', 'to', 'campaign_id']) {
        const v = form.querySelector(`[name="${name}"]`).value;
        if (v) q.set(name, v);
      }
      for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
      return `/api/reports/${form.querySelector('[name="group"]').value}?${q}`;
    }
    function syncLink() { $('csv').href = query({ format: 'csv' }); }
    form.addEventListener('change', syncLink);
    async function show() {
      clearErrors(form);
      $('report-error').textContent = '';
      syncLink();
      const res = await api('GET', query());
      const body = $('report-rows');
      body.replaceChildren();
      if (!res.ok) {
        if (!showErrors(form, res.data)) $('report-error').textContent = res.data.message || S.error;
        return;
      }
      if (!res.data.rows.length) {
        body.append(el('tr', {}, null));
        body.lastChild.append(el('td', { colspan: '10', class: 'muted' }, S.no_rows));
      }
      for (const r of res.data.rows) {
        const tr = el('tr', { 'data-key': r.key });
        const disp = Object.entries(r.dispositions).map(([k, n]) => `${k}: ${n}`).join(', ');
        tr.append(el('td', { 'data-testid': 'row-label' }, r.label),
          el('td', { class: 'num', 'data-testid': 'row-calls' }, r.calls),
          el('td', { class: 'num' }, r.answered), el('td', { class: 'num' }, r.connects),
          el('td', { class: 'num' }, mins(r.talk_seconds)), el('td', { class: 'num' }, mins(r.wrap_seconds)),
          el('td', { class: 'num', 'data-testid': 'row-sales' }, r.sales),
          el('td', { class: 'num' }, pct(r.abandon_rate)), el('td', { class: 'num' }, pct(r.occupancy)),
          el('td', {}, disp));
        body.append(tr);
      }
    }
    form.addEventListener('submit', (ev) => { ev.preventDefault(); show(); });
    show();
  }

  // ------------------------------------------------------------------- experiments --
  function experimentsPage() {
    const form = $('exp-form');
    const rowsBox = $('variant-rows');
    let experiments = boot.experiments || [];
    let shown = null;  // the experiment whose report is open

    const fmt = (x, digits = 1) => (x === null || x === undefined ? '–' : Number(x).toFixed(digits));
    const interval = (m, scale, digits) => (m.low === null || m.low === undefined ? ''
      : ` [${fmt(m.low * scale, digits)}, ${fmt(m.high * scale, digits)}]`);

    function variantRow(name = '', weight = 1) {
      const i = rowsBox.children.length;
      const row = el('div', { class: 'row wrap variant', 'data-testid': 'variant-row' });
      const nameLabel = el('label', {}, S.exp_variant);
      nameLabel.append(el('input', { 'data-role': 'vname', 'data-testid': `variant-name-${i}`,
        autocomplete: 'off', size: '10' }));
      nameLabel.append(el('span', { class: 'fielderror', 'data-for': `variants.${i}.name` }));
      const weightLabel = el('label', {}, S.exp_weight);
      weightLabel.append(el('input', { 'data-role': 'vweight', 'data-testid': `variant-weight-${i}`,
        type: 'number', step: 'any', min: '0', size: '6' }));
      weightLabel.append(el('span', { class: 'fielderror', 'data-for': `variants.${i}.weight` }));
      const remove = el('button', { type: 'button', class: 'secondary small' }, S.exp_remove);
      remove.addEventListener('click', () => { row.remove(); renumber(); });
      row.append(nameLabel, weightLabel, remove);
      row.querySelector('[data-role="vname"]').value = name;
      row.querySelector('[data-role="vweight"]').value = String(weight);
      rowsBox.append(row);
    }
    function renumber() {
      [...rowsBox.children].forEach((row, i) => {
        row.querySelector('[data-role="vname"]').dataset.testid = `variant-name-${i}`;
        row.querySelector('[data-role="vweight"]').dataset.testid = `variant-weight-${i}`;
        const [n, w] = row.querySelectorAll('.fielderror');
        n.dataset.for = `variants.${i}.name`;
        w.dataset.for = `variants.${i}.weight`;
      });
    }
    function resetVariants() {
      rowsBox.replaceChildren();
      variantRow('on', 1);
      variantRow('off', 1);
    }

    function fieldErrors(data) {  // the API names the field: key, variants.1.weight, …
      const details = (data && data.details) || {};
      const problems = Array.isArray(details.problems) ? details.problems
        : [{ field: details.field, message: data.message }];
      let shown = 0;
      for (const p of problems) {
        const field = String(p.field || '');
        const slot = form.querySelector(`.fielderror[data-for="${field}"]`)
          || (field.startsWith('variants') ? form.querySelector('.fielderror[data-for="variants"]') : null);
        if (!slot) continue;
        slot.textContent = say(String(p.message || '').replace(/^[\w.]+: /, ''));
        const parts = field.split('.');
        const input = parts[0] === 'variants' && parts.length === 3
          ? rowsBox.children[Number(parts[1])]?.querySelector(`[data-role="v${parts[2]}"]`)
          : form.querySelector(`[name="${field}"]`);
        if (input) { input.setAttribute('aria-invalid', 'true'); if (!shown) input.focus(); }
        shown += 1;
      }
      return shown;
    }

    function renderList() {
      const body = $('exp-rows');
      body.replaceChildren();
      if (!experiments.length) {
        const tr = el('tr');
        tr.append(el('td', { colspan: '8', class: 'muted' }, S.exp_none));
        body.append(tr);
      }
      for (const e of experiments) {
        const tr = el('tr', { 'data-key': e.key, 'data-testid': 'exp-row' });
        const variants = e.variants.map((v) => `${v.name} (${v.weight})`).join(', ');
        tr.append(el('td', { 'data-testid': 'exp-row-key' }, e.key), el('td', {}, e.name),
          el('td', {}, S[`feature_${e.feature}`] || e.feature), el('td', {}, S[`unit_${e.unit}`] || e.unit),
          el('td', { 'data-testid': 'exp-row-variants' }, variants),
          el('td', { 'data-testid': 'exp-row-status', 'data-status': e.status },
            S[`exp_${e.status}`] || e.status),
          el('td', {}, e.started_at ? new Date(e.started_at).toLocaleString() : ''));
        const cell = el('td');
        const actions = el('div', { class: 'row wrap' });
        cell.append(actions);
        const report = el('button', { type: 'button', class: 'secondary small', 'data-testid': 'exp-show-report' },
          S.exp_report);
        report.addEventListener('click', () => showReport(e));
        actions.append(report);
        if (e.status === 'running') {
          const stop = el('button', { type: 'button', class: 'small', 'data-testid': 'exp-stop' }, S.exp_stop);
          stop.addEventListener('click', () => stopExperiment(e));
          actions.append(stop);
        }
        tr.append(cell);
        body.append(tr);
      }
    }

    async function reload() {
      const res = await api('GET', '/api/experiments?limit=200');
      if (res.ok) { experiments = res.data.items; renderList(); }
    }

    async function stopExperiment(e) {
      if (!window.confirm(S.exp_confirm_stop)) return;
      const res = await api('POST', `/api/experiments/${e.id}/stop`);
      $('exp-msg').textContent = res.ok ? `${S.exp_stopped_msg}: ${e.key}` : say(res.data.message || S.error);
      await reload();
      if (shown && shown.id === e.id) await showReport({ ...e, status: 'stopped' });
    }

    function metricCell(m, kind) {
      if (!m) return el('td', { 'data-testid': `rep-${kind}` }, S.rep_not_applicable);
      const scale = kind === 'talk' ? 1 : 100;
      const unit = kind === 'talk' ? '' : '%';
      const td = el('td', { 'data-testid': `rep-${kind}` });
      td.append(el('div', {}, `${fmt(m.value === null ? null : m.value * scale)}${m.value === null ? '' : unit}`
        + `${interval(m, scale, 1)} · n=${m.n}`));
      const diff = m.diff_vs_control;
      if (diff && diff.value !== null && diff.value !== undefined) {
        let text = `${S.rep_vs_control}: ${diff.value >= 0 ? '+' : ''}${fmt(diff.value * scale)}${unit}`
          + interval(diff, scale, 1);
        const rel = m.relative_change;
        if (rel && rel.value !== null) text += ` (${rel.value >= 0 ? '+' : ''}${fmt(rel.value * 100)}%)`;
        td.append(el('div', { class: 'muted small', 'data-testid': `rep-${kind}-diff` }, text));
      }
      return td;
    }

    async function showReport(e) {
      shown = e;
      const res = await api('GET', `/api/experiments/${e.id}/report`);
      const card = $('report-card');
      card.hidden = false;
      $('report-title').textContent = `${S.exp_report}: ${e.name} (${e.key})`;
      $('exp-csv').href = `/api/experiments/${e.id}/report?format=csv`;
      const body = $('report-variants');
      body.replaceChildren();
      const notes = $('report-notes');
      notes.replaceChildren();
      if (!res.ok) { notes.append(el('li', { class: 'error' }, say(res.data.message || S.error))); return; }
      for (const v of res.data.variants) {
        const tr = el('tr', { 'data-variant': v.variant, 'data-testid': 'rep-variant' });
        tr.append(el('td', {}, v.variant === res.data.control ? `${v.variant} (${S.rep_control})` : v.variant),
          el('td', { class: 'num' }, v.weight),
          el('td', { class: 'num', 'data-testid': 'rep-units' }, `${v.units_with_calls} / ${v.units_assigned}`),
          el('td', { class: 'num', 'data-testid': 'rep-calls' }, v.calls),
          el('td', { class: 'num', 'data-testid': 'rep-connects' }, v.connects),
          metricCell(v.talk_seconds_mean, 'talk'), metricCell(v.conversion_rate, 'conversion'),
          metricCell(v.abandon_rate, 'abandon'));
        body.append(tr);
      }
      for (const n of res.data.notes) notes.append(el('li', {}, say(n)));
      card.scrollIntoView({ block: 'nearest' });
    }

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      $('exp-error').textContent = '';
      const value = (name) => form.querySelector(`[name="${name}"]`).value.trim();
      const body = { key: value('key'), name: value('name'), feature: value('feature'), unit: value('unit'),
        variants: [...rowsBox.children].map((row) => {
          const w = row.querySelector('[data-role="vweight"]').value.trim();
          return { name: row.querySelector('[data-role="vname"]').value.trim(),
            weight: w === '' ? 1 : Number(w) };
        }) };
      if (value('description')) body.description = value('description');
      const res = await api('POST', '/api/experiments', body);
      if (!res.ok) {
        if (!fieldErrors(res.data)) $('exp-error').textContent = say(res.data.message || S.error);
        return;
      }
      $('exp-msg').textContent = `${S.exp_created}: ${res.data.key}`;
      form.reset();
      resetVariants();
      await reload();
    });
    $('add-variant').addEventListener('click', () => variantRow('', 1));
    resetVariants();
    renderList();
  }

  if (page === 'campaigns') listPage();
  else if (page === 'campaign') campaignPage();
  else if (page === 'reports') reportsPage();
  else if (page === 'experiments') experimentsPage();
})();
