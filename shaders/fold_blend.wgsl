// Folding an SL blend into the conv that follows it: conv(blend(x, m), w) = conv(x, w′) with
//   w′[o,i,t] = Σ_c w[o,c,t] · m[c,i]          (w [O, C, T], m [C, I], w′ [O, I, T]; t = kh·KW + kw)
// and its two gradients (g = dw′):
//   dw[o,c,t] += Σ_i g[o,i,t] · m[c,i]         (grad_w: one GEMM per tap, g_t · mᵀ)
//   dm[c,i]   += Σ_{o,t} w[o,c,t] · g[o,i,t]   (grad_m: one GEMM with K = O·T, Σ_t w_tᵀ · g_t)
// All three are the same 16×16-tiled GEMM out[r, s] (+)= Σ_k A(r, k) · B(k, s) with different index maps;
// workgroup_id.z is the tap for fold and grad_w. Each output element is owned by one invocation that sums
// k in a fixed order: deterministic, no atomics. The sizes are ~9·n³ multiply-adds, tiny next to the convs.
struct Params { O: u32, C: u32, I: u32, T: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> m: array<f32>;
@group(0) @binding(3) var<storage, read> g: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

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
// grad_m: k = o·T + t runs over (o, t).
fn gm_a(r: u32, k: u32) -> f32 {
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

@compute @workgroup_size(16, 16)
fn fold(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = wid.z;
  let r = wid.y * TS + lid.y; // o
  let s = wid.x * TS + lid.x; // i
  var acc = 0.0;
  for (var k0 = 0u; k0 < p.C; k0 += TS) {
    As[lid.y * TS + lid.x] = fold_a(wid.y * TS + lid.y, k0 + lid.x, t);
    Bs[lid.y * TS + lid.x] = fold_b(k0 + lid.y, wid.x * TS + lid.x);
    workgroupBarrier();
    acc += dot_tile(lid);
    workgroupBarrier();
  }
  if (r < p.O && s < p.I) { out[(r * p.I + s) * p.T + t] = acc; }
}

@compute @workgroup_size(16, 16)
fn grad_w(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let t = wid.z;
  let r = wid.y * TS + lid.y; // o
  let s = wid.x * TS + lid.x; // c
  var acc = 0.0;
  for (var k0 = 0u; k0 < p.I; k0 += TS) {
    As[lid.y * TS + lid.x] = gw_a(wid.y * TS + lid.y, k0 + lid.x, t);
    Bs[lid.y * TS + lid.x] = gw_b(k0 + lid.y, wid.x * TS + lid.x);
    workgroupBarrier();
    acc += dot_tile(lid);
    workgroupBarrier();
  }
  if (r < p.O && s < p.C) {
    let j = (r * p.C + s) * p.T + t;
    out[j] = out[j] + acc;
  }
}

@compute @workgroup_size(16, 16)
fn grad_m(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let r = wid.y * TS + lid.y; // c
  let s = wid.x * TS + lid.x; // i
  var acc = 0.0;
  let K = p.O * p.T;
  for (var k0 = 0u; k0 < K; k0 += TS) {
    As[lid.y * TS + lid.x] = gm_a(wid.y * TS + lid.y, k0 + lid.x);
    Bs[lid.y * TS + lid.x] = gm_b(k0 + lid.y, wid.x * TS + lid.x);
    workgroupBarrier();
    acc += dot_tile(lid);
    workgroupBarrier();
  }
  if (r < p.C && s < p.I) {
    let j = r * p.I + s;
    out[j] = out[j] + acc;
  }
}

// ---- The same three GEMMs for software adapters (SwiftShader): no workgroup memory, whose barriers cost more
// there than the whole GEMM (the tiled fold took 95 ms at n = 64). Each invocation owns a 4 × 4 block
// out[r0 .. r0+3, s0 .. s0+3] and sums k in order (deterministic). Dispatch: [ceil(S / 256), ceil(R / 4), T or 1].
fn a4_fold(r0: u32, k: u32, t: u32) -> vec4f {
  return vec4f(fold_a(r0, k, t), fold_a(r0 + 1u, k, t), fold_a(r0 + 2u, k, t), fold_a(r0 + 3u, k, t));
}
fn b4_fold(k: u32, s0: u32) -> vec4f {
  return vec4f(fold_b(k, s0), fold_b(k, s0 + 1u), fold_b(k, s0 + 2u), fold_b(k, s0 + 3u));
}
fn a4_gw(r0: u32, k: u32, t: u32) -> vec4f {
  return vec4f(gw_a(r0, k, t), gw_a(r0 + 1u, k, t), gw_a(r0 + 2u, k, t), gw_a(r0 + 3u, k, t));
}
fn b4_gw(k: u32, s0: u32) -> vec4f {
  return vec4f(gw_b(k, s0), gw_b(k, s0 + 1u), gw_b(k, s0 + 2u), gw_b(k, s0 + 3u));
}
fn a4_gm(r0: u32, k: u32) -> vec4f {
  return vec4f(gm_a(r0, k), gm_a(r0 + 1u, k), gm_a(r0 + 2u, k), gm_a(r0 + 3u, k));
}
fn b4_gm(k: u32, s0: u32) -> vec4f {
  return vec4f(gm_b(k, s0), gm_b(k, s0 + 1u), gm_b(k, s0 + 2u), gm_b(k, s0 + 3u));
}

// out[(r · S + s) · T + t] (=, or += when add) for the block's in-range elements; row j of the block is acc[j].
fn put4(r0: u32, s0: u32, t: u32, R: u32, S: u32, T: u32, acc: mat4x4f, add: bool) {
  for (var j = 0u; j < 4u; j++) {
    let r = r0 + j;
    for (var q = 0u; q < 4u; q++) {
      let s = s0 + q;
      if (r < R && s < S) {
        let i = (r * S + s) * T + t;
        if (add) { out[i] = out[i] + acc[j][q]; } else { out[i] = acc[j][q]; }
      }
    }
  }
}

fn outer4(a: vec4f, b: vec4f) -> mat4x4f {
  return mat4x4f(b * a.x, b * a.y, b * a.z, b * a.w);
}

@compute @workgroup_size(64)
fn fold_direct(@builtin(global_invocation_id) gid: vec3u) {
  let s0 = gid.x * 4u;
  let r0 = gid.y * 4u;
  let t = gid.z;
  if (s0 >= p.I) { return; }
  var acc = mat4x4f();
  for (var k = 0u; k < p.C; k++) { acc += outer4(a4_fold(r0, k, t), b4_fold(k, s0)); }
  put4(r0, s0, t, p.O, p.I, p.T, acc, false);
}

@compute @workgroup_size(64)
fn grad_w_direct(@builtin(global_invocation_id) gid: vec3u) {
  let s0 = gid.x * 4u;
  let r0 = gid.y * 4u;
  let t = gid.z;
  if (s0 >= p.C) { return; }
  var acc = mat4x4f();
  for (var k = 0u; k < p.I; k++) { acc += outer4(a4_gw(r0, k, t), b4_gw(k, s0)); }
  put4(r0, s0, t, p.O, p.C, p.T, acc, true);
}

// grad_m's output is [C, I]: no tap axis (T = 1 for put4).
@compute @workgroup_size(64)
fn grad_m_direct(@builtin(global_invocation_id) gid: vec3u) {
  let s0 = gid.x * 4u;
  let r0 = gid.y * 4u;
  if (s0 >= p.I) { return; }
  var acc = mat4x4f();
  for (var k = 0u; k < p.O * p.T; k++) { acc += outer4(a4_gm(r0, k), b4_gm(k, s0)); }
  put4(r0, s0, 0u, p.C, p.I, 1u, acc, true);
}
