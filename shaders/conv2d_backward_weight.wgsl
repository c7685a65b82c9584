// conv2d weight and bias gradients, deterministic and without float atomics.
// Weight gradient as an implicit GEMM: M = O, N = C·KH·KW, K = batch·OH·OW (positions).
//   dw[o,c,kh,kw] += Σ_{n,oh,ow} dy[n,o,oh,ow] · x[n,c,oh·SH−ph+kh, ow·SW−pw+kw]
// dy is first transposed to position-major dyT[n,oh,ow,o] (transpose_dy) so that lanes run along o: neighbouring
// lanes read neighbouring dyT values and every lane reads the same activation (a broadcast). Each invocation
// owns 4 out channels (spaced WG apart) × 8 in channels at one tap (kh,kw) in registers and loops over its
// split of K by nested (n, oh, ow) loops: no cross-lane reduction, no barrier, no integer division.
//   main_direct: one split covers the whole batch; adds the tile into dw.
//   main_split + reduce_partials: S splits (over the batch) write partial[s][o][e]; reduce_partials adds Σ_s into
//   dw in a fixed order (deterministic).
// bias_grad: db[o] += Σ_{n,oh,ow} dy[n,o,oh,ow], one invocation per channel, fixed order.
// Also used by blend (KH = KW = 1, m's gradient as dw).
struct Params { N: u32, C: u32, H: u32, W: u32, O: u32, OH: u32, OW: u32, ph: i32, pw: i32, nchunk: u32, S: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> dw: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;
@group(0) @binding(5) var<storage, read_write> db: array<f32>;
@group(0) @binding(6) var<storage, read_write> dyT: array<f32>;
@group(0) @binding(7) var<storage, read> dyT_in: array<f32>;

override WG: u32 = 64u; // lanes along o
override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;

struct Tile { a0: vec4f, a1: vec4f, a2: vec4f, a3: vec4f, b0: vec4f, b1: vec4f, b2: vec4f, b3: vec4f };

fn ld(i: i32, ok: bool) -> f32 {
  return select(0.0, x[u32(max(i, 0))], ok);
}

// Sums for out channels o0 + i·WG (i < 4) × in channels c0 + j (j < 8) at tap kk, over images [n0, n1).
// a_i holds channels 0..3, b_i channels 4..7. One tap per tile: a single padding test per position.
fn tile(o0: u32, c0: u32, kk: u32, n0: u32, n1: u32) -> Tile {
  let HW = p.H * p.W;
  let dh = i32(kk / KW) - p.ph;
  let dwk = i32(kk % KW) - p.pw;
  let cm = p.C - 1u;
  let ca = vec4i(min(vec4u(c0) + vec4u(0u, 1u, 2u, 3u), vec4u(cm)) * HW);
  let cb = vec4i(min(vec4u(c0) + vec4u(4u, 5u, 6u, 7u), vec4u(cm)) * HW);
  let om = p.O - 1u;
  let o = vec4u(min(o0, om), min(o0 + WG, om), min(o0 + 2u * WG, om), min(o0 + 3u * WG, om));
  var t: Tile;
  for (var n = n0; n < n1; n++) {
    let xn = i32(n * p.C * HW);
    for (var oh = 0u; oh < p.OH; oh++) {
      let ih = i32(oh * SH) + dh;
      let rowok = ih >= 0 && ih < i32(p.H);
      let xr = xn + ih * i32(p.W) + dwk;
      let qr = (n * p.OH + oh) * p.OW;
      for (var ow = 0u; ow < p.OW; ow++) {
        let iw = i32(ow * SW) + dwk;
        let ok = rowok && iw >= 0 && iw < i32(p.W);
        let ia = vec4i(xr + i32(ow * SW)) + ca;
        let ib = vec4i(xr + i32(ow * SW)) + cb;
        let va = vec4f(ld(ia.x, ok), ld(ia.y, ok), ld(ia.z, ok), ld(ia.w, ok));
        let vb = vec4f(ld(ib.x, ok), ld(ib.y, ok), ld(ib.z, ok), ld(ib.w, ok));
        let d = (qr + ow) * p.O;
        let d0 = dyT_in[d + o.x];
        let d1 = dyT_in[d + o.y];
        let d2 = dyT_in[d + o.z];
        let d3 = dyT_in[d + o.w];
        t.a0 += d0 * va; t.b0 += d0 * vb;
        t.a1 += d1 * va; t.b1 += d1 * vb;
        t.a2 += d2 * va; t.b2 += d2 * vb;
        t.a3 += d3 * va; t.b3 += d3 * vb;
      }
    }
  }
  return t;
}

// Entry j (< 8) of a tile row: a holds entries 0..3, b entries 4..7.
fn pick(a: vec4f, b: vec4f, j: u32) -> f32 {
  var v = a[min(j, 3u)];
  if (j >= 4u) { v = b[j - 4u]; }
  return v;
}

fn row(t: Tile, i: u32) -> array<vec4f, 2> {
  switch i {
    case 0u: { return array(t.a0, t.b0); }
    case 1u: { return array(t.a1, t.b1); }
    case 2u: { return array(t.a2, t.b2); }
    default: { return array(t.a3, t.b3); }
  }
}

// Grid: [ceil(C / 8)·KH·KW, ceil(O / (4·WG)), 1]; workgroup x = (channel block, tap).
@compute @workgroup_size(WG)
fn main_direct(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let KK = KH * KW;
  let o0 = wid.y * 4u * WG + lid.x;
  let kk = wid.x % KK;
  let c0 = (wid.x / KK) * 8u;
  let t = tile(o0, c0, kk, 0u, p.N);
  for (var i = 0u; i < 4u; i++) {
    let o = o0 + i * WG;
    let r = row(t, i);
    for (var j = 0u; j < 8u; j++) {
      if (o < p.O && c0 + j < p.C) { dw[(o * p.C + c0 + j) * KK + kk] += pick(r[0], r[1], j); }
    }
  }
}

// Grid: [ceil(C / 8)·KH·KW, ceil(O / (4·WG)), S]; split s covers images [s·nchunk, (s+1)·nchunk).
@compute @workgroup_size(WG)
fn main_split(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let KK = KH * KW;
  let o0 = wid.y * 4u * WG + lid.x;
  let kk = wid.x % KK;
  let c0 = (wid.x / KK) * 8u;
  let n0 = wid.z * p.nchunk;
  let base = wid.z * p.O * p.C * KK;
  let t = tile(o0, c0, kk, n0, min(n0 + p.nchunk, p.N));
  for (var i = 0u; i < 4u; i++) {
    let o = o0 + i * WG;
    let r = row(t, i);
    for (var j = 0u; j < 8u; j++) {
      if (o < p.O && c0 + j < p.C) { partial[base + (o * p.C + c0 + j) * KK + kk] = pick(r[0], r[1], j); }
    }
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

// dyT[n,r,o] = dy[n,o,r] (r = oh·OW + ow). Grid: [ceil(OH·OW / WG), O, N].
@compute @workgroup_size(WG)
fn transpose_dy(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let OHW = p.OH * p.OW;
  let r = wid.x * WG + lid.x;
  if (r >= OHW) { return; }
  dyT[(wid.z * OHW + r) * p.O + wid.y] = dy[(wid.z * p.O + wid.y) * OHW + r];
}

// db[o] += Σ dy[n,o,:,:] in a fixed order. Grid: ceil(O / WG) workgroups.
@compute @workgroup_size(WG)
fn bias_grad(@builtin(global_invocation_id) gid: vec3u) {
  let o = gid.x;
  if (o >= p.O) { return; }
  let OHW = p.OH * p.OW;
  var s = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let base = (n * p.O + o) * OHW;
    for (var r = 0u; r < OHW; r++) { s += dy[base + r]; }
  }
  db[o] += s;
}
