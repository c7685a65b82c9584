// The register-block 3×3 fast path shared by conv2d_forward (main_fast, main_rows) and conv2d_forward_sg
// (main_rows_sg): taps, outer products, the epilogue and the entry around a channel step. The including kernel
// declares FParams as q, the bindings xp (input, padded unless PADIN: array<vec4<XT>>, XT = f32 or f16, widened
// to f32 as it is loaded), wp (packed weight, f32), fbias, yv, the override WG, and taps(i, pr) (conv2d_forward:
// taps_load; conv2d_forward_sg: with the neighbours' loads shared).

override R: u32 = 2u; // output rows per invocation (1, 2 or 4)

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

// PADIN (main_fast, main_rows): read x itself instead of pad_input's zero-bordered copy, with the border made of
// selects on the loads of the edge rows and columns (one dispatch and one pass over x fewer per conv). The index
// math stays that of the padded layout with rows of W4 vec4s: i points one vec4 left of the centre, and
// `pr` = padded row (0 and H + 1 are the zero rows). edgeL / edgeR: this invocation's columns touch the border.
override PADIN: bool = false;
var<private> edgeL: bool;
var<private> edgeR: bool;

// The kw = 0, 1, 2 taps of 4 output columns: padded row vec4s i, i+1, i+2 hold columns ow-4 .. ow+7.
struct Taps { t0: vec4f, t1: vec4f, t2: vec4f };
// The including kernel defines taps(i, pr): taps_load's loads, or (conv2d_forward_sg) neighbours' loads shared.
fn taps_load(i: u32, pr: u32) -> Taps {
  var l: vec4f;
  var m: vec4f;
  var r: vec4f;
  if (PADIN) {
    let rowok = pr >= 1u && pr <= q.H;
    let lok = rowok && !edgeL;
    let rok = rowok && !edgeR;
    l = select(vec4f(0.0), vec4f(xp[select(0u, i, lok)]), lok);
    m = select(vec4f(0.0), vec4f(xp[select(0u, i + 1u, rowok)]), rowok);
    r = select(vec4f(0.0), vec4f(xp[select(0u, i + 2u, rok)]), rok);
  } else {
    l = vec4f(xp[i]);
    m = vec4f(xp[i + 1u]);
    r = vec4f(xp[i + 2u]);
  }
  return Taps(vec4f(l.w, m.xyz), m, vec4f(m.yzw, r.x));
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
// LANE declares one more builtin parameter, `lane` (the subgroup kernel's lane id; unused by the others). No early
// return for invocations past the end: they compute on the last position and store nothing, so that control flow
// stays uniform up to the stores (subgroup operations in STEP need every lane).
//#block fast_entry(NAME, STEP, LANE)
@compute @workgroup_size(WG)
fn {{NAME}}(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, {{LANE}}) {
  let id = flatId(gid, nwg);
  let live = id < q.total;
  let i = min(id, q.total - 1u);
  let ob = wid.z % q.nob;
  let split = wid.z / q.nob;
  let ow4 = i % q.W4;
  let t = i / q.W4;
  let HR = q.H / R;
  let oh = (t % HR) * R;
  let n = t / HR;
  let rs = select(q.Wp4, q.W4, PADIN); // vec4s per (padded) row
  let xstep = select(q.H + 2u, q.H, PADIN) * rs;
  let ws = q.OP4;
  let wstep = 9u * ws;
  let c0 = split * q.cs;
  let c1 = min(c0 + q.cs, q.CI);
  // PADIN: the row above oh, one vec4 left of ow4 (u32 arithmetic wraps there; taps() reads no such index).
  var xi = select(((n * q.CI + c0) * (q.H + 2u) + oh) * rs + ow4, ((n * q.CI + c0) * q.H + oh) * rs + ow4 - rs - 1u, PADIN);
  edgeL = ow4 == 0u;
  edgeR = ow4 + 1u == q.W4;
  var wi = ob * 2u + c0 * wstep;
  // Row j: a_j = out channels 0-3, b_j = 4-7 of the block; column k of a matrix = one channel's 4 columns.
  var a0 = mat4x4f(); var b0 = mat4x4f(); var a1 = mat4x4f(); var b1 = mat4x4f();
  var a2 = mat4x4f(); var b2 = mat4x4f(); var a3 = mat4x4f(); var b3 = mat4x4f();
  for (var c = c0; c < c1; c++) {
//#expand {{STEP}}()
    xi += xstep;
    wi += wstep;
  }
  if (live) { fstore_block(ob * 8u, oh, ow4, n, split, a0, b0, a1, b1, a2, b2, a3, b3); }
}
//#end

// ---- main_fast with the kernel rows in a loop (lavapipe): the same block (R rows × 4 columns × 8 channels) and
// loads of the same kind, but the 3 kernel rows are a loop whose trip count (q.KH3 = 3) is a uniform, so neither
// NIR nor LLVM unrolls it. llvmpipe compiles a pipeline at its first dispatch and LLVM's time grows faster than
// the size of a straight-line block: main_fast spends 3 s (R = 1) to 13 s (R = 4) there, this one a third of the
// code per loop body (docs/bench/conv-variants.md#lavapipe). Each input row is loaded once per kernel row that
// uses it (3 R vec4 triples per channel, main_fast: R + 2), which costs little where a loop iteration is cheap.
// WLOAD: the hook that loads kernel row kh's weights, wa0..wa2 (out channels 0-3 of the block, taps kw = 0..2)
// and wb0..wb2 (channels 4-7), from wk.
//#block rows_step(WLOAD)
    for (var kh = 0u; kh < q.KH3; kh++) {
      let wk = wi + kh * 3u * ws;
//#expand {{WLOAD}}()
      let xk = xi + kh * rs;
      let x0 = taps(xk, oh + kh);
      a0 += outer(x0.t0, wa0) + outer(x0.t1, wa1) + outer(x0.t2, wa2);
      b0 += outer(x0.t0, wb0) + outer(x0.t1, wb1) + outer(x0.t2, wb2);
      if (R > 1u) {
        let x1 = taps(xk + rs, oh + kh + 1u);
        a1 += outer(x1.t0, wa0) + outer(x1.t1, wa1) + outer(x1.t2, wa2);
        b1 += outer(x1.t0, wb0) + outer(x1.t1, wb1) + outer(x1.t2, wb2);
      }
      if (R > 2u) {
        let x2 = taps(xk + 2u * rs, oh + kh + 2u);
        let x3 = taps(xk + 3u * rs, oh + kh + 3u);
        a2 += outer(x2.t0, wa0) + outer(x2.t1, wa1) + outer(x2.t2, wa2);
        b2 += outer(x2.t0, wb0) + outer(x2.t1, wb1) + outer(x2.t2, wb2);
        a3 += outer(x3.t0, wa0) + outer(x3.t1, wa1) + outer(x3.t2, wa2);
        b3 += outer(x3.t0, wb0) + outer(x3.t1, wb1) + outer(x3.t2, wb2);
      }
    }
//#end

// Each lane loads the 6 weight vec4s itself (main_rows).
//#block rows_w_storage()
      let wa0 = wp[wk]; let wb0 = wp[wk + 1u];
      let wa1 = wp[wk + ws]; let wb1 = wp[wk + ws + 1u];
      let wa2 = wp[wk + 2u * ws]; let wb2 = wp[wk + 2u * ws + 1u];
//#end
