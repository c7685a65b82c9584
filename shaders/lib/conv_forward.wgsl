// The body of conv2d_forward (f32 operands) and conv2d_forward_h (f16 operands): the includer declares
// `alias XT` (f32 or f16), the element type of the operands x and weight (and of the fast path's input, its
// zero-bordered copy and the weight it packs). Every operand load widens to f32 (an identity where XT = f32), all
// sums are f32 and so are y, the packed weight, the bias and the split-K partial sums: the f32 kernel computes what it
// did before the twin existed, and the f16 one the same sums of the rounded operands.
// conv2d forward as a tiled implicit GEMM: M = O (out channels), N = batch·OH·OW (positions), K = C·KH·KW.
// Each invocation keeps a TM × 4 register block: TM out channels (4, 8 or 16) × 4 positions spaced WG apart.
// Neighbouring lanes therefore read neighbouring activations (one vector load where lanes are CPU SIMD lanes,
// coalesced on a GPU) and every lane of a workgroup reads the same weight (a broadcast). No workgroup memory:
// on SIMD-lane CPU adapters a barrier per K step costs more than it saves.
// Dispatch: [ceil(P / (4·WG)), ceil(O / TM)]. Also used by blend (KH = KW = 1, m as the weight).
struct Params { N: u32, C: u32, H: u32, W: u32, O: u32, OH: u32, OW: u32, ph: i32, pw: i32, has_bias: u32 };
//#bindings p: uniform Params, x: read array<XT>, weight: read array<XT>, bias: read array<f32>, y: read_write array<f32>

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
//#bindings q: uniform FParams, xin: read array<vec4<XT>>, xpad: read_write array<vec4<XT>>, xp: read array<vec4<XT>>
//#bindings wp: read array<vec4f>, fbias: read array<f32>, yv: read_write array<vec4f>, wsrc: read array<XT>
// xps: xp as scalars (the edge taps need one float, not a vec4); partial: the split-K partial outputs, S × psize vec4s.
//#bindings wpack: read_write array<vec4f>, xps: read array<f32>, partial: read array<vec4f>

// xpad[n, c, H + 2, Wp4 vec4s]: x with one zero row above and below and one zero vec4 left and right.
@compute @workgroup_size(WG)
fn pad_input(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatId(gid, nwg);
  if (i >= q.total) { return; }
  let b = i % q.Wp4;
  let t = i / q.Wp4;
  let pr = t % (q.H + 2u);
  let nc = t / (q.H + 2u);
  var v = vec4<XT>(0.0);
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
      if (q.flip == 0u) { v[j] = f32(wsrc[(m * q.CI + k) * 9u + t]); } else { v[j] = f32(wsrc[(k * q.wC + m) * 9u + 8u - t]); }
    }
  }
  wpack[i] = v;
}

//#include "lib/conv_fast.wgsl"

fn taps(i: u32, pr: u32) -> Taps { return taps_load(i, pr); }


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
    let x0 = taps(xi, oh);
    let x1 = taps(xi + rs, oh + 1u);
    let x2 = taps(xi + 2u * rs, oh + 2u);
    a0 += tap9(x0, x1, x2, wa0, wa1, wa2, wa3, wa4, wa5, wa6, wa7, wa8);
    b0 += tap9(x0, x1, x2, wb0, wb1, wb2, wb3, wb4, wb5, wb6, wb7, wb8);
    if (R > 1u) {
      let x3 = taps(xi + 3u * rs, oh + 3u);
      a1 += tap9(x1, x2, x3, wa0, wa1, wa2, wa3, wa4, wa5, wa6, wa7, wa8);
      b1 += tap9(x1, x2, x3, wb0, wb1, wb2, wb3, wb4, wb5, wb6, wb7, wb8);
      if (R > 2u) {
        let x4 = taps(xi + 4u * rs, oh + 4u);
        let x5 = taps(xi + 5u * rs, oh + 5u);
        a2 += tap9(x2, x3, x4, wa0, wa1, wa2, wa3, wa4, wa5, wa6, wa7, wa8);
        b2 += tap9(x2, x3, x4, wb0, wb1, wb2, wb3, wb4, wb5, wb6, wb7, wb8);
        a3 += tap9(x3, x4, x5, wa0, wa1, wa2, wa3, wa4, wa5, wa6, wa7, wa8);
        b3 += tap9(x3, x4, x5, wb0, wb1, wb2, wb3, wb4, wb5, wb6, wb7, wb8);
      }
    }
//#end
//#expand fast_entry(main_fast, fast_step, @builtin(local_invocation_index) lane: u32)

//#block rows_step_storage()
//#expand rows_step(rows_w_storage)
//#end
//#expand fast_entry(main_rows, rows_step_storage, @builtin(local_invocation_index) lane: u32)

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
