// Apache ECharts (from the node's WebJar, /console/lib/), on canvas, coloured from the page's light
// or dark palette. Tooltips are drawn as rich text on the canvas: HTML tooltips would need inline
// styles, which the Content-Security-Policy refuses.
import * as echarts from './lib/echarts.esm.min.js';

const charts = new Set();

export function palette() {
  const css = getComputedStyle(document.documentElement);
  const v = name => css.getPropertyValue(name).trim();
  return { fg: v('--fg'), muted: v('--muted'), line: v('--line'), bg: v('--bg') };
}

// Readable on both backgrounds (Okabe–Ito, colour-blind safe, plus a few).
export const COLORS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#8E6C8A', '#999999', '#117733'];

/** Draws option into el; returns the chart (disposed when the view changes via disposeAll). */
export function draw(el, option) {
  const p = palette();
  const chart = echarts.init(el, null, { renderer: 'canvas' });
  chart.setOption(Object.assign({
    color: COLORS,
    backgroundColor: 'transparent',
    textStyle: { color: p.fg },
    tooltip: { renderMode: 'richText', backgroundColor: p.bg, borderColor: p.line, textStyle: { color: p.fg } },
    legend: { textStyle: { color: p.fg }, type: 'scroll', bottom: 0 },
    animation: false,
  }, option));
  charts.add(chart);
  return chart;
}

export function axisStyle() {
  const p = palette();
  return { axisLine: { lineStyle: { color: p.muted } }, axisLabel: { color: p.fg }, splitLine: { lineStyle: { color: p.line } } };
}

export function disposeAll() {
  for (const c of charts) c.dispose();
  charts.clear();
}

window.addEventListener('resize', () => { for (const c of charts) c.resize(); });
