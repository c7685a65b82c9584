// Minimal RGBA rasteriser (opaque colours, no anti-aliasing): lines with width and dashes, markers, rectangles and
// bitmap-font text. Pure: works on an RgbaImage, so Node and the browser draw identical pictures.
import { GLYPH_ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, glyph, textWidth } from './font.js';
import { createImage, type RgbaImage } from './png.js';

export type Rgb = readonly [number, number, number];
export type MarkerShape = 'circle' | 'square' | 'diamond' | 'triangle' | 'star';

/** '#rrggbb' or '#rgb' → [r, g, b]. */
export function parseColor(color: string): Rgb {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color.trim());
  if (!m) throw new Error(`parseColor: expected '#rgb' or '#rrggbb', got '${color}'`);
  const h = m[1]!.length === 3 ? [...m[1]!].map((c) => c + c).join('') : m[1]!;
  return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
}

export class Canvas {
  readonly image: RgbaImage;

  constructor(width: number, height: number, background: Rgb = [255, 255, 255]) {
    this.image = createImage(width, height, [background[0], background[1], background[2], 255]);
  }

  get width(): number {
    return this.image.width;
  }

  get height(): number {
    return this.image.height;
  }

  setPixel(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.image.width || y >= this.image.height) return;
    const o = (y * this.image.width + x) * 4;
    this.image.data[o] = c[0];
    this.image.data[o + 1] = c[1];
    this.image.data[o + 2] = c[2];
    this.image.data[o + 3] = 255;
  }

  getPixel(x: number, y: number): [number, number, number, number] {
    const o = (y * this.image.width + x) * 4;
    const d = this.image.data;
    return [d[o]!, d[o + 1]!, d[o + 2]!, d[o + 3]!];
  }

  /** Axis-aligned filled rectangle covering [x, x+w) × [y, y+h). */
  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.image.width, Math.round(x + w));
    const y1 = Math.min(this.image.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.setPixel(xx, yy, c);
  }

  strokeRect(x: number, y: number, w: number, h: number, c: Rgb, width = 1): void {
    this.line(x, y, x + w, y, c, width);
    this.line(x + w, y, x + w, y + h, c, width);
    this.line(x + w, y + h, x, y + h, c, width);
    this.line(x, y + h, x, y, c, width);
  }

  /** Line stamped with a square brush of `width` px; `dash` = [on, off] lengths in px. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, width = 1, dash?: readonly [number, number]): void {
    const len = Math.hypot(x1 - x0, y1 - y0);
    const steps = Math.max(1, Math.ceil(len * 2));
    const half = (Math.max(1, Math.round(width)) - 1) / 2;
    for (let s = 0; s <= steps; s++) {
      const t = s / steps;
      if (dash && (t * len) % (dash[0] + dash[1]) >= dash[0]) continue;
      const x = x0 + (x1 - x0) * t;
      const y = y0 + (y1 - y0) * t;
      if (half === 0) this.setPixel(x, y, c);
      else this.fillRect(x - half, y - half, 2 * half + 1, 2 * half + 1, c);
    }
  }

  fillCircle(cx: number, cy: number, r: number, c: Rgb): void {
    for (let y = Math.floor(cy - r); y <= Math.ceil(cy + r); y++) {
      for (let x = Math.floor(cx - r); x <= Math.ceil(cx + r); x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) this.setPixel(x, y, c);
      }
    }
  }

  /** Filled convex/star polygon by even-odd scanline test at pixel centres. */
  fillPolygon(pts: readonly (readonly [number, number])[], c: Rgb): void {
    const ys = pts.map((p) => p[1]);
    const xs = pts.map((p) => p[0]);
    for (let y = Math.floor(Math.min(...ys)); y <= Math.ceil(Math.max(...ys)); y++) {
      for (let x = Math.floor(Math.min(...xs)); x <= Math.ceil(Math.max(...xs)); x++) {
        let inside = false;
        for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
          const [xi, yi] = pts[i]!;
          const [xj, yj] = pts[j]!;
          if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
        }
        if (inside) this.setPixel(x, y, c);
      }
    }
  }

  /** A filled plot marker of radius r centred at (cx, cy). */
  marker(shape: MarkerShape, cx: number, cy: number, r: number, c: Rgb): void {
    switch (shape) {
      case 'circle':
        return this.fillCircle(cx, cy, r, c);
      case 'square':
        return this.fillRect(cx - r, cy - r, 2 * r + 1, 2 * r + 1, c);
      default:
        return this.fillPolygon(markerPolygon(shape, cx, cy, r), c);
    }
  }

  /**
   * Bitmap text; (x, y) is the anchor point on the text's vertical centre line. `scale` magnifies the 5x7 font.
   * `vertical` rotates the text 90° counter-clockwise (reading bottom to top, for y-axis labels).
   */
  text(x: number, y: number, str: string, c: Rgb, scale = 1, anchor: 'start' | 'middle' | 'end' = 'start', vertical = false): void {
    const w = textWidth(str) * scale;
    const shift = anchor === 'start' ? 0 : anchor === 'middle' ? -w / 2 : -w;
    const h = GLYPH_HEIGHT * scale;
    for (let i = 0; i < str.length; i++) {
      const cols = glyph(str[i]!);
      for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
        for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
          if (!((cols[gx]! >> gy) & 1)) continue;
          const u = shift + (i * GLYPH_ADVANCE + gx) * scale; // along the text
          const v = gy * scale - h / 2; // across the text
          if (vertical) this.fillRect(Math.round(x + v), Math.round(y - u - scale), scale, scale, c);
          else this.fillRect(Math.round(x + u), Math.round(y + v), scale, scale, c);
        }
      }
    }
  }

  /** Nearest-neighbour copy of `src` scaled into the rectangle (x, y, w, h). */
  drawImage(src: RgbaImage, x: number, y: number, w: number, h: number): void {
    for (let yy = 0; yy < h; yy++) {
      const sy = Math.min(src.height - 1, Math.floor((yy * src.height) / h));
      for (let xx = 0; xx < w; xx++) {
        const sx = Math.min(src.width - 1, Math.floor((xx * src.width) / w));
        const o = (sy * src.width + sx) * 4;
        this.setPixel(x + xx, y + yy, [src.data[o]!, src.data[o + 1]!, src.data[o + 2]!]);
      }
    }
  }
}

/** Vertices of the polygonal markers (shared with the SVG renderer so both draw the same shapes). */
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
