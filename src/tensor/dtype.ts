// Element types of tensors. f32 is the default and what every op takes; f16 (WebGPU's `shader-f16`) holds the
// operands of the mixed-precision ops (conv, blend, linear: see src/ops/cast.ts), which accumulate in f32.

export type DType = 'f32' | 'f16';

/**
 * How a model computes: 'f32' everywhere (the default), or 'mixed': conv, blend and linear take f16 operands
 * (activations and weight copies, accumulating in f32) while parameters, gradients, optimizer state and BatchNorm
 * stay f32 (Module.setPrecision; the trainer adds dynamic loss scaling).
 */
export type Precision = 'f32' | 'mixed';
export const PRECISIONS: readonly Precision[] = ['f32', 'mixed'];

/** Bytes per element. */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = { f32: 4, f16: 2 };

/**
 * Bytes a tensor of `size` elements occupies: WebGPU binds storage buffers in multiples of 4 bytes, and the f16
 * kernels read vec4<f16> (8 bytes), so an f16 tensor is padded to a multiple of 8.
 */
export function byteSizeOf(size: number, dtype: DType): number {
  return dtype === 'f32' ? size * 4 : Math.ceil(size / 4) * 8;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE binary16 bits of `value`, rounded to nearest even (overflow to ±inf, NaN stays NaN). */
export function halfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    // Subnormal: the implicit bit joins the mantissa, shifted right by 14 - e, rounded to nearest even.
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let h = m >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent, which is the right result (up to inf).
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  return h;
}

/** The value of IEEE binary16 bits. */
export function halfValue(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** values rounded to f16, as the bit patterns a GPU buffer holds (padded to byteSizeOf). */
export function toHalf(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(byteSizeOf(values.length, 'f16') / 2);
  for (let i = 0; i < values.length; i++) out[i] = halfBits(values[i]);
  return out;
}

/** The first `size` f16 values of a buffer's bytes, widened to f32. */
export function fromHalf(bytes: ArrayBuffer, size: number): Float32Array {
  const bits = new Uint16Array(bytes, 0, size);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = halfValue(bits[i]);
  return out;
}

/** `value` rounded to the nearest f16 (as a number): what a CPU reference uses for an f16 operand. */
export function roundHalf(value: number): number {
  return halfValue(halfBits(value));
}
