// Market (provider keys): each use case the provider serves, its book as price levels and resting
// demand (no identities, as /trade/v1/books/{use_case} gives it), the provider's own asks, and its
// statement (fills, tokens, revenue by day, model and use case).
import * as api from './api.js';
import { h, show, table, usd, int, when, pct } from './ui.js';
import { draw, axisStyle, disposeAll } from './charts.js';

/** Micro-USD per Mtok as dollars per Mtok. */
function perMtok(micro) { return '$' + (Number(micro) / 1e6).toFixed(4) + '/Mtok'; }

export async function render(ctx) {
  disposeAll();
  show(h('h1', {}, 'Market'), h('p', { class: 'note' }, 'Loading…'));
  const [models, asks, statement] = await Promise.all([
    api.get('/trade/v1/models'), api.get('/trade/v1/asks'), api.get('/trade/v1/statement'),
  ]);
  const useCases = [...new Set(models.data.flatMap(m => m.use_cases).concat(asks.data.map(a => a.use_case)))].sort();
  const chosen = useCases.includes(ctx.params.get('use_case')) ? ctx.params.get('use_case') : useCases[0];
  if (chosen) ctx.setParams(new URLSearchParams({ use_case: chosen }), false);
  const bookArea = h('div', { id: 'book' });
  const picker = h('select', { id: 'use-case', name: 'use-case' }, useCases.map(u => h('option', { value: u, selected: u === chosen }, u)));
  picker.addEventListener('change', () => { ctx.setParams(new URLSearchParams({ use_case: picker.value }), true); loadBook(picker.value); });

  show(
    h('h1', {}, 'Market'),
    useCases.length === 0 ? h('p', { class: 'note' }, 'Your organization serves no model yet (PUT /trade/v1/models/{model}).') :
      h('div', { class: 'controls' }, h('label', { for: 'use-case' }, 'Book (use case)', picker)),
    bookArea,
    h('h2', {}, 'Your asks'),
    asks.data.length === 0 ? h('p', { class: 'note' }, 'No asks.') : table([
      { label: 'Ask', value: a => a.id },
      { label: 'Use case', value: a => a.use_case },
      { label: 'Model', value: a => a.model },
      { label: 'Price', num: true, value: a => perMtok(a.price_per_mtok) },
      { label: 'Quality', num: true, value: a => a.quality },
      { label: 'Throughput (tok/s)', num: true, value: a => int(a.throughput_tps) },
      { label: 'State', value: a => a.state },
      { label: 'Updated', value: a => when(a.updated_at) },
    ], asks.data, { id: 'asks' }),
    h('h2', {}, `Statement, ${statement.from} to ${statement.to}`),
    h('div', { class: 'cards' },
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Revenue'), h('div', { class: 'value', id: 'statement-revenue' }, usd(statement.totals.revenue_micro_usd))),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Fills'), h('div', { class: 'value' }, int(statement.totals.fills)),
        h('div', { class: 'note' }, `${int(statement.totals.failed_fills)} failed`)),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Tokens served'), h('div', { class: 'value' }, int(statement.totals.tokens_served)))),
    statement.lines.length === 0 ? h('p', { class: 'note' }, 'No fills in the range.') : table([
      { label: 'Day', value: l => l.day }, { label: 'Model', value: l => l.model }, { label: 'Use case', value: l => l.use_case },
      { label: 'Fills', num: true, value: l => int(l.fills) }, { label: 'Tokens filled', num: true, value: l => int(l.tokens_filled) },
      { label: 'Tokens served', num: true, value: l => int(l.tokens_served) }, { label: 'Revenue', num: true, value: l => usd(l.revenue_micro_usd) },
      { label: 'Utilization', num: true, value: l => pct(l.utilization) },
    ], statement.lines, { id: 'statement' }));

  async function loadBook(useCase) {
    disposeAll();
    const book = await api.get('/trade/v1/books/' + encodeURIComponent(useCase));
    const chartEl = h('div', { class: 'chart', id: 'depth-chart', role: 'img', 'aria-label': 'Ask depth by price for ' + useCase });
    bookArea.replaceChildren(
      h('h2', {}, `The ${useCase} book`),
      h('p', { class: 'note' }, `As of ${new Date(book.at_millis).toISOString()}; price levels of every provider's asks, no identities.`),
      chartEl,
      h('div', { class: 'cards' },
        h('div', {}, h('h2', {}, 'Asks (cheapest first)'), table([
          { label: 'Price', num: true, value: l => perMtok(l.price_per_mtok) }, { label: 'Asks', num: true, value: l => l.ask_count },
          { label: 'Throughput (tok/s)', num: true, value: l => int(l.throughput_tps) },
          { label: 'Available (tok/s)', num: true, value: l => int(l.available_throughput_tps) },
        ], book.asks, { id: 'book-asks' })),
        h('div', {}, h('h2', {}, 'Resting demand (highest ceiling first)'), book.resting_demand.length === 0 ? h('p', { class: 'note' }, 'None.') : table([
          { label: 'Ceiling', num: true, value: l => perMtok(l.ceiling_per_mtok) }, { label: 'Bids', num: true, value: l => l.bid_count },
          { label: 'Tokens', num: true, value: l => int(l.tokens) }, { label: 'Earliest deadline', value: l => when(new Date(l.earliest_deadline_millis).toISOString()) },
        ], book.resting_demand, { id: 'book-demand' }))));
    let cumulative = 0;
    draw(chartEl, {
      grid: { left: 70, right: 16, top: 32, bottom: 40 },
      tooltip: { trigger: 'axis', renderMode: 'richText' },
      xAxis: { type: 'category', name: '$/Mtok', data: book.asks.map(l => (l.price_per_mtok / 1e6).toFixed(4)), ...axisStyle() },
      yAxis: { type: 'value', name: 'tok/s', ...axisStyle() },
      series: [{ type: 'line', step: 'end', areaStyle: {}, name: 'cumulative throughput', data: book.asks.map(l => (cumulative += l.throughput_tps)) }],
    });
  }
  if (chosen) await loadBook(chosen);
}
