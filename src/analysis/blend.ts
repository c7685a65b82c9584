// Pictures of SL blend layers (the n×n 1×1 mixing matrices). Input channels along x, output channels along y;
// in each output row the k smallest-|w| entries are blue and the k largest-|w| red, k = min(32, floor(n/2)) so
// the two sets never overlap (for odd n < 64 the middle entry stays grey). Pure: returns RGBA images / PNG bytes.
import { Canvas, type Rgb } from './raster.js';
import { encodePng, type RgbaImage } from './png.js';
import { GLYPH_HEIGHT, textWidth } from './font.js';

export interface NamedTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

export const BLEND_RED: Rgb = [214, 39, 40];
export const BLEND_BLUE: Rgb = [31, 119, 180];
export const BLEND_OTHER: Rgb = [236, 236, 236];

/** k per row: at most 32, at most half the row so largest and smallest sets are disjoint. */
export function blendK(n: number): number {
  return Math.min(32, Math.floor(n / 2));
}

/** Compares names with digit runs as numbers: 'blends.2' < 'blends.10', 'blend1' < 'layer1.0.blend1'. */
export function naturalCompare(a: string, b: string): number {
  const pa = a.split(/(\d+)/);
  const pb = b.split(/(\d+)/);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i]!;
    const y = pb[i]!;
    if (x === y) continue;
    if (i % 2 === 1) return Number(x) - Number(y) || x.length - y.length;
    return x < y ? -1 : 1;
  }
  return pa.length - pb.length;
}

/**
 * Blend weights among checkpoint tensors: names containing 'blend', shape [n, n] or [n, n, 1, 1], in order of
 * appearance in the model. safetensors files store tensors sorted by name, so without `order` (the model's
 * namedParameters() names) the natural order of the names is used, which is the order of appearance for every
 * model in src/models ('blends.0..12', 'blend1' then 'layerS.B.blendK').
 */
export function blendLayers(tensors: readonly NamedTensor[], order?: readonly string[]): NamedTensor[] {
  const found = tensors.filter((t) => {
    if (!/blend/i.test(t.name)) return false;
    const s = t.shape;
    return (s.length === 2 || (s.length === 4 && s[2] === 1 && s[3] === 1)) && s[0] === s[1] && s[0]! > 0;
  });
  if (!order) return found.sort((a, b) => naturalCompare(a.name, b.name));
  const rank = new Map(order.map((n, i) => [n, i] as const));
  return found.sort((a, b) => (rank.get(a.name) ?? Infinity) - (rank.get(b.name) ?? Infinity) || naturalCompare(a.name, b.name));
}

/**
 * Per output row: -1 for the k smallest |w|, +1 for the k largest, 0 otherwise (row-major [n, n], weight layout
 * [out, in]). Ties are broken by column index so exactly k entries of each kind are marked.
 */
export function classifyBlendRows(w: NamedTensor): Int8Array {
  const n = w.shape[0]!;
  if (w.data.length !== n * n) throw new Error(`blend picture: ${w.name} has ${w.data.length} values, shape [${w.shape.join(', ')}] needs ${n * n}`);
  const k = blendK(n);
  const marks = new Int8Array(n * n);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let r = 0; r < n; r++) {
    const row = w.data.subarray(r * n, (r + 1) * n);
    const order = [...idx].sort((a, b) => Math.abs(row[a]!) - Math.abs(row[b]!) || a - b);
    for (let i = 0; i < k; i++) {
      marks[r * n + order[i]!] = -1;
      marks[r * n + order[n - 1 - i]!] = 1;
    }
  }
  return marks;
}

/** Cell size in pixels so that small n stays visible: about 512 px per side, 1 to 16 px per cell. */
export function blendCellSize(n: number): number {
  return Math.max(1, Math.min(16, Math.floor(512 / n)));
}

/** One blend layer as an RGBA image, cell (out r, in c) at x = c·cell, y = r·cell. */
export function blendImage(w: NamedTensor, cellSize = blendCellSize(w.shape[0]!)): RgbaImage {
  const n = w.shape[0]!;
  const marks = classifyBlendRows(w);
  const c = new Canvas(n * cellSize, n * cellSize);
  for (let r = 0; r < n; r++) {
    for (let col = 0; col < n; col++) {
      const m = marks[r * n + col]!;
      c.fillRect(col * cellSize, r * cellSize, cellSize, cellSize, m > 0 ? BLEND_RED : m < 0 ? BLEND_BLUE : BLEND_OTHER);
    }
  }
  return c.image;
}

export interface BlendPictures {
  layers: { name: string; n: number; png: Uint8Array }[];
  /** All layers in a grid, each labelled "<index>: <name> (n=<n>)". */
  sheet: Uint8Array;
}

/** Contact sheet: tiles of `tile` px in a near-square grid, label under each tile. */
export function blendContactSheet(layers: readonly NamedTensor[], tile = 256): RgbaImage {
  if (layers.length === 0) throw new Error('blend picture: no blend layers (tensors named *blend* of shape [n, n]); is this an SL checkpoint?');
  const cols = Math.ceil(Math.sqrt(layers.length));
  const rows = Math.ceil(layers.length / cols);
  const pad = 12;
  const labelH = 2 * GLYPH_HEIGHT + 10;
  const c = new Canvas(cols * (tile + pad) + pad, rows * (tile + pad + labelH) + pad);
  layers.forEach((layer, i) => {
    const x = pad + (i % cols) * (tile + pad);
    const y = pad + Math.floor(i / cols) * (tile + pad + labelH);
    c.drawImage(blendImage(layer, 1), x, y, tile, tile);
    let label = `${i}: ${layer.name} (n=${layer.shape[0]})`;
    const maxChars = Math.floor((tile + pad / 2) / 6);
    if (label.length > maxChars) label = `${label.slice(0, maxChars - 2)}..`;
    const scale = textWidth(label) <= tile / 2 ? 2 : 1;
    c.text(x, y + tile + 4 + GLYPH_HEIGHT, label, [0, 0, 0], scale, 'start');
  });
  return c.image;
}

/** PNG per blend layer (order of appearance) plus a contact sheet. */
export function renderBlendLayers(tensors: readonly NamedTensor[], order?: readonly string[]): BlendPictures {
  const layers = blendLayers(tensors, order);
  return {
    layers: layers.map((l) => ({ name: l.name, n: l.shape[0]!, png: encodePng(blendImage(l)) })),
    sheet: encodePng(blendContactSheet(layers)),
  };
}
