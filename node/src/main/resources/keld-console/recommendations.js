// Recommendations: workloads that could wait (latency-tolerant by content-free signals), each with its
// evidence, the live quote from the marketplace and the savings, as /atlas/v1/recommendations gives them.
import * as api from './api.js';
import { h, show, table, usd, int, iso, nextHour } from './ui.js';
import { disposeAll } from './charts.js';

export async function render(ctx) {
  disposeAll();
  const now = nextHour(new Date());
  const from = ctx.params.get('from') || iso(new Date(now.getTime() - 30 * 86400e3));
  const to = ctx.params.get('to') || iso(now);
  ctx.setParams(new URLSearchParams({ from, to }), false);
  show(h('h1', {}, 'Recommendations'), h('p', { class: 'note' }, 'Loading…'));
  const list = await api.get('/atlas/v1/recommendations?' + new URLSearchParams({ from, to }));
  const recs = list.recommendations;
  const total = recs.reduce((a, r) => a + (r.monthly_savings_micro_usd || 0), 0);
  show(
    h('h1', {}, 'Recommendations'),
    h('p', { class: 'note' }, `Usage from ${list.from} to ${list.to} outside Keld, scored for latency tolerance; each quote is live from the books now.`),
    h('div', { class: 'cards' }, h('div', { class: 'card' }, h('div', { class: 'label' }, 'Savings a month, if all moved'),
      h('div', { class: 'value', id: 'recommendations-total' }, usd(total)))),
    recs.length === 0 ? h('p', { class: 'note' }, 'Nothing to recommend: no latency-tolerant workload in the range.') :
      table([
        { label: 'Workload', value: r => [r.workload.service_name, r.workload.operation, r.workload.model].filter(Boolean).join(' · ') },
        { label: 'Project', value: r => r.workload.project_id || '(unassigned)' },
        { label: 'Class', value: r => `${r.latency_class} (${Math.round(r.confidence * 100)}% confident)` },
        { label: 'Evidence', value: r => r.evidence.filter(e => e.contribution !== 0).map(e => `${e.signal} ${e.observed}`).join(', ') },
        { label: 'Requests', num: true, value: r => int(r.requests) },
        { label: 'Cost', num: true, value: r => usd(r.cost_micro_usd) },
        { label: 'Now $/Mtok', num: true, value: r => Number(r.current_usd_per_mtok).toFixed(4) },
        { label: 'Quote', value: r => r.quote ? `$${r.quote.usd_per_mtok}/Mtok, ${r.quote.model} (${r.suggested_deadline})` : (r.note || 'none') },
        { label: 'Saves / month', num: true, value: r => r.quote ? usd(r.monthly_savings_micro_usd) : '–' },
      ], recs, { id: 'recommendations' }));
}
