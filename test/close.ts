import { expect } from 'vitest';
import { maxErr } from './reference/common.js';

/** GPU result against a CPU reference: max abs error ≤ 1e-4 × max |reference|, and the reference is not all zeros. */
export function close(what: string, got: ArrayLike<number>, want: ArrayLike<number>): void {
  const { err, scale } = maxErr(got, want);
  expect(scale, `${what}: reference is all zeros`).toBeGreaterThan(0);
  expect(err, `${what}: max abs error ${err} vs max |ref| ${scale}`).toBeLessThanOrEqual(1e-4 * scale);
}
