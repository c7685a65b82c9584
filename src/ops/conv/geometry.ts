import { fail } from '../util.js';

/** Geometry of one 2-D convolution (NCHW activations, OIHW weights). Blend is the 1×1, stride 1, pad 0 case. */
export interface ConvGeom {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
}

/** Lanes per workgroup of the conv kernels. Every kernel keeps a register block per invocation (see the shaders). */
export const WG = 64;

export function pair(op: string, what: string, v: number | [number, number] | undefined, dflt: number, min: number): [number, number] {
  const p: [number, number] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!Array.isArray(v) && v !== undefined && typeof v !== 'number') fail(op, `${what} must be a number or [h, w], got ${String(v)}`);
  if (p.some((d) => !Number.isInteger(d) || d < min)) fail(op, `${what} must be integer(s) ≥ ${min}, got ${JSON.stringify(v)}`);
  return p;
}

export function geomParams(g: ConvGeom): Record<string, number> {
  return { N: g.N, C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, ph: g.ph, pw: g.pw };
}

export function shapeConsts(g: ConvGeom): Record<string, number> {
  return { WG, KH: g.KH, KW: g.KW, SH: g.sh, SW: g.sw };
}

export function convFlops(g: ConvGeom): number {
  return 2 * g.N * g.O * g.OH * g.OW * g.C * g.KH * g.KW;
}

export function checkGrid(op: string, g: ConvGeom, n: number): void {
  if (n > 65535) fail(op, `too many positions for one dispatch (batch ${g.N}, ${g.H}×${g.W}): ${n} workgroups exceed 65535`);
}

/** Workgroups for n invocations of WG lanes, folded into 2-D past the 65535 limit (kernels guard with `total`). */
export function grid(n: number): [number, number] {
  const g = Math.max(1, Math.ceil(n / WG));
  return g <= 65535 ? [g, 1] : [65535, Math.ceil(g / 65535)];
}

/** Channels per invocation (4, 8 or 16) of the general kernels: the largest block that does not mostly compute padding. */
export function channelTile(n: number): number {
  return n >= 16 ? 16 : n >= 8 ? 8 : 4;
}

/** The 3×3 / stride 1 / pad 1 case with W % 4 == 0 (vec4 rows): the unrolled fast kernels (main_fast and kin). */
export function isFast3x3(g: ConvGeom): boolean {
  return g.KH === 3 && g.KW === 3 && g.sh === 1 && g.sw === 1 && g.ph === 1 && g.pw === 1 && g.W % 4 === 0;
}

/** The geometry of the input gradient as a conv: dy [N, O, OH, OW] convolved into dx [N, C, H, W] (stride 1 only). */
export function transposedGeom(g: ConvGeom): ConvGeom {
  return { N: g.N, C: g.O, H: g.OH, W: g.OW, O: g.C, KH: g.KH, KW: g.KW, OH: g.H, OW: g.W, sh: 1, sw: 1, ph: g.KH - 1 - g.ph, pw: g.KW - 1 - g.pw };
}
