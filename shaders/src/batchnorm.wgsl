// BatchNorm2d over x [N, C, H, W]; per-channel statistics reduce over the M = N·H·W values of a channel.
//
// Two ways to cut the work, the host picks per call (src/ops/norm.ts, normTuning):
// - PER-RUN kernels (large channels): run u covers items k0..k1 (at most L) of one (n, c) plane of H·W contiguous
//   values, with J = ceil(H·W / L) runs per plane, so plane = u / J and c = plane % C are computed once per run, not
//   per element. Each invocation owns one run (no barriers, no workgroup memory): on a CPU adapter the cost per
//   invocation and per barrier dominates a streaming pass, so fewer, longer invocations win. Reductions write one
//   partial per run and a second tiny pass combines a channel's partials in a fixed order, so results are
//   deterministic (no float atomics): three dispatches forward (partials, finalize, apply), three backward.
// - PER-CHANNEL kernels (small channels, at the end of this file): one workgroup per channel does the whole op,
//   one dispatch forward and one backward.
// Every element-wise entry has ONE body for both widths: VEC = 4 (override; H·W % 4 == 0) reads and writes vec4
// items; VEC = 1 reads scalar items through the same vec4 bindings (component index), lanes yzw held at zero
// (live()), so there are no scalar twins. HW and L count items (H·W / VEC); p.V = VEC.
// RELU (override) fuses a ReLU after the affine step: forward clamps, backward masks dy where the normalised value
// is ≤ 0. Forward, mask and backward all evaluate (x − mean)·invstd·w + bias in one order, so the mask matches the
// forward output exactly.
// stats [2C] holds mean (0..C) then invstd (C..2C); it is what forward saves for backward.
// mode (per-channel backward only): bit 0 = write (ACC: add) the input gradient, 1 = accumulate the weight gradient, 2 = the
// bias gradient, 3 = the bias gradient into gradWeight (weight and bias are one tensor). running (per-channel
// forward only): 1 = update runningMean/runningVar.
struct Params { N: u32, C: u32, HW: u32, L: u32, J: u32, units: u32, V: u32, momentum: f32, eps: f32, mode: u32, running: u32 };
//#bindings p: uniform Params, @3 weight: read array<f32>, bias: read array<f32>, statsIn: read array<f32>, sums: read array<f32>
//#bindings stats: read_write array<f32>, runningMean: read_write array<f32>, runningVar: read_write array<f32>
// Per-channel output of acc_weight_grad / acc_bias_grad.
//#bindings out: read_write array<f32>, sumsOut: read_write array<f32>
// Per-run partials [2·units]: (mean, M2) for statistics, (Σg, Σg·x̂) for gradients.
//#bindings partials: read_write array<f32>, partialsIn: read array<f32>
// x, dy and the element-wise output, read and written as vec4 items or, for VEC = 1, one component at a time.
//#bindings x4: read array<vec4f>, dy4: read array<vec4f>, out4: read_write array<vec4f>
// Affine parameter gradients, accumulated by grad_finalize_affine.
//#bindings gradWeight: read_write array<f32>, gradBias: read_write array<f32>

const WG: u32 = 64u;
override RELU: bool = false;
// Values per item: 4 (vec4 items) or 1 (scalar items).
override VEC: u32 = 4u;
// Workgroup size of the per-channel kernels, a power of two ≤ 256 (the host picks it per adapter).
override CWG: u32 = 64u;
// false: evaluation mode (statistics from runningMean/runningVar; backward treats them as constants).
override TRAIN: bool = true;
// The input gradient's stores: true adds into out (x already had a gradient), false writes it (its first
// contribution, into a buffer created without zero-filling: a read of out and a clear less).
override ACC: bool = true;

struct Run { base: u32, end: u32, c: u32 };

// The run of invocation u: items base..end (flat item offsets) and their channel.
fn run(u: u32) -> Run {
  let plane = u / p.J;
  let k0 = (u - plane * p.J) * p.L;
  let start = plane * p.HW + k0;
  return Run(start, start + min(p.L, p.HW - k0), plane % p.C);
}

//#include "lib/ids.wgsl"

// Values in run j of a plane (the last run of a plane may be short).
fn runCount(j: u32) -> f32 { return f32(min(p.L, p.HW - j * p.L) * p.V); }

// Values per channel.
fn perChannelCount() -> f32 { return f32(p.N * p.HW * p.V); }

fn hsum(v: vec4f) -> f32 { return (v.x + v.y) + (v.z + v.w); }

// v with the lanes that hold no value zeroed (yzw of a scalar item), even when v is NaN or infinite there.
fn live(v: vec4f) -> vec4f { return select(vec4f(0.0), v, vec4<bool>(true, VEC == 4u, VEC == 4u, VEC == 4u)); }

fn loadX(i: u32) -> vec4f {
  if (VEC == 4u) { return x4[i]; }
  return vec4f(x4[i >> 2u][i & 3u], 0.0, 0.0, 0.0);
}

fn loadDy(i: u32) -> vec4f {
  if (VEC == 4u) { return dy4[i]; }
  return vec4f(dy4[i >> 2u][i & 3u], 0.0, 0.0, 0.0);
}

fn loadOut(i: u32) -> vec4f {
  if (VEC == 4u) { return out4[i]; }
  return vec4f(out4[i >> 2u][i & 3u], 0.0, 0.0, 0.0);
}

// A scalar item writes only its own component: neighbouring components may belong to another run or channel
// (another invocation), and WGSL memory locations are scalars, so this does not race.
fn storeOut(i: u32, v: vec4f) {
  if (VEC == 4u) { out4[i] = v; } else { out4[i >> 2u][i & 3u] = v.x; }
}

// out[i] += v, or out[i] = v when !ACC.
fn addOut(i: u32, v: vec4f) {
  if (ACC) { storeOut(i, loadOut(i) + v); } else { storeOut(i, v); }
}

// Channel c's normalisation constants.
struct Affine { mean: f32, invstd: f32, w: f32, b: f32 };

fn affine(c: u32) -> Affine { return Affine(statsIn[c], statsIn[p.C + c], weight[c], bias[c]); }

fn xhat4(v: vec4f, a: Affine) -> vec4f { return (v - a.mean) * a.invstd; }

// The output's gradient as seen before the ReLU: dy, masked where the forward output was clamped.
fn masked4(g: vec4f, xh: vec4f, a: Affine) -> vec4f {
  return select(g, select(vec4f(0.0), g, xh * a.w + a.b > vec4f(0.0)), RELU);
}

// ---- Per-run kernels ---------------------------------------------------------------------------------------

// Training statistics, step 1: per run, its mean and M2 = Σ(x − mean)² (two passes over ≤ L items).
@compute @workgroup_size(64)
fn stats_partial(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = flatId(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  var s = vec4f(0.0);
  for (var i = r.base; i < r.end; i++) { s += loadX(i); }
  let m = hsum(s) / f32(VEC * (r.end - r.base));
  var q = vec4f(0.0);
  for (var i = r.base; i < r.end; i++) { let d = live(loadX(i) - m); q += d * d; }
  partials[2u * u] = m;
  partials[2u * u + 1u] = hsum(q);
}

// Step 2: combines channel c's runs: mean = Σ nⱼ·mⱼ / M, M2 = Σ M2ⱼ + nⱼ·(mⱼ − mean)² (exact, and as stable
// as a two-pass variance: only deviations from means are squared).
fn channelMoments(c: u32) -> vec2f {
  let M = perChannelCount();
  var s = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let u0 = (n * p.C + c) * p.J;
    for (var j = 0u; j < p.J; j++) { s += runCount(j) * partialsIn[2u * (u0 + j)]; }
  }
  let mean = s / M;
  var q = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let u0 = (n * p.C + c) * p.J;
    for (var j = 0u; j < p.J; j++) {
      let d = partialsIn[2u * (u0 + j)] - mean;
      q += partialsIn[2u * (u0 + j) + 1u] + runCount(j) * d * d;
    }
  }
  return vec2f(mean, q / M);
}

// The running statistics of channel c move towards (mean, variance) as PyTorch's do (running_var gets the unbiased
// variance M/(M−1)·var).
fn updateRunning(c: u32, mean: f32, variance: f32) {
  let M = perChannelCount();
  runningMean[c] = (1.0 - p.momentum) * runningMean[c] + p.momentum * mean;
  runningVar[c] = (1.0 - p.momentum) * runningVar[c] + p.momentum * variance * M / (M - 1.0);
}

// Step 3 of both per-run reductions, one invocation per channel c: NAME writes DST = [v.x (0..C), SECOND (C..2C)]
// with v = FROM(c), the channel's combined partials; NAME2 does the same, then MORE.
//#block finalize(NAME, FROM, DST, SECOND, NAME2, MORE)
fn {{NAME}}_write(c: u32) -> vec2f {
  let v = {{FROM}}(c);
  {{DST}}[c] = v.x;
  {{DST}}[p.C + c] = {{SECOND}};
  return v;
}

@compute @workgroup_size(64)
fn {{NAME}}(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x < p.C) { _ = {{NAME}}_write(gid.x); }
}

@compute @workgroup_size(64)
fn {{NAME2}}(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.C) { return; }
  let v = {{NAME}}_write(c);
  {{MORE}}
}
//#end

// stats = [mean, 1/sqrt(var + eps)]; stats_finalize_running also updates the running statistics in place.
//#expand finalize(stats_finalize, channelMoments, stats, inverseSqrt(v.y + p.eps), stats_finalize_running, updateRunning(c, v.x, v.y);)

// Evaluation statistics from the running estimates: stats = [runningMean, 1/sqrt(runningVar + eps)].
// (runningMean/runningVar are bound read_write only because the training entry writes them.)
@compute @workgroup_size(64)
fn eval_stats(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c < p.C) {
    stats[c] = runningMean[c];
    stats[p.C + c] = inverseSqrt(runningVar[c] + p.eps);
  }
}

// out = (x − mean)·invstd·weight + bias (then ReLU).
@compute @workgroup_size(64)
fn apply(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = flatId(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  for (var i = r.base; i < r.end; i++) {
    let y = xhat4(loadX(i), a) * a.w + a.b;
    storeOut(i, select(y, max(y, vec4f(0.0)), RELU));
  }
}

// Backward sums, step 1: per run, partials = (Σ g, Σ g·x̂) with g the (masked) output gradient.
@compute @workgroup_size(64)
fn grad_partial(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = flatId(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  var sa = vec4f(0.0);
  var sb = vec4f(0.0);
  for (var i = r.base; i < r.end; i++) {
    let xh = xhat4(loadX(i), a);
    let g = live(masked4(loadDy(i), xh, a));
    sa += g;
    sb += live(g * xh);
  }
  partials[2u * u] = hsum(sa);
  partials[2u * u + 1u] = hsum(sb);
}

// Step 2: channel c's runs summed in (n, j) order: (Σ g, Σ g·x̂).
fn gradSums(c: u32) -> vec2f {
  var sa = 0.0;
  var sb = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let u0 = (n * p.C + c) * p.J;
    for (var j = 0u; j < p.J; j++) {
      sa += partialsIn[2u * (u0 + j)];
      sb += partialsIn[2u * (u0 + j) + 1u];
    }
  }
  return vec2f(sa, sb);
}

// sumsOut = [Σ g (0..C), Σ g·x̂ (C..2C)]; grad_finalize_affine also accumulates the affine gradients in the same
// pass (saves two dispatches): gradWeight += Σ g·x̂, gradBias += Σ g.
//#expand finalize(grad_finalize, gradSums, sumsOut, v.y, grad_finalize_affine, gradWeight[c] = gradWeight[c] + v.y; gradBias[c] = gradBias[c] + v.x;)

// Training-mode input gradient (batch statistics depend on x):
// out += invstd·w·(g − Σg/M − x̂·Σ(g·x̂)/M), with sums = [Σg (0..C), Σg·x̂ (C..2C)].
@compute @workgroup_size(64)
fn grad_x_train(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = flatId(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let M = perChannelCount();
  let a = affine(r.c);
  let k = a.invstd * a.w;
  let ga = sums[r.c] / M;
  let gb = sums[p.C + r.c] / M;
  for (var i = r.base; i < r.end; i++) {
    let xh = xhat4(loadX(i), a);
    addOut(i, k * (masked4(loadDy(i), xh, a) - ga - xh * gb));
  }
}

// Evaluation-mode input gradient (statistics are constants): out += g·w·invstd.
@compute @workgroup_size(64)
fn grad_x_eval(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = flatId(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  let k = a.w * a.invstd;
  for (var i = r.base; i < r.end; i++) { addOut(i, masked4(loadDy(i), xhat4(loadX(i), a), a) * k); }
}

// Affine gradients from the sums, when only one of them is needed: out (= gradOf(weight)) += Σ g·x̂;
// out (= gradOf(bias)) += Σ g.
@compute @workgroup_size(64)
fn acc_weight_grad(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c < p.C) { out[c] = out[c] + sums[p.C + c]; }
}

@compute @workgroup_size(64)
fn acc_bias_grad(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c < p.C) { out[c] = out[c] + sums[c]; }
}

// ---- Per-channel kernels: one workgroup per channel, the whole op in one dispatch ------------------------------
// When a channel holds few values (N·H·W small: late layers, small batches), forward_channel computes the batch
// statistics, updates the running ones and writes the output, and backward_channel computes the sums, the affine
// gradients and the input gradient, each in one dispatch instead of three: the finalize steps need every value of
// a channel, which without a grid-wide barrier means a second dispatch unless one workgroup owns the channel.
// The per-run kernels remain for large channels, where C workgroups would leave a GPU idle. Sums run per
// invocation in a fixed order, then over the workgroup in a fixed tree (reduce()), so results are deterministic.

var<workgroup> red: array<vec2f, 256>;

// Flat item index of channel c's item t (t < N·HW, plane n = t / HW).
fn item(c: u32, t: u32) -> u32 {
  let n = t / p.HW;
  return (n * p.C + c) * p.HW + (t - n * p.HW);
}

// Sums each invocation's v over the workgroup in a fixed tree order; every invocation gets the total.
fn reduce(v: vec2f, lid: u32) -> vec2f {
  red[lid] = v;
  for (var s = CWG / 2u; s > 0u; s >>= 1u) {
    workgroupBarrier();
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
  }
  workgroupBarrier();
  let total = red[0];
  workgroupBarrier(); // red is written again by the next reduce()
  return total;
}

// Training: mean, then M2 = Σ(x − mean)² (two passes, as stable as stats_partial), running update, output.
// Evaluation: the running statistics. stats gets (mean, invstd) either way: backward reads only stats.
@compute @workgroup_size(CWG)
fn forward_channel(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let items = p.N * p.HW;
  var mean: f32;
  var invstd: f32;
  if (TRAIN) {
    let M = perChannelCount();
    var s = vec4f(0.0);
    for (var t = lid; t < items; t += CWG) { s += loadX(item(c, t)); }
    mean = reduce(vec2f(hsum(s), 0.0), lid).x / M;
    var q = vec4f(0.0);
    for (var t = lid; t < items; t += CWG) { let d = live(loadX(item(c, t)) - mean); q += d * d; }
    let variance = reduce(vec2f(hsum(q), 0.0), lid).x / M;
    invstd = inverseSqrt(variance + p.eps);
    if (lid == 0u && p.running == 1u) { updateRunning(c, mean, variance); }
  } else {
    mean = runningMean[c];
    invstd = inverseSqrt(runningVar[c] + p.eps);
  }
  if (lid == 0u) {
    stats[c] = mean;
    stats[p.C + c] = invstd;
  }
  let w = weight[c];
  let b = bias[c];
  for (var t = lid; t < items; t += CWG) {
    let i = item(c, t);
    let y = (loadX(i) - mean) * invstd * w + b;
    storeOut(i, select(y, max(y, vec4f(0.0)), RELU));
  }
}

// Sums (Σ g, Σ g·x̂) when anything needs them, the affine gradients, then the input gradient (as grad_x_train /
// grad_x_eval, same expressions).
@compute @workgroup_size(CWG)
fn backward_channel(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let items = p.N * p.HW;
  let a = affine(c);
  let M = perChannelCount();
  var total = vec2f(0.0);
  if (TRAIN || (p.mode & 14u) != 0u) {
    var sa = vec4f(0.0);
    var sb = vec4f(0.0);
    for (var t = lid; t < items; t += CWG) {
      let i = item(c, t);
      let xh = xhat4(loadX(i), a);
      let g = live(masked4(loadDy(i), xh, a));
      sa += g;
      sb += live(g * xh);
    }
    total = reduce(vec2f(hsum(sa), hsum(sb)), lid);
    if (lid == 0u) {
      if ((p.mode & 2u) != 0u) { gradWeight[c] = gradWeight[c] + total.y; }
      if ((p.mode & 4u) != 0u) { gradBias[c] = gradBias[c] + total.x; }
      if ((p.mode & 8u) != 0u) { gradWeight[c] = gradWeight[c] + total.x; }
    }
  }
  if ((p.mode & 1u) == 0u) { return; }
  let k = a.invstd * a.w;
  let ga = total.x / M;
  let gb = total.y / M;
  for (var t = lid; t < items; t += CWG) {
    let i = item(c, t);
    let xh = xhat4(loadX(i), a);
    let g = masked4(loadDy(i), xh, a);
    if (TRAIN) { addOut(i, k * (g - ga - xh * gb)); } else { addOut(i, g * (a.w * a.invstd)); }
  }
}
