// The fold of an SL blend into the conv that follows it, and its gradients (shared piece of fold_blend.wgsl, f32,
// and fold_blend_h.wgsl, whose folded weight is f16). The includer declares `alias OT = f32;` or `f16` (the
// element type of `out`/`out4`, the folded weight; everything else, gradients included, is f32) and expands the
// entries it has. conv(blend(x, m), w) = conv(x, w′) with
//   w′[o,i,t] = Σ_c w[o,c,t] · m[c,i]          (w [O, C, T], m [C, I], w′ [O, I, T]; t = kh·KW + kw)
// and its two gradients (g = dw′):
//   dw[o,c,t] += Σ_i g[o,i,t] · m[c,i]         (grad_w: one GEMM per tap, g_t · mᵀ)
//   dm[c,i]   += Σ_{o,t} w[o,c,t] · g[o,i,t]   (grad_m: one GEMM with K = O·T, Σ_t w_tᵀ · g_t)
// Three forms of each (src/ops/fold.ts picks): a 16×16-tiled GEMM (GPU), a `_direct` GEMM of 4 × 4 blocks
// without workgroup memory (software adapters, any shape) and a `_vec` form (software adapters, 3×3 taps, C and I
// multiples of 4; fold and grad_m) that reads whole 4-channel × 9-tap blocks as 9 vec4s. Each output element is owned by one
// invocation that sums in a fixed order: deterministic, no atomics. The sizes are ~9·n³ multiply-adds.
struct Params { O: u32, C: u32, I: u32, T: u32 };
//#bindings p: uniform Params, w: read array<f32>, m: read array<f32>, g: read array<f32>, out: read_write array<OT>
// The _vec entries' views of the same tensors; gm4 is dm.
//#bindings w4: read array<vec4f>, m4: read array<vec4f>, g4: read array<vec4f>, out4: read_write array<vec4<OT>>
//#bindings gm4: read_write array<vec4f>

const TS: u32 = 16u;

var<workgroup> As: array<f32, TS * TS>; // As[r * TS + k]
var<workgroup> Bs: array<f32, TS * TS>; // Bs[k * TS + s]

// A(r, k) and B(k, s) of each entry point; out of range reads 0 so partial tiles need no branches later.
fn fold_a(r: u32, k: u32, t: u32) -> f32 {
  if (r >= p.O || k >= p.C) { return 0.0; }
  return w[(r * p.C + k) * p.T + t];
}
fn fold_b(k: u32, s: u32) -> f32 {
  if (k >= p.C || s >= p.I) { return 0.0; }
  return m[k * p.I + s];
}
fn gw_a(r: u32, k: u32, t: u32) -> f32 {
  if (r >= p.O || k >= p.I) { return 0.0; }
  return g[(r * p.I + k) * p.T + t];
}
fn gw_b(k: u32, s: u32) -> f32 {
  if (k >= p.I || s >= p.C) { return 0.0; }
  return m[s * p.I + k];
}
// grad_m: k = o·T + t runs over (o, t); its output has no tap axis, so the tap argument is unused (always 0).
fn gm_a(r: u32, k: u32, t: u32) -> f32 {
  if (r >= p.C || k >= p.O * p.T) { return 0.0; }
  let o = k / p.T;
  return w[(o * p.C + r) * p.T + (k - o * p.T)];
}
fn gm_b(k: u32, s: u32) -> f32 {
  if (k >= p.O * p.T || s >= p.I) { return 0.0; }
  let o = k / p.T;
  return g[(o * p.I + s) * p.T + (k - o * p.T)];
}

fn dot_tile(lid: vec3u) -> f32 {
  var acc = 0.0;
  for (var k = 0u; k < TS; k++) {
    acc = fma(As[lid.y * TS + k], Bs[k * TS + lid.x], acc);
  }
  return acc;
}

// put(i, v, add): out[i] = v, or out[i] += v when add (the gradients accumulate, beta = 1; they are f32 only).
fn put(i: u32, v: f32, add: bool) {
  if (add) { out[i] = OT(f32(out[i]) + v); } else { out[i] = OT(v); }
}

// One tiled GEMM entry: NAME sums k over [0, KDIM) of V_a(r, k, t) · V_b(k, s) for r < R, s < S, t = the tap
// (workgroup_id.z; 0 for grad_m), and puts the sum at out[INDEX] (INDEX in r, s, t), adding when ADD.
//#block tiled(NAME, V, KDIM, R, S, INDEX, ADD)
@compute @workgroup_size(16, 16)
fn {{NAME}}(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = wid.z;
  let r = wid.y * TS + lid.y;
  let s = wid.x * TS + lid.x;
  var acc = 0.0;
  let K = {{KDIM}};
  for (var k0 = 0u; k0 < K; k0 += TS) {
    As[lid.y * TS + lid.x] = {{V}}_a(wid.y * TS + lid.y, k0 + lid.x, t);
    Bs[lid.y * TS + lid.x] = {{V}}_b(k0 + lid.y, wid.x * TS + lid.x);
    workgroupBarrier();
    acc += dot_tile(lid);
    workgroupBarrier();
  }
  if (r < {{R}} && s < {{S}}) { put({{INDEX}}, acc, {{ADD}}); }
}
//#end

// ---- The same three GEMMs for software adapters: no workgroup memory, whose barriers cost more there than the
// whole GEMM (the tiled fold took 95 ms at n = 64 on SwiftShader). Each invocation owns a 4 × 4 block
// out[r0 .. r0+3, s0 .. s0+3] at tap t and sums k in order (deterministic). The blocks are numbered in one
// dimension (s fastest, then r, then t) so that the few blocks of a small fold fill whole workgroups.
// Dispatch: ceil(ceil(S / 4) · ceil(R / 4) · (T or 1) / 64) workgroups along x.
//#block gather4(V)
fn a4_{{V}}(r0: u32, k: u32, t: u32) -> vec4f {
  return vec4f({{V}}_a(r0, k, t), {{V}}_a(r0 + 1u, k, t), {{V}}_a(r0 + 2u, k, t), {{V}}_a(r0 + 3u, k, t));
}
fn b4_{{V}}(k: u32, s0: u32) -> vec4f {
  return vec4f({{V}}_b(k, s0), {{V}}_b(k, s0 + 1u), {{V}}_b(k, s0 + 2u), {{V}}_b(k, s0 + 3u));
}
//#end

// out[(r · S + s) · T + t] (=, or += when add) for the block's in-range elements; row j of the block is acc[j].
fn put4(r0: u32, s0: u32, t: u32, R: u32, S: u32, T: u32, acc: mat4x4f, add: bool) {
  for (var j = 0u; j < 4u; j++) {
    let r = r0 + j;
    for (var q = 0u; q < 4u; q++) {
      let s = s0 + q;
      if (r < R && s < S) {
        put((r * S + s) * T + t, acc[j][q], add);
      }
    }
  }
}

fn outer4(a: vec4f, b: vec4f) -> mat4x4f {
  return mat4x4f(b * a.x, b * a.y, b * a.z, b * a.w);
}

// One direct GEMM entry, the same sums as tiled(NAME, …); grad_m's output is [C, I]: one tap (T = 1 for put4).
//#block direct(NAME, V, KDIM, R, S, T, ADD)
@compute @workgroup_size(64)
fn {{NAME}}(@builtin(global_invocation_id) gid: vec3u) {
  let SB = ({{S}} + 3u) / 4u;
  let RB = ({{R}} + 3u) / 4u;
  if (gid.x >= SB * RB * {{T}}) { return; }
  let s0 = (gid.x % SB) * 4u;
  let r0 = (gid.x / SB % RB) * 4u;
  let t = gid.x / (SB * RB);
  var acc = mat4x4f();
  for (var k = 0u; k < {{KDIM}}; k++) { acc += outer4(a4_{{V}}(r0, k, t), b4_{{V}}(k, s0)); }
  put4(r0, s0, t, {{R}}, {{S}}, {{T}}, acc, {{ADD}});
}
//#end

// ---- _vec: 3×3 taps, C and I multiples of 4 (software adapters; fold and grad_m, grad_w keeps its direct form:
// its _vec twin ran no faster on lavapipe and took 2.7 s of CPU to compile). A load costs lavapipe 15–35 FMAs per
// float whatever its width (docs/bench/conv-variants.md), and the direct form loads 8 floats (with bounds branches)
// per 16 FMAs. Here 4 channels' taps w[o, c0..c0+3, 0..8] are 36 contiguous floats starting at a multiple of 4:
// 9 aligned vec4s, split into the 4 channels' rows by swizzles (free: llvmpipe holds a vec4 as 4 registers). One
// step reads 13 vec4s (fold) or 18 (grad_m) for 144 FMAs, with no branch. Sums run in order over c or o:
// deterministic.
// Dispatch: one invocation per 4-channel block of the output, workgroups of VWG (8 = one AVX2 subgroup on
// lavapipe: even grad_m's C/4 · I/4 = 64 blocks at n = 32 spread over both cores).
const VWG: u32 = 8u;

// One channel's 9 taps, and 4 channels' (36 contiguous floats).
struct R9 { a: vec4f, b: vec4f, c: f32 };
struct B4 { r0: R9, r1: R9, r2: R9, r3: R9 };

fn unpack9(v0: vec4f, v1: vec4f, v2: vec4f, v3: vec4f, v4: vec4f, v5: vec4f, v6: vec4f, v7: vec4f, v8: vec4f) -> B4 {
  return B4(
    R9(v0, v1, v2.x),
    R9(vec4f(v2.yzw, v3.x), vec4f(v3.yzw, v4.x), v4.y),
    R9(vec4f(v4.zw, v5.xy), vec4f(v5.zw, v6.xy), v6.z),
    R9(vec4f(v6.w, v7.xyz), vec4f(v7.w, v8.xyz), v8.w),
  );
}

// The 9 vec4s from vec4 index b on of g, as 4 rows.
fn g9(b: u32) -> B4 { return unpack9(g4[b], g4[b + 1u], g4[b + 2u], g4[b + 3u], g4[b + 4u], g4[b + 5u], g4[b + 6u], g4[b + 7u], g4[b + 8u]); }

// The 9 vec4s of a block, in memory order (the inverse of unpack9).
fn pack9(x: B4) -> array<vec4f, 9> {
  return array<vec4f, 9>(
    x.r0.a, x.r0.b, vec4f(x.r0.c, x.r1.a.xyz), vec4f(x.r1.a.w, x.r1.b.xyz), vec4f(x.r1.b.w, x.r1.c, x.r2.a.xy),
    vec4f(x.r2.a.zw, x.r2.b.xy), vec4f(x.r2.b.zw, x.r2.c, x.r3.a.x), vec4f(x.r3.a.yzw, x.r3.b.x), vec4f(x.r3.b.yzw, x.r3.c),
  );
}

// acc + s · r, tap by tap.
fn axpy(acc: R9, s: f32, r: R9) -> R9 { return R9(acc.a + s * r.a, acc.b + s * r.b, acc.c + s * r.c); }

fn dot9(x: R9, y: R9) -> f32 { return dot(x.a, y.a) + dot(x.b, y.b) + x.c * y.c; }

// x · each of y's 4 rows.
fn dots4(x: R9, y: B4) -> vec4f { return vec4f(dot9(x, y.r0), dot9(x, y.r1), dot9(x, y.r2), dot9(x, y.r3)); }

fn zero9() -> B4 { return B4(R9(vec4f(), vec4f(), 0.0), R9(vec4f(), vec4f(), 0.0), R9(vec4f(), vec4f(), 0.0), R9(vec4f(), vec4f(), 0.0)); }

// acc row q += s[q] · r (one channel's 9 taps into the block's 4 rows).
fn axpyRows(acc: B4, s: vec4f, r: R9) -> B4 { return B4(axpy(acc.r0, s.x, r), axpy(acc.r1, s.y, r), axpy(acc.r2, s.z, r), axpy(acc.r3, s.w, r)); }

// fold, block u = (o, i0 = 4·(u mod I/4)): out[o, i0..i0+3, :] = Σ_c m[c, i0..i0+3] ⊗ w[o, c, :], c in order. One
// channel a step (9 f32 loads of w, one vec4 of m, 36 FMAs): a step of 4 channels (their 36 taps as 9 aligned vec4s,
// 144 FMAs) loaded less but took 2–2.5 s of CPU to compile cold, this one compiles like the direct form.
fn fold_vec_block(u: u32) {
  let IB = p.I / 4u;
  let o = u / IB;
  let i0 = (u - o * IB) * 4u;
  var acc = zero9();
  for (var c = 0u; c < p.C; c++) {
    let k = (o * p.C + c) * 9u;
    let r = R9(vec4f(w[k], w[k + 1u], w[k + 2u], w[k + 3u]), vec4f(w[k + 4u], w[k + 5u], w[k + 6u], w[k + 7u]), w[k + 8u]);
    acc = axpyRows(acc, m4[(c * p.I + i0) / 4u], r);
  }
  let v = pack9(acc);
  let b = (o * p.I + i0) * 9u / 4u;
  out4[b] = vec4<OT>(v[0]); out4[b + 1u] = vec4<OT>(v[1]); out4[b + 2u] = vec4<OT>(v[2]);
  out4[b + 3u] = vec4<OT>(v[3]); out4[b + 4u] = vec4<OT>(v[4]); out4[b + 5u] = vec4<OT>(v[5]);
  out4[b + 6u] = vec4<OT>(v[6]); out4[b + 7u] = vec4<OT>(v[7]); out4[b + 8u] = vec4<OT>(v[8]);
}

// grad_m, block u = (c0, i0): dm[c0..c0+3, i0..i0+3] += Σ_o Σ_t w[o, c, t] · g[o, i, t], o in order. g's 4 rows
// (9 aligned vec4s) are loaded first, then w's 4 rows one at a time (unpack9's swizzles), each dotted with all four.
fn grad_m_vec_block(u: u32) {
  let IB = p.I / 4u;
  let cb = u / IB;
  let c0 = cb * 4u;
  let i0 = (u - cb * IB) * 4u;
  var a0 = vec4f();
  var a1 = vec4f();
  var a2 = vec4f();
  var a3 = vec4f();
  for (var o = 0u; o < p.O; o++) {
    let y = g9((o * p.I + i0) * 9u / 4u);
    let b = (o * p.C + c0) * 9u / 4u;
    let v0 = w4[b];
    let v1 = w4[b + 1u];
    let v2 = w4[b + 2u];
    a0 += dots4(R9(v0, v1, v2.x), y);
    let v3 = w4[b + 3u];
    let v4 = w4[b + 4u];
    a1 += dots4(R9(vec4f(v2.yzw, v3.x), vec4f(v3.yzw, v4.x), v4.y), y);
    let v5 = w4[b + 5u];
    let v6 = w4[b + 6u];
    a2 += dots4(R9(vec4f(v4.zw, v5.xy), vec4f(v5.zw, v6.xy), v6.z), y);
    let v7 = w4[b + 7u];
    let v8 = w4[b + 8u];
    a3 += dots4(R9(vec4f(v6.w, v7.xyz), vec4f(v7.w, v8.xyz), v8.w), y);
  }
  let b = (c0 * p.I + i0) / 4u;
  gm4[b] += a0;
  gm4[b + IB] += a1;
  gm4[b + 2u * IB] += a2;
  gm4[b + 3u * IB] += a3;
}

// One _vec entry: NAME runs BLOCK(u) for u < COUNT blocks.
//#block vec(NAME, BLOCK, COUNT)
@compute @workgroup_size(VWG)
fn {{NAME}}(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < {{COUNT}}) { {{BLOCK}}(gid.x); }
}
//#end
