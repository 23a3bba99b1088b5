// Jobs: the organization's jobs with filters (in the URL), and a job's page that follows the job live
// over its server-sent events (/ixp/v1/jobs/{id}/events): state, progress, legs, escalations and
// re-routes, the timeline, cost, the price it cleared at and the same tokens at the backup's list price.
import * as api from './api.js';
import { h, show, table, usd, int, when, errorBox } from './ui.js';
import { disposeAll } from './charts.js';

const STATES = ['admitted', 'open', 'matched', 'running', 'escalated', 'completed', 'cancelled', 'failed', 'deadline_missed'];
const FILTERS = ['state', 'use_case', 'project_id', 'team_id', 'submitted_after', 'submitted_before'];

export async function render(ctx) {
  disposeAll();
  if (ctx.rest.length) return jobPage(ctx, decodeURIComponent(ctx.rest[0]));
  return jobList(ctx);
}

async function jobList(ctx) {
  const filters = {};
  for (const f of FILTERS) if (ctx.params.get(f)) filters[f] = ctx.params.get(f);
  const field = (name, label, control) => h('label', { for: 'job-' + name }, label, control);
  const form = h('form', { class: 'controls', id: 'job-filters' },
    field('state', 'State', h('select', { id: 'job-state', name: 'state' },
      h('option', { value: '' }, 'any'), STATES.map(s => h('option', { value: s, selected: filters.state === s }, s)))),
    field('use_case', 'Use case', h('input', { id: 'job-use_case', name: 'use_case', value: filters.use_case || '', size: 12, placeholder: 'any' })),
    field('project_id', 'Project id', h('input', { id: 'job-project_id', name: 'project_id', value: filters.project_id || '', size: 20, placeholder: 'any' })),
    field('team_id', 'Team id', h('input', { id: 'job-team_id', name: 'team_id', value: filters.team_id || '', size: 20, placeholder: 'any' })),
    field('submitted_after', 'Submitted after', h('input', { id: 'job-submitted_after', name: 'submitted_after', value: filters.submitted_after || '', size: 20, placeholder: 'RFC 3339' })),
    field('submitted_before', 'Submitted before', h('input', { id: 'job-submitted_before', name: 'submitted_before', value: filters.submitted_before || '', size: 20, placeholder: 'RFC 3339' })),
    h('button', { type: 'submit', class: 'primary' }, 'Apply'));
  const apply = ev => {
    if (ev) ev.preventDefault();
    const p = new URLSearchParams();
    for (const f of FILTERS) { const v = form.querySelector('#job-' + f).value.trim(); if (v) p.set(f, v); }
    ctx.setParams(p, true);
    for (const f of FILTERS) delete filters[f];
    for (const [k, v] of p) filters[k] = v;
    load();
  };
  form.addEventListener('submit', apply);
  form.querySelector('#job-state').addEventListener('change', () => apply());
  const results = h('div', { id: 'job-results', 'aria-live': 'polite' });
  show(h('h1', {}, 'Jobs'), form, results);

  let rows = [];
  async function load(cursor) {
    const q = new URLSearchParams({ ...filters, limit: '50' });
    if (cursor) q.set('cursor', cursor);
    let page;
    try {
      page = await api.get('/ixp/v1/jobs?' + q);
    } catch (e) {
      results.replaceChildren(errorBox(e));
      return;
    }
    rows = cursor ? rows.concat(page.data) : page.data;
    results.replaceChildren(
      rows.length === 0 ? h('p', { class: 'note' }, 'No jobs match.') : table([
        { label: 'Job', value: j => h('a', { href: '#/jobs/' + encodeURIComponent(j.id) }, j.id) },
        { label: 'State', value: j => h('span', { class: 'badge', 'data-state': j.state }, j.state) },
        { label: 'Use case', value: j => j.use_case },
        { label: 'Submitted', value: j => when(j.submitted_at) },
        { label: 'Deadline', value: j => when(j.deadline) },
        { label: 'Items done', num: true, value: j => int(j.progress ? j.progress.items_answered : 0) },
        { label: 'Cleared at ($/Mtok)', num: true, value: j => j.match ? String(j.match.price_usd_per_mtok) : '–' },
        { label: 'Cost', num: true, value: j => usd(j.cost_micro_usd) },
      ], rows, { id: 'jobs-table' }),
      page.next_cursor ? h('button', { type: 'button', id: 'more-jobs', onclick: () => load(page.next_cursor) }, 'More') : null);
  }
  await load();
}

async function jobPage(ctx, id) {
  const controller = new AbortController();
  const status = h('p', { id: 'job-live', class: 'note', 'aria-live': 'polite' }, 'Connecting…');
  const body = h('div', { id: 'job-body' });
  show(h('p', {}, h('a', { href: '#/jobs' }, '← Jobs')), h('h1', {}, 'Job ', h('code', {}, id)), status, body);
  let events = 0;
  api.follow('/ixp/v1/jobs/' + encodeURIComponent(id) + '/events', (name, data) => {
    if (name !== 'job' && name !== 'end') return;
    events++;
    renderJob(body, JSON.parse(data));
    status.replaceChildren(name === 'end' ? 'Ended and settled; no more updates.' : h('span', { class: 'live' }, '● live'),
      ` · ${events} update${events === 1 ? '' : 's'} received`);
    status.dataset.events = events;
    status.dataset.ended = name === 'end';
  }, controller.signal).catch(e => {
    if (e.name === 'AbortError') return;
    status.replaceChildren(errorBox(e));
  });
  return () => controller.abort();
}

function renderJob(body, j) {
  const tokens = j.progress ? j.progress.input_tokens + j.progress.output_tokens : 0;
  const atList = j.backup ? Math.round(tokens * Number(j.backup.price_usd_per_mtok)) : null;
  body.replaceChildren(
    h('div', { class: 'cards' },
      card('State', h('span', { id: 'job-state', 'data-state': j.state }, j.state), j.reason ? `reason: ${j.reason}` : (j.settled ? 'settled' : 'not settled yet')),
      card('Items', h('span', { id: 'job-items' }, `${int(j.progress?.items_answered)} answered`),
        `${int(j.progress?.items_failed)} failed · ${int(j.progress?.items_open)} open`),
      card('Cost', h('span', { id: 'job-cost', 'data-micro-usd': j.cost_micro_usd }, usd(j.cost_micro_usd)),
        `${int(tokens)} tokens · reserved ${usd(j.reserved_micro_usd)}`),
      card('Cleared at', j.match ? `$${j.match.price_usd_per_mtok}/Mtok` : 'not matched', `ceiling $${j.ceiling_usd_per_mtok}/Mtok`),
      card('At the backup\'s list price', atList === null ? 'no backup' : usd(atList),
        j.backup ? `${j.backup.model} at $${j.backup.price_usd_per_mtok}/Mtok (${j.backup.source})` : ''),
      card('Escalations / re-routes', h('span', { id: 'job-moves' }, `${j.escalations} / ${j.reroutes}`), `deadline ${when(j.deadline)}`)),
    h('h2', {}, 'Legs'),
    (j.legs || []).length === 0 ? h('p', { class: 'note' }, 'No provider yet.') : table([
      { label: '#', value: l => l.no },
      { label: 'Kind', value: l => l.kind },
      { label: 'Provider', value: l => l.provider_id },
      { label: 'Model', value: l => l.model },
      { label: '$/Mtok', num: true, value: l => String(l.price_usd_per_mtok) },
      { label: 'Started', value: l => when(l.started_at) },
      { label: 'Answered', num: true, value: l => int(l.items_answered) },
      { label: 'Failed', num: true, value: l => int(l.items_failed) },
      { label: 'Tokens', num: true, value: l => int(l.input_tokens + l.output_tokens) },
      { label: 'Cost', num: true, value: l => usd(l.cost_micro_usd) },
      { label: 'Signed receipt', value: l => l.receipt ? h('code', {}, l.receipt) : '–' },
    ], j.legs, { id: 'job-legs' }),
    h('h2', {}, 'Timeline'),
    h('ol', { class: 'timeline', id: 'job-timeline' }, (j.timeline || []).map(t =>
      h('li', {}, h('time', { datetime: t.at }, when(t.at)), ' · ', h('strong', {}, t.event), ` → ${t.state}`, t.reason ? ` (${t.reason})` : ''))),
    h('h2', {}, 'Requirements'),
    h('p', {}, `Use case ${j.use_case}${(j.models || []).length ? ', models ' + j.models.join(', ') : ''}, quality ≥ ${j.min_quality}, `,
      `${int(j.estimated_tokens)} tokens estimated, project ${j.project_id}, submitted ${when(j.submitted_at)}.`));
}

function card(label, value, note) {
  return h('div', { class: 'card' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), note ? h('div', { class: 'note' }, note) : null);
}
