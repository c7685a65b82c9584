// Folding an SL blend into the conv that follows it: conv(blend(x, m), w) = conv(x, w′) with
//   w′[o,i,t] = Σ_c w[o,c,t] · m[c,i]          (w [O, C, T], m [C, I], w′ [O, I, T]; t = kh·KW + kw)
// and its two gradients (g = dw′):
//   dw[o,c,t] += Σ_i g[o,i,t] · m[c,i]         (grad_w: one GEMM per tap, g_t · mᵀ)
//   dm[c,i]   += Σ_{o,t} w[o,c,t] · g[o,i,t]   (grad_m: one GEMM with K = O·T, Σ_t w_tᵀ · g_t)
// All three are the same 16×16-tiled GEMM out[r, s] (+)= Σ_k A(r, k) · B(k, s) with different index maps;
// workgroup_id.z is the tap for fold and grad_w. Each output element is owned by one invocation that sums
// k in a fixed order: deterministic, no atomics. The sizes are ~9·n³ multiply-adds, tiny next to the convs.
struct Params { O: u32, C: u32, I: u32, T: u32 };
//#bindings p: uniform Params, w: read array<f32>, m: read array<f32>, g: read array<f32>, out: read_write array<f32>

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

// put(i, v, add): out[i] = v, or out[i] += v when add (the gradients accumulate, beta = 1).
fn put(i: u32, v: f32, add: bool) {
  if (add) { out[i] = out[i] + v; } else { out[i] = v; }
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
//#expand tiled(fold, fold, p.C, p.O, p.I, (r * p.I + s) * p.T + t, false)
//#expand tiled(grad_w, gw, p.I, p.O, p.C, (r * p.C + s) * p.T + t, true)
//#expand tiled(grad_m, gm, p.O * p.T, p.C, p.I, r * p.I + s, true)

// ---- The same three GEMMs for software adapters (SwiftShader): no workgroup memory, whose barriers cost more
// there than the whole GEMM (the tiled fold took 95 ms at n = 64). Each invocation owns a 4 × 4 block
// out[r0 .. r0+3, s0 .. s0+3] at tap t and sums k in order (deterministic). The blocks are numbered in one
// dimension (s fastest, then r, then t) so that the few blocks of a small fold fill whole workgroups: on lavapipe
// a grid of [S / 4, R / 4, T] workgroups of mostly idle lanes cost 0.5 ms per fold at n = 16 (36 workgroups for
// 144 blocks). Dispatch: ceil(ceil(S / 4) · ceil(R / 4) · (T or 1) / 64) workgroups along x.
//#block gather4(V)
fn a4_{{V}}(r0: u32, k: u32, t: u32) -> vec4f {
  return vec4f({{V}}_a(r0, k, t), {{V}}_a(r0 + 1u, k, t), {{V}}_a(r0 + 2u, k, t), {{V}}_a(r0 + 3u, k, t));
}
fn b4_{{V}}(k: u32, s0: u32) -> vec4f {
  return vec4f({{V}}_b(k, s0), {{V}}_b(k, s0 + 1u), {{V}}_b(k, s0 + 2u), {{V}}_b(k, s0 + 3u));
}
//#end
//#expand gather4(fold)
//#expand gather4(gw)
//#expand gather4(gm)

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
//#expand direct(fold_direct, fold, p.C, p.O, p.I, p.T, false)
//#expand direct(grad_w_direct, gw, p.I, p.O, p.C, p.T, true)
//#expand direct(grad_m_direct, gm, p.O * p.T, p.C, p.I, 1u, true)
