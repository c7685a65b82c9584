// Live training charts drawn with uPlot: about 50 KB, canvas-based and built for streaming time series (tens of
// thousands of points redraw in a few milliseconds), with hover read-outs, drag-to-zoom and log scales built in.
// SVG re-rendering (the library's plot.ts, used for the CLI's static pictures) redrew the whole DOM per update.
// Series carry the names of the CLI's metrics.jsonl (trainLoss, testAccuracy, lr, imagesPerSecond, …); the
// per-step series are `loss` and `accuracy` (this step's batch, not a running mean).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { EpochEvent, ProgressEvent } from './protocol.js';

export type XMode = 'step' | 'epoch' | 'wall';

const X_LABEL: Record<XMode, string> = { step: 'global step (optimizer steps)', epoch: 'epoch', wall: 'wall time since Start (s)' };

/** Columns kept per row (one row per training step); epoch values sit on the row of the epoch's last step. */
const COLUMNS = ['loss', 'accuracy', 'lr', 'imagesPerSecond', 'trainLoss', 'testLoss', 'trainAccuracy', 'testAccuracy'] as const;
type Column = (typeof COLUMNS)[number];

interface SeriesSpec {
  column: Column;
  label: string;
  color: string;
  /** Per-step series are drawn raw (faint) and EMA-smoothed; epoch series as markers; plain ones as one line. */
  kind: 'step' | 'epoch' | 'plain';
  /** Percent: stored as a fraction, drawn ×100. */
  percent?: boolean;
  /**
   * A rate (images/s): smoothed as seconds per image and inverted (a harmonic mean), and the y axis fitted to the
   * smoothed line. Steps are pipelined, so readbacks can land in bursts: one step then shows a huge rate over a
   * near-zero interval, which would dominate an arithmetic mean and the axis range.
   */
  rate?: boolean;
}

interface ChartSpec {
  id: string;
  title: string;
  yLabel: string;
  series: SeriesSpec[];
  /** The log-y switch applies to this chart. */
  logable?: boolean;
}

export const CHARTS: ChartSpec[] = [
  {
    id: 'chart-loss',
    title: 'Loss',
    yLabel: 'cross-entropy (nats)',
    logable: true,
    series: [
      { column: 'loss', label: 'loss', color: '#1f77b4', kind: 'step' },
      { column: 'trainLoss', label: 'trainLoss', color: '#08306b', kind: 'epoch' },
      { column: 'testLoss', label: 'testLoss', color: '#d62728', kind: 'epoch' },
    ],
  },
  {
    id: 'chart-acc',
    title: 'Accuracy',
    yLabel: 'accuracy (%)',
    series: [
      { column: 'accuracy', label: 'accuracy', color: '#1f77b4', kind: 'step', percent: true },
      { column: 'trainAccuracy', label: 'trainAccuracy', color: '#08306b', kind: 'epoch', percent: true },
      { column: 'testAccuracy', label: 'testAccuracy', color: '#d62728', kind: 'epoch', percent: true },
    ],
  },
  { id: 'chart-lr', title: 'Learning rate', yLabel: 'learning rate', series: [{ column: 'lr', label: 'lr', color: '#6a3d9a', kind: 'plain' }] },
  {
    id: 'chart-ips',
    title: 'Throughput',
    yLabel: 'images / s (per step)',
    series: [{ column: 'imagesPerSecond', label: 'imagesPerSecond', color: '#2ca02c', kind: 'step', rate: true }],
  },
];

/** Bias-corrected exponential moving average (as TensorBoard smooths), skipping missing values. */
export function ema(values: readonly (number | null)[], alpha: number): (number | null)[] {
  let acc = 0;
  let weight = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    acc = alpha * acc + (1 - alpha) * v;
    weight = alpha * weight + (1 - alpha);
    return acc / weight;
  });
}

/** y range of a rate chart: from 0 to 1.5× the smoothed line's peak, so single-step bursts do not set the scale. */
function fitToSmoothed(u: uPlot, min: number, max: number): uPlot.Range.MinMax {
  const smoothed = (u.data[2] ?? []) as (number | null | undefined)[];
  let peak = 0;
  for (const v of smoothed) if (typeof v === 'number' && Number.isFinite(v)) peak = Math.max(peak, v);
  return peak > 0 ? [Math.min(0, min), Math.min(1.05 * max, 1.5 * peak)] : [Math.min(0, min), max > min ? max : min + 1];
}

/** An earlier run drawn beside the live one: its epoch test metrics at its own x values. */
export interface Overlay {
  label: string;
  color: string;
  x: Record<XMode, number[]>;
  testLoss: number[];
  testAccuracy: number[];
}

/** Which overlay column each chart shows (the others show none). */
const OVERLAY_COLUMN: Record<string, { column: 'testLoss' | 'testAccuracy'; percent: boolean } | undefined> = {
  'chart-loss': { column: 'testLoss', percent: false },
  'chart-acc': { column: 'testAccuracy', percent: true },
};

export interface ChartSummary {
  id: string;
  points: number;
  labels: string[];
  xLabel: string;
  yLabel: string;
  logY: boolean;
  xMin: number | null;
  xMax: number | null;
  firstX: number | null;
}

export class Charts {
  private x: Record<XMode, number[]> = { step: [], epoch: [], wall: [] };
  private cols = Object.fromEntries(COLUMNS.map((c) => [c, [] as (number | null)[]])) as Record<Column, (number | null)[]>;
  private plots = new Map<string, uPlot>();
  private mode: XMode = 'step';
  private smoothing = 0.6;
  /** On by default: one early outlier (a test loss of thousands after ten steps) would otherwise flatten the rest. */
  private logY = true;
  private zoomed = false;
  private timer: number | null = null;
  private overlays: Overlay[] = [];

  constructor(private readonly host: (id: string) => HTMLElement) {
    for (const spec of CHARTS) this.create(spec);
    new ResizeObserver(() => this.resize()).observe(this.host(CHARTS[0].id));
  }

  setMode(mode: XMode): void {
    this.mode = mode;
    this.zoomed = false;
    this.rebuild();
  }

  setSmoothing(alpha: number): void {
    this.smoothing = Math.max(0, Math.min(0.999, alpha));
    this.draw();
  }

  setLogY(on: boolean): void {
    this.logY = on;
    this.rebuild();
  }

  /** Earlier runs to draw beside this one (their test loss and accuracy per epoch, dashed). */
  setOverlays(overlays: Overlay[]): void {
    this.overlays = overlays;
    this.rebuild();
  }

  resetZoom(): void {
    this.zoomed = false;
    this.draw();
  }

  clear(): void {
    for (const m of Object.keys(this.x) as XMode[]) this.x[m] = [];
    for (const c of COLUMNS) this.cols[c] = [];
    this.zoomed = false;
    this.draw();
  }

  /** Drops every row after `step` (a device loss put the model back there; those steps will be taken again). */
  rewind(step: number): void {
    const keep = this.x.step.findIndex((s) => s > step);
    if (keep < 0) return;
    for (const m of Object.keys(this.x) as XMode[]) this.x[m].length = keep;
    for (const c of COLUMNS) this.cols[c].length = keep;
    this.draw();
  }

  progress(p: ProgressEvent): void {
    this.x.step.push(p.globalStep);
    this.x.epoch.push(p.epoch + p.step / p.steps);
    this.x.wall.push(p.wallSeconds);
    const row: Partial<Record<Column, number | null>> = { loss: Number.isFinite(p.loss) ? p.loss : null, accuracy: p.accuracy, lr: p.lr, imagesPerSecond: p.stepImagesPerSecond };
    for (const c of COLUMNS) this.cols[c].push(row[c] ?? null);
    this.schedule();
  }

  epoch(e: EpochEvent): void {
    const i = this.x.step.lastIndexOf(e.globalStep);
    if (i < 0) return;
    this.cols.trainLoss[i] = e.trainLoss;
    this.cols.testLoss[i] = e.testLoss;
    this.cols.trainAccuracy[i] = e.trainAccuracy;
    this.cols.testAccuracy[i] = e.testAccuracy;
    this.schedule();
  }

  /** What the browser tests check: points, series names, axis labels, scale. */
  summary(): ChartSummary[] {
    return CHARTS.map((spec) => {
      const u = this.plots.get(spec.id)!;
      return {
        id: spec.id,
        points: this.cols[spec.series[0].column].filter((v) => v !== null).length,
        labels: u.series.slice(1).map((s) => String(s.label)),
        xLabel: String(u.axes[0].label),
        yLabel: String(u.axes[1].label),
        logY: u.scales.y.distr === 3,
        xMin: u.scales.x.min ?? null,
        xMax: u.scales.x.max ?? null,
        firstX: this.x[this.mode][0] ?? null,
      };
    });
  }

  /** Redraws at most a few times a second, however fast steps arrive. */
  private schedule(): void {
    if (this.timer !== null) return;
    this.timer = window.setTimeout(() => {
      this.timer = null;
      this.draw();
    }, 250);
  }

  private data(spec: ChartSpec): uPlot.AlignedData {
    const own = this.x[this.mode];
    const extra = OVERLAY_COLUMN[spec.id] ? this.overlays : [];
    // uPlot wants one x array: with overlays, the union of every run's x values, each series null where it has none.
    const xs = extra.length ? [...new Set([...own, ...extra.flatMap((o) => o.x[this.mode])])].sort((a, b) => a - b) : own;
    const at = new Map(xs.map((v, i) => [v, i] as const));
    const place = (values: readonly (number | null)[], from: readonly number[]): (number | null)[] => {
      if (!extra.length) return values as (number | null)[];
      const out: (number | null)[] = new Array(xs.length).fill(null);
      values.forEach((v, i) => {
        const k = at.get(from[i]);
        if (k !== undefined && v !== null) out[k] = v;
      });
      return out;
    };
    const logged = this.logY && spec.logable;
    const show = (raw: (number | null)[], percent?: boolean) => {
      const scaled = percent ? raw.map((v) => (v === null ? null : 100 * v)) : raw;
      // Log scales cannot show 0 or negative values: they become gaps rather than distorting the axis.
      return logged ? scaled.map((v) => (v !== null && v > 0 ? v : null)) : scaled;
    };
    const out: (number | null)[][] = [];
    for (const s of spec.series) {
      const shown = show(place(this.cols[s.column], own), s.percent);
      if (s.kind !== 'step') out.push(shown);
      else if (s.rate) out.push(shown, ema(shown.map((v) => (v === null || v <= 0 ? null : 1 / v)), this.smoothing).map((v) => (v === null ? null : 1 / v)));
      else out.push(shown, ema(shown, this.smoothing));
    }
    const col = OVERLAY_COLUMN[spec.id];
    if (col) for (const o of extra) out.push(show(place(o[col.column], o.x[this.mode]), col.percent));
    return [xs, ...out] as uPlot.AlignedData;
  }

  draw(): void {
    for (const spec of CHARTS) this.plots.get(spec.id)?.setData(this.data(spec), !this.zoomed);
  }

  private rebuild(): void {
    for (const spec of CHARTS) {
      this.plots.get(spec.id)?.destroy();
      this.create(spec);
    }
  }

  private resize(): void {
    for (const spec of CHARTS) this.plots.get(spec.id)?.setSize(this.size(spec.id));
  }

  private size(id: string): { width: number; height: number } {
    return { width: Math.max(240, this.host(id).clientWidth - 8), height: 220 };
  }

  private create(spec: ChartSpec): void {
    const host = this.host(spec.id);
    const series: uPlot.Series[] = [{ label: X_LABEL[this.mode], value: (_u, v) => (v === null ? '–' : this.mode === 'epoch' ? v.toFixed(3) : this.mode === 'wall' ? `${v.toFixed(1)} s` : String(v)) }];
    const fmt = (_u: uPlot, v: number | null) => (v === null || v === undefined ? '–' : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4));
    for (const s of spec.series) {
      if (s.kind === 'step') {
        series.push({ label: `${s.label} (raw)`, stroke: `${s.color}40`, width: 1, value: fmt, points: { show: false } });
        series.push({ label: `${s.label} (EMA)`, stroke: s.color, width: 1.5, value: fmt, points: { show: false } });
      } else {
        // Epoch values are sparse: markers joined across the steps between them.
        series.push({ label: s.label, stroke: s.color, width: 1.5, spanGaps: true, value: fmt, points: { show: s.kind === 'epoch', size: 7 } });
      }
    }
    const col = OVERLAY_COLUMN[spec.id];
    if (col) for (const o of this.overlays) series.push({ label: `${o.label}: ${col.column}`, stroke: o.color, width: 1.5, dash: [5, 4], spanGaps: true, value: fmt, points: { show: true, size: 6 } });
    const opts: uPlot.Options = {
      ...this.size(spec.id),
      title: spec.title,
      series,
      scales: {
        x: { time: false },
        y: this.logY && spec.logable ? { distr: 3, log: 10 } : spec.series[0].rate ? { range: (u, min, max) => fitToSmoothed(u, min, max) } : {},
      },
      axes: [
        { label: X_LABEL[this.mode], labelSize: 22, font: '11px system-ui, sans-serif', labelFont: '12px system-ui, sans-serif' },
        { label: spec.yLabel, labelSize: 22, size: 56, font: '11px system-ui, sans-serif', labelFont: '12px system-ui, sans-serif' },
      ],
      cursor: { drag: { x: true, y: false }, sync: { key: 'onelayer-charts' } },
      legend: { live: true },
      hooks: {
        // A drag zooms x; streaming updates then keep the zoom until Reset zoom (or a double-click).
        setSelect: [(u) => (this.zoomed = u.select.width > 0)],
      },
    };
    host.innerHTML = '';
    const u = new uPlot(opts, this.data(spec), host);
    u.over.addEventListener('dblclick', () => (this.zoomed = false));
    const canvas = host.querySelector('canvas');
    canvas?.setAttribute('role', 'img');
    canvas?.setAttribute('aria-label', `${spec.title} chart: ${spec.series.map((s) => s.label).join(', ')} against ${X_LABEL[this.mode]}; y: ${spec.yLabel}. Hover for values, drag to zoom.`);
    this.plots.set(spec.id, u);
  }
}
