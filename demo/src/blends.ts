// SL blend matrices drawn as the paper draws them: input channels along x, output channels along y; in every
// output row the k smallest-|w| entries blue and the k largest red (k = 32, or n/2 when n < 64 so the two sets
// stay disjoint), everything else white.

export const BLEND_TOP_K = 32;

const WHITE = [255, 255, 255] as const;
const BLUE = [31, 84, 214] as const;
const RED = [214, 39, 40] as const;

/** How many entries per row are coloured each way for an n×n blend. */
export function blendK(n: number): number {
  return Math.max(1, Math.min(BLEND_TOP_K, Math.floor(n / 2)));
}

/** RGBA pixels (n×n, one per weight) of a row-major [out, in] blend weight. */
export function blendPixels(weight: Float32Array, n: number): Uint8ClampedArray<ArrayBuffer> {
  if (weight.length !== n * n) throw new Error(`blendPixels: ${n}×${n} weight expected, got ${weight.length} values`);
  const k = blendK(n);
  const px = new Uint8ClampedArray(n * n * 4);
  const order: number[] = [];
  const rank = new Int32Array(n);
  for (let o = 0; o < n; o++) {
    const row = o * n;
    for (let i = 0; i < n; i++) order[i] = i;
    // Sort by |w|, ties by column, so equal rows draw identically.
    order.sort((a, b) => Math.abs(weight[row + a]) - Math.abs(weight[row + b]) || a - b);
    for (let r = 0; r < n; r++) rank[order[r]] = r;
    for (let i = 0; i < n; i++) {
      const c = rank[i] < k ? BLUE : rank[i] >= n - k ? RED : WHITE;
      const p = (row + i) * 4;
      px[p] = c[0];
      px[p + 1] = c[1];
      px[p + 2] = c[2];
      px[p + 3] = 255;
    }
  }
  return px;
}

/** Draws one blend into a canvas, scaled up with hard pixel edges (at least 2 device pixels per weight). */
export function drawBlend(canvas: HTMLCanvasElement, weight: Float32Array, n: number, size = 160): void {
  const scale = Math.max(2, Math.floor(size / n));
  canvas.width = n * scale;
  canvas.height = n * scale;
  const g = canvas.getContext('2d');
  if (!g) return;
  const src = new OffscreenCanvas(n, n);
  src.getContext('2d')!.putImageData(new ImageData(blendPixels(weight, n), n, n), 0, 0);
  g.imageSmoothingEnabled = false;
  g.drawImage(src, 0, 0, n * scale, n * scale);
}
