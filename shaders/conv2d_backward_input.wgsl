// conv2d input gradient as a transposed-conv implicit GEMM (no atomics): M = C (in channels),
// N = batch·H·W (input positions), K = O·KH·KW. dx[n,c,ih,iw] += Σ w[o,c,kh,kw] · dy[n,o,oh,ow] over the taps
// with oh·SH = ih + ph − kh (and the same for w). Each invocation owns a TM × 4 block (TM = 4, 8 or 16 in channels × 4
// positions spaced WG apart): neighbouring lanes read neighbouring dy values, all lanes read the same weight.
// Strided convs: the positions are split into SH·SW phase classes (ih mod SH, iw mod SW), one per workgroup_id.z.
// Within a class only every SH-th kh (SW-th kw) tap meets an output position, so the tap loops step by the stride
// and no work goes to the holes of the strided output (stride 2: 1/4 of the taps × out channels of a full loop).
// Every dx element belongs to exactly one invocation, so it is accumulated (+=) without atomics.
// Dispatch: [ceil(N·⌈H/SH⌉·⌈W/SW⌉ / (4·WG)), ceil(C / TM), SH·SW]. Also used by blend (KH = KW = 1).
struct Params { N: u32, C: u32, H: u32, W: u32, O: u32, OH: u32, OW: u32, ph: i32, pw: i32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

override WG: u32 = 64u;
override TM: u32 = 4u; // 4, 8 or 16 in channels per invocation
override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;

fn ld(i: i32, ok: bool) -> f32 {
  return select(0.0, dy[u32(max(i, 0))], ok);
}

fn store(c: u32, a: vec4f, xb: vec4u, inb: vec4<bool>, hw: u32) {
  if (c >= p.C) { return; }
  let xi = xb + vec4u(c * hw);
  if (inb.x) { dx[xi.x] += a.x; }
  if (inb.y) { dx[xi.y] += a.y; }
  if (inb.z) { dx[xi.z] += a.z; }
  if (inb.w) { dx[xi.w] += a.w; }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let HW = p.H * p.W;
  let OHW = p.OH * p.OW;
  let KK = KH * KW;
  // Phase class (a, b): positions ih = a + SH·i, iw = b + SW·j; Hc × Wc of them per image.
  let a = wid.z / SW;
  let b = wid.z % SW;
  let Hc = (p.H + SH - 1u - a) / SH;
  let Wc = (p.W + SW - 1u - b) / SW;
  let pos = vec4u(wid.x * WG * 4u + lid.x) + vec4u(0u, 1u, 2u, 3u) * WG;
  let inb = pos < vec4u(p.N * Hc * Wc);
  let n = pos / max(Hc * Wc, 1u);
  let r = pos % max(Hc * Wc, 1u);
  let ih = vec4u(a) + (r / max(Wc, 1u)) * SH;
  let iw = vec4u(b) + (r % max(Wc, 1u)) * SW;
  let th0 = vec4i(ih) + p.ph;
  let tw0 = vec4i(iw) + p.pw;
  // The first tap of this class that meets an output: kh ≡ a + ph (mod SH), kw ≡ b + pw (mod SW).
  let kh0 = u32((i32(a) + p.ph) % i32(SH));
  let kw0 = u32((i32(b) + p.pw) % i32(SW));
  let dn = vec4i(n * (p.O * OHW));
  let OH = vec4i(i32(p.OH));
  let OW = vec4i(i32(p.OW));
  let c0 = wid.y * TM;
  let wo = p.C * KK;
  let w0 = min(c0, p.C - 1u) * KK;
  let w1 = min(c0 + 1u, p.C - 1u) * KK;
  let w2 = min(c0 + 2u, p.C - 1u) * KK;
  let w3 = min(c0 + 3u, p.C - 1u) * KK;
  let w4 = min(c0 + 4u, p.C - 1u) * KK;
  let w5 = min(c0 + 5u, p.C - 1u) * KK;
  let w6 = min(c0 + 6u, p.C - 1u) * KK;
  let w7 = min(c0 + 7u, p.C - 1u) * KK;
  let w8 = min(c0 + 8u, p.C - 1u) * KK;
  let w9 = min(c0 + 9u, p.C - 1u) * KK;
  let w10 = min(c0 + 10u, p.C - 1u) * KK;
  let w11 = min(c0 + 11u, p.C - 1u) * KK;
  let w12 = min(c0 + 12u, p.C - 1u) * KK;
  let w13 = min(c0 + 13u, p.C - 1u) * KK;
  let w14 = min(c0 + 14u, p.C - 1u) * KK;
  let w15 = min(c0 + 15u, p.C - 1u) * KK;
  var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
  var a4 = vec4f(0.0); var a5 = vec4f(0.0); var a6 = vec4f(0.0); var a7 = vec4f(0.0);
  var a8 = vec4f(0.0); var a9 = vec4f(0.0); var a10 = vec4f(0.0); var a11 = vec4f(0.0);
  var a12 = vec4f(0.0); var a13 = vec4f(0.0); var a14 = vec4f(0.0); var a15 = vec4f(0.0);
  // Taps outer, out channels inner: validity masks and base indices are computed once per tap.
  for (var kh = kh0; kh < KH; kh += SH) {
    let th = th0 - vec4i(i32(kh));
    let oh = th / vec4i(i32(SH));
    let rowok = inb & (th >= vec4i(0)) & (oh < OH);
    for (var kw = kw0; kw < KW; kw += SW) {
      let tw = tw0 - vec4i(i32(kw));
      let ow = tw / vec4i(i32(SW));
      let ok = rowok & (tw >= vec4i(0)) & (ow < OW);
      var idx = dn + oh * OW + ow;
      var k = kh * KW + kw;
      for (var o = 0u; o < p.O; o++) {
        let v = vec4f(ld(idx.x, ok.x), ld(idx.y, ok.y), ld(idx.z, ok.z), ld(idx.w, ok.w));
        idx += vec4i(i32(OHW));
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
        k += wo;
      }
    }
  }
  let xb = n * (p.C * HW) + ih * p.W + iw;
  store(c0, a0, xb, inb, HW);
  store(c0 + 1u, a1, xb, inb, HW);
  store(c0 + 2u, a2, xb, inb, HW);
  store(c0 + 3u, a3, xb, inb, HW);
  if (TM > 4u) {
    store(c0 + 4u, a4, xb, inb, HW);
    store(c0 + 5u, a5, xb, inb, HW);
    store(c0 + 6u, a6, xb, inb, HW);
    store(c0 + 7u, a7, xb, inb, HW);
  }
  if (TM > 8u) {
    store(c0 + 8u, a8, xb, inb, HW);
    store(c0 + 9u, a9, xb, inb, HW);
    store(c0 + 10u, a10, xb, inb, HW);
    store(c0 + 11u, a11, xb, inb, HW);
    store(c0 + 12u, a12, xb, inb, HW);
    store(c0 + 13u, a13, xb, inb, HW);
    store(c0 + 14u, a14, xb, inb, HW);
    store(c0 + 15u, a15, xb, inb, HW);
  }
}
