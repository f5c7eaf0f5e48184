// The customer pages: /customers (search) and /customers/{id} (the customer 360). No framework:
// the page renders what the JSON API returns and acts through it; the API enforces who may see
// and change what (crm/domain/access.py). Times show in the viewer's own time zone.
(() => {
  'use strict';
  const { boot, $, el, api, errorText, fill, when } = window.dialcrm;
  const S = boot.strings || {};
  const s = (key, fallback) => S[key] || fallback || key;
  const at = (iso) => when(iso, { year: 'numeric', month: 'numeric', day: 'numeric',
    hour: '2-digit', minute: '2-digit' });
  const seconds = (x) => {
    if (x === null || x === undefined) return '–';
    const n = Math.round(x);
    return `${Math.floor(n / 60)}:${String(n % 60).padStart(2, '0')}`;
  };
  const enc = encodeURIComponent;

  function showError(err) { $('error').textContent = err ? errorText(err) : ''; }
  function flash(text) {
    const node = $('flash');
    if (node) node.textContent = text || '';
  }

  // A form's failure: next to the field the server names (without the "field: " prefix), else
  // at the top of the page.
  function formError(form, err) {
    form.querySelectorAll('.fielderror').forEach((n) => { n.textContent = ''; });
    if (!err) return;
    const field = (err.field || '').split('.').find((p) => form.querySelector(`[data-for="${p}"]`));
    const slot = field ? form.querySelector(`[data-for="${field}"]`) : null;
    if (!slot) { showError(err); return; }
    const text = errorText(err);
    slot.textContent = text.startsWith(`${err.field}: `) ? text.slice(err.field.length + 2) : text;
  }

  async function submitting(form, work) {
    formError(form, null);
    showError(null);
    const button = form.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    try { return await work(); } catch (err) { formError(form, err); return null; } finally {
      if (button) button.disabled = false;
    }
  }

  const chips = (items) => items.map((t) => el('span', { class: 'chip' }, t));

  // ------------------------------------------------------------------------------ search --
  function searchPage() {
    const form = $('search');
    let offset = 0;
    const PAGE = 50;

    function item(c) {
      const li = el('li', { class: 'result', 'data-testid': 'result' });
      const link = el('a', { href: `/customers/${c.id}`, 'data-testid': 'result-link' }, c.name);
      const line = el('div', { class: 'row wrap' });
      line.append(link, ...chips(c.tags || []));
      const meta = el('div', { class: 'muted small' },
        [(c.numbers || []).join(' · '),
          c.last_call_time ? `${s('c360_last_call')} ${at(c.last_call_time)}` : null]
          .filter(Boolean).join(' · '));
      li.append(line, meta);
      return li;
    }

    async function run(more) {
      const data = new FormData(form);
      const params = new URLSearchParams();
      for (const k of ['q', 'tag', 'owner']) {
        const v = String(data.get(k) || '').trim();
        if (v) params.set(k, v);
      }
      history.replaceState(null, '', params.toString() ? `?${params}` : location.pathname);
      offset = more ? offset + PAGE : 0;
      params.set('limit', PAGE);
      params.set('offset', offset);
      showError(null);
      try {
        const page = await api('GET', `/api/customers?${params}`);
        const list = $('results');
        const items = page.items.map(item);
        if (more) list.append(...items); else list.replaceChildren(...items);
        if (!page.total) list.replaceChildren(el('li', { class: 'muted' }, s('c360_no_results')));
        $('found').textContent = page.total ? fill(s('c360_found'), { n: page.total }) : '';
        $('more').hidden = offset + PAGE >= page.total;
      } catch (err) { showError(err); }
    }

    form.addEventListener('submit', (e) => { e.preventDefault(); run(false); });
    $('more').addEventListener('click', () => run(true));
    run(false);
  }

  // ------------------------------------------------------------------------- customer 360 --
  function customerPage() {
    const id = boot.customer_id;
    const base = `/api/customers/${id}`;
    const state = { activity: null, agents: [], tasks: [] };

    // -- head: name, tags, details, route ---------------------------------------------------
    function renderHead(a) {
      $('name').textContent = a.name;
      document.title = `${a.name} · ${s('c360_customers')}`;
      $('tags').replaceChildren(...(a.tags || []).map((t) => {
        const chip = el('span', { class: 'chip', 'data-testid': 'tag' }, t);
        const x = el('button', { type: 'button', class: 'chipx', 'aria-label': `${s('c360_remove')} ${t}`,
          title: s('c360_remove') }, '×');
        x.addEventListener('click', () => patch({ remove_tags: [t] }));
        chip.append(x);
        return chip;
      }));
      $('email').textContent = a.email || '–';
      $('timezone').textContent = a.timezone || '–';
    }

    async function loadRoute() {
      try {
        const r = await api('GET', `${base}/route`);
        const node = $('route');
        if (!r.route) { node.textContent = s('c360_not_scored'); return; }
        const label = s(`route_${r.route}`, r.route);
        const p = r.p_convert === null || r.p_convert === undefined ? '–' : r.p_convert.toFixed(3);
        let reason;
        if (r.override_route) reason = fill(s('c360_route_override'), { reason: r.override_reason || '–' });
        else if (boot.lang === 'en' && r.reason) reason = r.reason;
        else reason = fill(s('c360_route_reason_zh'), { version: r.model_version || '–', p, route: label });
        node.replaceChildren(el('strong', { 'data-testid': 'route-label' }, label),
          el('span', { class: 'muted' }, ` · P ${p}`), el('div', { class: 'small', 'data-testid': 'route-reason' }, reason));
      } catch (err) { $('route').textContent = errorText(err); }
    }

    async function patch(body, form) {
      const work = async () => {
        await api('PATCH', base, body);
        flash(s('c360_saved'));
        await loadActivity();
        return true;
      };
      if (form) return submitting(form, work);
      try { return await work(); } catch (err) { showError(err); return null; }
    }

    function setupEdit() {
      const form = $('edit-form');
      $('edit').addEventListener('click', () => {
        const a = state.activity || {};
        form.elements.name.value = a.name || '';
        form.elements.email.value = a.email || '';
        form.elements.timezone.value = a.timezone || '';
        form.elements.add_tag.value = '';
        form.hidden = false;
        $('edit').hidden = true;
      });
      $('edit-cancel').addEventListener('click', () => { form.hidden = true; $('edit').hidden = false; });
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const f = form.elements;
        const body = { name: f.name.value.trim() };
        if (f.email.value.trim()) body.email = f.email.value.trim();
        if (f.timezone.value.trim()) body.timezone = f.timezone.value.trim();
        if (f.add_tag.value.trim()) body.add_tags = [f.add_tag.value.trim()];
        if (await patch(body, form)) { form.hidden = true; $('edit').hidden = false; }
      });
    }

    // -- numbers -------------------------------------------------------------------------
    function dncText(d) {
      if (d.global) return s('c360_dnc_global');
      if (d.campaigns.length) return fill(s('c360_dnc_campaign'), { campaigns: d.campaigns.join('、') });
      return s('c360_dnc_clear');
    }

    function renderNumbers(numbers) {
      const list = $('numbers');
      list.replaceChildren(...numbers.map((n) => {
        const blocked = n.dnc.global || n.dnc.campaigns.length > 0;
        const li = el('li', { 'data-testid': 'number', 'data-e164': n.e164 });
        li.append(el('span', { class: 'number' }, n.e164), ' ',
          el('span', { class: 'chip' }, s(`c360_type_${n.type}`, n.type)), ' ',
          n.region ? el('span', { class: 'muted' }, n.region) : '', ' ',
          el('span', { class: blocked ? 'badge dnc' : 'badge', 'data-state': blocked ? 'failing' : 'ok',
            'data-testid': 'dnc' }, dncText(n.dnc)));
        if (boot.manages) {
          const rm = el('button', { type: 'button', class: 'link', 'data-testid': 'remove-number' }, s('c360_remove'));
          rm.addEventListener('click', async () => {
            try { await api('DELETE', `${base}/numbers/${enc(n.e164)}`); await loadActivity(); } catch (err) { showError(err); }
          });
          li.append(' ', rm);
        }
        return li;
      }));
      if (!numbers.length) list.replaceChildren(el('li', { class: 'muted' }, s('c360_none')));
    }

    function setupNumbers() {
      const form = $('number-form');
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const ok = await submitting(form, () => api('POST', `${base}/numbers`,
          { number: form.elements.number.value.trim() }));
        if (ok) { form.reset(); await loadActivity(); }
      });
    }

    // -- leads ---------------------------------------------------------------------------
    function renderLeads(leads) {
      const list = $('leads');
      list.replaceChildren(...leads.map((l) => el('li', { 'data-testid': 'lead' }, [
        l.campaign, s(`c360_lead_${l.status}`, l.status),
        `${s('c360_attempts')} ${l.attempts}`,
        `${s('c360_next_attempt')}: ${l.next_attempt_at ? at(l.next_attempt_at) : s('c360_not_scheduled')}`,
        l.agent ? `${s('c360_agent')} ${l.agent}` : null,
      ].filter(Boolean).join(' · '))));
      if (!leads.length) list.replaceChildren(el('li', { class: 'muted' }, s('c360_no_leads')));
    }

    // -- calls ---------------------------------------------------------------------------
    function ruleLine(r) {
      const action = s(`c360_act_${r.action}`, r.action);
      const text = boot.lang === 'en' ? `${r.rule_name} → ${action}` : action;
      // the rule's name and its evidence are the rules document's and the analyser's words
      // (English): shown in en, kept in the tooltip in zh
      const evidence = (r.evidence || []).join('; ');
      const li = el('li', { class: 'rule', title: `${r.rule_name}${evidence ? `: ${evidence}` : ''}`,
        'data-testid': 'rule' }, text);
      if (boot.lang === 'en' && r.evidence && r.evidence.length) {
        li.append(el('span', { class: 'muted' }, ` · ${s('c360_evidence')}: ${r.evidence.join('、')}`));
      }
      return li;
    }

    async function play(call, box, button) {
      button.disabled = true;
      try {
        const signed = await api('GET', `/api/calls/${enc(call.call_id)}/recording`);
        const audio = el('audio', { controls: '', preload: 'auto', src: signed.url, 'data-testid': 'player' });
        box.replaceChildren(audio);
        audio.play().catch(() => {});  // autoplay may be refused: the controls stay
      } catch (err) { box.replaceChildren(el('span', { class: 'bad' }, errorText(err))); }
      button.disabled = false;
    }

    async function transcript(call, box, button) {
      if (!box.hidden) { box.hidden = true; button.textContent = s('c360_transcript'); return; }
      box.hidden = false;
      button.textContent = s('c360_hide');
      box.replaceChildren(el('li', { class: 'muted' }, s('c360_loading')));
      try {
        const t = await api('GET', `/api/calls/${enc(call.call_id)}/transcript`);
        const segs = [...t.segments].sort((a, b) => a.start_s - b.start_s);
        box.replaceChildren(...segs.map((g) => {
          const li = el('li', { class: `line ${g.speaker}${g.gap ? ' gap' : ''}`, 'data-testid': 'segment' });
          li.append(el('span', { class: 'speaker' }, s(`speaker_${g.speaker}`, g.speaker)),
            el('span', { class: 'muted small' }, seconds(g.start_s)),
            el('span', { class: 'text' }, g.gap ? fill(s('transcript_gap'), { reason: g.reason || '' }) : g.text));
          return li;
        }));
        if (!segs.length) box.replaceChildren(el('li', { class: 'muted' }, s('c360_no_transcript')));
      } catch (err) { box.replaceChildren(el('li', { class: 'bad' }, errorText(err))); }
    }

    function callItem(c) {
      const li = el('li', { class: 'call', 'data-testid': 'call', 'data-call': c.call_id });
      const outcome = c.outcome ? s(`outcome_${c.outcome}`, c.outcome) : s(`c360_state_${c.state}`, c.state);
      const head = el('div', { class: 'row wrap' });
      head.append(el('strong', { class: 'when' }, at(c.at)),
        el('span', {}, c.campaign || s('c360_manual')),
        el('span', { class: 'badge', 'data-testid': 'call-outcome' }, outcome),
        c.disposition ? el('span', { class: 'chip' }, s(`disp_${c.disposition}`, c.disposition)) : '',
        el('span', { class: 'muted' }, `${s('c360_agent')} ${c.agent || '–'}`),
        el('span', { class: 'muted' }, `${s('c360_duration')} ${seconds(c.talk_seconds)}`));
      li.append(head);
      const a = c.analysis;
      const intent = a ? a.intent_score : c.intent_score;
      if (a || intent !== null && intent !== undefined) {
        li.append(el('div', { class: 'small', 'data-testid': 'analysis' }, [
          a ? `${s('c360_sentiment')}: ${s(`c360_sent_${a.sentiment_label}`, a.sentiment_label)} (${a.sentiment.toFixed(2)})` : null,
          intent !== null && intent !== undefined ? `${s('c360_intent')}: ${Number(intent).toFixed(1)}` : null,
        ].filter(Boolean).join(' · ')));
      }
      const tools = el('div', { class: 'row wrap' });
      const player = el('div', { class: 'player' });
      if (c.recording) {
        const b = el('button', { type: 'button', class: 'secondary', 'data-testid': 'play' }, s('c360_play'));
        b.addEventListener('click', () => play(c, player, b));
        tools.append(b);
      } else tools.append(el('span', { class: 'muted small' }, s('c360_no_recording')));
      const lines = el('ol', { class: 'plain transcript', 'data-testid': 'transcript', hidden: '' });
      const tb = el('button', { type: 'button', class: 'secondary', 'data-testid': 'show-transcript' }, s('c360_transcript'));
      tb.addEventListener('click', () => transcript(c, lines, tb));
      tools.append(tb);
      li.append(tools, player, lines);
      if (c.rules && c.rules.length) {
        const rules = el('ul', { class: 'plain rules', 'data-testid': 'rules' });
        rules.append(...c.rules.map(ruleLine));
        li.append(el('div', { class: 'small muted' }, s('c360_rules')), rules);
      }
      return li;
    }

    function renderCalls(calls) {
      const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || '';
      $('zone').textContent = fill(s('c360_zone'), { zone });
      const list = $('calls');
      list.replaceChildren(...calls.map(callItem));
      if (!calls.length) list.replaceChildren(el('li', { class: 'muted' }, s('c360_no_calls')));
    }

    // -- merges --------------------------------------------------------------------------
    function moved(m) {
      return ['numbers', 'calls', 'tasks', 'notes', 'leads', 'tags']
        .map((k) => `${s(`c360_mv_${k}`)} ${m[k] || 0}`).join(' · ');
    }

    function renderMerges(merges) {
      const list = $('merges');
      list.replaceChildren(...merges.map((m) => {
        const who = fill(s('c360_merged_by'), { actor: m.actor || s('c360_system'), at: at(m.at) });
        if (m.action === 'customer.merged_on_create') {
          return el('li', { 'data-testid': 'merge' }, `${s('c360_merged_on_create')} (${(m.numbers || []).join(', ')}) · ${who}`);
        }
        const names = m.sources.map((x) => x.name || x.id).join('、');
        return el('li', { 'data-testid': 'merge' }, `${names} · ${who} · ${moved(m.moved || {})}`);
      }));
      if (!merges.length) list.replaceChildren(el('li', { class: 'muted' }, s('c360_no_merges')));
    }

    function setupMerge() {
      if (!boot.manages) { $('merge-tool').hidden = true; $('merge-managers').hidden = false; return; }
      let chosen = null;
      $('merge-search').addEventListener('submit', async (e) => {
        e.preventDefault();
        const q = e.target.elements.q.value.trim();
        $('merge-preview').hidden = true;
        $('merge-go').hidden = true;
        try {
          const page = await api('GET', `/api/customers?q=${enc(q)}&limit=20`);
          const items = page.items.filter((c) => c.id !== id);
          $('merge-candidates').replaceChildren(...items.map((c) => {
            const b = el('button', { type: 'button', class: 'secondary', 'data-testid': 'merge-pick' }, s('c360_preview'));
            b.addEventListener('click', () => preview(c));
            const li = el('li', { class: 'row wrap', 'data-testid': 'merge-candidate' });
            li.append(el('span', {}, `${c.name} · ${(c.numbers || []).join(' · ')}`), b);
            return li;
          }));
          if (!items.length) $('merge-candidates').replaceChildren(el('li', { class: 'muted' }, s('c360_no_results')));
        } catch (err) { showError(err); }
      });

      async function preview(candidate) {
        showError(null);
        try {
          const p = await api('POST', `${base}/merge/preview`, { source_ids: [candidate.id] });
          chosen = candidate.id;
          const box = $('merge-preview');
          box.replaceChildren(el('p', {}, fill(s('c360_merge_moves'), { name: p.target.name })),
            ...p.sources.map((src) => el('p', { class: 'note', 'data-testid': 'merge-moves' },
              `${src.name} (${src.numbers.join(', ') || '–'}) → ${moved(src.moves)}`)));
          box.hidden = false;
          $('merge-go').hidden = false;
        } catch (err) { showError(err); }
      }

      $('merge-go').addEventListener('click', async () => {
        if (!chosen) return;
        $('merge-go').disabled = true;
        try {
          await api('POST', `${base}/merge`, { source_ids: [chosen] });
          chosen = null;
          $('merge-preview').hidden = true;
          $('merge-go').hidden = true;
          $('merge-candidates').replaceChildren();
          flash(s('c360_merged'));
          await Promise.all([loadActivity(), loadTasks(), loadNotes()]);
        } catch (err) { showError(err); }
        $('merge-go').disabled = false;
      });
    }

    // -- tasks ---------------------------------------------------------------------------
    function ownerName(ownerId) {
      if (!ownerId) return s('c360_unassigned');
      if (ownerId === boot.user_id) return s('c360_me');
      const found = state.agents.find((u) => u.id === ownerId);
      return found ? found.display_name || found.username : ownerId.slice(0, 8);
    }

    function ownerSelect(current) {
      const sel = el('select', { 'data-testid': 'reassign-owner', 'aria-label': s('c360_assignee') });
      sel.append(el('option', { value: boot.user_id }, `${s('c360_me')} (${boot.username})`));
      for (const u of state.agents) {
        if (u.id !== boot.user_id) sel.append(el('option', { value: u.id }, u.display_name || u.username));
      }
      if (current) sel.value = current;
      return sel;
    }

    function taskItem(t) {
      const overdue = t.status === 'open' && t.due_at && new Date(t.due_at) < new Date();
      const li = el('li', { 'data-testid': 'task', 'data-status': t.status });
      const line = el('div', { class: 'row wrap' });
      line.append(el('strong', {}, t.title),
        el('span', { class: overdue ? 'badge overdue' : 'muted' },
          t.due_at ? `${s('c360_due')} ${at(t.due_at)}${overdue ? ` · ${s('c360_overdue')}` : ''}` : s('c360_no_due')),
        el('span', { class: 'muted' }, `${s('c360_assignee')}: ${ownerName(t.owner_id)}`),
        t.status !== 'open' ? el('span', { class: 'badge' }, s(`c360_task_${t.status}`, t.status)) : '');
      li.append(line);
      if (t.status === 'open') {
        const tools = el('div', { class: 'row wrap' });
        const done = el('button', { type: 'button', 'data-testid': 'task-complete' }, s('c360_complete'));
        done.addEventListener('click', () => changeTask(t, { status: 'done' }, s('c360_task_completed')));
        const due = el('input', { type: 'datetime-local', 'data-testid': 'task-new-due',
          'aria-label': s('c360_due') });
        const move = el('button', { type: 'button', class: 'secondary', 'data-testid': 'task-set-due' },
          s('c360_set_due'));
        move.addEventListener('click', () => {
          if (due.value) changeTask(t, { due_at: new Date(due.value).toISOString() }, s('c360_due_changed'));
        });
        tools.append(done, due, move);
        if (boot.manages) {
          const sel = ownerSelect(t.owner_id);
          const go = el('button', { type: 'button', class: 'secondary', 'data-testid': 'task-reassign' }, s('c360_reassign'));
          go.addEventListener('click', () => changeTask(t, { owner_id: sel.value }, s('c360_task_reassigned')));
          tools.append(sel, go);
        }
        li.append(tools);
      }
      return li;
    }

    async function changeTask(t, body, message) {
      showError(null);
      try {
        await api('PATCH', `/api/tasks/${t.id}`, body);
        flash(message);
        await loadTasks();
      } catch (err) { showError(err); }
    }

    async function loadTasks() {
      const status = $('show-done').checked ? '' : '&status=open';
      try {
        const page = await api('GET', `/api/tasks?customer_id=${id}${status}&limit=200`);
        const list = $('tasks');
        const items = [...page.items].sort((a, b) => (a.status === 'open' ? 0 : 1) - (b.status === 'open' ? 0 : 1)
          || String(a.due_at || '9').localeCompare(String(b.due_at || '9')));
        list.replaceChildren(...items.map(taskItem));
        if (!items.length) list.replaceChildren(el('li', { class: 'muted' }, s('c360_none')));
      } catch (err) { showError(err); }
    }

    function setupTasks() {
      $('show-done').addEventListener('change', loadTasks);
      const form = $('task-form');
      if (boot.manages) {
        $('task-owner-label').hidden = false;
        form.elements.owner_id.replaceWith(Object.assign(ownerSelect(boot.user_id), { name: 'owner_id' }));
      }
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const f = form.elements;
        const body = { title: f.title.value.trim(), customer_id: id };
        if (f.due_at.value) body.due_at = new Date(f.due_at.value).toISOString();
        if (f.owner_id && f.owner_id.value) body.owner_id = f.owner_id.value;
        const made = await submitting(form, () => api('POST', '/api/tasks', body));
        if (made) { form.reset(); flash(s('c360_task_created')); await loadTasks(); }
      });
    }

    async function loadAgents() {  // managers reassign tasks to these
      try {
        const page = await api('GET', '/api/users?role=agent&limit=500');
        state.agents = page.items.filter((u) => u.active !== false);
      } catch (err) { state.agents = []; }
    }

    // -- notes ---------------------------------------------------------------------------
    async function loadNotes() {
      try {
        const page = await api('GET', `${base}/notes?limit=200`);
        const list = $('notes');
        list.replaceChildren(...page.items.map((n) => {
          const li = el('li', { 'data-testid': 'note' });
          const author = n.author_id === boot.user_id ? s('c360_me')
            : (state.agents.find((u) => u.id === n.author_id) || {}).username;
          li.append(el('div', { class: 'muted small' }, [at(n.created_at), author]
            .filter(Boolean).join(' · ')),
          el('div', { class: 'notebody' }, n.body));
          return li;
        }));
        if (!page.items.length) list.replaceChildren(el('li', { class: 'muted' }, s('c360_no_notes')));
      } catch (err) { showError(err); }
    }

    function setupNotes() {
      const form = $('note-form');
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const made = await submitting(form, () => api('POST', `${base}/notes`,
          { body: form.elements.body.value }));
        if (made) { form.reset(); flash(s('c360_note_added')); await loadNotes(); }
      });
    }

    // -- load ----------------------------------------------------------------------------
    async function loadActivity() {
      try {
        const a = await api('GET', `${base}/activity?language=${boot.lang}`);
        state.activity = a;
        renderHead(a);
        renderNumbers(a.numbers);
        renderLeads(a.leads);
        renderCalls(a.calls);
        renderMerges(a.merges);
        document.body.dataset.loaded = 'true';
      } catch (err) { showError(err); }
    }

    setupEdit();
    setupNumbers();
    setupNotes();
    setupMerge();
    const agentsReady = boot.manages ? loadAgents() : Promise.resolve();
    Promise.all([loadActivity(), loadRoute(),
      agentsReady.then(() => { setupTasks(); return Promise.all([loadTasks(), loadNotes()]); })]);
  }

  if ($('search')) searchPage();
  if ($('customer')) customerPage();
})();
