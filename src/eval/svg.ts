// Small static-SVG chart helpers for report.html: line charts (with ± bands), grouped bars, a heatmap and
// a scatter with error bars. Every chart gets axes with ticks, axis titles with units, a legend where
// there are several series, and a one-line caption. Output is a string; no scripts, no external assets.

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round numbers for axis ticks (1, 2, 5 × 10^n steps). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  if (out[0] > lo) out.unshift(Number((out[0] - step).toPrecision(12)));
  if (out.at(-1)! < hi) out.push(Number((out.at(-1)! + step).toPrecision(12)));
  return out;
}

/** Compact tick labels: 1.2k, 3.4M. */
export function shortNumber(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toPrecision(3)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(4)}`;
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const FRAME: Frame = { width: 640, height: 320, left: 70, right: 150, top: 16, bottom: 48 };

interface Scale {
  x: (v: number) => number;
  y: (v: number) => number;
  xTicks: number[];
  yTicks: number[];
}

function scales(xs: number[], ys: number[], f: Frame, xZero = false, yZero = false): Scale {
  const fin = (a: number[]) => a.filter(Number.isFinite);
  const xv = fin(xs);
  const yv = fin(ys);
  const xTicks = niceTicks(xZero ? Math.min(0, ...xv) : Math.min(...xv), Math.max(...xv));
  const yTicks = niceTicks(yZero ? Math.min(0, ...yv) : Math.min(...yv), Math.max(...yv));
  const [x0, x1] = [xTicks[0], xTicks.at(-1)!];
  const [y0, y1] = [yTicks[0], yTicks.at(-1)!];
  const pw = f.width - f.left - f.right;
  const ph = f.height - f.top - f.bottom;
  return {
    x: (v) => f.left + ((v - x0) / (x1 - x0 || 1)) * pw,
    y: (v) => f.top + ph - ((v - y0) / (y1 - y0 || 1)) * ph,
    xTicks, yTicks,
  };
}

function axes(s: Scale, f: Frame, xLabel: string, yLabel: string, xFormat = shortNumber, yFormat = shortNumber): string {
  const x0 = f.left;
  const x1 = f.width - f.right;
  const y0 = f.height - f.bottom;
  const y1 = f.top;
  const parts = [`<g class="axes" font-size="11" fill="#333">`];
  parts.push(`<line x1="${x0}" y1="${y0}" x2="${x1}" y2="${y0}" stroke="#333"/>`);
  parts.push(`<line x1="${x0}" y1="${y0}" x2="${x0}" y2="${y1}" stroke="#333"/>`);
  for (const t of s.xTicks) {
    const x = s.x(t).toFixed(1);
    parts.push(`<line x1="${x}" y1="${y0}" x2="${x}" y2="${y0 + 4}" stroke="#333"/><text x="${x}" y="${y0 + 16}" text-anchor="middle">${esc(xFormat(t))}</text>`);
  }
  for (const t of s.yTicks) {
    const y = s.y(t).toFixed(1);
    parts.push(`<line x1="${x0 - 4}" y1="${y}" x2="${x0}" y2="${y}" stroke="#333"/><line x1="${x0}" y1="${y}" x2="${x1}" y2="${y}" stroke="#eee"/>` +
      `<text x="${x0 - 7}" y="${y}" dy="0.32em" text-anchor="end">${esc(yFormat(t))}</text>`);
  }
  parts.push(`<text class="x-label" x="${(x0 + x1) / 2}" y="${f.height - 8}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>`);
  parts.push(`<text class="y-label" transform="translate(14 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(yLabel)}</text>`);
  parts.push('</g>');
  return parts.join('');
}

function legend(names: string[], f: Frame, kind: 'line' | 'box' = 'line', colors: string[] = []): string {
  if (names.length < 2 && kind === 'line') return '';
  const x = f.width - f.right + 12;
  return `<g class="legend" font-size="11">${names.map((n, i) => {
    const y = f.top + 8 + i * 16;
    const c = colors[i] ?? PALETTE[i % PALETTE.length];
    const mark = kind === 'line'
      ? `<line x1="${x}" y1="${y}" x2="${x + 16}" y2="${y}" stroke="${c}" stroke-width="2.5"/>`
      : `<rect x="${x}" y="${y - 5}" width="12" height="10" fill="${c}"/>`;
    return `${mark}<text x="${x + 20}" y="${y}" dy="0.32em">${esc(n)}</text>`;
  }).join('')}</g>`;
}

/** A chart inside a <figure> with its caption. */
export function figure(id: string, title: string, svg: string, caption: string): string {
  return `<figure id="${esc(id)}"><h3>${esc(title)}</h3>${svg}<figcaption>${esc(caption)}</figcaption></figure>`;
}

function svgOpen(f: Frame, label: string): string {
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" aria-label="${esc(label)}">`;
}

export interface LinePoint {
  x: number;
  y: number;
  /** Half-width of a band around y (e.g. one std over seeds). */
  err?: number | null;
}

export interface LineSeries {
  name: string;
  color?: string;
  points: LinePoint[];
}

export interface AxisSpec {
  xLabel: string;
  yLabel: string;
  xFormat?: (v: number) => string;
  yFormat?: (v: number) => string;
  xZero?: boolean;
  yZero?: boolean;
}

export function lineChart(series: LineSeries[], ax: AxisSpec, f: Frame = FRAME): string {
  const pts = series.flatMap((s) => s.points);
  const s = scales(pts.map((p) => p.x), pts.flatMap((p) => [p.y - (p.err ?? 0), p.y + (p.err ?? 0)]), f, ax.xZero, ax.yZero);
  const body = series.map((ser, i) => {
    const color = ser.color ?? PALETTE[i % PALETTE.length];
    const ok = ser.points.filter((p) => Number.isFinite(p.y));
    const band = ok.some((p) => p.err)
      ? `<path d="${[...ok.map((p) => [p.x, p.y + (p.err ?? 0)]), ...ok.slice().reverse().map((p) => [p.x, p.y - (p.err ?? 0)])]
        .map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${s.x(x).toFixed(1)},${s.y(y).toFixed(1)}`).join('')}Z" fill="${color}" opacity="0.15"/>`
      : '';
    const d = ok.map((p, j) => `${j === 0 ? 'M' : 'L'}${s.x(p.x).toFixed(1)},${s.y(p.y).toFixed(1)}`).join('');
    const dots = ok.map((p) => `<circle cx="${s.x(p.x).toFixed(1)}" cy="${s.y(p.y).toFixed(1)}" r="2.5" fill="${color}"/>`).join('');
    return `<g class="series">${band}<path d="${d}" fill="none" stroke="${color}" stroke-width="2"/>${dots}</g>`;
  }).join('');
  return svgOpen(f, `${ax.yLabel} vs ${ax.xLabel}`) + axes(s, f, ax.xLabel, ax.yLabel, ax.xFormat, ax.yFormat) + body + legend(series.map((x) => x.name), f, 'line', series.map((x, i) => x.color ?? PALETTE[i % PALETTE.length])) + '</svg>';
}

export interface BarGroup {
  /** Category label on the x axis. */
  label: string;
  /** One value per series (NaN = no bar). */
  values: number[];
  errs?: (number | null)[];
}

export function barChart(groups: BarGroup[], seriesNames: string[], ax: AxisSpec, f: Frame = FRAME, colors: string[] = []): string {
  const vals = groups.flatMap((g) => g.values.map((v, i) => v + (g.errs?.[i] ?? 0)));
  const yTicks = niceTicks(0, Math.max(...vals.filter(Number.isFinite), 1e-9));
  const y1v = yTicks.at(-1)!;
  const pw = f.width - f.left - f.right;
  const ph = f.height - f.top - f.bottom;
  const y = (v: number) => f.top + ph - (v / y1v) * ph;
  const gw = pw / Math.max(1, groups.length);
  const n = Math.max(1, seriesNames.length);
  const bw = Math.min(48, (gw * 0.8) / n);
  const s: Scale = { x: () => 0, y, xTicks: [], yTicks };
  const parts = [svgOpen(f, `${ax.yLabel} by ${ax.xLabel}`), axes(s, f, ax.xLabel, ax.yLabel, ax.xFormat, ax.yFormat)];
  parts.push('<g class="bars">');
  groups.forEach((g, gi) => {
    const gx = f.left + gi * gw + (gw - bw * n) / 2;
    parts.push(`<text x="${(f.left + gi * gw + gw / 2).toFixed(1)}" y="${f.height - f.bottom + 16}" text-anchor="middle" font-size="11">${esc(g.label)}</text>`);
    g.values.forEach((v, i) => {
      if (!Number.isFinite(v)) return;
      const x = gx + i * bw;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${Math.max(0.5, y(0) - y(v)).toFixed(1)}" fill="${colors[i] ?? PALETTE[i % PALETTE.length]}"><title>${esc(`${seriesNames[i]} ${g.label}: ${+v.toPrecision(4)}`)}</title></rect>`);
      const e = g.errs?.[i];
      if (e) parts.push(`<line x1="${(x + bw / 2).toFixed(1)}" x2="${(x + bw / 2).toFixed(1)}" y1="${y(v - e).toFixed(1)}" y2="${y(v + e).toFixed(1)}" stroke="#000"/>`);
    });
  });
  parts.push('</g>', legend(seriesNames, f, 'box', colors), '</svg>');
  return parts.join('');
}

/** rows × cols of values; colour from white (0) to dark blue (max), with the value in each cell's tooltip. */
export function heatmap(rows: string[], cols: string[], values: number[][], ax: AxisSpec & { scaleLabel: string }, f: Frame = { ...FRAME, height: Math.max(140, 60 + rows.length * 34) }): string {
  const max = Math.max(...values.flat().filter(Number.isFinite), 1e-9);
  const pw = f.width - f.left - f.right;
  const ph = f.height - f.top - f.bottom;
  const cw = pw / Math.max(1, cols.length);
  const rh = ph / Math.max(1, rows.length);
  const parts = [svgOpen(f, `${ax.scaleLabel}: ${ax.yLabel} × ${ax.xLabel}`), `<g class="axes" font-size="11">`];
  rows.forEach((r, i) => parts.push(`<text x="${f.left - 6}" y="${(f.top + (i + 0.5) * rh).toFixed(1)}" dy="0.32em" text-anchor="end">${esc(r)}</text>`));
  cols.forEach((c, j) => parts.push(`<text x="${(f.left + (j + 0.5) * cw).toFixed(1)}" y="${f.height - f.bottom + 16}" text-anchor="middle">${esc(c)}</text>`));
  parts.push(`<text class="x-label" x="${f.left + pw / 2}" y="${f.height - 8}" text-anchor="middle" font-size="12">${esc(ax.xLabel)}</text>`);
  parts.push(`<text class="y-label" transform="translate(14 ${f.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(ax.yLabel)}</text></g>`);
  parts.push('<g class="cells">');
  values.forEach((row, i) => row.forEach((v, j) => {
    const t = Number.isFinite(v) ? Math.max(0, Math.min(1, v / max)) : 0;
    const c = (a: number, b: number) => Math.round(a + (b - a) * t);
    parts.push(`<rect x="${(f.left + j * cw).toFixed(1)}" y="${(f.top + i * rh).toFixed(1)}" width="${(cw - 1).toFixed(1)}" height="${(rh - 1).toFixed(1)}" fill="rgb(${c(255, 8)},${c(255, 48)},${c(255, 107)})"><title>${esc(`${rows[i]}, ${cols[j]}: ${(ax.yFormat ?? shortNumber)(v)}`)}</title></rect>`);
    if (cw > 26) parts.push(`<text x="${(f.left + (j + 0.5) * cw).toFixed(1)}" y="${(f.top + (i + 0.5) * rh).toFixed(1)}" dy="0.32em" text-anchor="middle" font-size="10" fill="${t > 0.55 ? '#fff' : '#000'}">${esc((ax.yFormat ?? shortNumber)(v))}</text>`);
  }));
  parts.push('</g>');
  // Colour scale.
  const lx = f.width - f.right + 16;
  parts.push(`<defs><linearGradient id="hm-${rows.length}-${cols.length}" x1="0" y1="1" x2="0" y2="0"><stop offset="0" stop-color="rgb(255,255,255)"/><stop offset="1" stop-color="rgb(8,48,107)"/></linearGradient></defs>`);
  parts.push(`<g class="scale" font-size="10"><rect x="${lx}" y="${f.top}" width="12" height="${ph}" fill="url(#hm-${rows.length}-${cols.length})" stroke="#999"/>` +
    `<text x="${lx + 16}" y="${f.top + 8}">${esc((ax.yFormat ?? shortNumber)(max))}</text><text x="${lx + 16}" y="${f.top + ph}">0</text>` +
    `<text x="${lx + 16}" y="${f.top + ph / 2}">${esc(ax.scaleLabel)}</text></g>`);
  parts.push('</svg>');
  return parts.join('');
}

export interface ScatterPoint {
  name: string;
  color?: string;
  x: number;
  y: number;
  yErr?: number | null;
}

export function scatter(points: ScatterPoint[], ax: AxisSpec, f: Frame = FRAME): string {
  const s = scales(points.map((p) => p.x), points.flatMap((p) => [p.y - (p.yErr ?? 0), p.y + (p.yErr ?? 0)]), f, ax.xZero, ax.yZero);
  const body = points.map((p, i) => {
    const color = p.color ?? PALETTE[i % PALETTE.length];
    const e = p.yErr ? `<line x1="${s.x(p.x).toFixed(1)}" x2="${s.x(p.x).toFixed(1)}" y1="${s.y(p.y - p.yErr).toFixed(1)}" y2="${s.y(p.y + p.yErr).toFixed(1)}" stroke="${color}"/>` : '';
    return `<g class="point">${e}<circle cx="${s.x(p.x).toFixed(1)}" cy="${s.y(p.y).toFixed(1)}" r="5" fill="${color}"><title>${esc(`${p.name}: ${shortNumber(p.x)}, ${p.y.toFixed(4)}`)}</title></circle></g>`;
  }).join('');
  return svgOpen(f, `${ax.yLabel} vs ${ax.xLabel}`) + axes(s, f, ax.xLabel, ax.yLabel, ax.xFormat, ax.yFormat) + body + legend(points.map((p) => p.name), f, 'box', points.map((p, i) => p.color ?? PALETTE[i % PALETTE.length])) + '</svg>';
}
