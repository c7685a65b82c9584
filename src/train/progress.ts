import type { Progress } from './types.js';

interface Stream {
  write(s: string): unknown;
  isTTY?: boolean;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}` : `${m}:${String(s % 60).padStart(2, '0')}`;
}

/** A one-line progress bar (loss, accuracy, images/s, ETA). Without a TTY it prints a line every 10%. */
export class ProgressBar {
  private lastDecile = -1;
  private active = false;
  constructor(private stream: Stream | null) {}

  update(p: Progress): void {
    if (!this.stream) return;
    const frac = p.step / p.steps;
    const etaSeconds = p.step > 0 ? (p.elapsed / p.step) * (p.steps - p.step) : NaN;
    const width = 24;
    const filled = Math.round(frac * width);
    const text = `epoch ${p.epoch + 1}/${p.epochs} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.step}/${p.steps} loss ${p.loss.toFixed(4)} acc ${(100 * p.acc).toFixed(1)}% ${p.imagesPerSecond.toFixed(1)} img/s ETA ${clock(etaSeconds)}`;
    if (this.stream.isTTY) {
      this.stream.write(`\r${text}\x1b[K`);
      this.active = true;
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== this.lastDecile) {
        this.lastDecile = decile;
        this.stream.write(`${text}\n`);
      }
    }
  }

  done(): void {
    if (this.stream && this.active) this.stream.write('\n');
    this.active = false;
    this.lastDecile = -1;
  }
}
