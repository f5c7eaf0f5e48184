// The manager console: campaigns (live status pushed by /ws/wallboard), one campaign's settings,
// lists (CSV import, penetration, recycling) and reports. Every action goes through the JSON API;
// a refused value is shown next to its field (the API names the field in details.field).
(() => {
  'use strict';
  const { boot, $, el, api, errorText, pct, when, wsUrl } = window.dialcrm;
  const S = boot.strings;
  const root = document.querySelector('.console');
  const page = root.dataset.page;

  const mins = (s) => `${(s / 60).toFixed(1)} min`;

  // ------------------------------------------------------------------ field errors --
  function clearErrors(form) {
    form.querySelectorAll('.fielderror').forEach((n) => { n.textContent = ''; });
    form.querySelectorAll('[aria-invalid]').forEach((n) => n.removeAttribute('aria-invalid'));
  }

  // The form's inputs by the API's field name (the last part of a dotted one).
  function byName(form, field) {
    const name = String(field || '').split('.').pop();
    return { slot: form.querySelector(`.fielderror[data-for="${name}"]`),
      input: form.querySelector(`[name="${name}"]`) };
  }

  // A refused request (an ApiError) shown next to the field(s) it names; how many were shown.
  function showErrors(form, err, locate = byName) {
    const details = err.details || {};
    const problems = Array.isArray(details.problems) ? details.problems
      : [{ field: err.field, message: err.message }];
    let shown = 0;
    for (const p of problems) {
      const { slot, input } = locate(form, p.field);
      if (!slot) continue;
      slot.textContent = String(p.message || '').replace(/^[\w.]+: /, '');
      if (input) { input.setAttribute('aria-invalid', 'true'); if (!shown) input.focus(); }
      shown += 1;
    }
    return shown;
  }

  // A refused form: errors by field, and the form's status line says so (or says why).
  function refused(form, err, status, locate) {
    status.textContent = showErrors(form, err, locate) ? S.fix_errors : errorText(err);
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
      const ws = new WebSocket(wsUrl('/ws/wallboard'));
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
      try {
        const data = await api('POST', '/api/console/campaigns', formValues(form));
        location.href = `/console/campaigns/${data.campaign.id}`;
      } catch (err) {
        refused(form, err, status);
      }
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
      try {
        const view = await api('POST', `${base}/${action}`, body);
        showState(view);
        return view;
      } catch (err) {
        controlError.textContent = errorText(err);
        return null;
      }
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
      let view;
      try {
        view = await api('PATCH', base, changes);
      } catch (err) {
        result.dataset.state = 'error';
        refused(form, err, result);
        return;
      }
      initial = formValues(form);
      result.dataset.state = 'saved';
      result.textContent = view.applied_live ? S.saved_live : S.saved;
      document.querySelector('[data-testid="campaign-name"]').textContent = view.campaign.name;
      showState(view);
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
      let report;
      try {
        report = await api('POST', `/api/campaigns/${id}/leads/import`, data);
      } catch (err) {
        status.textContent = errorText(err);
        return;
      }
      status.textContent = report.error ? report.error.message : '';
      renderImport(report);
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
      let pen;
      try { pen = await api('GET', `/api/campaigns/${id}/penetration`); } catch (err) { return; }
      for (const k of ['total', 'dialed', 'contacted', 'done', 'remaining']) {
        $(`pen-${k}`).textContent = String(pen[k]);
      }
      for (const [k, n] of Object.entries(pen.remaining_by_reason)) {
        const node = $(`rem-${k}`);
        if (node) node.textContent = String(n);
      }
    }
    loadPenetration();
    membersCard(id);

    $('recycle').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const outcomes = [...ev.target.querySelectorAll('[name="outcomes"]:checked')].map((n) => n.value);
      try {
        const done = await api('POST', `/api/campaigns/${id}/recycle`, { outcomes });
        $('recycle-result').textContent = `${done.recycled} ${S.recycled}`;
        loadPenetration();
      } catch (err) {
        $('recycle-result').textContent = errorText(err);
      }
    });
  }

  // ------------------------------------------------------- a campaign's members --
  // Who may log into the campaign's dialing, and the extensions bound to each (the login
  // refuses anyone else, and any other phone).
  const extensionList = (text) => text.split(/[\s,，;；]+/).filter(Boolean);

  function membersCard(id) {
    const url = `/api/campaigns/${id}/members`;
    const body = $('member-rows');
    const form = $('add-member');
    const status = $('member-status');

    async function bind(username, extensions) {
      return api('PUT', `/api/agents/${encodeURIComponent(username)}/extensions`, { extensions });
    }

    function row(m) {
      const tr = el('tr', { 'data-member': m.username, 'data-testid': 'member-row' });
      const who = el('td', { 'data-testid': 'member-name' }, m.username);
      if (m.display_name && m.display_name !== m.username) {
        who.append(el('div', { class: 'muted small' }, m.display_name));
      }
      const cell = el('td');
      const input = el('input', { inputmode: 'numeric', size: '12', 'data-testid': 'member-row-extensions',
        'aria-label': `${m.username} ${S.member_save}` });
      input.value = m.extensions.join(', ');
      const slot = el('span', { class: 'fielderror', 'data-testid': 'member-row-error' });
      cell.append(input, slot);
      const actions = el('div', { class: 'row wrap' });
      const save = el('button', { type: 'button', class: 'secondary small', 'data-testid': 'member-save' },
        S.member_save);
      save.addEventListener('click', async () => {
        slot.textContent = '';
        input.removeAttribute('aria-invalid');
        try {
          const done = await bind(m.username, extensionList(input.value));
          input.value = done.extensions.join(', ');
          slot.textContent = S.saved;
        } catch (err) {
          input.setAttribute('aria-invalid', 'true');
          slot.textContent = errorText(err);
        }
      });
      const remove = el('button', { type: 'button', class: 'danger small', 'data-testid': 'member-remove' },
        S.member_remove);
      remove.addEventListener('click', async () => {
        if (!window.confirm(S.member_confirm_remove)) return;
        try {
          await api('DELETE', `${url}/${encodeURIComponent(m.username)}`);
          status.textContent = `${S.member_removed}: ${m.username}`;
        } catch (err) {
          status.textContent = errorText(err);
        }
        load();
      });
      actions.append(save, remove);
      const last = el('td');
      last.append(actions);
      tr.append(who, cell, last);
      return tr;
    }

    async function load() {
      let listed;
      try { listed = await api('GET', url); } catch (err) { status.textContent = errorText(err); return; }
      body.replaceChildren();
      if (!listed.items.length) {
        const tr = el('tr');
        tr.append(el('td', { colspan: '3', class: 'muted', 'data-testid': 'no-members' }, S.no_members));
        body.append(tr);
      }
      for (const m of listed.items) body.append(row(m));
    }

    async function suggest() {  // the desk users a manager may add
      const list = $('desk-users');
      for (const role of ['agent', 'manager']) {
        let users;
        try { users = await api('GET', `/api/users?role=${role}&limit=500`); } catch (err) { return; }
        for (const u of users.items) list.append(el('option', { value: u.username }, u.display_name || ''));
      }
    }

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearErrors(form);
      status.textContent = '';
      const username = form.querySelector('[name="username"]').value.trim();
      const extensions = extensionList(form.querySelector('[name="extensions"]').value);
      try {
        await api('POST', url, { username });
      } catch (err) {
        refused(form, err, status);
        return;
      }
      let bound = true;
      if (extensions.length) {
        try {
          await bind(username, extensions);
        } catch (err) {  // added, but the phones are refused: say so by the field
          bound = false;
          refused(form, { field: 'extensions', message: err.message, details: {} }, status);
        }
      }
      if (bound) {
        status.textContent = `${S.member_added}: ${username}`;
        form.reset();
      }
      load();
    });
    load();
    suggest();
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
      const body = $('report-rows');
      let report;
      try {
        report = await api('GET', query());
      } catch (err) {
        body.replaceChildren();
        if (!showErrors(form, err)) $('report-error').textContent = errorText(err);
        return;
      }
      body.replaceChildren();
      if (!report.rows.length) {
        body.append(el('tr', {}, null));
        body.lastChild.append(el('td', { colspan: '10', class: 'muted' }, S.no_rows));
      }
      for (const r of report.rows) {
        const tr = el('tr', { 'data-key': r.key });
        const disp = Object.entries(r.dispositions).map(([k, n]) => `${k}: ${n}`).join(', ');
        tr.append(el('td', { 'data-testid': 'row-label' }, r.label),
          el('td', { class: 'num', 'data-testid': 'row-calls' }, r.calls),
          el('td', { class: 'num' }, r.answered), el('td', { class: 'num' }, r.connects),
          el('td', { class: 'num' }, mins(r.talk_seconds)), el('td', { class: 'num' }, mins(r.wrap_seconds)),
          el('td', { class: 'num' }, mins(r.hold_seconds)),
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

    function byPath(box, path) {  // the API names the field: key, variants.1.weight, …
      const field = String(path || '');
      const parts = field.split('.');
      return {
        slot: box.querySelector(`.fielderror[data-for="${field}"]`)
          || (field.startsWith('variants') ? box.querySelector('.fielderror[data-for="variants"]') : null),
        input: parts[0] === 'variants' && parts.length === 3
          ? rowsBox.children[Number(parts[1])]?.querySelector(`[data-role="v${parts[2]}"]`)
          : box.querySelector(`[name="${field}"]`),
      };
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
          el('td', {}, when(e.started_at)));
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
      try {
        experiments = (await api('GET', '/api/experiments?limit=200')).items;
        renderList();
      } catch (err) { /* the list stays as it was */ }
    }

    async function stopExperiment(e) {
      if (!window.confirm(S.exp_confirm_stop)) return;
      try {
        await api('POST', `/api/experiments/${e.id}/stop`);
        $('exp-msg').textContent = `${S.exp_stopped_msg}: ${e.key}`;
      } catch (err) {
        $('exp-msg').textContent = errorText(err);
      }
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
      let report = null;
      let failure = null;
      try { report = await api('GET', `/api/experiments/${e.id}/report`); } catch (err) { failure = err; }
      const card = $('report-card');
      card.hidden = false;
      $('report-title').textContent = `${S.exp_report}: ${e.name} (${e.key})`;
      $('exp-csv').href = `/api/experiments/${e.id}/report?format=csv`;
      const body = $('report-variants');
      body.replaceChildren();
      const notes = $('report-notes');
      notes.replaceChildren();
      if (failure) { notes.append(el('li', { class: 'error' }, errorText(failure))); return; }
      for (const v of report.variants) {
        const tr = el('tr', { 'data-variant': v.variant, 'data-testid': 'rep-variant' });
        tr.append(el('td', {}, v.variant === report.control ? `${v.variant} (${S.rep_control})` : v.variant),
          el('td', { class: 'num' }, v.weight),
          el('td', { class: 'num', 'data-testid': 'rep-units' }, `${v.units_with_calls} / ${v.units_assigned}`),
          el('td', { class: 'num', 'data-testid': 'rep-calls' }, v.calls),
          el('td', { class: 'num', 'data-testid': 'rep-connects' }, v.connects),
          metricCell(v.talk_seconds_mean, 'talk'), metricCell(v.conversion_rate, 'conversion'),
          metricCell(v.abandon_rate, 'abandon'));
        body.append(tr);
      }
      for (const n of report.notes) notes.append(el('li', {}, n));
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
      let created;
      try {
        created = await api('POST', '/api/experiments', body);
      } catch (err) {
        if (!showErrors(form, err, byPath)) $('exp-error').textContent = errorText(err);
        return;
      }
      $('exp-msg').textContent = `${S.exp_created}: ${created.key}`;
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
