// conv2d weight and bias gradients, deterministic and without float atomics.
// Weight gradient as an implicit GEMM: M = O, N = C·KH·KW, K = batch·OH·OW (positions).
//   dw[o,c,kh,kw] += Σ_{n,oh,ow} dy[n,o,oh,ow] · x[n,c,oh·SH−ph+kh, ow·SW−pw+kw]
// A workgroup owns a TM × 4 tile of dw (TM out channels × 4 consecutive (c,kh,kw) entries) and one split of K.
// Lanes run along K (positions), so neighbouring lanes read neighbouring dy and x values; each lane keeps its
// own TM × 4 partial sums, which are summed across lanes in a fixed order in workgroup memory at the end
// (one barrier per workgroup, not per K step).
//   main_direct: one split covers all of K; adds the tile into dw.
//   main_split + reduce_partials: S splits write partial[s][o][e]; reduce_partials adds Σ_s into dw in order.
// bias_grad: db[o] += Σ_{n,oh,ow} dy[n,o,oh,ow], one workgroup per channel.
// Also used by blend (KH = KW = 1, m's gradient as dw).
struct Params { N: u32, C: u32, H: u32, W: u32, O: u32, OH: u32, OW: u32, ph: i32, pw: i32, qchunk: u32, S: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;
@group(0) @binding(5) var<storage, read_write> db: array<f32>;

override WG: u32 = 64u; // power of two; WG · TM · 4 ≤ 2048
override TM: u32 = 4u;  // 4 or 8 out channels per workgroup
override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;

var<workgroup> red: array<f32, 2048>;

// floor(q / d) for q < 2^24 via a float reciprocal and one correction step each way: integer division is
// scalarised per lane on SIMD CPUs, and this runs once per position.
fn fdiv(q: u32, d: u32, inv: f32) -> u32 {
  var n = u32(f32(q) * inv);
  n = select(n, n - 1u, n * d > q);
  n = select(n, n + 1u, (n + 1u) * d <= q);
  return n;
}

fn ld(i: i32, ok: bool) -> f32 {
  return select(0.0, x[u32(max(i, 0))], ok);
}

// Fills red[(i·4 + j)·WG + lane] with this lane's partial sums for the workgroup's tile and split.
fn tile_sums(lane: u32, wid: vec3u) {
  let OHW = p.OH * p.OW;
  let HW = p.H * p.W;
  let KK = KH * KW;
  let CKK = p.C * KK;
  let e0 = wid.x * 4u;
  let o0 = wid.y * TM;
  // The 4 (c, kh, kw) entries of the tile: offsets relative to (n, oh·SH, ow·SW), clamped at the end.
  let e = min(vec4u(e0) + vec4u(0u, 1u, 2u, 3u), vec4u(CKK - 1u));
  let cj = e / KK;
  let kk = e % KK;
  let dh = vec4i(kk / KW) - p.ph;
  let dwv = vec4i(kk % KW) - p.pw;
  let xo = vec4i(cj * HW) + dh * i32(p.W) + dwv;
  let H = vec4i(i32(p.H));
  let W = vec4i(i32(p.W));
  let d0 = min(o0, p.O - 1u) * OHW;
  let d1 = min(o0 + 1u, p.O - 1u) * OHW;
  let d2 = min(o0 + 2u, p.O - 1u) * OHW;
  let d3 = min(o0 + 3u, p.O - 1u) * OHW;
  let d4 = min(o0 + 4u, p.O - 1u) * OHW;
  let d5 = min(o0 + 5u, p.O - 1u) * OHW;
  let d6 = min(o0 + 6u, p.O - 1u) * OHW;
  let d7 = min(o0 + 7u, p.O - 1u) * OHW;
  let invOHW = 1.0 / f32(OHW);
  let invOW = 1.0 / f32(p.OW);
  var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
  var a4 = vec4f(0.0); var a5 = vec4f(0.0); var a6 = vec4f(0.0); var a7 = vec4f(0.0);
  let qs = wid.z * p.qchunk;
  let qe = min(qs + p.qchunk, p.N * OHW);
  for (var q = qs + lane; q < qe; q += WG) {
    let n = fdiv(q, OHW, invOHW);
    let r = q - n * OHW;
    let oh = fdiv(r, p.OW, invOW);
    let ow = r - oh * p.OW;
    let ih = vec4i(i32(oh * SH)) + dh;
    let iw = vec4i(i32(ow * SW)) + dwv;
    let ok = (ih >= vec4i(0)) & (ih < H) & (iw >= vec4i(0)) & (iw < W);
    let idx = vec4i(i32(n * p.C * HW + oh * SH * p.W + ow * SW)) + xo;
    let v = vec4f(ld(idx.x, ok.x), ld(idx.y, ok.y), ld(idx.z, ok.z), ld(idx.w, ok.w));
    let db0 = n * p.O * OHW + r;
    a0 = fma(vec4f(dy[db0 + d0]), v, a0);
    a1 = fma(vec4f(dy[db0 + d1]), v, a1);
    a2 = fma(vec4f(dy[db0 + d2]), v, a2);
    a3 = fma(vec4f(dy[db0 + d3]), v, a3);
    if (TM > 4u) {
      a4 = fma(vec4f(dy[db0 + d4]), v, a4);
      a5 = fma(vec4f(dy[db0 + d5]), v, a5);
      a6 = fma(vec4f(dy[db0 + d6]), v, a6);
      a7 = fma(vec4f(dy[db0 + d7]), v, a7);
    }
  }
  put(0u, a0, lane); put(1u, a1, lane); put(2u, a2, lane); put(3u, a3, lane);
  if (TM > 4u) { put(4u, a4, lane); put(5u, a5, lane); put(6u, a6, lane); put(7u, a7, lane); }
  workgroupBarrier();
}

fn put(i: u32, a: vec4f, lane: u32) {
  red[(i * 4u) * WG + lane] = a.x;
  red[(i * 4u + 1u) * WG + lane] = a.y;
  red[(i * 4u + 2u) * WG + lane] = a.z;
  red[(i * 4u + 3u) * WG + lane] = a.w;
}

// Sum over the lanes of tile entry t (fixed order: deterministic).
fn lane_sum(t: u32) -> f32 {
  var s = 0.0;
  for (var l = 0u; l < WG; l++) { s += red[t * WG + l]; }
  return s;
}

@compute @workgroup_size(WG)
fn main_direct(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  tile_sums(lid.x, wid);
  let t = lid.x;
  let o = wid.y * TM + t / 4u;
  let e = wid.x * 4u + t % 4u;
  let CKK = p.C * KH * KW;
  if (t < TM * 4u && o < p.O && e < CKK) {
    dw[o * CKK + e] += lane_sum(t);
  }
}

@compute @workgroup_size(WG)
fn main_split(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  tile_sums(lid.x, wid);
  let t = lid.x;
  let o = wid.y * TM + t / 4u;
  let e = wid.x * 4u + t % 4u;
  let CKK = p.C * KH * KW;
  if (t < TM * 4u && o < p.O && e < CKK) {
    partial[(wid.z * p.O + o) * CKK + e] = lane_sum(t);
  }
}

// dw[i] += Σ_s partial[s][i], for i < O·C·KH·KW; ceil(that / 256) workgroups split over x and y.
@compute @workgroup_size(256)
fn reduce_partials(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  let MN = p.O * p.C * KH * KW;
  if (i >= MN) { return; }
  var s = 0.0;
  for (var z = 0u; z < p.S; z++) { s += partial[z * MN + i]; }
  dw[i] += s;
}

// db[o] += Σ dy[n,o,:,:]; one workgroup of WG lanes per channel o = wid.x + wid.y · nwg.x.
@compute @workgroup_size(WG)
fn bias_grad(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = wid.x + wid.y * nwg.x;
  let OHW = p.OH * p.OW;
  var s = 0.0;
  if (o < p.O) {
    for (var n = 0u; n < p.N; n++) {
      let base = (n * p.O + o) * OHW;
      for (var r = lid.x; r < OHW; r += WG) { s += dy[base + r]; }
    }
  }
  red[lid.x] = s;
  workgroupBarrier();
  if (lid.x == 0u && o < p.O) {
    var t = 0.0;
    for (var l = 0u; l < WG; l++) { t += red[l]; }
    db[o] += t;
  }
}
