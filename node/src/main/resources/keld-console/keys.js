// Keys (admin keys only; the menu hides it from other roles and the API refuses them anyway): the
// organization's keys in the caller's scope, issue one (its secret shown once, here, and never again),
// and revoke one (a second click confirms).
import * as api from './api.js';
import { h, show, table, when, errorBox } from './ui.js';
import { disposeAll } from './charts.js';

export async function render(ctx) {
  disposeAll();
  const me = ctx.me;
  const issued = h('div', { id: 'issued', 'aria-live': 'polite' });
  const list = h('div', { id: 'key-list' });
  const input = (id, label, attrs) => h('label', { for: id }, label, h('input', Object.assign({ id, name: id }, attrs || {})));
  const form = h('form', { class: 'controls', id: 'create-key-form' },
    input('key-name', 'Name', { required: true, size: 18 }),
    h('label', { for: 'key-role' }, 'Role', h('select', { id: 'key-role', name: 'key-role' },
      ['read-only', 'member', 'admin'].map(r => h('option', { value: r }, r)))),
    input('key-team', 'Team id (optional)', { size: 20, value: me.project_id ? '' : (me.team_id || '') }),
    input('key-project', 'Project id (optional)', { size: 20, value: me.project_id || '' }),
    h('button', { type: 'submit', class: 'primary', id: 'create-key' }, 'Create key'));
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    const v = id => form.querySelector('#' + id).value.trim();
    const body = { name: v('key-name'), role: v('key-role') };
    if (v('key-team')) body.team_id = v('key-team');
    if (v('key-project')) body.project_id = v('key-project');
    try {
      const k = await api.send('POST', `/atlas/v1/orgs/${encodeURIComponent(me.org_id)}/keys`, body);
      issued.replaceChildren(h('p', {}, `Key ${k.id} (${k.role}) issued. Copy it now: it is shown only this once.`),
        h('p', { class: 'secret', id: 'issued-secret' }, k.key));
      form.reset();
      await load();
    } catch (e) {
      issued.replaceChildren(errorBox(e));
    }
  });
  show(h('h1', {}, 'Keys'), h('h2', {}, 'Issue a key'), form, issued, h('h2', {}, 'Keys in your scope'), list);

  async function load() {
    let keys;
    try {
      keys = (await api.get(`/atlas/v1/orgs/${encodeURIComponent(me.org_id)}/keys`)).data;
    } catch (e) {
      list.replaceChildren(errorBox(e));
      return;
    }
    list.replaceChildren(table([
      { label: 'Id', value: k => k.id },
      { label: 'Name', value: k => k.name },
      { label: 'Role', value: k => k.role },
      { label: 'Scope', value: k => k.project_id ? 'project ' + k.project_id : k.team_id ? 'team ' + k.team_id : 'organization' },
      { label: 'Ends in', value: k => '…' + k.hint },
      { label: 'Created', value: k => when(k.created_at) },
      { label: '', value: k => k.revoked_at ? 'revoked ' + when(k.revoked_at) : k.id === me.key_id ? 'this key' : revokeButton(k) },
    ], keys, { id: 'keys-table' }));
  }

  function revokeButton(k) {
    const b = h('button', { type: 'button', class: 'danger revoke', 'data-key-id': k.id }, 'Revoke');
    b.addEventListener('click', async () => {
      if (b.dataset.armed !== 'true') {
        b.dataset.armed = 'true';
        b.textContent = 'Confirm revoke ' + k.name;
        return;
      }
      try {
        await api.send('DELETE', '/atlas/v1/keys/' + encodeURIComponent(k.id));
        await load();
      } catch (e) {
        issued.replaceChildren(errorBox(e));
      }
    });
    return b;
  }

  await load();
}
