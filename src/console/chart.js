// Small SVG charts for the staff console, drawn with DOM calls (no library, nothing inline that the
// CSP would refuse): a stacked bar chart of messages per day and a line of the delivery rate.
/* global document */

const SVG = 'http://www.w3.org/2000/svg';

function el(name, attributes = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A round step for an axis up to `max` with about `ticks` lines. */
function niceStep(max, ticks) {
  const raw = Math.max(max, 1) / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return Math.max(1, step);
}

const WIDTH = 720;
const HEIGHT = 240;
const PAD = { left: 44, right: 12, top: 12, bottom: 28 };

function frame(label) {
  const svg = el('svg', { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, class: 'chart', role: 'img', 'aria-label': label });
  svg.append(el('title', {}, label));
  return svg;
}

/**
 * Stacked bars, one per day: `days` = [{ day: 'YYYY-MM-DD', ...counts }], `series` = [{ key, label }]
 * drawn bottom-up. Each bar is a <g class="bar" data-day data-count> with one <rect> per series.
 */
export function stackedBarChart(days, series, label) {
  const svg = frame(label);
  const totals = days.map((d) => series.reduce((sum, s) => sum + (d[s.key] ?? 0), 0));
  const step = niceStep(Math.max(0, ...totals), 4);
  const top = Math.max(step, Math.ceil(Math.max(0, ...totals) / step) * step);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const y = (v) => PAD.top + plotH - (v / top) * plotH;
  for (let v = 0; v <= top; v += step) {
    svg.append(el('line', { class: v === 0 ? 'axis' : 'grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(v), y2: y(v) }));
    svg.append(el('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(v)));
  }
  const slot = plotW / Math.max(days.length, 1);
  const barW = Math.max(2, Math.min(48, slot * 0.7));
  const labelEvery = Math.ceil(days.length / 12);
  days.forEach((d, i) => {
    const x = PAD.left + slot * i + (slot - barW) / 2;
    const bar = el('g', { class: 'bar', 'data-day': d.day, 'data-count': totals[i] });
    bar.append(el('title', {}, `${d.day}: ${series.map((s) => `${s.label} ${d[s.key] ?? 0}`).join(', ')}`));
    let base = 0;
    for (const s of series) {
      const value = d[s.key] ?? 0;
      if (value > 0) {
        bar.append(el('rect', { class: s.key, x, width: barW, y: y(base + value), height: Math.max(1, y(base) - y(base + value)) }));
      }
      base += value;
    }
    svg.append(bar);
    if (i % labelEvery === 0) {
      svg.append(el('text', { x: x + barW / 2, y: HEIGHT - 8, 'text-anchor': 'middle' }, d.day.slice(5)));
    }
  });
  return svg;
}

/** The delivery rate per day as a line with a point per day that has one: `points` = [{ day, rate|null }]. */
export function rateLineChart(points, label) {
  const svg = frame(label);
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const y = (rate) => PAD.top + plotH - rate * plotH;
  for (const pct of [0, 25, 50, 75, 100]) {
    svg.append(el('line', { class: pct === 0 ? 'axis' : 'grid', x1: PAD.left, x2: WIDTH - PAD.right, y1: y(pct / 100), y2: y(pct / 100) }));
    svg.append(el('text', { x: PAD.left - 6, y: y(pct / 100) + 4, 'text-anchor': 'end' }, `${pct}%`));
  }
  const slot = plotW / Math.max(points.length, 1);
  const xOf = (i) => PAD.left + slot * i + slot / 2;
  const known = points.map((p, i) => ({ ...p, i })).filter((p) => p.rate !== null);
  if (known.length > 1) {
    svg.append(el('polyline', { class: 'rate-line', points: known.map((p) => `${xOf(p.i)},${y(p.rate)}`).join(' ') }));
  }
  for (const p of known) {
    const dot = el('circle', { class: 'rate-point', cx: xOf(p.i), cy: y(p.rate), r: 4, 'data-day': p.day });
    dot.append(el('title', {}, `${p.day}: ${(p.rate * 100).toFixed(1)}% delivered`));
    svg.append(dot);
  }
  const labelEvery = Math.ceil(points.length / 12);
  points.forEach((p, i) => {
    if (i % labelEvery === 0) svg.append(el('text', { x: xOf(i), y: HEIGHT - 8, 'text-anchor': 'middle' }, p.day.slice(5)));
  });
  return svg;
}
