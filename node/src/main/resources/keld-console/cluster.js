// Cluster (operator keys): members and their status, which node hosts each book, shards and entities
// per node (/cluster/v1/status), readiness (/health/ready) and a few meters from /metrics.
import * as api from './api.js';
import { h, show, table, errorBox } from './ui.js';
import { disposeAll } from './charts.js';

const METERS = [
  ['keld_http_server_requests_seconds_count', 'HTTP requests'],
  ['keld_projection_lag_events', 'Projection lag (events)'],
  ['jvm_memory_used_bytes', 'JVM memory used (bytes)'],
];

export async function render() {
  disposeAll();
  show(h('h1', {}, 'Cluster'), h('p', { class: 'note' }, 'Loading…'));
  const [status, ready, metrics] = await Promise.all([
    api.get('/cluster/v1/status'),
    api.get('/health/ready').then(r => r.status, e => e.message),
    api.text('/metrics').catch(e => ''),
  ]);
  const sharding = [];
  for (const [type, nodes] of Object.entries(status.sharding || {})) {
    for (const [node, s] of Object.entries(nodes)) sharding.push({ type, node, ...s });
  }
  show(
    h('h1', {}, 'Cluster'),
    h('p', {}, 'This node: ', h('code', {}, status.self), ' · readiness: ', h('span', { class: 'badge', id: 'readiness' }, ready),
      status.leader ? [' · leader: ', h('code', {}, status.leader)] : ' · no leader'),
    h('h2', {}, 'Members'),
    table([
      { label: 'Address', value: m => m.address },
      { label: 'Status', value: m => m.status },
      { label: 'Reachable', value: m => m.reachable ? 'yes' : 'NO' },
      { label: 'Oldest', value: m => m.oldest ? 'yes' : '' },
      { label: 'Version', value: m => m.app_version },
      { label: 'Roles', value: m => (m.roles || []).join(', ') },
    ], status.members, { id: 'members' }),
    h('h2', {}, 'Books'),
    table([{ label: 'Use case', value: b => b[0] }, { label: 'Hosted on', value: b => b[1] }], Object.entries(status.books || {}), { id: 'books' }),
    h('h2', {}, 'Shards'),
    table([
      { label: 'Entity type', value: s => s.type }, { label: 'Node', value: s => s.node },
      { label: 'Shards', num: true, value: s => s.shards }, { label: 'Entities', num: true, value: s => s.entities },
    ], sharding, { id: 'shards' }),
    h('h2', {}, 'Meters (this node)'),
    table([{ label: 'Meter', value: m => m.label }, { label: 'Sum over series', num: true, value: m => m.value }],
      METERS.map(([name, label]) => ({ label, value: sum(metrics, name) })), { id: 'meters' }));
}

/** The sum of a Prometheus metric's series in the text exposition (every label set). */
function sum(text, name) {
  let total = 0, seen = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isNaN(v)) { total += v; seen = true; }
  }
  return seen ? total.toLocaleString('en-US') : 'not reported';
}
