/** Helpers shared by the CPU references: error measure and central finite differences (float64). */

/** Max |a − b| and max |b| (the tolerance is relative to the reference's scale). */
export function maxErr(a: ArrayLike<number>, b: ArrayLike<number>): { err: number; scale: number } {
  if (a.length !== b.length) throw new Error(`maxErr: lengths differ (${a.length} vs ${b.length})`);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { err, scale };
}

/** Central finite differences of a scalar function f at v, float64, for checking analytic gradients. */
export function centralDiff(f: (v: Float64Array) => number, v: ArrayLike<number>, h = 1e-6): Float64Array {
  const p = Float64Array.from(v);
  const g = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const keep = p[i];
    p[i] = keep + h;
    const up = f(p);
    p[i] = keep - h;
    const down = f(p);
    p[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}
