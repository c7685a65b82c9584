// Pictures of SL blend layers (the n×n 1×1 mixing matrices). Input channels along x, output channels along y;
// in each output row the k smallest-|w| entries are blue and the k largest-|w| red, k = min(32, floor(n/2)) so
// the two sets never overlap (for odd n < 64 the middle entry stays grey). Pure: returns RGBA pixels; PNG files and
// the labelled contact sheet are made in Node by src/analysis/image-node.ts (sharp).

export type Rgb = readonly [number, number, number];

/** 8-bit RGBA pixels, row-major, 4 bytes per pixel. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export interface NamedTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

export const BLEND_RED: Rgb = [214, 39, 40];
export const BLEND_BLUE: Rgb = [31, 119, 180];
export const BLEND_OTHER: Rgb = [236, 236, 236];

/** The paper's k per row: 32, at most half the row so largest and smallest sets are disjoint (`onelayer blends --k 32`). */
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
export function classifyBlendRows(w: NamedTensor, k = readableBlendK(w.shape[0]!)): Int8Array {
  const n = w.shape[0]!;
  if (w.data.length !== n * n) throw new Error(`blend picture: ${w.name} has ${w.data.length} values, shape [${w.shape.join(', ')}] needs ${n * n}`);
  if (!Number.isInteger(k) || k < 0 || 2 * k > n) throw new Error(`blend picture: k = ${k} for ${w.name}: an integer in [0, ${Math.floor(n / 2)}] is needed so the red and blue sets stay disjoint`);
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
export function blendImage(w: NamedTensor, cellSize = blendCellSize(w.shape[0]!), k = readableBlendK(w.shape[0]!)): RgbaImage {
  const n = w.shape[0]!;
  const marks = classifyBlendRows(w, k);
  const width = n * cellSize;
  const data = new Uint8Array(width * width * 4);
  for (let y = 0; y < width; y++) {
    for (let x = 0; x < width; x++) {
      const m = marks[Math.floor(y / cellSize) * n + Math.floor(x / cellSize)]!;
      const c = m > 0 ? BLEND_RED : m < 0 ? BLEND_BLUE : BLEND_OTHER;
      data.set([c[0], c[1], c[2], 255], (y * width + x) * 4);
    }
  }
  return { width, height: width, data };
}

/**
 * A k that leaves most of a small blend grey: min(32, max(1, floor(n/8))). blendK's n/2 cap colours EVERY cell of an
 * even n < 64 red or blue (which reads as noise); with n/8 the marked cells stay the extremes, and n ≥ 256 keeps
 * the paper's 32. The default k of the page and of `onelayer blends` alike, so both draw the same picture.
 */
export function readableBlendK(n: number): number {
  return Math.min(32, Math.max(1, Math.floor(n / 8)), Math.floor(n / 2));
}

/** Diverging colour for v in [-scale, scale]: BLEND_BLUE (negative) through BLEND_OTHER (0) to BLEND_RED (positive). */
export function divergingColor(v: number, scale: number): Rgb {
  const t = scale > 0 && Number.isFinite(v) ? Math.max(-1, Math.min(1, v / scale)) : 0;
  const end = t < 0 ? BLEND_BLUE : BLEND_RED;
  const a = Math.abs(t);
  return [0, 1, 2].map((i) => Math.round(BLEND_OTHER[i]! + (end[i]! - BLEND_OTHER[i]!) * a)) as unknown as Rgb;
}

/** The signed values of an n×n matrix (a blend, or its change since initialisation) on the divergingColor scale. */
export function blendValueImage(w: NamedTensor, scale: number, cellSize = blendCellSize(w.shape[0]!)): RgbaImage {
  const n = w.shape[0]!;
  if (w.data.length !== n * n) throw new Error(`blend picture: ${w.name} has ${w.data.length} values, shape [${w.shape.join(', ')}] needs ${n * n}`);
  const width = n * cellSize;
  const data = new Uint8Array(width * width * 4);
  for (let y = 0; y < width; y++) {
    for (let x = 0; x < width; x++) {
      const c = divergingColor(w.data[Math.floor(y / cellSize) * n + Math.floor(x / cellSize)]!, scale);
      data.set([c[0], c[1], c[2], 255], (y * width + x) * 4);
    }
  }
  return { width, height: width, data };
}
