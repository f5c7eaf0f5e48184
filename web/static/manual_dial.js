// The agent page's manual-dial control (issue 13 item 2): a paused agent dials a number (typed,
// or handed over as /agent?dial=NUMBER by the customer page or a task). The server checks the
// campaign's DNC list and calling window, membership and who may see the customer, and says a
// refusal in the page's language; this script only shows it.
(() => {
  'use strict';
  const { $, api, errorText, fill } = window.dialcrm;
  const form = $('manual-dial');
  if (!form) return;
  const status = $('manual-dial-status');
  const show = (text, isError) => {
    status.textContent = text;
    status.classList.toggle('error', Boolean(isError));
  };

  const handed = new URLSearchParams(location.search).get('dial');
  if (handed) form.elements.number.value = handed;

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    show('', false);
    try {
      const state = await api('GET', '/api/agent/state');
      if (!state || !state.campaign_id) {
        show(form.dataset.loginFirst, true);
        return;
      }
      const body = { campaign_id: state.campaign_id, number: form.elements.number.value.trim() };
      const reason = form.elements.override_reason && form.elements.override_reason.value.trim();
      if (reason) body.override_reason = reason;
      const placed = await api('POST', '/api/agent/manual-dial', body);
      show(fill(form.dataset.placed, { number: placed.number }), false);
    } catch (err) {
      show(errorText(err), true);
    } finally {
      button.disabled = false;
    }
  });
})();
