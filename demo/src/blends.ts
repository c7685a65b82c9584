// Blend pictures on the page, drawn by src/analysis/blend.ts (the code behind `onelayer blends`): input channels
// along x, output channels along y. Three views: the paper's top-k picture (per output row the k largest |w| red,
// the k smallest blue, the rest grey), the signed values w, and the change since initialisation w − w₀, both on
// a diverging scale (a colour bar gives it): each layer's own largest |value| by default, since one layer (the
// first blend of a 1-channel input) can change 100× more than the rest and would grey them all out on a shared
// scale; or one scale for all layers, to compare them. The value under the pointer (or arrow keys) is read out.
import { blendImage, blendValueImage, classifyBlendRows, divergingColor, readableBlendK, BLEND_BLUE, BLEND_OTHER, BLEND_RED, type NamedTensor, type RgbaImage } from '../../src/analysis/blend.js';
import type { BlendLayer } from './protocol.js';

export type BlendViewMode = 'topk' | 'value' | 'change';

const css = (c: readonly number[]) => `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
const tensorOf = (l: BlendLayer, data = l.weight): NamedTensor => ({ name: l.name, shape: [l.n, l.n], data });

export class BlendView {
  private layers: BlendLayer[] = [];
  /** The first snapshot of this run (the initial weights of a new run, the loaded weights of a checkpoint). */
  private initial: BlendLayer[] | null = null;
  private step = 0;
  mode: BlendViewMode = 'topk';
  /** null: readableBlendK(n). */
  k: number | null = null;
  /** One colour scale for all layers (else each layer's own). */
  shared = false;

  constructor(
    private readonly box: HTMLElement,
    private readonly caption: HTMLElement,
    private readonly legend: HTMLElement,
    private readonly readout: HTMLElement,
  ) {}

  /** A new run or a loaded checkpoint: the next snapshot becomes w₀. */
  restart(): void {
    this.initial = null;
  }

  show(layers: BlendLayer[], step: number): void {
    this.layers = layers;
    this.step = step;
    if (!this.initial || this.initial.length !== layers.length) this.initial = layers.map((l) => ({ ...l, weight: l.weight.slice() }));
    this.draw();
  }

  kFor(n: number): number {
    return Math.min(this.k ?? readableBlendK(n), Math.floor(n / 2));
  }

  private values(i: number): Float32Array {
    const l = this.layers[i];
    if (this.mode !== 'change') return l.weight;
    const w0 = this.initial![i].weight;
    return l.weight.map((v, j) => v - w0[j]);
  }

  /** The largest |value| shown of each layer, or of all layers when the scale is shared. */
  private scales(): number[] {
    const own = this.layers.map((_, i) => this.values(i).reduce((m, v) => Math.max(m, Math.abs(v)), 0));
    const all = Math.max(0, ...own);
    return this.shared ? own.map(() => all) : own;
  }

  draw(): void {
    const layers = this.layers;
    if (!layers.length) return;
    if (this.box.querySelectorAll('canvas').length !== layers.length) this.build();
    const canvases = this.box.querySelectorAll('canvas');
    const scales = this.scales();
    const captions = this.box.querySelectorAll('figcaption');
    layers.forEach((l, i) => {
      const t = tensorOf(l, this.values(i));
      const img = this.mode === 'topk' ? blendImage(t, 1, this.kFor(l.n)) : blendValueImage(t, scales[i], 1);
      captions[i].textContent = `${i + 1}: ${l.name} (n=${l.n})${this.mode === 'topk' || this.shared ? '' : `, ±${scales[i].toPrecision(2)}`}`;
      paint(canvases[i], img);
      canvases[i].setAttribute('aria-label', `Blend ${i + 1} of ${layers.length}, ${l.name}: ${l.n}×${l.n}, ${this.describeMode(l.n)}, after ${this.step} steps. Arrow keys read the values.`);
    });
    this.box.dataset.step = String(this.step);
    this.box.dataset.mode = this.mode;
    this.drawLegend(this.shared ? scales[0] : 1, layers[0].n);
  }

  private describeMode(n: number): string {
    if (this.mode === 'topk') return `per output row the ${this.kFor(n)} largest |w| red and the ${this.kFor(n)} smallest blue`;
    return this.mode === 'value' ? 'signed weights w, blue negative, red positive' : 'change since initialisation w − w₀, blue negative, red positive';
  }

  private build(): void {
    this.box.innerHTML = '';
    this.layers.forEach((l, i) => {
      const fig = document.createElement('figure');
      const c = document.createElement('canvas');
      c.dataset.layer = l.name;
      c.dataset.index = String(i);
      c.setAttribute('role', 'img');
      // Keyboard users read values too: Tab to a picture, arrow keys move over its cells.
      c.tabIndex = 0;
      c.addEventListener('keydown', (e) => this.key(i, e));
      c.addEventListener('focus', () => (this.readout.textContent = this.cellText(i, this.cursor.row, this.cursor.col)));
      c.addEventListener('pointermove', (e) => this.point(c, i, e));
      c.addEventListener('pointerleave', () => (this.readout.textContent = 'Point at a blend picture to read its values.'));
      fig.append(c, document.createElement('figcaption'));
      this.box.append(fig);
    });
  }

  /** The cell under the pointer: layer, output row, input column, w, w − w₀, and its mark in the top-k picture. */
  private point(c: HTMLCanvasElement, i: number, e: PointerEvent): void {
    const l = this.layers[i];
    if (!l) return;
    const r = c.getBoundingClientRect();
    const col = Math.min(l.n - 1, Math.max(0, Math.floor(((e.clientX - r.left) / r.width) * l.n)));
    const row = Math.min(l.n - 1, Math.max(0, Math.floor(((e.clientY - r.top) / r.height) * l.n)));
    this.readout.textContent = this.cellText(i, row, col);
  }

  private cursor = { row: 0, col: 0 };

  private key(i: number, e: KeyboardEvent): void {
    const n = this.layers[i]?.n ?? 0;
    const move: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    const d = move[e.key];
    if (!d || !n) return;
    e.preventDefault();
    this.cursor = { row: Math.min(n - 1, Math.max(0, this.cursor.row + d[0])), col: Math.min(n - 1, Math.max(0, this.cursor.col + d[1])) };
    this.readout.textContent = this.cellText(i, this.cursor.row, this.cursor.col);
  }

  cellText(i: number, row: number, col: number): string {
    const l = this.layers[i];
    const j = row * l.n + col;
    const w = l.weight[j];
    const d = w - this.initial![i].weight[j];
    const mark = classifyBlendRows(tensorOf(l), this.kFor(l.n))[j];
    const where = mark > 0 ? `one of the ${this.kFor(l.n)} largest |w| in its row (red)` : mark < 0 ? `one of the ${this.kFor(l.n)} smallest |w| in its row (blue)` : 'neither extreme of its row (grey)';
    return `${l.name} [out ${row}, in ${col}]: w = ${w.toPrecision(4)}, w − w₀ = ${d.toPrecision(3)}; ${where}`;
  }

  private drawLegend(scale: number, n: number): void {
    this.legend.innerHTML = '';
    if (this.mode === 'topk') {
      const k = this.kFor(n);
      for (const [c, text] of [
        [BLEND_RED, `${k} largest |w| per row`],
        [BLEND_BLUE, `${k} smallest |w| per row`],
        [BLEND_OTHER, 'the rest'],
      ] as const) {
        const item = document.createElement('span');
        item.className = 'swatch';
        item.innerHTML = `<i style="background:${css(c)}"></i>`;
        item.append(text);
        this.legend.append(item);
      }
      this.caption.textContent = `k = ${k} for n = ${n} (default min(32, max(1, ⌊n/8⌋)): most of a small matrix stays grey; the paper's k = 32 for n ≥ 256)`;
    } else {
      const bar = document.createElement('canvas');
      bar.width = 200;
      bar.height = 12;
      bar.className = 'colourbar';
      bar.setAttribute('role', 'img');
      const end = (sign: string) => (this.shared ? `${sign}${scale.toPrecision(3)}` : `${sign}max`);
      bar.setAttribute('aria-label', `Colour bar: blue ${end('−')}, grey 0, red ${end('+')}${this.shared ? '' : ' (each layer its own largest |value|, in its caption)'}`);
      const g = bar.getContext('2d');
      for (let x = 0; g && x < bar.width; x++) {
        g.fillStyle = css(divergingColor(((2 * x) / (bar.width - 1) - 1) * scale, scale));
        g.fillRect(x, 0, 1, bar.height);
      }
      const lo = document.createElement('span');
      lo.textContent = end('−');
      const hi = document.createElement('span');
      hi.textContent = end('+');
      this.legend.append(lo, bar, hi);
      const scaleText = this.shared ? 'one scale for all layers' : 'each layer on its own scale: ±max is its largest |value| (under each picture)';
      this.caption.textContent = `${this.mode === 'value' ? 'signed weights w' : 'change since initialisation (w − w₀, w₀ = the weights at Start or Load)'}; ${scaleText}`;
    }
  }
}

/** RGBA pixels onto a canvas, scaled up with hard edges (CSS image-rendering: pixelated does the scaling). */
function paint(canvas: HTMLCanvasElement, img: RgbaImage): void {
  canvas.width = img.width;
  canvas.height = img.height;
  canvas.getContext('2d')?.putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
}
