// Plot descriptions → one scene of pixel-space primitives → SVG text. Pure (no node:*): the browser page draws the
// same SVG, and in Node src/analysis/image-node.ts rasterises it to PNG with sharp (librsvg, the system's fonts),
// so the SVG and the PNG of a plot are one drawing.

export type MarkerShape = 'circle' | 'square' | 'diamond' | 'triangle' | 'star';

export interface PlotPoint {
  x: number;
  y: number;
  /** Drawn next to the point (e.g. "n=64"). */
  label?: string;
}

export interface PlotSeries {
  name: string;
  points: PlotPoint[];
  color?: string;
  /** Marker at each point; 'none' draws only the line. Default 'circle'. */
  marker?: MarkerShape | 'none';
  /** Connect points in the given order. Default true. */
  line?: boolean;
  dashed?: boolean;
}

/** A horizontal reference line across the plot (e.g. a baseline's accuracy). */
export interface HLine {
  y: number;
  color?: string;
  dashed?: boolean;
  label?: string;
}

export interface PlotSpec {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  xLog?: boolean;
  width?: number;
  height?: number;
  series: PlotSeries[];
  hLines?: HLine[];
  xDomain?: [number, number];
  yDomain?: [number, number];
  legend?: boolean;
}

export type Prim =
  | { kind: 'line'; x1: number; y1: number; x2: number; y2: number; color: string; width: number; dash?: [number, number] }
  | { kind: 'marker'; x: number; y: number; shape: MarkerShape; r: number; color: string }
  | { kind: 'rect'; x: number; y: number; w: number; h: number; fill?: string; stroke?: string }
  | { kind: 'text'; x: number; y: number; text: string; size: number; color: string; anchor: 'start' | 'middle' | 'end'; vertical?: boolean; cls: string };

export interface Scene {
  width: number;
  height: number;
  prims: Prim[];
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

/** Tick positions for a linear axis: 1/2/5 × 10^k steps, about `target` of them. */
export function linearTicks(lo: number, hi: number, target = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Tick positions for a log axis: powers of ten, plus 2× and 5× when the range spans few decades. */
export function logTicks(lo: number, hi: number): number[] {
  const a = Math.floor(Math.log10(lo));
  const b = Math.ceil(Math.log10(hi));
  const mults = b - a <= 2 ? [1, 2, 5] : [1];
  const ticks: number[] = [];
  for (let e = a; e <= b; e++) {
    for (const m of mults) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(v);
    }
  }
  return ticks;
}

export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

function domain(values: number[], log: boolean, fixed?: [number, number]): [number, number] {
  if (fixed) return fixed;
  const vs = values.filter((v) => Number.isFinite(v) && (!log || v > 0));
  if (vs.length === 0) return log ? [1, 10] : [0, 1];
  let lo = Math.min(...vs);
  let hi = Math.max(...vs);
  if (log) {
    if (hi / lo < 1.5) return [lo / 1.5, hi * 1.5];
    return [lo / 10 ** 0.15, hi * 10 ** 0.15];
  }
  if (hi === lo) return [lo - (Math.abs(lo) || 1) * 0.1, hi + (Math.abs(hi) || 1) * 0.1];
  const pad = (hi - lo) * 0.08;
  lo -= pad;
  hi += pad;
  return [lo, hi];
}

/**
 * Width in pixels of `text` at `size` px, without measuring: the renderer (a browser, or librsvg in Node) picks the
 * font, so layout only needs a bound. 0.62 em per character covers the digits and lower case of the usual sans
 * faces (DejaVu Sans, Helvetica, Arial).
 */
export function approxTextWidth(text: string, size: number): number {
  return text.length * size * 0.62;
}

/** Corners of a polygon marker centred on (cx, cy) with radius r. */
export function markerPolygon(shape: 'diamond' | 'triangle' | 'star', cx: number, cy: number, r: number): [number, number][] {
  if (shape === 'diamond') return [[cx, cy - r * 1.3], [cx + r * 1.3, cy], [cx, cy + r * 1.3], [cx - r * 1.3, cy]];
  if (shape === 'triangle') return [[cx, cy - r * 1.3], [cx + r * 1.2, cy + r], [cx - r * 1.2, cy + r]];
  const pts: [number, number][] = [];
  for (let k = 0; k < 10; k++) {
    const a = -Math.PI / 2 + (k * Math.PI) / 5;
    const rr = k % 2 === 0 ? r * 1.6 : r * 0.7;
    pts.push([cx + rr * Math.cos(a), cy + rr * Math.sin(a)]);
  }
  return pts;
}

/** Lay a plot out into pixel-space primitives (the input of sceneToSvg). */
export function layoutPlot(spec: PlotSpec): Scene {
  const width = spec.width ?? 720;
  const height = spec.height ?? 480;
  const showLegend = spec.legend ?? spec.series.length > 1;
  const legendW = showLegend ? Math.max(...spec.series.map((s) => approxTextWidth(s.name, 11) + 40), 80) : 0;
  const m = { left: 72, right: 20 + legendW, top: spec.title ? 40 : 16, bottom: 56 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  if (pw < 50 || ph < 50) throw new Error(`layoutPlot: ${width}x${height} leaves no room for the plot area`);

  const xs = spec.series.flatMap((s) => s.points.map((p) => p.x));
  const ys = [...spec.series.flatMap((s) => s.points.map((p) => p.y)), ...(spec.hLines ?? []).map((h) => h.y)];
  const xLog = spec.xLog ?? false;
  const [x0, x1] = domain(xs, xLog, spec.xDomain);
  const [y0, y1] = domain(ys, false, spec.yDomain);
  const fx = (x: number): number =>
    m.left + (xLog ? (Math.log10(x) - Math.log10(x0)) / (Math.log10(x1) - Math.log10(x0)) : (x - x0) / (x1 - x0)) * pw;
  const fy = (y: number): number => m.top + ph - ((y - y0) / (y1 - y0)) * ph;

  const prims: Prim[] = [{ kind: 'rect', x: 0, y: 0, w: width, h: height, fill: '#ffffff' }];
  const grid = '#e6e6e6';
  const axis = '#333333';
  const xt = xLog ? logTicks(x0, x1) : linearTicks(x0, x1);
  const yt = linearTicks(y0, y1);
  for (const t of xt) {
    const x = fx(t);
    prims.push({ kind: 'line', x1: x, y1: m.top, x2: x, y2: m.top + ph, color: grid, width: 1 });
    prims.push({ kind: 'line', x1: x, y1: m.top + ph, x2: x, y2: m.top + ph + 5, color: axis, width: 1 });
    prims.push({ kind: 'text', x, y: m.top + ph + 16, text: formatTick(t), size: 11, color: axis, anchor: 'middle', cls: 'tick x-tick' });
  }
  for (const t of yt) {
    const y = fy(t);
    prims.push({ kind: 'line', x1: m.left, y1: y, x2: m.left + pw, y2: y, color: grid, width: 1 });
    prims.push({ kind: 'line', x1: m.left - 5, y1: y, x2: m.left, y2: y, color: axis, width: 1 });
    prims.push({ kind: 'text', x: m.left - 8, y, text: formatTick(t), size: 11, color: axis, anchor: 'end', cls: 'tick y-tick' });
  }
  prims.push({ kind: 'rect', x: m.left, y: m.top, w: pw, h: ph, stroke: axis });
  if (spec.title) prims.push({ kind: 'text', x: m.left + pw / 2, y: 20, text: spec.title, size: 15, color: '#000000', anchor: 'middle', cls: 'title' });
  if (spec.xLabel) prims.push({ kind: 'text', x: m.left + pw / 2, y: height - 16, text: spec.xLabel, size: 13, color: '#000000', anchor: 'middle', cls: 'x-label' });
  if (spec.yLabel) prims.push({ kind: 'text', x: 18, y: m.top + ph / 2, text: spec.yLabel, size: 13, color: '#000000', anchor: 'middle', vertical: true, cls: 'y-label' });

  for (const h of spec.hLines ?? []) {
    const y = fy(h.y);
    const color = h.color ?? '#555555';
    prims.push({ kind: 'line', x1: m.left, y1: y, x2: m.left + pw, y2: y, color, width: 1.5, dash: h.dashed === false ? undefined : [6, 4] });
    if (h.label) prims.push({ kind: 'text', x: m.left + pw - 4, y: y - 9, text: h.label, size: 10, color, anchor: 'end', cls: 'hline-label' });
  }
  spec.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!xLog || p.x > 0));
    if (s.line !== false) {
      for (let k = 1; k < pts.length; k++) {
        const a = pts[k - 1]!;
        const b = pts[k]!;
        prims.push({ kind: 'line', x1: fx(a.x), y1: fy(a.y), x2: fx(b.x), y2: fy(b.y), color, width: 2, dash: s.dashed ? [6, 4] : undefined });
      }
    }
    for (const p of pts) {
      if (s.marker !== 'none') prims.push({ kind: 'marker', x: fx(p.x), y: fy(p.y), shape: s.marker ?? 'circle', r: 4, color });
      if (p.label) prims.push({ kind: 'text', x: fx(p.x) + 7, y: fy(p.y) - 10, text: p.label, size: 10, color, anchor: 'start', cls: 'point-label' });
    }
  });
  if (showLegend) {
    const lx = width - legendW - 8;
    let ly = m.top + 10;
    for (const [i, s] of spec.series.entries()) {
      const color = s.color ?? PALETTE[i % PALETTE.length]!;
      if (s.line !== false) prims.push({ kind: 'line', x1: lx, y1: ly, x2: lx + 24, y2: ly, color, width: 2, dash: s.dashed ? [6, 4] : undefined });
      if (s.marker !== 'none') prims.push({ kind: 'marker', x: lx + 12, y: ly, shape: s.marker ?? 'circle', r: 4, color });
      prims.push({ kind: 'text', x: lx + 30, y: ly, text: s.name, size: 11, color: '#000000', anchor: 'start', cls: 'legend' });
      ly += 20;
    }
  }
  return { width, height, prims };
}

/** Text content or attribute value escaped for SVG/XML. */
export const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (v: number): string => String(Math.round(v * 100) / 100);

export function sceneToSvg(scene: Scene): string {
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${scene.width}" height="${scene.height}" viewBox="0 0 ${scene.width} ${scene.height}" font-family="Helvetica, Arial, sans-serif">`,
  ];
  for (const p of scene.prims) {
    switch (p.kind) {
      case 'line':
        out.push(
          `<line x1="${num(p.x1)}" y1="${num(p.y1)}" x2="${num(p.x2)}" y2="${num(p.y2)}" stroke="${p.color}" stroke-width="${p.width}"${p.dash ? ` stroke-dasharray="${p.dash.join(' ')}"` : ''}/>`,
        );
        break;
      case 'rect':
        out.push(`<rect x="${num(p.x)}" y="${num(p.y)}" width="${num(p.w)}" height="${num(p.h)}" fill="${p.fill ?? 'none'}"${p.stroke ? ` stroke="${p.stroke}"` : ''}/>`);
        break;
      case 'marker':
        if (p.shape === 'circle') out.push(`<circle class="marker" cx="${num(p.x)}" cy="${num(p.y)}" r="${p.r}" fill="${p.color}"/>`);
        else if (p.shape === 'square') out.push(`<rect class="marker" x="${num(p.x - p.r)}" y="${num(p.y - p.r)}" width="${2 * p.r}" height="${2 * p.r}" fill="${p.color}"/>`);
        else out.push(`<polygon class="marker" points="${markerPolygon(p.shape, p.x, p.y, p.r).map(([x, y]) => `${num(x)},${num(y)}`).join(' ')}" fill="${p.color}"/>`);
        break;
      case 'text': {
        const anchor = p.anchor === 'start' ? 'start' : p.anchor === 'middle' ? 'middle' : 'end';
        const rot = p.vertical ? ` transform="rotate(-90 ${num(p.x)} ${num(p.y)})"` : '';
        out.push(
          `<text class="${p.cls}" x="${num(p.x)}" y="${num(p.y)}" font-size="${p.size}" fill="${p.color}" text-anchor="${anchor}" dominant-baseline="central"${rot}>${escapeXml(p.text)}</text>`,
        );
        break;
      }
    }
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

export function renderSvg(spec: PlotSpec): string {
  return sceneToSvg(layoutPlot(spec));
}
