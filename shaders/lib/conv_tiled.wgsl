// conv2d as a workgroup-tiled implicit GEMM, for GPUs (on a CPU-backed adapter the workgroup barriers cost more
// than they save; conv2d_forward.wgsl serves there):
//   out[n, m, oh, ow] (+)= Σ_k B[k, m] · A[k, p],   p = (n, oh, ow),  k = (c, kh, kw)
// A is im2col of `src` [N, CI, H, W] read on the fly (zero in the padding); B is the weight packed by pack_b as
// [Kp, Mp] (K = CI·KH·KW rows, zero-padded to whole BK-row and BM-column tiles).
// Forward: src = x, B[k, m] = w[m, k]. Input gradient (stride 1): the transposed conv is the conv of src = dy
// with the weight transposed and rotated 180° and padding KH − 1 − ph, so B[(o, kh, kw), c] = w[o, c, KH−1−kh, KW−1−kw].
// One workgroup: a BM (m) × BP (p) output tile, TX × TY invocations of TM m × TP p each; per K step of BK rows
// it stages BK × BP activations and BK × BM weights in workgroup memory. Each output element is owned by one
// invocation that sums k in order: deterministic. Dispatch: [ceil(P / BP), Mp / BM].
// The body of conv2d_tiled (f32) and conv2d_tiled_h: the includer declares `alias XT`, the element type of src and
// the weight (f16: widened as loaded, and pack_b writes B in f32); bias, out and all sums are f32.
struct Params { N: u32, CI: u32, H: u32, W: u32, M: u32, OH: u32, OW: u32, ph: i32, pw: i32, K: u32, Kp: u32, Mp: u32,
  wO: u32, wC: u32, flip: u32, has_bias: u32, accumulate: u32, total: u32 };
//#bindings p: uniform Params, src: read array<XT>, b: read array<vec4f>, bias: read array<f32>
//#bindings out: read_write array<f32>, wsrc: read array<XT>, bpack: read_write array<f32>

override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;
// Invocations TX (along p) × TY (along m); each owns TP positions × TM out channels (4 or 8 each), as vec4
// groups TX·4 positions (TY·4 channels) apart, so that neighbouring invocations read neighbouring workgroup words.
override TX: u32 = 16u;
override TY: u32 = 16u;
override TP: u32 = 4u;
override TM: u32 = 4u;
override BK: u32 = 16u; // K rows per step
override WGS: u32 = TX * TY;
override BP: u32 = TX * TP; // positions per tile (WGS must be a multiple of BP)
override BM: u32 = TY * TM; // out channels per tile

var<workgroup> As: array<vec4f, BK * BP / 4u>; // As[kk · BP/4 + pp/4]
var<workgroup> Bs: array<vec4f, BK * BM / 4u>; // Bs[kk · BM/4 + mm/4]

// bpack[k · Mp + m]; i < Kp · Mp.
const WG: u32 = 256u; // pack_b's workgroup size
//#include "lib/ids.wgsl"

@compute @workgroup_size(WG)
fn pack_b(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatId(gid, nwg);
  if (i >= p.total) { return; }
  let m = i % p.Mp;
  let k = i / p.Mp;
  var v = 0.0;
  if (m < p.M && k < p.K) {
    if (p.flip == 0u) {
      v = f32(wsrc[m * p.K + k]);
    } else {
      // k = (o, kh, kw) over the forward weight [wO, wC, KH, KW]; m is its in channel.
      let t = k % (KH * KW);
      let o = k / (KH * KW);
      v = f32(wsrc[(o * p.wC + m) * KH * KW + KH * KW - 1u - t]);
    }
  }
  bpack[i] = v;
}

fn store(m: u32, pos: u32, v: f32) {
  let OHW = p.OH * p.OW;
  if (m >= p.M || pos >= p.total) { return; }
  let n = pos / OHW;
  let i = (n * p.M + m) * OHW + pos % OHW;
  var r = v;
  if (p.has_bias != 0u) { r += bias[m]; }
  if (p.accumulate != 0u) { r += out[i]; }
  out[i] = r;
}

// Column j of c = out channel m + j at positions pos .. pos + 3.
fn store4(m: u32, pos: u32, c: mat4x4f) {
  for (var j = 0u; j < 4u; j++) {
    let v = c[j];
    store(m + j, pos, v.x);
    store(m + j, pos + 1u, v.y);
    store(m + j, pos + 2u, v.z);
    store(m + j, pos + 3u, v.w);
  }
}

fn outer(a: vec4f, w: vec4f) -> mat4x4f {
  return mat4x4f(a * w.x, a * w.y, a * w.z, a * w.w);
}

@compute @workgroup_size(WGS)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let OHW = p.OH * p.OW;
  let HW = p.H * p.W;
  let KK = KH * KW;
  let p0 = wid.x * BP;
  let m0 = wid.y * BM;
  // Staging: this invocation loads activation column pa (fixed) at rows ka, ka + WGS/BP, ...
  let pa = lid % BP;
  let ka = lid / BP;
  let pos = p0 + pa;
  let pok = pos < p.total;
  let n = pos / OHW;
  let r = pos % OHW;
  let ih0 = i32((r / p.OW) * SH) - p.ph;
  let iw0 = i32((r % p.OW) * SW) - p.pw;
  let xbase = n * p.CI * HW;
  let tp = lid % TX;
  let tm = lid / TX;
  // cGH: positions group G (tp + G·TX) × channels group H (tm + H·TY).
  var c00 = mat4x4f(); var c01 = mat4x4f(); var c10 = mat4x4f(); var c11 = mat4x4f();
  for (var k0 = 0u; k0 < p.Kp; k0 += BK) {
    for (var kk = ka; kk < BK; kk += WGS / BP) {
      let k = k0 + kk;
      let c = k / KK;
      let t = k % KK;
      let ih = ih0 + i32(t / KW);
      let iw = iw0 + i32(t % KW);
      let ok = pok && c < p.CI && ih >= 0 && ih < i32(p.H) && iw >= 0 && iw < i32(p.W);
      var v = 0.0;
      if (ok) { v = f32(src[xbase + c * HW + u32(ih) * p.W + u32(iw)]); }
      As[kk * (BP / 4u) + pa / 4u][pa % 4u] = v;
    }
    for (var i = lid; i < BK * BM / 4u; i += WGS) {
      Bs[i] = b[((k0 + i / (BM / 4u)) * p.Mp + m0) / 4u + i % (BM / 4u)];
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let a0 = As[kk * (BP / 4u) + tp];
      let w0 = Bs[kk * (BM / 4u) + tm];
      c00 += outer(a0, w0);
      if (TM == 8u) {
        let w1 = Bs[kk * (BM / 4u) + tm + TY];
        c01 += outer(a0, w1);
        if (TP == 8u) {
          let a1 = As[kk * (BP / 4u) + tp + TX];
          c10 += outer(a1, w0);
          c11 += outer(a1, w1);
        }
      } else if (TP == 8u) {
        let a1 = As[kk * (BP / 4u) + tp + TX];
        c10 += outer(a1, w0);
      }
    }
    workgroupBarrier();
  }
  store4(m0 + tm * 4u, p0 + tp * 4u, c00);
  if (TM == 8u) { store4(m0 + (tm + TY) * 4u, p0 + tp * 4u, c01); }
  if (TP == 8u) { store4(m0 + tm * 4u, p0 + (tp + TX) * 4u, c10); }
  if (TM == 8u && TP == 8u) { store4(m0 + (tm + TY) * 4u, p0 + (tp + TX) * 4u, c11); }
}
