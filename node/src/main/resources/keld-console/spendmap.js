// Spend map: a treemap of spend by up to three levels of the six dimensions, and an explorer (metric ×
// group × time) with filters. Every choice is in the URL; the table is what the CSV download holds
// (the same report with format=csv), and the FOCUS export is one button away.
import * as api from './api.js';
import { h, show, table, usd, int, errorBox, iso, when } from './ui.js';
import { draw, axisStyle, disposeAll, palette, COLORS } from './charts.js';

export const DIMENSIONS = ['team', 'project', 'model', 'provider', 'job_category', 'spend_class'];
const LABELS = { team: 'Team', project: 'Project', model: 'Model', provider: 'Provider', job_category: 'Job category', spend_class: 'Capex/opex' };
const METRICS = { cost: 'Cost (USD)', tokens: 'Tokens (input + output)', requests: 'Requests' };
const GRANULARITIES = ['hour', 'day', 'week', 'month'];

/** A row's value of a dimension: [filter value, label]. Unassigned usage has no member. */
export function dimValue(row, dim) {
  if (dim === 'team') return row.team_id ? [row.team_id, row.team_name] : ['unassigned', '(unassigned)'];
  if (dim === 'project') return row.project_id ? [row.project_id, row.project_name] : ['unassigned', '(unassigned)'];
  return row[dim] !== undefined && row[dim] !== null ? [row[dim], row[dim]] : ['unassigned', '(unassigned)'];
}

export function metricOf(row, metric) {
  if (metric === 'tokens') return row.input_tokens + row.output_tokens;
  if (metric === 'requests') return row.requests;
  return row.cost_micro_usd;
}

function formatMetric(v, metric) { return metric === 'cost' ? usd(v) : int(v); }

/** The view's state from the URL, with defaults written back so the URL always says what is shown. */
function state(params) {
  // Whole UTC days by default: a report over whole days reads the daily rollup, the fastest there is.
  const now = new Date();
  const tomorrow = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
  const s = {
    levels: (params.get('levels') || 'team,project,model').split(',').filter(d => DIMENSIONS.includes(d)).slice(0, 3),
    metric: METRICS[params.get('metric')] ? params.get('metric') : 'cost',
    group: params.has('group') ? params.get('group') : 'model',
    granularity: GRANULARITIES.includes(params.get('granularity')) ? params.get('granularity') : 'day',
    from: params.get('from') || iso(new Date(tomorrow.getTime() - 30 * 86400e3)),
    to: params.get('to') || iso(tomorrow),
    filters: {},
  };
  if (s.levels.length === 0) s.levels = ['team', 'project', 'model'];
  if (s.group && !DIMENSIONS.includes(s.group)) s.group = 'model';
  for (const d of DIMENSIONS) if (params.get(d)) s.filters[d] = params.get(d);
  return s;
}

function toParams(s) {
  const p = new URLSearchParams();
  p.set('levels', s.levels.join(','));
  p.set('metric', s.metric);
  p.set('group', s.group);
  p.set('granularity', s.granularity);
  p.set('from', s.from);
  p.set('to', s.to);
  for (const d of DIMENSIONS) if (s.filters[d]) p.set(d, s.filters[d]);
  return p;
}

function reportQuery(s, extra) {
  const p = new URLSearchParams({ from: s.from, to: s.to });
  for (const d of DIMENSIONS) if (s.filters[d]) p.set(d, s.filters[d]);
  for (const [k, v] of Object.entries(extra)) if (v) p.set(k, v);
  return p;
}

export async function render(ctx) {
  disposeAll();
  let s = state(ctx.params);
  ctx.setParams(toParams(s), false);
  const results = h('div', { id: 'map-results', 'aria-live': 'polite' });
  const lists = Object.fromEntries(DIMENSIONS.map(d => [d, h('datalist', { id: 'values-' + d })]));

  const select = (id, label, options, value) => h('label', { for: id }, label,
    h('select', { id, name: id }, options.map(([v, l]) => h('option', { value: v, selected: v === value }, l))));
  const dimOptions = [['', '(none)'], ...DIMENSIONS.map(d => [d, LABELS[d]])];
  const form = h('form', { class: 'controls', id: 'map-controls' },
    select('level1', 'Treemap level 1', DIMENSIONS.map(d => [d, LABELS[d]]), s.levels[0]),
    select('level2', 'level 2', dimOptions, s.levels[1] || ''),
    select('level3', 'level 3', dimOptions, s.levels[2] || ''),
    select('metric', 'Metric', Object.entries(METRICS), s.metric),
    select('group', 'Explorer group', dimOptions, s.group),
    select('granularity', 'Time', GRANULARITIES.map(g => [g, g]), s.granularity),
    h('label', { for: 'from' }, 'From (UTC)', h('input', { id: 'from', name: 'from', value: s.from, size: 20 })),
    h('label', { for: 'to' }, 'To (UTC)', h('input', { id: 'to', name: 'to', value: s.to, size: 20 })),
    DIMENSIONS.map(d => h('label', { for: 'filter-' + d }, LABELS[d] + ' filter',
      h('input', { id: 'filter-' + d, name: d, value: s.filters[d] || '', list: 'values-' + d, size: 14, placeholder: 'any' }))),
    Object.values(lists),
    h('button', { type: 'submit', class: 'primary' }, 'Apply'));

  const read = () => {
    const v = id => form.querySelector('#' + id).value;
    const levels = [v('level1'), v('level2'), v('level3')].filter(Boolean).filter((d, i, a) => a.indexOf(d) === i);
    const filters = {};
    for (const d of DIMENSIONS) if (v('filter-' + d).trim()) filters[d] = v('filter-' + d).trim();
    return { levels, metric: v('metric'), group: v('group'), granularity: v('granularity'), from: v('from').trim(), to: v('to').trim(), filters };
  };
  const apply = () => {
    s = read();
    ctx.setParams(toParams(s), true);
    load();
  };
  form.addEventListener('submit', ev => { ev.preventDefault(); apply(); });
  // Selects apply at once; text filters on Enter or Apply (typing should not fire a report per key).
  form.querySelectorAll('select').forEach(el => el.addEventListener('change', apply));

  const downloads = h('div', { class: 'controls' },
    h('button', { type: 'button', id: 'download-csv', onclick: () => guarded(() => api.download(
      '/atlas/v1/reports/spend?' + reportQuery(s, { granularity: s.granularity, group_by: s.group, format: 'csv' }), 'spend-report.csv')) }, 'Download CSV'),
    ctx.me.team_id ? h('span', { class: 'note' }, 'The FOCUS export covers the whole organization: it needs an unscoped key.') :
      h('button', { type: 'button', id: 'download-focus', onclick: () => guarded(() => api.download(
        '/atlas/v1/reports/focus?' + new URLSearchParams({ from: s.from, to: s.to }), 'focus-1.2.csv')) }, 'FOCUS 1.2 export'));
  const downloadStatus = h('p', { id: 'download-status', class: 'note', 'aria-live': 'polite' });
  const guarded = async f => {
    downloadStatus.replaceChildren('Preparing download…');
    try {
      const name = await f();
      downloadStatus.replaceChildren('Downloaded ' + name);
    } catch (e) {
      downloadStatus.replaceChildren(errorBox(e));
    }
  };

  show(h('h1', {}, 'Spend map'), form, downloads, downloadStatus, results);

  async function load() {
    disposeAll();
    results.replaceChildren(h('p', { class: 'note' }, 'Loading…'));
    const started = performance.now();
    let tree, series;
    try {
      [tree, series] = await Promise.all([
        api.get('/atlas/v1/reports/spend?' + reportQuery(s, { granularity: 'total', group_by: s.levels.join(',') })),
        api.get('/atlas/v1/reports/spend?' + reportQuery(s, { granularity: s.granularity, group_by: s.group })),
      ]);
    } catch (e) {
      results.replaceChildren(errorBox(e));
      return;
    }
    const fetched = performance.now();
    for (const d of DIMENSIONS) {
      const seen = new Map();
      for (const r of tree.rows) if (s.levels.includes(d)) { const [v, l] = dimValue(r, d); seen.set(v, l); }
      for (const r of series.rows) if (s.group === d) { const [v, l] = dimValue(r, d); seen.set(v, l); }
      if (seen.size) lists[d].replaceChildren(...[...seen].map(([v, l]) => h('option', { value: v }, l)));
    }
    renderResults(tree, series);
    // Report and render time, for the curious and for the browser test's figure.
    const ms = Math.round(performance.now() - started);
    results.dataset.renderMs = ms;
    results.dataset.fetchMs = Math.round(fetched - started);
    results.dataset.drawnAt = Math.round(performance.now()); // since the page's navigation started
    results.append(h('p', { class: 'note', id: 'render-time' }, `Fetched and drawn in ${ms} ms.`));
  }

  function renderResults(tree, series) {
    const total = metricOf(tree.totals, s.metric);
    const leaves = tree.rows.map(r => ({ path: s.levels.map(d => dimValue(r, d)[1]), value: metricOf(r, s.metric) }))
      .filter(l => l.value > 0).sort((a, b) => b.value - a.value);
    const treeEl = h('div', { class: 'chart', id: 'treemap', role: 'img', 'aria-label': 'Treemap of ' + METRICS[s.metric] + ' by ' + s.levels.join(', then ') });
    const chartEl = h('div', { class: 'chart', id: 'explorer-chart', role: 'img', 'aria-label': METRICS[s.metric] + ' per ' + s.granularity });
    results.replaceChildren(
      h('div', { class: 'cards' },
        h('div', { class: 'card' }, h('div', { class: 'label' }, METRICS[s.metric] + ', ' + tree.from + ' to ' + tree.to),
          h('div', { class: 'value', id: 'map-total', dataset: { value: total } }, formatMetric(total, s.metric)))),
      h('h2', {}, 'By ' + s.levels.map(d => LABELS[d].toLowerCase()).join(' → ')),
      treeEl,
      h('details', {}, h('summary', {}, `The treemap's ${leaves.length} leaves as a table`),
        table([
          ...s.levels.map((d, i) => ({ label: LABELS[d], value: l => l.path[i] })),
          { label: METRICS[s.metric], num: true, value: l => formatMetric(l.value, s.metric), attrs: l => ({ 'data-value': l.value }) },
        ], leaves, { id: 'treemap-leaves' })),
      h('h2', {}, METRICS[s.metric] + ' per ' + s.granularity + (s.group ? ' by ' + LABELS[s.group].toLowerCase() : '')),
      chartEl,
      table([
        { label: 'Period start', value: r => when(r.period_start) },
        ...(s.group ? [{ label: LABELS[s.group], value: r => dimValue(r, s.group)[1] }] : []),
        { label: 'Requests', num: true, value: r => int(r.requests) },
        { label: 'Input tokens', num: true, value: r => int(r.input_tokens) },
        { label: 'Output tokens', num: true, value: r => int(r.output_tokens) },
        { label: 'Cost', num: true, value: r => usd(r.cost_micro_usd), attrs: r => ({ 'data-micro-usd': r.cost_micro_usd }) },
        { label: 'List cost', num: true, value: r => usd(r.list_cost_micro_usd) },
      ], series.rows, { id: 'explorer-table' }));

    const colours = palette();
    draw(treeEl, {
      tooltip: { renderMode: 'richText', formatter: p => `${(p.treePathInfo || []).slice(1).map(n => n.name).join(' → ')}: ${formatMetric(p.value, s.metric)}` },
      series: [{ type: 'treemap', name: METRICS[s.metric], data: nest(leaves), roam: false, nodeClick: false, breadcrumb: { show: false },
        left: 0, right: 0, top: 0, bottom: 0,
        label: { show: true, formatter: p => p.name }, upperLabel: { show: true, height: 20, color: colours.fg },
        itemStyle: { borderColor: colours.bg },
        levels: [{ itemStyle: { borderColor: colours.bg, borderWidth: 0, gapWidth: 3 } },
          { itemStyle: { borderColor: colours.bg, borderWidth: 2, gapWidth: 2 } },
          { itemStyle: { borderColor: colours.bg, borderWidth: 1, gapWidth: 1 } }, {}] }],
    });

    // The explorer's chart: the 8 biggest groups and the rest as "other", stacked per bucket.
    const buckets = [...new Set(series.rows.map(r => r.period_start))].sort();
    const sums = new Map();
    for (const r of series.rows) {
      const g = s.group ? dimValue(r, s.group)[1] : 'all';
      sums.set(g, (sums.get(g) || 0) + metricOf(r, s.metric));
    }
    const top = [...sums].sort((a, b) => b[1] - a[1]).slice(0, 8).map(e => e[0]);
    const groups = sums.size > top.length ? [...top, 'other'] : top;
    const scale = s.metric === 'cost' ? 1e6 : 1;
    const data = new Map(groups.map(g => [g, new Map()]));
    for (const r of series.rows) {
      let g = s.group ? dimValue(r, s.group)[1] : 'all';
      if (!top.includes(g)) g = 'other';
      const m = data.get(g);
      m.set(r.period_start, (m.get(r.period_start) || 0) + metricOf(r, s.metric) / scale);
    }
    draw(chartEl, {
      grid: { left: 70, right: 16, top: 32, bottom: 60 },
      tooltip: { trigger: 'axis', renderMode: 'richText' },
      xAxis: { type: 'category', data: buckets.map(b => b.slice(0, s.granularity === 'hour' ? 13 : 10)), ...axisStyle() },
      yAxis: { type: 'value', name: s.metric === 'cost' ? 'USD' : s.metric, ...axisStyle() },
      series: groups.map((g, i) => ({ type: 'bar', stack: 'all', name: g, color: COLORS[i % COLORS.length],
        data: buckets.map(b => data.get(g).get(b) || 0) })),
    });
  }

  await load();
}

/** Leaves (paths of names and a value) as the treemap's nested data. */
function nest(leaves) {
  const root = { children: [] };
  for (const l of leaves) {
    let node = root;
    l.path.forEach((name, i) => {
      let child = node.children.find(c => c.name === name);
      if (!child) {
        child = { name, children: [] };
        node.children.push(child);
      }
      if (i === l.path.length - 1) child.value = (child.value || 0) + l.value;
      node = child;
    });
  }
  const clean = n => { if (n.children.length === 0) delete n.children; else n.children.forEach(clean); return n; };
  return root.children.map(clean);
}
