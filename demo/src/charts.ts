// Live training charts, drawn as SVG by the library's own plot renderer (src/analysis/plot.ts, pure code).
import { renderSvg, type PlotPoint, type PlotSeries } from '../../src/analysis/plot.js';
import type { EpochEvent, ProgressEvent } from './protocol.js';

/** At most this many points per series; older points are thinned by keeping every other one. */
const MAX_POINTS = 600;

class Series {
  points: PlotPoint[] = [];
  add(p: PlotPoint): void {
    this.points.push(p);
    if (this.points.length > MAX_POINTS) this.points = this.points.filter((_, i) => i % 2 === 0 || i === this.points.length - 1);
  }
}

export class Charts {
  private stepLoss = new Series();
  private stepAcc = new Series();
  private ips = new Series();
  private epochTrainLoss = new Series();
  private testLoss = new Series();
  private epochTrainAcc = new Series();
  private testAcc = new Series();
  /** Optimizer steps so far: the x axis (it never goes back, even when a paused epoch restarts). */
  private step = 0;
  private dirty = false;
  private timer: number | null = null;

  constructor(
    private readonly loss: HTMLElement,
    private readonly acc: HTMLElement,
    private readonly speed: HTMLElement,
  ) {
    this.draw();
  }

  clear(): void {
    for (const s of [this.stepLoss, this.stepAcc, this.ips, this.epochTrainLoss, this.testLoss, this.epochTrainAcc, this.testAcc]) s.points = [];
    this.step = 0;
    this.draw();
  }

  progress(p: ProgressEvent): void {
    const x = (this.step = p.totalSteps);
    if (Number.isFinite(p.loss)) this.stepLoss.add({ x, y: p.loss });
    this.stepAcc.add({ x, y: 100 * p.acc });
    this.ips.add({ x, y: p.imagesPerSecond });
    this.schedule();
  }

  epoch(e: EpochEvent): void {
    const x = this.step;
    this.epochTrainLoss.add({ x, y: e.trainLoss, label: `ep ${e.epoch}` });
    this.testLoss.add({ x, y: e.testLoss });
    this.epochTrainAcc.add({ x, y: 100 * e.trainAccuracy });
    this.testAcc.add({ x, y: 100 * e.testAccuracy, label: `${(100 * e.testAccuracy).toFixed(1)}%` });
    this.schedule();
  }

  /** Redraws at most a few times a second, however fast steps arrive. */
  private schedule(): void {
    this.dirty = true;
    if (this.timer !== null) return;
    this.timer = window.setTimeout(() => {
      this.timer = null;
      if (this.dirty) this.draw();
    }, 300);
  }

  draw(): void {
    this.dirty = false;
    const size = { width: 460, height: 270 };
    const line = (name: string, s: Series, color: string, marker: PlotSeries['marker'] = 'none'): PlotSeries => ({ name, points: s.points, color, marker });
    this.render(this.loss, {
      title: 'Loss',
      xLabel: 'step',
      ...size,
      series: [line('step', this.stepLoss, '#9ec5f0'), line('train', this.epochTrainLoss, '#1f77b4', 'circle'), line('test', this.testLoss, '#d62728', 'square')],
    });
    this.render(this.acc, {
      title: 'Accuracy (%)',
      xLabel: 'step',
      ...size,
      series: [line('step', this.stepAcc, '#9ec5f0'), line('train', this.epochTrainAcc, '#1f77b4', 'circle'), line('test', this.testAcc, '#d62728', 'square')],
    });
    this.render(this.speed, { title: 'Images / s', xLabel: 'step', ...size, legend: false, series: [line('images/s', this.ips, '#2ca02c')] });
  }

  private render(el: HTMLElement, spec: Parameters<typeof renderSvg>[0]): void {
    const empty = spec.series.every((s) => s.points.length === 0);
    // An empty plot still needs a domain: draw axes over [0, 1] until the first point arrives.
    el.innerHTML = renderSvg(empty ? { ...spec, xDomain: [0, 1], yDomain: [0, 1], legend: false } : spec);
    el.dataset.points = String(spec.series.reduce((n, s) => n + s.points.length, 0));
  }
}
