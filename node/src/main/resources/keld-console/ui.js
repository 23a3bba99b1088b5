// Small DOM and number helpers. Every value from the API goes in as text (never innerHTML), so data
// cannot become markup.

/** h('td', {class: 'num'}, 'text', child, ...): an element with attributes and children. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces the main area's content. */
export function show(...children) {
  const main = document.getElementById('main');
  main.replaceChildren(...children.flat());
  return main;
}

export function errorBox(e) {
  const p = e && e.problem ? e.problem : {};
  const field = p.field ? ` (field ${p.field})` : '';
  return h('p', { class: 'error', role: 'alert' }, `${p.title || 'Error'}: ${e && e.message ? e.message : e}${field}`);
}

/** A table from columns [{label, value: row => text|Node, num: bool}] and rows. */
export function table(columns, rows, attrs) {
  return h('div', { class: 'table-wrap' },
    h('table', attrs || {},
      h('thead', {}, h('tr', {}, columns.map(c => h('th', { class: c.num ? 'num' : null, scope: 'col' }, c.label)))),
      h('tbody', {}, rows.map(r => h('tr', {}, columns.map(c => {
        const v = c.value(r);
        return h('td', Object.assign({ class: c.num ? 'num' : null }, c.attrs ? c.attrs(r) : {}), v);
      }))))));
}

const USD = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });
const USD_SMALL = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 6 });
const INT = new Intl.NumberFormat('en-US');

/** Micro-USD (an integer) as dollars; amounts under a dollar keep their micro-dollars. */
export function usd(micro) {
  if (micro === undefined || micro === null) return '–';
  const n = Number(micro) / 1e6;
  return Math.abs(n) < 1 && n !== 0 ? USD_SMALL.format(n) : USD.format(n);
}
export function int(n) { return n === undefined || n === null ? '–' : INT.format(n); }
export function pct(x) { return x === undefined || x === null ? '–' : (x * 100).toFixed(1) + '%'; }
export function when(iso) { return iso ? iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC') : '–'; }

export function bar(share) {
  const s = Math.max(0, Math.min(1, share || 0));
  const span = h('span');
  span.style.width = (s * 100).toFixed(1) + '%';
  return h('div', { class: share > 1 ? 'bar over' : 'bar', role: 'img', 'aria-label': pct(share) }, span);
}

// -- time ranges (UTC) -------------------------------------------------------------------------

export function startOfMonth(d) { return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)); }
export function addMonths(d, n) { return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, d.getUTCDate(), d.getUTCHours())); }
/** The next whole hour after d (reports round `to` up to the hour anyway; this makes the URL say so). */
export function nextHour(d) {
  const t = new Date(d.getTime());
  t.setUTCMinutes(0, 0, 0);
  return new Date(t.getTime() + 3600e3);
}
export function iso(d) { return d.toISOString().replace(/\.000Z$/, 'Z'); }
