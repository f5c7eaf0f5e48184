// What every page script shares (loaded by base.html before them): the page's boot data, DOM
// building, the JSON API client with its one error convention, and number/time formatting.
//
// Errors: api() resolves with the response's JSON, or throws an ApiError carrying the server's
// {error, message, details} (and details.field as .field). The server says `message` in the
// page's language (api() sends it as Accept-Language; the lang cookie agrees), so a page shows
// err.message as it is and never translates it.
(() => {
  'use strict';
  const bootNode = document.getElementById('boot');
  const boot = bootNode ? JSON.parse(bootNode.textContent) : {};
  const lang = boot.lang || (document.documentElement.lang.startsWith('zh') ? 'zh' : 'en');
  const strings = boot.strings || {};
  const fallback = () => strings.error || (lang === 'zh' ? '出错了' : 'Something went wrong');

  const $ = (id) => document.getElementById(id);

  // el('td', {class: 'num', 'data-testid': 'x'}, text): attributes set as given; text optional.
  function el(tag, attrs = {}, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  class ApiError extends Error {
    constructor(status, body) {
      const b = body && typeof body === 'object' ? body : {};
      super(b.message || fallback());
      this.name = 'ApiError';
      this.status = status;  // 0: no response (network down)
      this.error = b.error || (status ? 'http_error' : 'network_error');
      this.details = b.details || {};
      this.field = this.details.field || null;
    }
  }

  // api('PATCH', url, {…}) / api('POST', url, formData): the reply's JSON (null when empty).
  async function api(method, url, body) {
    const init = { method, credentials: 'same-origin', headers: { 'Accept-Language': lang } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let resp;
    try { resp = await fetch(url, init); } catch (e) { throw new ApiError(0, null); }
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) {
      if (resp.ok) throw new ApiError(resp.status, null);
    }
    if (!resp.ok) throw new ApiError(resp.status, data);
    return data;
  }

  // What a page shows for a failure: the server's message, or the page's "something went wrong".
  const errorText = (err) => (err && err.message) || fallback();

  const missing = (x) => x === null || x === undefined || Number.isNaN(x);
  const pct = (x) => (missing(x) ? '–' : `${(x * 100).toFixed(1)}%`);
  const fixed = (x, digits) => (missing(x) ? '–' : Number(x).toFixed(digits));
  // fill('{n} customers', {n: 3}): a label's placeholders replaced (unknown ones kept).
  const fill = (text, values) => String(text)
    .replace(/\{(\w+)\}/g, (m, k) => (k in values ? values[k] : m));

  // A server timestamp in the page's language; '' (or the input) when it is not one.
  function when(iso, options) {
    if (!iso) return '';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso)
      : d.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', options);
  }

  // The navigation's sign-out button (templates/_nav.html): the page's own steps first (the
  // agent page leaves the dialer), then the session, then the login page.
  const beforeSignOut = [];
  document.addEventListener('click', async (event) => {
    const button = event.target.closest && event.target.closest('[data-signout]');
    if (!button) return;
    button.disabled = true;
    for (const step of beforeSignOut) await Promise.resolve().then(step).catch(() => null);
    await api('POST', '/api/auth/logout').catch(() => null);
    location.assign('/login');
  });

  const wsUrl = (path) => `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;

  window.dialcrm = Object.freeze({
    boot, lang, strings, $, el, api, ApiError, errorText, missing, pct, fixed, fill, when, wsUrl,
    beforeSignOut,
  });
})();
