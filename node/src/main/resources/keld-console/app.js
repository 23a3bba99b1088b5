// The console's shell: sign-in, the views a key's role may see, and a router over the URL's hash
// (#/view?param=...), so every view's filters live in the URL: reload, back, and links keep them.
import * as api from './api.js';
import { h, show, errorBox } from './ui.js';
import * as overview from './overview.js';
import * as spendMap from './spendmap.js';
import * as tokens from './tokens.js';
import * as jobs from './jobs.js';
import * as recommendations from './recommendations.js';
import * as keys from './keys.js';
import * as cluster from './cluster.js';
import * as market from './market.js';

/** The views, in menu order, and who sees them (by the key's organization kind and role). */
const VIEWS = [
  { path: 'overview', label: 'Overview', module: overview, enterprise: true },
  { path: 'map', label: 'Spend map', module: spendMap, enterprise: true },
  { path: 'tokens', label: 'Token types', module: tokens, enterprise: true },
  { path: 'jobs', label: 'Jobs', module: jobs, enterprise: true },
  { path: 'recommendations', label: 'Recommendations', module: recommendations, enterprise: true },
  { path: 'keys', label: 'Keys', module: keys, enterprise: true, roles: ['admin'] },
  { path: 'market', label: 'Market', module: market, provider: true },
  { path: 'cluster', label: 'Cluster', module: cluster, operator: true },
];

let me = null;
let cleanup = null;
let firstRender = true;

function visible(view) {
  if (!me) return false;
  if (view.operator) return me.org_kind === 'operator';
  if (view.provider) return me.org_kind === 'provider';
  if (view.enterprise && me.org_kind !== 'enterprise') return false;
  return !view.roles || view.roles.includes(me.role);
}

export function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  return { path, params };
}

/** Puts a view's state in the URL; push adds a history entry (a user's change), else it replaces. */
export function setParams(path, params, push) {
  const qs = params.toString();
  const hash = '#/' + path + (qs ? '?' + qs : '');
  if (location.hash === hash) return;
  if (push) history.pushState(null, '', hash);
  else history.replaceState(null, '', hash);
}

function renderNav(current) {
  const nav = document.getElementById('nav');
  nav.replaceChildren(...VIEWS.filter(visible).map(v =>
    h('a', { href: '#/' + v.path, 'aria-current': current === v.path ? 'page' : null }, v.label)));
  const who = document.getElementById('who');
  who.replaceChildren();
  if (me) {
    const scope = me.project_id ? ` · project ${me.project_id}` : me.team_id ? ` · team ${me.team_id}` : '';
    who.append(`${me.org_kind} ${me.role} · ${me.org_id}${scope} `,
      h('button', { type: 'button', id: 'sign-out', onclick: () => { api.signOut(); me = null; history.replaceState(null, '', '#/'); route(); } }, 'Sign out'));
  }
}

function signInView(message) {
  renderNav(null);
  const input = h('input', { id: 'key', name: 'key', type: 'password', autocomplete: 'off', required: true, placeholder: 'keld_…',
    'aria-describedby': 'key-note' });
  const form = h('form', { class: 'signin', id: 'sign-in' },
    h('h1', {}, 'Sign in'),
    message ? errorBox(message) : null,
    h('label', { for: 'key' }, 'Keld API key', input),
    h('p', { class: 'note', id: 'key-note' },
      'The key stays in this browser tab (session storage) and is sent only to this node, as a bearer header. ',
      'Closing the tab forgets it.'),
    h('button', { class: 'primary', type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    api.setKey(input.value.trim());
    try {
      me = await api.get('/atlas/v1/me');
      // A view asked for in the URL opens after sign-in; else the first the key may see (hashchange renders it).
      const first = VIEWS.filter(visible)[0];
      if (!parseHash().path && first) location.hash = '#/' + first.path;
      else route();
    } catch (e) {
      api.signOut();
      signInView(e);
    }
  });
  show(form);
  input.focus();
}

async function route() {
  if (cleanup) { try { cleanup(); } catch (e) { /* the old view is gone anyway */ } cleanup = null; }
  if (!api.key()) return signInView();
  if (!me) {
    try {
      me = await api.get('/atlas/v1/me');
    } catch (e) {
      api.signOut();
      return signInView(e.status === 401 ? new Error('that key was not accepted (revoked or mistyped)') : e);
    }
  }
  const { path, params } = parseHash();
  const [top, ...rest] = path.split('/');
  const allowed = VIEWS.filter(visible);
  const view = allowed.find(v => v.path === top) || allowed[0];
  if (!view) {
    renderNav(null);
    show(h('h1', {}, 'Keld Console'), h('p', {},
      `Views for ${me.org_kind} keys are not in this console yet; the APIs are documented at `, h('a', { href: '/docs/' }, '/docs/'), '.'));
    return;
  }
  renderNav(view.path);
  const ctx = {
    me, params, rest,
    setParams: (p, push) => setParams(view.path + (rest.length ? '/' + rest.join('/') : ''), p, push),
    go: hash => { location.hash = hash; },
  };
  try {
    cleanup = await view.module.render(ctx) || null;
  } catch (e) {
    show(h('h1', {}, view.label), errorBox(e));
  }
  // Moving to another view puts focus on its content (screen readers announce it); the first view
  // of a page load leaves focus alone, so Tab starts at the skip link.
  if (!firstRender) document.getElementById('main').focus({ preventScroll: true });
  firstRender = false;
}

window.addEventListener('hashchange', route);
route();
