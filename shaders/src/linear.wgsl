// Dense layers: a tiled GEMM with register blocking (shaders/lib/linear.wgsl, f32 operands here; f16 operands in
// linear_h.wgsl), plus the bias gradient (column sums).
//
// gemm: C[M, N] = (accumulate ? C : 0) + op(A) · op(B) (+ bias[n] when use_bias = 1), where
//   op(A)[m, k] = TRANS_A ? A[k * M + m] : A[m * K + k]   (A is [M, K], or [K, M] when transposed)
//   op(B)[k, n] = TRANS_B ? B[n * K + k] : B[k * N + n]   (B is [K, N], or [N, K] when transposed)
// linear uses it three ways: forward y = x·Wᵀ + b (TRANS_B), dx += dy·W, dW += dyᵀ·x (TRANS_A).
// Each workgroup of WG×WG threads computes a (WG·RM)×(WG·RN) tile of C; every thread keeps RM×RN = 4×4
// accumulators in registers, strided by WG so that neighbouring threads read neighbouring shared words.
// Every output element is written by exactly one thread with a fixed summation order: deterministic.
alias AT = f32;
//#include "lib/linear.wgsl"

// db[n] += Σ_m dy[m, n] for dy [M, N]. A workgroup owns 16 columns; its 16 rows of threads each sum a
// strided subset of rows, then a fixed-order tree in shared memory combines them: deterministic.
struct BiasParams { M: u32, N: u32 };
//#bindings q: uniform BiasParams, dy: read array<f32>, db: read_write array<f32>
var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(16, 16)
fn bias_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let n = (wid.x + wid.y * nwg.x) * 16u + lid.x;
  var s = 0.0;
  if (n < q.N) {
    for (var m = lid.y; m < q.M; m += 16u) { s += dy[m * q.N + n]; }
  }
  partial[lid.y * 16u + lid.x] = s;
  workgroupBarrier();
  for (var stride = 8u; stride > 0u; stride >>= 1u) {
    if (lid.y < stride) { partial[lid.y * 16u + lid.x] += partial[(lid.y + stride) * 16u + lid.x]; }
    workgroupBarrier();
  }
  if (lid.y == 0u && n < q.N) { db[n] = db[n] + partial[lid.x]; }
}
