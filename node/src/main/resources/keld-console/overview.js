// Spend overview: this month so far against the same span of last month, a run-rate forecast to the
// month's end, budget burn per team and project with its caps, and the biggest movers. All figures are
// /atlas/v1/reports/spend answers, shown as they come (micro-USD, summed by the node, never here).
import * as api from './api.js';
import { h, show, table, usd, pct, bar, iso, startOfMonth, addMonths, nextHour } from './ui.js';
import { draw, axisStyle, disposeAll } from './charts.js';

function report(params) {
  return api.get('/atlas/v1/reports/spend?' + new URLSearchParams(params));
}

export async function render() {
  disposeAll();
  show(h('h1', {}, 'Spend overview'), h('p', { class: 'note' }, 'Loading…'));
  const now = new Date();
  const monthStart = startOfMonth(now);
  const to = nextHour(now);
  const elapsed = to - monthStart;
  const prevStart = addMonths(monthStart, -1);
  const prevSameEnd = new Date(Math.min(prevStart.getTime() + elapsed, monthStart.getTime()));
  const monthEnd = addMonths(monthStart, 1);

  const range = { from: iso(monthStart), to: iso(to) };
  const [current, previous, lastMonth, teams, daily] = await Promise.all([
    report({ ...range, granularity: 'total', group_by: 'team,project' }),
    report({ from: iso(prevStart), to: iso(nextHour(new Date(prevSameEnd.getTime() - 1))), granularity: 'total', group_by: 'team,project' }),
    report({ from: iso(prevStart), to: iso(monthStart), granularity: 'total' }),
    report({ ...range, granularity: 'total', group_by: 'team' }),
    report({ ...range, granularity: 'day' }),
  ]);

  const mtd = current.totals.cost_micro_usd;
  const prevSame = previous.totals.cost_micro_usd;
  const forecast = Math.round(mtd * (monthEnd - monthStart) / elapsed);
  const change = prevSame > 0 ? (mtd - prevSame) / prevSame : null;

  const names = new Map();
  for (const r of current.rows.concat(previous.rows)) {
    if (r.team_id) names.set(r.team_id, r.team_name);
    if (r.project_id) names.set(r.project_id, r.project_name);
  }
  const budgets = (teams.budgets || []).concat(current.budgets || []);

  const chartEl = h('div', { class: 'chart', id: 'overview-chart', role: 'img', 'aria-label': 'Cost per day this month' });
  show(
    h('h1', {}, 'Spend overview'),
    h('p', { class: 'note' }, `This month, ${range.from} to ${range.to} (UTC), against the same span of last month.`),
    h('div', { class: 'cards' },
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Month to date'),
        h('div', { class: 'value', id: 'overview-total', dataset: { microUsd: mtd, from: current.from, to: current.to } }, usd(mtd))),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Same span last month'),
        h('div', { class: 'value', id: 'overview-previous', dataset: { microUsd: prevSame } }, usd(prevSame)),
        h('div', { class: change > 0 ? 'up' : 'down' }, change === null ? 'no spend then' : (change >= 0 ? '+' : '') + pct(change))),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Last month, whole'),
        h('div', { class: 'value', dataset: { microUsd: lastMonth.totals.cost_micro_usd } }, usd(lastMonth.totals.cost_micro_usd))),
      h('div', { class: 'card' }, h('div', { class: 'label' }, 'Forecast to month end'),
        h('div', { class: 'value', id: 'overview-forecast' }, usd(forecast)),
        h('div', { class: 'note' }, 'at this month\'s run rate so far'))),
    h('h2', {}, 'Cost per day'),
    chartEl,
    h('h2', {}, 'Budgets this period'),
    budgets.length === 0 ? h('p', { class: 'note' }, 'No budget is set on the teams or projects with spend this month.') :
      table([
        { label: 'Scope', value: b => `${b.scope_kind} ${names.get(b.scope_id) || b.scope_id}` },
        { label: 'Period', value: b => b.period },
        { label: 'Hard cap', num: true, value: b => usd(b.hard_cap_micro_usd) },
        { label: 'Soft cap (alert)', num: true, value: b => usd(b.soft_cap_micro_usd) },
        { label: 'Committed by jobs', num: true, value: b => usd(b.committed_micro_usd) },
        { label: 'Ledger spend', num: true, value: b => usd(b.ledger_spend_micro_usd) },
        { label: 'Burn', value: b => bar(b.ledger_utilization ?? b.utilization) },
        { label: 'State', value: b => budgetState(b) },
      ], budgets, { id: 'budgets' }),
    h('h2', {}, 'Biggest movers (project, against the same span last month)'),
    movers(current.rows, previous.rows));

  const days = daily.rows.map(r => [r.period_start.slice(0, 10), r.cost_micro_usd / 1e6]);
  draw(chartEl, {
    grid: { left: 60, right: 16, top: 32, bottom: 40 },
    xAxis: { type: 'category', data: days.map(d => d[0]), ...axisStyle() },
    yAxis: { type: 'value', name: 'USD', ...axisStyle() },
    tooltip: { trigger: 'axis', renderMode: 'richText' },
    series: [{ type: 'bar', name: 'cost', data: days.map(d => d[1]) }],
  });
}

function budgetState(b) {
  const spent = b.committed_micro_usd;
  if (b.hard_cap_micro_usd !== undefined && spent >= b.hard_cap_micro_usd) return h('span', { class: 'badge up' }, 'refusing jobs');
  if (b.soft_cap_micro_usd !== undefined && Math.max(spent, b.ledger_spend_micro_usd) >= b.soft_cap_micro_usd) return h('span', { class: 'badge up' }, 'over soft cap');
  return h('span', { class: 'badge' }, 'ok');
}

function movers(currentRows, previousRows) {
  const key = r => r.project_id || '(unassigned)';
  const by = new Map();
  for (const r of currentRows) by.set(key(r), { name: r.project_name, team: r.team_name, now: r.cost_micro_usd, then: 0 });
  for (const r of previousRows) {
    const e = by.get(key(r)) || { name: r.project_name, team: r.team_name, now: 0, then: 0 };
    e.then = r.cost_micro_usd;
    by.set(key(r), e);
  }
  const list = [...by.values()].sort((a, b) => Math.abs(b.now - b.then) - Math.abs(a.now - a.then)).slice(0, 10);
  if (list.length === 0) return h('p', { class: 'note' }, 'No spend in either span.');
  return table([
    { label: 'Project', value: m => m.name },
    { label: 'Team', value: m => m.team },
    { label: 'This month', num: true, value: m => usd(m.now) },
    { label: 'Same span before', num: true, value: m => usd(m.then) },
    { label: 'Change', num: true, value: m => h('span', { class: m.now > m.then ? 'up' : 'down' }, (m.now >= m.then ? '+' : '−') + usd(Math.abs(m.now - m.then))) },
  ], list, { id: 'movers' });
}
