// The manager console's "Models & routing" page (/console/models): the answer-probability model
// and the conversion model (version, source, held-out metrics next to the base rate's, the
// reliability table, route shares, "Retrain now") and agents' seniority (a toggle per agent).
// Everything is read from and written through the JSON API; a refused action shows the API's
// message (in the page's language: the server says it so) and nothing is left half-shown.
(() => {
  'use strict';
  const { boot, $, el, api, errorText, missing, pct, fixed, fill, when } = window.dialcrm;
  const S = boot.strings;
  const whenOr = (iso) => when(iso) || '–';

  function message(node, text, state) {
    node.textContent = text;
    node.dataset.state = state;
    node.className = state === 'error' ? 'error' : 'muted';
    node.setAttribute('role', state === 'error' ? 'alert' : 'status');
  }

  function facts(dl, items) {  // [key, label, value]: <dt>label</dt><dd data-testid=…>value</dd>
    dl.replaceChildren();
    for (const [key, label, value] of items) {
      if (value === null || value === undefined) continue;
      dl.append(el('dt', {}, label), el('dd', { 'data-testid': key }, value));
    }
  }

  // ------------------------------------------------- metrics + reliability (both models) --
  // The base rate's log-loss: predicting the test set's own positive rate for every row.
  function baseLogLoss(rate) {
    if (missing(rate)) return null;
    if (rate <= 0 || rate >= 1) return 0;
    return -(rate * Math.log(rate) + (1 - rate) * Math.log(1 - rate));
  }

  function renderMetrics(kind, m) {
    const body = $(`${kind}-metric-rows`);
    body.replaceChildren();
    const rel = $(`${kind}-reliability-rows`);
    rel.replaceChildren();
    if (!m) {
      const tr = el('tr');
      tr.append(el('td', { colspan: '3', class: 'muted' }, S.mdl_no_reliability));
      body.append(tr);
      const tr2 = el('tr');
      tr2.append(el('td', { colspan: '4', class: 'muted', 'data-testid': `${kind}-no-reliability` },
        S.mdl_no_reliability));
      rel.append(tr2);
      return;
    }
    const skill = missing(m.brier_base_rate) || m.brier_base_rate === 0 ? null
      : 1 - m.brier / m.brier_base_rate;
    const rows = [
      ['brier', S.mdl_brier, fixed(m.brier, 4), fixed(m.brier_base_rate, 4)],
      ['log_loss', S.mdl_log_loss, fixed(m.log_loss, 4), fixed(baseLogLoss(m.base_rate), 4)],
      ['auc', S.mdl_auc, fixed(m.auc, 3), fixed(0.5, 3)],
      ['ece', S.mdl_ece, fixed(m.ece, 4), '–'],
      ['skill', S.mdl_skill, fixed(skill, 3), fixed(0, 3)],
      ['base_rate', S.mdl_positive_rate, pct(m.base_rate), pct(m.base_rate)],
    ];
    for (const [key, label, model, base] of rows) {
      const tr = el('tr', { 'data-metric': key });
      tr.append(el('td', {}, label), el('td', { class: 'num', 'data-testid': `${kind}-${key}` }, model),
        el('td', { class: 'num', 'data-testid': `${kind}-${key}-base` }, base));
      body.append(tr);
    }
    for (const b of m.reliability || []) {
      const tr = el('tr', { 'data-testid': `${kind}-bin` });
      tr.append(el('td', {}, `${pct(b.lo)} – ${pct(b.hi)}`),
        el('td', { class: 'num', 'data-testid': 'bin-predicted' }, pct(b.mean_predicted)),
        el('td', { class: 'num', 'data-testid': 'bin-observed' }, pct(b.observed)),
        el('td', { class: 'num', 'data-testid': 'bin-n' }, b.n));
      rel.append(tr);
    }
  }

  // ---------------------------------------------------------------------- answer model --
  function renderAnswer(a) {
    const trained = a.source === 'model';
    facts($('answer-facts'), [
      ['answer-version', S.mdl_version, trained ? a.version : S.mdl_no_model],
      ['answer-source', S.mdl_source, trained ? S.mdl_source_model
        : fill(S.mdl_source_prior, { rows: a.rows, min: a.min_rows })],
      ['answer-rows', S.mdl_history_rows, a.rows],
      ['answer-trained-at', S.mdl_trained_at, trained ? whenOr(a.trained_at) : '–'],
      ['answer-split', S.mdl_split, trained ? `${a.n_train} / ${a.n_calibration} / ${a.n_test}` : null],
      ['answer-calibration', S.mdl_calibration, trained ? a.calibration : null],
      ['answer-prior', S.mdl_prior_rate, a.prior ? pct(a.prior.pooled) : null],
      ['answer-last-run', S.mdl_last_run, a.last_run ? `${whenOr(a.last_run.at)} · ${a.last_run.result}` : null],
      ['answer-load-error', S.mdl_load_error, a.load_error || null],
    ]);
    $('answer-card').dataset.source = a.source;
    renderMetrics('answer', trained ? a : null);
  }

  // ------------------------------------------------------------------ conversion model --
  const ROUTES = ['senior', 'standard', 'nurture'];

  function thresholdOf(route, t) {
    if (!t) return '–';
    if (route === 'senior') return `P ≥ ${fixed(t.senior_at, 3)}`;
    if (route === 'nurture') return `P < ${fixed(t.nurture_below, 3)}`;
    return `${fixed(t.nurture_below, 3)} ≤ P < ${fixed(t.senior_at, 3)}`;
  }

  function targetOf(route, t) {
    if (!t) return '–';
    if (route === 'senior') return pct(t.senior_share);
    if (route === 'nurture') return pct(t.nurture_share);
    return pct(1 - t.senior_share - t.nurture_share);
  }

  function renderConversion(c) {
    const trained = c.status === 'ok';
    const m = c.metrics || null;
    facts($('conversion-facts'), [
      ['conversion-version', S.mdl_version, trained ? c.version : S.mdl_no_model],
      ['conversion-status', S.mdl_source, trained ? S.mdl_source_model : c.message],
      ['conversion-trained-at', S.mdl_trained_at, trained ? whenOr(c.trained_at) : '–'],
      ['conversion-split', S.mdl_split, trained && m ? `${c.n_train} / ${c.n_calibration} / ${m.n}` : null],
      ['conversion-calibration', S.mdl_calibration, trained ? c.calibration : null],
      ['conversion-scored', S.mdl_scored, c.customers_scored],
      ['conversion-overrides', S.mdl_overrides, c.overrides],
    ]);
    $('conversion-card').dataset.status = c.status;
    const body = $('conversion-route-rows');
    body.replaceChildren();
    for (const r of ROUTES) {
      const share = (c.shares || {})[r] || { customers: 0, share: 0 };
      const tr = el('tr', { 'data-route': r, 'data-testid': 'route-row' });
      tr.append(el('td', {}, S[`route_${r}`] || r),
        el('td', { 'data-testid': 'route-threshold' }, thresholdOf(r, c.thresholds)),
        el('td', { class: 'num', 'data-testid': 'route-target' }, targetOf(r, c.thresholds)),
        el('td', { class: 'num', 'data-testid': 'route-customers' }, share.customers),
        el('td', { class: 'num', 'data-testid': 'route-share' }, pct(share.share)));
      body.append(tr);
    }
    renderMetrics('conversion', trained ? m : null);
  }

  // ------------------------------------------------------------------ load and retrain --
  const MODELS = {
    answer: { url: '/api/models/answer', render: renderAnswer,
      result: (d) => d.result },
    conversion: { url: '/api/models/conversion', render: renderConversion,
      result: (d) => `${d.why} · ${fill(S.mdl_scored_n, { n: d.scored })}` },
  };

  async function load(kind) {
    const card = $(`${kind}-card`);
    card.setAttribute('aria-busy', 'true');
    try {
      MODELS[kind].render(await api('GET', MODELS[kind].url));
    } catch (err) {
      message($(`${kind}-msg`), errorText(err), 'error');
    } finally {
      card.setAttribute('aria-busy', 'false');
    }
  }

  async function retrain(kind) {
    const button = $(`${kind}-retrain`);
    const msg = $(`${kind}-msg`);
    const card = $(`${kind}-card`);
    button.disabled = true;
    card.setAttribute('aria-busy', 'true');
    message(msg, S.mdl_training, 'busy');
    let run;
    try {
      run = await api('POST', `${MODELS[kind].url}/retrain`, { force: true });
    } catch (err) {
      button.disabled = false;
      card.setAttribute('aria-busy', 'false');
      message(msg, errorText(err), 'error');
      await load(kind);  // whatever the card shows is what the API has now
      return;
    }
    button.disabled = false;
    card.setAttribute('aria-busy', 'false');
    message(msg, MODELS[kind].result(run), 'done');
    MODELS[kind].render(run.model);
  }

  // ------------------------------------------------------------------- agent seniority --
  function seniorityRow(item) {
    const tr = el('tr', { 'data-username': item.username, 'data-testid': 'seniority-row' });
    const box = el('input', { type: 'checkbox', role: 'switch', 'data-testid': `senior-${item.username}`,
      'aria-label': `${S.mdl_senior}: ${item.username}` });
    box.checked = item.seniority === 'senior';
    box.addEventListener('change', () => setSeniority(item.username, box));
    const cell = el('td');
    const label = el('label', { class: 'inline' });
    label.append(box, el('span', { 'data-testid': 'seniority-value' },
      S[`mdl_seniority_${item.seniority}`] || item.seniority));
    cell.append(label);
    tr.append(el('td', { 'data-testid': 'seniority-user' }, item.username),
      el('td', {}, S[`mdl_role_${item.role}`] || item.role), cell);
    return tr;
  }

  async function setSeniority(username, box) {
    const wanted = box.checked ? 'senior' : 'standard';
    const msg = $('seniority-msg');
    box.disabled = true;
    const value = box.closest('label').querySelector('[data-testid="seniority-value"]');
    let saved;
    try {
      saved = await api('PUT', `/api/agents/${encodeURIComponent(username)}/seniority`,
        { seniority: wanted });
    } catch (err) {
      box.disabled = false;
      box.checked = !box.checked;  // back to what the server has
      value.textContent = S[`mdl_seniority_${box.checked ? 'senior' : 'standard'}`];
      message(msg, `${username}: ${errorText(err)}`, 'error');
      return;
    }
    box.disabled = false;
    const shown = S[`mdl_seniority_${saved.seniority}`] || saved.seniority;
    value.textContent = shown;
    message(msg, fill(S.mdl_seniority_saved, { user: username, value: shown }), 'done');
  }

  async function loadSeniority() {
    const card = $('seniority-card');
    let items = [];
    let failure = null;
    try { ({ items } = await api('GET', '/api/agents/seniority')); } catch (err) { failure = err; }
    card.setAttribute('aria-busy', 'false');
    const body = $('seniority-rows');
    body.replaceChildren();
    if (failure) { message($('seniority-msg'), errorText(failure), 'error'); return; }
    if (!items.length) {
      const tr = el('tr');
      tr.append(el('td', { colspan: '3', class: 'muted' }, S.mdl_no_agents));
      body.append(tr);
    }
    for (const item of items) body.append(seniorityRow(item));
  }

  for (const kind of Object.keys(MODELS)) {
    $(`${kind}-retrain`).addEventListener('click', () => retrain(kind));
    load(kind);
  }
  loadSeniority();
})();
