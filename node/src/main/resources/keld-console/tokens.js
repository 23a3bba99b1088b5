// Token types: per provider and model, the tokens by type (uncached input, cache reads, cache writes,
// output and the reasoning part of it) from the spend report, and their cost split by type priced from
// the price book's list prices now in force. The ledger records one cost per record, not one per
// token type, so the split is always the price book's; the recorded cost and list cost stand beside it.
import * as api from './api.js';
import { h, show, table, usd, int, iso, startOfMonth, nextHour } from './ui.js';
import { draw, axisStyle, disposeAll } from './charts.js';

const TYPES = [
  ['input', 'Input (uncached)'], ['cached_input', 'Cache read'], ['cache_write', 'Cache write'], ['output', 'Output (incl. reasoning)'],
];

/** Price (micro-USD per Mtok) per provider/model/type, the newest entry in force at `at`. */
function prices(book, at) {
  const out = new Map();
  for (const e of book.entries) {
    if (e.effective_from > at) continue;
    const k = `${e.provider}\u0000${e.model}\u0000${e.token_type}`;
    if (!out.has(k)) out.set(k, Math.round(Number(e.usd_per_mtok) * 1e6)); // newest first, as the API orders them
  }
  return out;
}

export async function render(ctx) {
  disposeAll();
  const now = new Date();
  const from = ctx.params.get('from') || iso(startOfMonth(now));
  const to = ctx.params.get('to') || iso(nextHour(now));
  ctx.setParams(new URLSearchParams({ from, to }), false);
  show(h('h1', {}, 'Token types'), h('p', { class: 'note' }, 'Loading…'));
  const [report, book] = await Promise.all([
    api.get('/atlas/v1/reports/spend?' + new URLSearchParams({ from, to, granularity: 'total', group_by: 'provider,model' })),
    api.get('/atlas/v1/price-book'),
  ]);
  const price = prices(book, to);
  const rows = report.rows.map(r => {
    const p = type => price.get(`${r.provider}\u0000${r.model}\u0000${type}`) ?? price.get(`*\u0000${r.model}\u0000${type}`);
    const input = p('input');
    const output = p('output');
    const priced = input !== undefined && output !== undefined;
    const tokens = {
      input: r.input_tokens - r.cached_input_tokens - r.cache_write_tokens,
      cached_input: r.cached_input_tokens,
      cache_write: r.cache_write_tokens,
      output: r.output_tokens,
    };
    const split = {};
    if (priced) {
      for (const [t] of TYPES) split[t] = Math.round(tokens[t] * (p(t) ?? input) / 1e6);
      split.reasoning = Math.round(r.reasoning_tokens * output / 1e6);
    }
    return { r, tokens, split, priced };
  });

  const chartEl = h('div', { class: 'chart', id: 'tokens-chart', role: 'img', 'aria-label': 'Cost by token type per model, from the price book' });
  show(
    h('h1', {}, 'Token types'),
    h('p', { class: 'note' }, `${report.from} to ${report.to} (UTC). Token counts are as the sources reported them. `,
      'The cost split by type is priced from the price book (list prices in force at the range\'s end); the ledger keeps one ',
      'cost per record, provider-reported or priced when it was ingested, shown as "Recorded cost".'),
    chartEl,
    table([
      { label: 'Provider', value: x => x.r.provider },
      { label: 'Model', value: x => x.r.model ?? '(unassigned)' },
      ...TYPES.map(([t, l]) => ({ label: l + ' tokens', num: true, value: x => int(x.tokens[t]) })),
      { label: 'of which reasoning', num: true, value: x => int(x.r.reasoning_tokens) },
      ...TYPES.map(([t, l]) => ({ label: l + ' cost (price book)', num: true, value: x => x.priced ? usd(x.split[t]) : 'not in the price book' })),
      { label: 'Recorded cost', num: true, value: x => usd(x.r.cost_micro_usd), attrs: x => ({ 'data-micro-usd': x.r.cost_micro_usd }) },
      { label: 'List cost (recorded)', num: true, value: x => usd(x.r.list_cost_micro_usd) },
    ], rows, { id: 'token-types' }));

  const priced = rows.filter(x => x.priced);
  draw(chartEl, {
    grid: { left: 70, right: 16, top: 32, bottom: 90 },
    tooltip: { trigger: 'axis', renderMode: 'richText' },
    xAxis: { type: 'category', data: priced.map(x => x.r.model), ...axisStyle(), axisLabel: { ...axisStyle().axisLabel, rotate: 30 } },
    yAxis: { type: 'value', name: 'USD', ...axisStyle() },
    series: TYPES.map(([t, l]) => ({ type: 'bar', stack: 'cost', name: l, data: priced.map(x => x.split[t] / 1e6) })),
  });
}
