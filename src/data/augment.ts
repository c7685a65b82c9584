// Training augmentation fused with normalisation: one pass from uint8 CHW to normalised float32 CHW.

export interface AugmentOptions {
  /** Random crop of the original size from the image zero-padded by `pad` pixels on every side. */
  crop?: boolean;
  /** Random horizontal flip (off for digits, where a flip changes the class). */
  flip?: boolean;
  /** Crop padding in pixels (default 4). */
  pad?: number;
}

export interface ResolvedAugment {
  crop: boolean;
  flip: boolean;
  pad: number;
}

/** `true` means crop + flip with padding 4; `false`/undefined means none. */
export function resolveAugment(a: boolean | AugmentOptions | undefined): ResolvedAugment {
  if (a === undefined || a === false) return { crop: false, flip: false, pad: 0 };
  if (a === true) return { crop: true, flip: true, pad: 4 };
  const pad = a.pad ?? 4;
  if (!Number.isInteger(pad) || pad < 0) throw new Error(`augment: pad must be a non-negative integer, got ${pad}`);
  return { crop: a.crop ?? false, flip: a.flip ?? false, pad: a.crop ? pad : 0 };
}

/** Per-channel 256-entry tables mapping a byte to (v/255 − mean)/std, so the hot loop is a lookup. */
export function normalisationTables(mean: number[], std: number[]): Float32Array[] {
  return mean.map((m, c) => {
    const s = std[c];
    if (!(s > 0)) throw new Error(`normalisation: std of channel ${c} must be > 0, got ${s}`);
    const t = new Float32Array(256);
    for (let v = 0; v < 256; v++) t[v] = (v / 255 - m) / s;
    return t;
  });
}

/**
 * Writes one image into `out` at `outOffset`: output pixel (x, y) is padded(x' + dx, y + dy) where x' = W−1−x when
 * flipped, padded(·) being the source image with zeros outside (so padding normalises to −mean/std, as in torchvision).
 */
export function writeImage(
  out: Float32Array,
  outOffset: number,
  src: Uint8Array,
  srcOffset: number,
  channels: number,
  height: number,
  width: number,
  tables: Float32Array[],
  dx: number,
  dy: number,
  flip: boolean,
): void {
  const plane = height * width;
  for (let c = 0; c < channels; c++) {
    const t = tables[c];
    const padValue = t[0];
    const sPlane = srcOffset + c * plane;
    const oPlane = outOffset + c * plane;
    if (dx === 0 && dy === 0 && !flip) {
      for (let i = 0; i < plane; i++) out[oPlane + i] = t[src[sPlane + i]];
      continue;
    }
    for (let y = 0; y < height; y++) {
      const sy = y + dy;
      const o = oPlane + y * width;
      if (sy < 0 || sy >= height) {
        out.fill(padValue, o, o + width);
        continue;
      }
      const sRow = sPlane + sy * width;
      if (!flip) {
        // Output columns [x0, x1) read inside the source row; the rest is padding.
        const x0 = Math.max(0, -dx);
        const x1 = Math.min(width, width - dx);
        if (x0 > 0) out.fill(padValue, o, o + x0);
        for (let x = x0; x < x1; x++) out[o + x] = t[src[sRow + x + dx]];
        if (x1 < width) out.fill(padValue, o + x1, o + width);
      } else {
        for (let x = 0; x < width; x++) {
          const sx = width - 1 - x + dx;
          out[o + x] = sx >= 0 && sx < width ? t[src[sRow + sx]] : padValue;
        }
      }
    }
  }
}
