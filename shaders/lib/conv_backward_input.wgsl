// conv2d input gradient as a transposed-conv implicit GEMM (no atomics): M = C (in channels),
// N = batch·H·W (input positions), K = O·KH·KW. dx[n,c,ih,iw] += Σ w[o,c,kh,kw] · dy[n,o,oh,ow] over the taps
// with oh·SH = ih + ph − kh (and the same for w). Each invocation owns a TM × 4 block (TM = 4, 8 or 16 in channels × 4
// positions spaced WG apart): neighbouring lanes read neighbouring dy values, all lanes read the same weight.
// Strided convs: the positions are split into SH·SW phase classes (ih mod SH, iw mod SW), one per workgroup_id.z.
// Within a class only every SH-th kh (SW-th kw) tap meets an output position, so the tap loops step by the stride
// and no work goes to the holes of the strided output (stride 2: 1/4 of the taps × out channels of a full loop).
// Every dx element belongs to exactly one invocation, so it is accumulated (+=) without atomics.
// Dispatch: [ceil(N·⌈H/SH⌉·⌈W/SW⌉ / (4·WG)), ceil(C / TM), SH·SW]. Also used by blend (KH = KW = 1).
// The body of conv2d_backward_input (f32) and conv2d_backward_input_h: the includer declares `alias XT`, the
// element type of dy and weight (f16: widened as loaded); dx and the sums are f32.
struct Params { N: u32, C: u32, H: u32, W: u32, O: u32, OH: u32, OW: u32, ph: i32, pw: i32 };
//#bindings p: uniform Params, dy: read array<XT>, weight: read array<XT>, dx: read_write array<f32>

//#include "lib/conv_gemm.wgsl"

//#expand conv_gemm_ld(dy)

fn store(c: u32, a: vec4f, xb: vec4u, inb: vec4<bool>, hw: u32) {
  if (c >= p.C) { return; }
  let xi = xb + vec4u(c * hw);
  if (inb.x) { dx[xi.x] += a.x; }
  if (inb.y) { dx[xi.y] += a.y; }
  if (inb.z) { dx[xi.z] += a.z; }
  if (inb.w) { dx[xi.w] += a.w; }
}

// The hooks of conv_gemm (lib/conv_gemm.wgsl) at tap (kh, kw): the output row oh = (ih + ph − kh) / SH and
// column ow = (iw + pw − kw) / SW, read where they exist (the class's taps divide exactly).
//#block input_row()
    let th = th0 - vec4i(i32(kh));
    let oh = th / vec4i(i32(SH));
    let rowok = inb & (th >= vec4i(0)) & (oh < OH);
//#end
//#block input_col()
      let tw = tw0 - vec4i(i32(kw));
      let ow = tw / vec4i(i32(SW));
      let ok = rowok & (tw >= vec4i(0)) & (ow < OW);
      var idx = dn + oh * OW + ow;
//#end

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
//#expand conv_gemm(c0, p.C, KK, wo, kh0, SH, kw0, SW, input_row, input_col, p.O, OHW, n * (p.C * HW) + ih * p.W + iw, HW)
}
