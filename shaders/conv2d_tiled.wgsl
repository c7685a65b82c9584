// conv2d as a workgroup-tiled implicit GEMM, for GPUs (on a CPU-backed adapter the workgroup barriers cost more
// than they save; conv2d_forward.wgsl serves there):
//   out[n, m, oh, ow] (+)= Σ_k B[k, m] · A[k, p],   p = (n, oh, ow),  k = (c, kh, kw)
// A is im2col of `src` [N, CI, H, W] read on the fly (zero in the padding); B is the weight packed by pack_b as
// [Kp, Mp] (K = CI·KH·KW rows, zero-padded to whole BK-row and 64-column tiles).
// Forward: src = x, B[k, m] = w[m, k]. Input gradient (stride 1): the transposed conv is the conv of src = dy
// with the weight transposed and rotated 180° and padding KH − 1 − ph, so B[(o, kh, kw), c] = w[o, c, KH−1−kh, KW−1−kw].
// One workgroup: a 64 (m) × BP (p) output tile, 256 invocations of 4 m × TP p each; per K step of BK rows it
// stages BK × BP activations and BK × 64 weights in workgroup memory. Each output element is owned by one
// invocation that sums k in order: deterministic. Dispatch: [ceil(P / BP), Mp / 64].
struct Params { N: u32, CI: u32, H: u32, W: u32, M: u32, OH: u32, OW: u32, ph: i32, pw: i32, K: u32, Kp: u32, Mp: u32,
  wO: u32, wC: u32, flip: u32, has_bias: u32, accumulate: u32, total: u32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> wsrc: array<f32>;
@group(0) @binding(6) var<storage, read_write> bpack: array<f32>;

override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;
override TP: u32 = 4u; // positions per invocation: 4 or 8
override BK: u32 = 16u; // K rows per step: 16 or 32
const WG: u32 = 256u;
const BM: u32 = 64u; // out channels per tile: 16 invocations × 4
override BP: u32 = 16u * TP; // positions per tile

var<workgroup> As: array<vec4f, BK * BP / 4u>; // As[kk · BP/4 + pp/4]
var<workgroup> Bs: array<vec4f, BK * BM / 4u>; // Bs[kk · 16 + mm/4]

// bpack[k · Mp + m]; i < Kp · Mp.
@compute @workgroup_size(256)
fn pack_b(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.total) { return; }
  let m = i % p.Mp;
  let k = i / p.Mp;
  var v = 0.0;
  if (m < p.M && k < p.K) {
    if (p.flip == 0u) {
      v = wsrc[m * p.K + k];
    } else {
      // k = (o, kh, kw) over the forward weight [wO, wC, KH, KW]; m is its in channel.
      let t = k % (KH * KW);
      let o = k / (KH * KW);
      v = wsrc[(o * p.wC + m) * KH * KW + KH * KW - 1u - t];
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

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let OHW = p.OH * p.OW;
  let HW = p.H * p.W;
  let KK = KH * KW;
  let p0 = wid.x * BP;
  let m0 = wid.y * BM;
  // Staging: this invocation loads activation column pa (fixed) at rows ka, ka + WG/BP, ...
  let pa = lid % BP;
  let ka = lid / BP;
  let pos = p0 + pa;
  let pok = pos < p.total;
  let n = pos / OHW;
  let r = pos % OHW;
  let ih0 = i32((r / p.OW) * SH) - p.ph;
  let iw0 = i32((r % p.OW) * SW) - p.pw;
  let xbase = n * p.CI * HW;
  // Compute: this invocation owns out channels m0 + 4·tm .. +3 and positions p0 + TP·tp .. + TP − 1.
  let tp = lid % 16u;
  let tm = lid / 16u;
  var acc0: array<vec4f, 4>; // acc0[j] = 4 positions (TP·tp + 0..3) × out channel j
  var acc1: array<vec4f, 4>; // positions TP·tp + 4..7 (TP = 8)
  for (var k0 = 0u; k0 < p.Kp; k0 += BK) {
    for (var kk = ka; kk < BK; kk += WG / BP) {
      let k = k0 + kk;
      let c = k / KK;
      let t = k % KK;
      let ih = ih0 + i32(t / KW);
      let iw = iw0 + i32(t % KW);
      let ok = pok && c < p.CI && ih >= 0 && ih < i32(p.H) && iw >= 0 && iw < i32(p.W);
      var v = 0.0;
      if (ok) { v = src[xbase + c * HW + u32(ih) * p.W + u32(iw)]; }
      As[kk * (BP / 4u) + pa / 4u][pa % 4u] = v;
    }
    for (var i = lid; i < BK * BM / 4u; i += WG) {
      Bs[i] = b[((k0 + i / 16u) * p.Mp + m0) / 4u + i % 16u];
    }
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let w = Bs[kk * 16u + tm];
      let a0 = As[kk * (BP / 4u) + tp * (TP / 4u)];
      acc0[0] += a0 * w.x;
      acc0[1] += a0 * w.y;
      acc0[2] += a0 * w.z;
      acc0[3] += a0 * w.w;
      if (TP == 8u) {
        let a1 = As[kk * (BP / 4u) + tp * 2u + 1u];
        acc1[0] += a1 * w.x;
        acc1[1] += a1 * w.y;
        acc1[2] += a1 * w.z;
        acc1[3] += a1 * w.w;
      }
    }
    workgroupBarrier();
  }
  let pb = p0 + tp * TP;
  for (var j = 0u; j < 4u; j++) {
    let m = m0 + tm * 4u + j;
    let v0 = acc0[j];
    store(m, pb, v0.x);
    store(m, pb + 1u, v0.y);
    store(m, pb + 2u, v0.z);
    store(m, pb + 3u, v0.w);
    if (TP == 8u) {
      let v1 = acc1[j];
      store(m, pb + 4u, v1.x);
      store(m, pb + 5u, v1.y);
      store(m, pb + 6u, v1.z);
      store(m, pb + 7u, v1.w);
    }
  }
}
