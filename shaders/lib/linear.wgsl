// The dense-layer GEMM shared by shaders/src/linear.wgsl (f32 operands) and shaders/src/linear_h.wgsl (f16
// operands, for mixed precision): entries gemm (tiled, workgroup memory) and gemm_direct (lavapipe). The includer
// declares `alias AT = f32;` or `alias AT = f16;`, the element type of A and B; every load widens to f32, so the
// tiles, the accumulation, bias and C are f32 in both (for f32 operands f32(x) is x: the same bits as before).
//
struct Params { M: u32, N: u32, K: u32, accumulate: u32, use_bias: u32 };
//#bindings p: uniform Params, A: read array<AT>, B: read array<AT>, bias: read array<f32>, C: read_write array<f32>

override TRANS_A: bool = false;
override TRANS_B: bool = false;

// Tile shape: consts, not overrides, since the register block below is written out for RM = RN = 4.
const WG: u32 = 16u;
const RM: u32 = 4u;
const RN: u32 = 4u;
const TK: u32 = 16u;
const BM: u32 = WG * RM; // 64 rows of C per workgroup
const BN: u32 = WG * RN; // 64 columns of C per workgroup

var<workgroup> As: array<f32, TK * BM>; // As[k * BM + m]
var<workgroup> Bs: array<f32, TK * BN>; // Bs[k * BN + n]

fn loadA(m: u32, k: u32) -> f32 {
  if (m >= p.M || k >= p.K) { return 0.0; }
  if (TRANS_A) { return f32(A[k * p.M + m]); }
  return f32(A[m * p.K + k]);
}

fn loadB(k: u32, n: u32) -> f32 {
  if (k >= p.K || n >= p.N) { return 0.0; }
  if (TRANS_B) { return f32(B[n * p.K + k]); }
  return f32(B[k * p.N + n]);
}

// Slot (k, j) of a TK × width tile that fill index e loads: k fastest when kFast (the stored matrix is contiguous
// along k there), else j fastest.
fn tileSlot(e: u32, kFast: bool, width: u32) -> vec2u {
  if (kFast) { return vec2u(e % TK, e / TK); }
  return vec2u(e / width, e % width);
}

@compute @workgroup_size(16, 16)
fn gemm(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  // Row i of this thread's RM×RN block is acc_i (RN = 4 lanes): named vec4 registers, no dynamically
  // indexed arrays (which software adapters spill to memory).
  var acc0 = vec4f(0.0); var acc1 = vec4f(0.0); var acc2 = vec4f(0.0); var acc3 = vec4f(0.0);
  let tiles = (p.K + TK - 1u) / TK;
  for (var t = 0u; t < tiles; t++) {
    let k0 = t * TK;
    // 256 threads fill TK×BM = 1024 values of each tile: 4 each. The fast index follows the
    // contiguous dimension of the stored matrix so global reads coalesce.
    for (var r = 0u; r < (TK * BM) / (WG * WG); r++) {
      let e = li + r * WG * WG;
      let ta = tileSlot(e, !TRANS_A, BM);
      As[ta.x * BM + ta.y] = loadA(m0 + ta.y, k0 + ta.x);
      let tb = tileSlot(e, TRANS_B, BN);
      Bs[tb.x * BN + tb.y] = loadB(k0 + tb.x, n0 + tb.y);
    }
    workgroupBarrier();
    for (var k = 0u; k < TK; k++) {
      let ab = k * BM + lid.y;
      let bb = k * BN + lid.x;
      let a = vec4f(As[ab], As[ab + WG], As[ab + 2u * WG], As[ab + 3u * WG]);
      let b = vec4f(Bs[bb], Bs[bb + WG], Bs[bb + 2u * WG], Bs[bb + 3u * WG]);
      acc0 = fma(vec4f(a.x), b, acc0);
      acc1 = fma(vec4f(a.y), b, acc1);
      acc2 = fma(vec4f(a.z), b, acc2);
      acc3 = fma(vec4f(a.w), b, acc3);
    }
    workgroupBarrier();
  }
  storeRow(m0 + lid.y, n0 + lid.x, WG, acc0);
  storeRow(m0 + lid.y + WG, n0 + lid.x, WG, acc1);
  storeRow(m0 + lid.y + 2u * WG, n0 + lid.x, WG, acc2);
  storeRow(m0 + lid.y + 3u * WG, n0 + lid.x, WG, acc3);
}

// gemm without workgroup memory, for lavapipe: there a barrier makes llvmpipe build the kernel as coroutines, and
// LLVM spent 7 s of CPU compiling gemm for a forward and 23 s for a backward's two (cold cache). Each invocation
// owns a 4 × 4 block of C (rows m0 … m0 + 3, columns n0 … n0 + 3) and sums k in order with fma, as gemm does:
// the same results. Dispatch: [ceil(N / 256), ceil(M / 4), 1].
@compute @workgroup_size(64)
fn gemm_direct(@builtin(global_invocation_id) gid: vec3u) {
  let n0 = gid.x * 4u;
  let m0 = gid.y * 4u;
  if (n0 >= p.N || m0 >= p.M) { return; }
  var acc0 = vec4f(0.0); var acc1 = vec4f(0.0); var acc2 = vec4f(0.0); var acc3 = vec4f(0.0);
  for (var k = 0u; k < p.K; k++) {
    let a = vec4f(loadA(m0, k), loadA(m0 + 1u, k), loadA(m0 + 2u, k), loadA(m0 + 3u, k));
    let b = vec4f(loadB(k, n0), loadB(k, n0 + 1u), loadB(k, n0 + 2u), loadB(k, n0 + 3u));
    acc0 = fma(vec4f(a.x), b, acc0);
    acc1 = fma(vec4f(a.y), b, acc1);
    acc2 = fma(vec4f(a.z), b, acc2);
    acc3 = fma(vec4f(a.w), b, acc3);
  }
  storeRow(m0, n0, 1u, acc0);
  storeRow(m0 + 1u, n0, 1u, acc1);
  storeRow(m0 + 2u, n0, 1u, acc2);
  storeRow(m0 + 3u, n0, 1u, acc3);
}

// Writes row m of a thread's block: columns n, n + step, n + 2·step, n + 3·step (those inside C); step is WG for
// gemm's strided block, 1 for gemm_direct's run.
fn storeRow(m: u32, n: u32, step: u32, v: vec4f) {
  if (m >= p.M) { return; }
  for (var j = 0u; j < RN; j++) {
    let c = n + j * step;
    if (c >= p.N) { return; }
    var y = v[j];
    if (p.use_bias == 1u) { y += bias[c]; }
    // A branch, not beta·C: a fresh pooled output buffer may hold NaN bits, and 0·NaN = NaN.
    if (p.accumulate == 1u) { y += C[m * p.N + c]; }
    C[m * p.N + c] = y;
  }
}
