// conv2d forward as a tiled implicit GEMM: M = O (out channels), N = batch·OH·OW (positions), K = C·KH·KW.
// Each invocation keeps a TM × 4 register block: TM out channels (4, 8 or 16) × 4 positions spaced WG apart.
// Neighbouring lanes therefore read neighbouring activations (one vector load where lanes are CPU SIMD lanes,
// coalesced on a GPU) and every lane of a workgroup reads the same weight (a broadcast). No workgroup memory:
// on SIMD-lane CPU adapters a barrier per K step costs more than it saves.
// Dispatch: [ceil(P / (4·WG)), ceil(O / TM)]. Also used by blend (KH = KW = 1, m as the weight).
struct Params { N: u32, C: u32, H: u32, W: u32, O: u32, OH: u32, OW: u32, ph: i32, pw: i32, has_bias: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

override WG: u32 = 64u;
override TM: u32 = 4u; // 4, 8 or 16 out channels per invocation
override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;

// Activation at index i, or 0 where the tap falls in the padding.
fn ld(i: i32, ok: bool) -> f32 {
  return select(0.0, x[u32(max(i, 0))], ok);
}

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
  let w0 = min(o0, p.O - 1u) * wrow;
  let w1 = min(o0 + 1u, p.O - 1u) * wrow;
  let w2 = min(o0 + 2u, p.O - 1u) * wrow;
  let w3 = min(o0 + 3u, p.O - 1u) * wrow;
  let w4 = min(o0 + 4u, p.O - 1u) * wrow;
  let w5 = min(o0 + 5u, p.O - 1u) * wrow;
  let w6 = min(o0 + 6u, p.O - 1u) * wrow;
  let w7 = min(o0 + 7u, p.O - 1u) * wrow;
  let w8 = min(o0 + 8u, p.O - 1u) * wrow;
  let w9 = min(o0 + 9u, p.O - 1u) * wrow;
  let w10 = min(o0 + 10u, p.O - 1u) * wrow;
  let w11 = min(o0 + 11u, p.O - 1u) * wrow;
  let w12 = min(o0 + 12u, p.O - 1u) * wrow;
  let w13 = min(o0 + 13u, p.O - 1u) * wrow;
  let w14 = min(o0 + 14u, p.O - 1u) * wrow;
  let w15 = min(o0 + 15u, p.O - 1u) * wrow;
  var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
  var a4 = vec4f(0.0); var a5 = vec4f(0.0); var a6 = vec4f(0.0); var a7 = vec4f(0.0);
  var a8 = vec4f(0.0); var a9 = vec4f(0.0); var a10 = vec4f(0.0); var a11 = vec4f(0.0);
  var a12 = vec4f(0.0); var a13 = vec4f(0.0); var a14 = vec4f(0.0); var a15 = vec4f(0.0);
  // Taps outer, channels inner: the padding masks and base indices are computed once per tap, not per K step.
  for (var kh = 0u; kh < KH; kh++) {
    let ih = ih0 + vec4i(i32(kh));
    let rowok = inb & (ih >= vec4i(0)) & (ih < H);
    for (var kw = 0u; kw < KW; kw++) {
      let iw = iw0 + vec4i(i32(kw));
      let ok = rowok & (iw >= vec4i(0)) & (iw < W);
      var idx = xn + ih * W + iw;
      var k = kh * KW + kw;
      for (var c = 0u; c < p.C; c++) {
        let v = vec4f(ld(idx.x, ok.x), ld(idx.y, ok.y), ld(idx.z, ok.z), ld(idx.w, ok.w));
        idx += vec4i(i32(HW));
        a0 += vec4f(weight[w0 + k]) * v;
        a1 += vec4f(weight[w1 + k]) * v;
        a2 += vec4f(weight[w2 + k]) * v;
        a3 += vec4f(weight[w3 + k]) * v;
        if (TM > 4u) {
          a4 += vec4f(weight[w4 + k]) * v;
          a5 += vec4f(weight[w5 + k]) * v;
          a6 += vec4f(weight[w6 + k]) * v;
          a7 += vec4f(weight[w7 + k]) * v;
        }
        if (TM > 8u) {
          a8 += vec4f(weight[w8 + k]) * v;
          a9 += vec4f(weight[w9 + k]) * v;
          a10 += vec4f(weight[w10 + k]) * v;
          a11 += vec4f(weight[w11 + k]) * v;
          a12 += vec4f(weight[w12 + k]) * v;
          a13 += vec4f(weight[w13 + k]) * v;
          a14 += vec4f(weight[w14 + k]) * v;
          a15 += vec4f(weight[w15 + k]) * v;
        }
        k += KK;
      }
    }
  }
  let yb = n * (p.O * OHW) + r;
  store(o0, a0, yb, inb, OHW);
  store(o0 + 1u, a1, yb, inb, OHW);
  store(o0 + 2u, a2, yb, inb, OHW);
  store(o0 + 3u, a3, yb, inb, OHW);
  if (TM > 4u) {
    store(o0 + 4u, a4, yb, inb, OHW);
    store(o0 + 5u, a5, yb, inb, OHW);
    store(o0 + 6u, a6, yb, inb, OHW);
    store(o0 + 7u, a7, yb, inb, OHW);
  }
  if (TM > 8u) {
    store(o0 + 8u, a8, yb, inb, OHW);
    store(o0 + 9u, a9, yb, inb, OHW);
    store(o0 + 10u, a10, yb, inb, OHW);
    store(o0 + 11u, a11, yb, inb, OHW);
    store(o0 + 12u, a12, yb, inb, OHW);
    store(o0 + 13u, a13, yb, inb, OHW);
    store(o0 + 14u, a14, yb, inb, OHW);
    store(o0 + 15u, a15, yb, inb, OHW);
  }
}
