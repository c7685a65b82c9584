// conv2d forward as a tiled implicit GEMM: M = O (out channels), N = batch·OH·OW (positions), K = C·KH·KW.
// Each invocation keeps a TM × 4 register block: TM out channels (4, 8 or 16) × 4 positions spaced WG apart.
// Neighbouring lanes therefore read neighbouring activations (one vector load where lanes are CPU SIMD lanes,
// coalesced on a GPU) and every lane of a workgroup reads the same weight (a broadcast). No workgroup memory:
// on SIMD-lane CPU adapters a barrier per K step costs more than it saves.
// Dispatch: [ceil(P / (4·WG)), ceil(O / TM)]. Also used by blend (KH = KW = 1, m as the weight).
struct Params { N: u32, C: u32, H: u32, W: u32, O: u32, OH: u32, OW: u32, ph: i32, pw: i32, has_bias: u32 };
//#bindings p: uniform Params, x: read array<f32>, weight: read array<f32>, bias: read array<f32>, y: read_write array<f32>

//#include "lib/conv_gemm.wgsl"
//#include "lib/ids.wgsl"

//#expand conv_gemm_ld(x)

fn store(o: u32, a: vec4f, yb: vec4u, inb: vec4<bool>, ohw: u32) {
  if (o >= p.O) { return; }
  var b = 0.0;
  if (p.has_bias != 0u) { b = bias[o]; }
  let yi = yb + vec4u(o * ohw);
  if (inb.x) { y[yi.x] = a.x + b; }
  if (inb.y) { y[yi.y] = a.y + b; }
  if (inb.z) { y[yi.z] = a.z + b; }
  if (inb.w) { y[yi.w] = a.w + b; }
}

// The hooks of conv_gemm (lib/conv_gemm.wgsl) at tap (kh, kw): input row ih = oh·SH − ph + kh and column
// iw = ow·SW − pw + kw, read where they fall inside the image.
//#block forward_row()
    let ih = ih0 + vec4i(i32(kh));
    let rowok = inb & (ih >= vec4i(0)) & (ih < H);
//#end
//#block forward_col()
      let iw = iw0 + vec4i(i32(kw));
      let ok = rowok & (iw >= vec4i(0)) & (iw < W);
      var idx = xn + ih * W + iw;
//#end

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let OHW = p.OH * p.OW;
  let HW = p.H * p.W;
  let KK = KH * KW;
  let pos = vec4u(wid.x * WG * 4u + lid.x) + vec4u(0u, 1u, 2u, 3u) * WG;
  let inb = pos < vec4u(p.N * OHW);
  let n = pos / OHW;
  let r = pos % OHW;
  let oh = r / p.OW;
  let ow = r % p.OW;
  let ih0 = vec4i(oh * SH) - p.ph;
  let iw0 = vec4i(ow * SW) - p.pw;
  let xn = vec4i(n * (p.C * HW));
  let H = vec4i(i32(p.H));
  let W = vec4i(i32(p.W));
  let o0 = wid.y * TM;
  // Weight rows, clamped: invocations past O compute values that are never stored.
  let wrow = p.C * KK;
//#expand conv_gemm(o0, p.O, wrow, KK, 0u, 1u, 0u, 1u, forward_row, forward_col, p.C, HW, n * (p.O * OHW) + r, OHW)
}

// ---- Fast path: 3×3, stride 1, pad 1, W % 4 == 0 (forward, and the input gradient as a forward conv of dy with
// the flipped, transposed weight). Tuned for SwiftShader/Subzero, where a loop iteration, a storage load and a
// gather cost far more than an FMA: the 9 taps are written out, x comes from a zero-bordered copy (no padding
// tests) as aligned vec4 loads whose swizzles form the 3 kw taps, and the weight is pre-packed so that one vec4
// load feeds 4 output channels. Each invocation owns 8 output channels × R rows × 4 consecutive columns.
struct FParams { N: u32, CI: u32, CO: u32, H: u32, W4: u32, Wp4: u32, OP4: u32, wC: u32, flip: u32, has_bias: u32, accumulate: u32, total: u32,
  S: u32, cs: u32, nob: u32, psize: u32, KH3: u32 };
//#bindings q: uniform FParams, xin: read array<vec4f>, xpad: read_write array<vec4f>, xp: read array<vec4f>
//#bindings wp: read array<vec4f>, fbias: read array<f32>, yv: read_write array<vec4f>, wsrc: read array<f32>
// xps: xp as scalars (the edge taps need one float, not a vec4); partial: the split-K partial outputs, S × psize vec4s.
//#bindings wpack: read_write array<vec4f>, xps: read array<f32>, partial: read array<vec4f>

override R: u32 = 2u; // output rows per invocation (1, 2 or 4)

// xpad[n, c, H + 2, Wp4 vec4s]: x with one zero row above and below and one zero vec4 left and right.
@compute @workgroup_size(WG)
fn pad_input(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatId(gid, nwg);
  if (i >= q.total) { return; }
  let b = i % q.Wp4;
  let t = i / q.Wp4;
  let pr = t % (q.H + 2u);
  let nc = t / (q.H + 2u);
  var v = vec4f(0.0);
  if (b >= 1u && b <= q.W4 && pr >= 1u && pr <= q.H) { v = xin[(nc * q.H + pr - 1u) * q.W4 + b - 1u]; }
  xpad[i] = v;
}

// wpack[(k·9 + t)·OP4 + m/4][m % 4] = weight for out channel m, in channel k, tap t (zero past CO).
// flip = 0: wsrc is [CO, CI, 3, 3]; flip = 1 (input gradient): wsrc is [CI, CO, 3, 3] read at tap 8 − t.
@compute @workgroup_size(WG)
fn pack_weight(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatId(gid, nwg);
  if (i >= q.total) { return; }
  let mb = i % q.OP4;
  let kt = i / q.OP4;
  let t = kt % 9u;
  let k = kt / 9u;
  var v = vec4f(0.0);
  for (var j = 0u; j < 4u; j++) {
    let m = mb * 4u + j;
    if (m < q.CO) {
      if (q.flip == 0u) { v[j] = wsrc[(m * q.CI + k) * 9u + t]; } else { v[j] = wsrc[(k * q.wC + m) * 9u + 8u - t]; }
    }
  }
  wpack[i] = v;
}

// Outer product: column j = the 4 positions s times the weight of out channel j.
fn outer(s: vec4f, w: vec4f) -> mat4x4f {
  return mat4x4f(s * w.x, s * w.y, s * w.z, s * w.w);
}

// Split-K (S > 1): split `split` writes its partial sum to its slice of yv (bias and accumulate wait for
// reduce_split); S = 1 writes the result (+ bias, added by the caller). Accumulating is a pipeline constant, not a
// branch per store: lavapipe compiles with LLVM at the first dispatch, and the branches and reads for bias and
// accumulate in each of up to 128 stores cost it most of the compile time (main_rows R = 2: 8.3 s of CPU with
// them, 2.0 s without; docs/bench/conv-variants.md#compile-time). The values are the same either way.
override ACC: bool = false; // yv += result (S = 1 only; reduce_split accumulates for S > 1)
fn fstore(o: u32, row: u32, ow4: u32, n: u32, v: vec4f, split: u32) {
  if (o >= q.CO) { return; }
  let i = select(split * q.psize, 0u, q.S == 1u) + ((n * q.CO + o) * q.H + row) * q.W4 + ow4;
  if (ACC) { yv[i] = yv[i] + v; } else { yv[i] = v; }
}

// The bias of out channels o .. o + 3, or 0 (no bias, or a split's partial sum). Read once per channel group.
fn fbias4(o: u32) -> vec4f {
  if (q.has_bias == 0u || q.S != 1u) { return vec4f(0.0); }
  return vec4f(fbias[o], fbias[o + 1u], fbias[o + 2u], fbias[o + 3u]);
}

// Constant column indices: a dynamically indexed matrix would live in memory. Column j is channel o + j.
fn fstore4(o: u32, row: u32, ow4: u32, n: u32, m: mat4x4f, split: u32, b: vec4f) {
  fstore(o, row, ow4, n, m[0] + vec4f(b.x), split);
  fstore(o + 1u, row, ow4, n, m[1] + vec4f(b.y), split);
  fstore(o + 2u, row, ow4, n, m[2] + vec4f(b.z), split);
  fstore(o + 3u, row, ow4, n, m[3] + vec4f(b.w), split);
}

// The epilogue of main_fast and main_rows: R rows × 4 columns × 8 channels (a*: channels o0..o0+3, b*: o0+4..o0+7)
// stored with the bias of their channels, one vec4 per row and channel group.
fn fstore_block(o0: u32, oh: u32, ow4: u32, n: u32, split: u32, a0: mat4x4f, b0: mat4x4f, a1: mat4x4f, b1: mat4x4f, a2: mat4x4f, b2: mat4x4f, a3: mat4x4f, b3: mat4x4f) {
  let ba = fbias4(o0);
  let bb = fbias4(o0 + 4u);
  fstore4(o0, oh, ow4, n, a0, split, ba);
  fstore4(o0 + 4u, oh, ow4, n, b0, split, bb);
  if (R > 1u) {
    fstore4(o0, oh + 1u, ow4, n, a1, split, ba);
    fstore4(o0 + 4u, oh + 1u, ow4, n, b1, split, bb);
  }
  if (R > 2u) {
    fstore4(o0, oh + 2u, ow4, n, a2, split, ba);
    fstore4(o0 + 4u, oh + 2u, ow4, n, b2, split, bb);
    fstore4(o0, oh + 3u, ow4, n, a3, split, ba);
    fstore4(o0 + 4u, oh + 3u, ow4, n, b3, split, bb);
  }
}

// The kw = 0, 1, 2 taps of 4 output columns: padded row vec4s i, i+1, i+2 hold columns ow-4 .. ow+7.
struct Taps { t0: vec4f, t1: vec4f, t2: vec4f };
fn taps(i: u32) -> Taps {
  let p = xp[i];
  let m = xp[i + 1u];
  let r = xp[i + 2u];
  return Taps(vec4f(p.w, m.xyz), m, vec4f(m.yzw, r.x));
}

// Σ over the 9 taps of 4 columns × 4 out channels, rows u (kh = 0), v (kh = 1), z (kh = 2).
fn tap9(u: Taps, v: Taps, z: Taps, w0: vec4f, w1: vec4f, w2: vec4f, w3: vec4f, w4: vec4f, w5: vec4f, w6: vec4f, w7: vec4f, w8: vec4f) -> mat4x4f {
  return outer(u.t0, w0) + outer(u.t1, w1) + outer(u.t2, w2) + outer(v.t0, w3) + outer(v.t1, w4) + outer(v.t2, w5)
      + outer(z.t0, w6) + outer(z.t1, w7) + outer(z.t2, w8);
}

// main_fast and main_rows: one entry each around the same index math and epilogue, with the channel step (one in
// channel's 9 taps into the R × 4 × 8 block at xi, wi) as the hook STEP.
// Dispatch: [gx, gy, S · ceil(CO / 8)] with gx·gy·WG ≥ N·(H/R)·W4 invocations along positions; split s of S
// sums in channels [s·cs, (s + 1)·cs).
//#block fast_entry(NAME, STEP)
@compute @workgroup_size(WG)
fn {{NAME}}(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatId(gid, nwg);
  let ob = wid.z % q.nob;
  let split = wid.z / q.nob;
  if (i >= q.total) { return; }
  let ow4 = i % q.W4;
  let t = i / q.W4;
  let HR = q.H / R;
  let oh = (t % HR) * R;
  let n = t / HR;
  let rs = q.Wp4; // vec4s per padded row
  let xstep = (q.H + 2u) * rs;
  let ws = q.OP4;
  let wstep = 9u * ws;
  let c0 = split * q.cs;
  let c1 = min(c0 + q.cs, q.CI);
  var xi = ((n * q.CI + c0) * (q.H + 2u) + oh) * rs + ow4;
  var wi = ob * 2u + c0 * wstep;
  // Row j: a_j = out channels 0-3, b_j = 4-7 of the block; column k of a matrix = one channel's 4 columns.
  var a0 = mat4x4f(); var b0 = mat4x4f(); var a1 = mat4x4f(); var b1 = mat4x4f();
  var a2 = mat4x4f(); var b2 = mat4x4f(); var a3 = mat4x4f(); var b3 = mat4x4f();
  for (var c = c0; c < c1; c++) {
//#expand {{STEP}}()
    xi += xstep;
    wi += wstep;
  }
  fstore_block(ob * 8u, oh, ow4, n, split, a0, b0, a1, b1, a2, b2, a3, b3);
}
//#end

// main_fast: the 9 taps written out; the R + 2 input rows under the block are loaded once per channel.
//#block fast_step()
    let wa0 = wp[wi]; let wb0 = wp[wi + 1u];
    let wa1 = wp[wi + ws]; let wb1 = wp[wi + ws + 1u];
    let wa2 = wp[wi + 2u * ws]; let wb2 = wp[wi + 2u * ws + 1u];
    let wa3 = wp[wi + 3u * ws]; let wb3 = wp[wi + 3u * ws + 1u];
    let wa4 = wp[wi + 4u * ws]; let wb4 = wp[wi + 4u * ws + 1u];
    let wa5 = wp[wi + 5u * ws]; let wb5 = wp[wi + 5u * ws + 1u];
    let wa6 = wp[wi + 6u * ws]; let wb6 = wp[wi + 6u * ws + 1u];
    let wa7 = wp[wi + 7u * ws]; let wb7 = wp[wi + 7u * ws + 1u];
    let wa8 = wp[wi + 8u * ws]; let wb8 = wp[wi + 8u * ws + 1u];
    let x0 = taps(xi);
    let x1 = taps(xi + rs);
    let x2 = taps(xi + 2u * rs);
    a0 += tap9(x0, x1, x2, wa0, wa1, wa2, wa3, wa4, wa5, wa6, wa7, wa8);
    b0 += tap9(x0, x1, x2, wb0, wb1, wb2, wb3, wb4, wb5, wb6, wb7, wb8);
    if (R > 1u) {
      let x3 = taps(xi + 3u * rs);
      a1 += tap9(x1, x2, x3, wa0, wa1, wa2, wa3, wa4, wa5, wa6, wa7, wa8);
      b1 += tap9(x1, x2, x3, wb0, wb1, wb2, wb3, wb4, wb5, wb6, wb7, wb8);
      if (R > 2u) {
        let x4 = taps(xi + 4u * rs);
        let x5 = taps(xi + 5u * rs);
        a2 += tap9(x2, x3, x4, wa0, wa1, wa2, wa3, wa4, wa5, wa6, wa7, wa8);
        b2 += tap9(x2, x3, x4, wb0, wb1, wb2, wb3, wb4, wb5, wb6, wb7, wb8);
        a3 += tap9(x3, x4, x5, wa0, wa1, wa2, wa3, wa4, wa5, wa6, wa7, wa8);
        b3 += tap9(x3, x4, x5, wb0, wb1, wb2, wb3, wb4, wb5, wb6, wb7, wb8);
      }
    }
//#end
//#expand fast_entry(main_fast, fast_step)

// ---- main_fast with the kernel rows in a loop (lavapipe): the same block (R rows × 4 columns × 8 channels) and
// loads of the same kind, but the 3 kernel rows are a loop whose trip count (q.KH3 = 3) is a uniform, so neither
// NIR nor LLVM unrolls it. llvmpipe compiles a pipeline at its first dispatch and LLVM's time grows faster than
// the size of a straight-line block: main_fast spends 3 s (R = 1) to 13 s (R = 4) there, this one a third of the
// code per loop body (docs/bench/conv-variants.md#lavapipe). Each input row is loaded once per kernel row that
// uses it (3 R vec4 triples per channel, main_fast: R + 2), which costs little where a loop iteration is cheap.
//#block rows_step()
    for (var kh = 0u; kh < q.KH3; kh++) {
      let wk = wi + kh * 3u * ws;
      let wa0 = wp[wk]; let wb0 = wp[wk + 1u];
      let wa1 = wp[wk + ws]; let wb1 = wp[wk + ws + 1u];
      let wa2 = wp[wk + 2u * ws]; let wb2 = wp[wk + 2u * ws + 1u];
      let xk = xi + kh * rs;
      let x0 = taps(xk);
      a0 += outer(x0.t0, wa0) + outer(x0.t1, wa1) + outer(x0.t2, wa2);
      b0 += outer(x0.t0, wb0) + outer(x0.t1, wb1) + outer(x0.t2, wb2);
      if (R > 1u) {
        let x1 = taps(xk + rs);
        a1 += outer(x1.t0, wa0) + outer(x1.t1, wa1) + outer(x1.t2, wa2);
        b1 += outer(x1.t0, wb0) + outer(x1.t1, wb1) + outer(x1.t2, wb2);
      }
      if (R > 2u) {
        let x2 = taps(xk + 2u * rs);
        let x3 = taps(xk + 3u * rs);
        a2 += outer(x2.t0, wa0) + outer(x2.t1, wa1) + outer(x2.t2, wa2);
        b2 += outer(x2.t0, wb0) + outer(x2.t1, wb1) + outer(x2.t2, wb2);
        a3 += outer(x3.t0, wa0) + outer(x3.t1, wa1) + outer(x3.t2, wa2);
        b3 += outer(x3.t0, wb0) + outer(x3.t1, wb1) + outer(x3.t2, wb2);
      }
    }
//#end
//#expand fast_entry(main_rows, rows_step)

// yv (=, or += when accumulate) = Σ over the S partial slices in order (deterministic) + bias; i < psize vec4s.
@compute @workgroup_size(WG)
fn reduce_split(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatId(gid, nwg);
  if (i >= q.psize) { return; }
  var v = partial[i];
  for (var s = 1u; s < q.S; s++) { v += partial[s * q.psize + i]; }
  if (q.has_bias != 0u) { v += vec4f(fbias[(i / (q.H * q.W4)) % q.CO]); }
  if (q.accumulate != 0u) { v += yv[i]; }
  yv[i] = v;
}

// ---- Wide fast path for software adapters: 4 output rows × 8 columns (two vec4s) × 16 out channels per
// invocation, so each float read feeds 19 FMAs instead of 8 (a storage read costs ~35 FMAs there; bench/loads.mjs).
// Same taps and tap9 sums as main_fast, so every output gets bit-identical arithmetic. Needs H % 4 == 0,
// W % 8 == 0 and the weight packed with OP4 a multiple of 4. Dispatch: [gx, gy, ceil(CO / 16)] with
// gx·gy·WG ≥ N·(H/4)·(W4/2).
struct Taps2 { a: Taps, b: Taps };
fn taps2(i: u32) -> Taps2 {
  let p = xp[i];
  let m = xp[i + 1u];
  let r = xp[i + 2u];
  let s = xp[i + 3u];
  return Taps2(Taps(vec4f(p.w, m.xyz), m, vec4f(m.yzw, r.x)), Taps(vec4f(m.w, r.xyz), r, vec4f(r.yzw, s.x)));
}

@compute @workgroup_size(WG)
fn main_wide(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatId(gid, nwg);
  let ob = wid.z;
  if (i >= q.total) { return; }
  let W8 = q.W4 / 2u;
  let cb = i % W8;
  let t = i / W8;
  let HR = q.H / 4u;
  let oh = (t % HR) * 4u;
  let n = t / HR;
  let rs = q.Wp4;
  let xstep = (q.H + 2u) * rs;
  let ws = q.OP4;
  let wstep = 9u * ws;
  var xi = ((n * q.CI) * (q.H + 2u) + oh) * rs + cb * 2u;
  var wi = ob * 4u;
  // aRVG: row R, column vec4 V (0 = a, 1 = b), channel group G (4 channels).
  var a000 = mat4x4f(); var a001 = mat4x4f(); var a002 = mat4x4f(); var a003 = mat4x4f();
  var a010 = mat4x4f(); var a011 = mat4x4f(); var a012 = mat4x4f(); var a013 = mat4x4f();
  var a100 = mat4x4f(); var a101 = mat4x4f(); var a102 = mat4x4f(); var a103 = mat4x4f();
  var a110 = mat4x4f(); var a111 = mat4x4f(); var a112 = mat4x4f(); var a113 = mat4x4f();
  var a200 = mat4x4f(); var a201 = mat4x4f(); var a202 = mat4x4f(); var a203 = mat4x4f();
  var a210 = mat4x4f(); var a211 = mat4x4f(); var a212 = mat4x4f(); var a213 = mat4x4f();
  var a300 = mat4x4f(); var a301 = mat4x4f(); var a302 = mat4x4f(); var a303 = mat4x4f();
  var a310 = mat4x4f(); var a311 = mat4x4f(); var a312 = mat4x4f(); var a313 = mat4x4f();
  for (var c = 0u; c < q.CI; c++) {
    let w00 = wp[wi + 0u]; let w01 = wp[wi + 1u * ws + 0u]; let w02 = wp[wi + 2u * ws + 0u]; let w03 = wp[wi + 3u * ws + 0u]; let w04 = wp[wi + 4u * ws + 0u]; let w05 = wp[wi + 5u * ws + 0u]; let w06 = wp[wi + 6u * ws + 0u]; let w07 = wp[wi + 7u * ws + 0u]; let w08 = wp[wi + 8u * ws + 0u];
    let w10 = wp[wi + 1u]; let w11 = wp[wi + 1u * ws + 1u]; let w12 = wp[wi + 2u * ws + 1u]; let w13 = wp[wi + 3u * ws + 1u]; let w14 = wp[wi + 4u * ws + 1u]; let w15 = wp[wi + 5u * ws + 1u]; let w16 = wp[wi + 6u * ws + 1u]; let w17 = wp[wi + 7u * ws + 1u]; let w18 = wp[wi + 8u * ws + 1u];
    let w20 = wp[wi + 2u]; let w21 = wp[wi + 1u * ws + 2u]; let w22 = wp[wi + 2u * ws + 2u]; let w23 = wp[wi + 3u * ws + 2u]; let w24 = wp[wi + 4u * ws + 2u]; let w25 = wp[wi + 5u * ws + 2u]; let w26 = wp[wi + 6u * ws + 2u]; let w27 = wp[wi + 7u * ws + 2u]; let w28 = wp[wi + 8u * ws + 2u];
    let w30 = wp[wi + 3u]; let w31 = wp[wi + 1u * ws + 3u]; let w32 = wp[wi + 2u * ws + 3u]; let w33 = wp[wi + 3u * ws + 3u]; let w34 = wp[wi + 4u * ws + 3u]; let w35 = wp[wi + 5u * ws + 3u]; let w36 = wp[wi + 6u * ws + 3u]; let w37 = wp[wi + 7u * ws + 3u]; let w38 = wp[wi + 8u * ws + 3u];
    let x0 = taps2(xi);
    let x1 = taps2(xi + 1u * rs);
    let x2 = taps2(xi + 2u * rs);
    let x3 = taps2(xi + 3u * rs);
    let x4 = taps2(xi + 4u * rs);
    let x5 = taps2(xi + 5u * rs);
    a000 += tap9(x0.a, x1.a, x2.a, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a001 += tap9(x0.a, x1.a, x2.a, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a002 += tap9(x0.a, x1.a, x2.a, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a003 += tap9(x0.a, x1.a, x2.a, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    a010 += tap9(x0.b, x1.b, x2.b, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a011 += tap9(x0.b, x1.b, x2.b, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a012 += tap9(x0.b, x1.b, x2.b, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a013 += tap9(x0.b, x1.b, x2.b, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    a100 += tap9(x1.a, x2.a, x3.a, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a101 += tap9(x1.a, x2.a, x3.a, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a102 += tap9(x1.a, x2.a, x3.a, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a103 += tap9(x1.a, x2.a, x3.a, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    a110 += tap9(x1.b, x2.b, x3.b, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a111 += tap9(x1.b, x2.b, x3.b, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a112 += tap9(x1.b, x2.b, x3.b, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a113 += tap9(x1.b, x2.b, x3.b, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    a200 += tap9(x2.a, x3.a, x4.a, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a201 += tap9(x2.a, x3.a, x4.a, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a202 += tap9(x2.a, x3.a, x4.a, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a203 += tap9(x2.a, x3.a, x4.a, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    a210 += tap9(x2.b, x3.b, x4.b, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a211 += tap9(x2.b, x3.b, x4.b, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a212 += tap9(x2.b, x3.b, x4.b, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a213 += tap9(x2.b, x3.b, x4.b, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    a300 += tap9(x3.a, x4.a, x5.a, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a301 += tap9(x3.a, x4.a, x5.a, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a302 += tap9(x3.a, x4.a, x5.a, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a303 += tap9(x3.a, x4.a, x5.a, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    a310 += tap9(x3.b, x4.b, x5.b, w00, w01, w02, w03, w04, w05, w06, w07, w08);
    a311 += tap9(x3.b, x4.b, x5.b, w10, w11, w12, w13, w14, w15, w16, w17, w18);
    a312 += tap9(x3.b, x4.b, x5.b, w20, w21, w22, w23, w24, w25, w26, w27, w28);
    a313 += tap9(x3.b, x4.b, x5.b, w30, w31, w32, w33, w34, w35, w36, w37, w38);
    xi += xstep;
    wi += wstep;
  }
  let o0 = ob * 16u;
  let b0 = fbias4(o0);
  let b1 = fbias4(o0 + 4u);
  let b2 = fbias4(o0 + 8u);
  let b3 = fbias4(o0 + 12u);
  fstore4(o0 + 0u, oh + 0u, cb * 2u + 0u, n, a000, 0u, b0);
  fstore4(o0 + 4u, oh + 0u, cb * 2u + 0u, n, a001, 0u, b1);
  fstore4(o0 + 8u, oh + 0u, cb * 2u + 0u, n, a002, 0u, b2);
  fstore4(o0 + 12u, oh + 0u, cb * 2u + 0u, n, a003, 0u, b3);
  fstore4(o0 + 0u, oh + 0u, cb * 2u + 1u, n, a010, 0u, b0);
  fstore4(o0 + 4u, oh + 0u, cb * 2u + 1u, n, a011, 0u, b1);
  fstore4(o0 + 8u, oh + 0u, cb * 2u + 1u, n, a012, 0u, b2);
  fstore4(o0 + 12u, oh + 0u, cb * 2u + 1u, n, a013, 0u, b3);
  fstore4(o0 + 0u, oh + 1u, cb * 2u + 0u, n, a100, 0u, b0);
  fstore4(o0 + 4u, oh + 1u, cb * 2u + 0u, n, a101, 0u, b1);
  fstore4(o0 + 8u, oh + 1u, cb * 2u + 0u, n, a102, 0u, b2);
  fstore4(o0 + 12u, oh + 1u, cb * 2u + 0u, n, a103, 0u, b3);
  fstore4(o0 + 0u, oh + 1u, cb * 2u + 1u, n, a110, 0u, b0);
  fstore4(o0 + 4u, oh + 1u, cb * 2u + 1u, n, a111, 0u, b1);
  fstore4(o0 + 8u, oh + 1u, cb * 2u + 1u, n, a112, 0u, b2);
  fstore4(o0 + 12u, oh + 1u, cb * 2u + 1u, n, a113, 0u, b3);
  fstore4(o0 + 0u, oh + 2u, cb * 2u + 0u, n, a200, 0u, b0);
  fstore4(o0 + 4u, oh + 2u, cb * 2u + 0u, n, a201, 0u, b1);
  fstore4(o0 + 8u, oh + 2u, cb * 2u + 0u, n, a202, 0u, b2);
  fstore4(o0 + 12u, oh + 2u, cb * 2u + 0u, n, a203, 0u, b3);
  fstore4(o0 + 0u, oh + 2u, cb * 2u + 1u, n, a210, 0u, b0);
  fstore4(o0 + 4u, oh + 2u, cb * 2u + 1u, n, a211, 0u, b1);
  fstore4(o0 + 8u, oh + 2u, cb * 2u + 1u, n, a212, 0u, b2);
  fstore4(o0 + 12u, oh + 2u, cb * 2u + 1u, n, a213, 0u, b3);
  fstore4(o0 + 0u, oh + 3u, cb * 2u + 0u, n, a300, 0u, b0);
  fstore4(o0 + 4u, oh + 3u, cb * 2u + 0u, n, a301, 0u, b1);
  fstore4(o0 + 8u, oh + 3u, cb * 2u + 0u, n, a302, 0u, b2);
  fstore4(o0 + 12u, oh + 3u, cb * 2u + 0u, n, a303, 0u, b3);
  fstore4(o0 + 0u, oh + 3u, cb * 2u + 1u, n, a310, 0u, b0);
  fstore4(o0 + 4u, oh + 3u, cb * 2u + 1u, n, a311, 0u, b1);
  fstore4(o0 + 8u, oh + 3u, cb * 2u + 1u, n, a312, 0u, b2);
  fstore4(o0 + 12u, oh + 3u, cb * 2u + 1u, n, a313, 0u, b3);
}
