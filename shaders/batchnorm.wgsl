// BatchNorm2d over x [N, C, H, W]; per-channel statistics reduce over the M = N·H·W values of a channel.
//
// Work is cut into RUNS: run u covers elements k0..k1 (at most L) of one (n, c) plane of H·W contiguous
// values, with J = ceil(H·W / L) runs per plane, so plane = u / J and c = plane % C are computed once per
// run, not per element. Each invocation owns one run (no barriers, no workgroup memory): on a CPU adapter
// the cost per invocation and per barrier dominates a streaming pass, so fewer, longer invocations win.
// Reductions write one partial per run and a second tiny pass combines a channel's partials in a fixed
// order, so results are deterministic (no float atomics).
// When H·W % 4 == 0 the host picks the *4 entry points, which read and write vec4s (4 values per index):
// HW and L are then counted in vec4s and V = 4, so a run's value count is (end − base)·V.
// RELU (override) fuses a ReLU after the affine step: forward clamps, backward masks dy where the
// normalised value is ≤ 0. Forward, mask and backward all evaluate (x − mean)·invstd·w + bias in one
// order, so the mask matches the forward output exactly.
// stats [2C] holds mean (0..C) then invstd (C..2C); it is what forward saves for backward.
struct Params { N: u32, C: u32, HW: u32, L: u32, J: u32, units: u32, V: u32, momentum: f32, eps: f32 };
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> weight: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> statsIn: array<f32>;
@group(0) @binding(6) var<storage, read> sums: array<f32>;
@group(0) @binding(7) var<storage, read_write> stats: array<f32>;
@group(0) @binding(8) var<storage, read_write> runningMean: array<f32>;
@group(0) @binding(9) var<storage, read_write> runningVar: array<f32>;
@group(0) @binding(10) var<storage, read_write> out: array<f32>;
@group(0) @binding(11) var<storage, read_write> sumsOut: array<f32>;
// Per-run partials [2·units]: (mean, M2) for statistics, (Σg, Σg·x̂) for gradients.
@group(0) @binding(12) var<storage, read_write> partials: array<f32>;
@group(0) @binding(13) var<storage, read> partialsIn: array<f32>;
// vec4 views of x, dy and out for the *4 entry points (the same buffers, bound under these names).
@group(0) @binding(14) var<storage, read> x4: array<vec4f>;
@group(0) @binding(15) var<storage, read> dy4: array<vec4f>;
@group(0) @binding(16) var<storage, read_write> out4: array<vec4f>;
// Affine parameter gradients, accumulated by grad_finalize_affine.
@group(0) @binding(17) var<storage, read_write> gradWeight: array<f32>;
@group(0) @binding(18) var<storage, read_write> gradBias: array<f32>;

const WG: u32 = 64u;
override RELU: bool = false;

struct Run { base: u32, end: u32, c: u32 };

// The run of invocation u: elements base..end of x (flat offsets) and their channel.
fn run(u: u32) -> Run {
  let plane = u / p.J;
  let k0 = (u - plane * p.J) * p.L;
  let start = plane * p.HW + k0;
  return Run(start, start + min(p.L, p.HW - k0), plane % p.C);
}

fn unit(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * WG; }

// Values in run j of a plane (the last run of a plane may be short).
fn runCount(j: u32) -> f32 { return f32(min(p.L, p.HW - j * p.L) * p.V); }

// Values per channel.
fn perChannelCount() -> f32 { return f32(p.N * p.HW * p.V); }

fn hsum(v: vec4f) -> f32 { return (v.x + v.y) + (v.z + v.w); }

// Training statistics, step 1: per run, its mean and M2 = Σ(x − mean)² (two passes over ≤ L values).
@compute @workgroup_size(64)
fn stats_partial(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  var s = 0.0;
  for (var i = r.base; i < r.end; i++) { s += x[i]; }
  let m = s / f32(r.end - r.base);
  var q = 0.0;
  for (var i = r.base; i < r.end; i++) { let d = x[i] - m; q += d * d; }
  partials[2u * u] = m;
  partials[2u * u + 1u] = q;
}

@compute @workgroup_size(64)
fn stats_partial4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  var s = vec4f(0.0);
  for (var i = r.base; i < r.end; i++) { s += x4[i]; }
  let m = hsum(s) / f32(4u * (r.end - r.base));
  var q = vec4f(0.0);
  for (var i = r.base; i < r.end; i++) { let d = x4[i] - m; q += d * d; }
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

// stats = [mean, 1/sqrt(var + eps)], one invocation per channel.
@compute @workgroup_size(64)
fn stats_finalize(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.C) { return; }
  let m = channelMoments(c);
  stats[c] = m.x;
  stats[p.C + c] = inverseSqrt(m.y + p.eps);
}

// As stats_finalize, and updates the running statistics in place as PyTorch does (running_var gets the
// unbiased variance M/(M−1)·var).
@compute @workgroup_size(64)
fn stats_finalize_running(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.C) { return; }
  let m = channelMoments(c);
  stats[c] = m.x;
  stats[p.C + c] = inverseSqrt(m.y + p.eps);
  let M = perChannelCount();
  runningMean[c] = (1.0 - p.momentum) * runningMean[c] + p.momentum * m.x;
  runningVar[c] = (1.0 - p.momentum) * runningVar[c] + p.momentum * m.y * M / (M - 1.0);
}

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

// Channel c's normalisation constants.
struct Affine { mean: f32, invstd: f32, w: f32, b: f32 };

fn affine(c: u32) -> Affine { return Affine(statsIn[c], statsIn[p.C + c], weight[c], bias[c]); }

fn xhat(v: f32, a: Affine) -> f32 { return (v - a.mean) * a.invstd; }
fn xhat4(v: vec4f, a: Affine) -> vec4f { return (v - a.mean) * a.invstd; }

// The output's gradient as seen before the ReLU: dy, masked where the forward output was clamped.
fn masked(g: f32, xh: f32, a: Affine) -> f32 { return select(g, select(0.0, g, xh * a.w + a.b > 0.0), RELU); }
fn masked4(g: vec4f, xh: vec4f, a: Affine) -> vec4f {
  return select(g, select(vec4f(0.0), g, xh * a.w + a.b > vec4f(0.0)), RELU);
}

// out = (x − mean)·invstd·weight + bias (then ReLU).
@compute @workgroup_size(64)
fn apply(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  for (var i = r.base; i < r.end; i++) {
    let y = xhat(x[i], a) * a.w + a.b;
    out[i] = select(y, max(y, 0.0), RELU);
  }
}

@compute @workgroup_size(64)
fn apply4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  for (var i = r.base; i < r.end; i++) {
    let y = xhat4(x4[i], a) * a.w + a.b;
    out4[i] = select(y, max(y, vec4f(0.0)), RELU);
  }
}

// Backward sums, step 1: per run, partials = (Σ g, Σ g·x̂) with g the (masked) output gradient.
@compute @workgroup_size(64)
fn grad_partial(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  var sa = 0.0;
  var sb = 0.0;
  for (var i = r.base; i < r.end; i++) {
    let xh = xhat(x[i], a);
    let g = masked(dy[i], xh, a);
    sa += g;
    sb += g * xh;
  }
  partials[2u * u] = sa;
  partials[2u * u + 1u] = sb;
}

@compute @workgroup_size(64)
fn grad_partial4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  var sa = vec4f(0.0);
  var sb = vec4f(0.0);
  for (var i = r.base; i < r.end; i++) {
    let xh = xhat4(x4[i], a);
    let g = masked4(dy4[i], xh, a);
    sa += g;
    sb += g * xh;
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

// sumsOut = [Σ g (0..C), Σ g·x̂ (C..2C)].
@compute @workgroup_size(64)
fn grad_finalize(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.C) { return; }
  let g = gradSums(c);
  sumsOut[c] = g.x;
  sumsOut[p.C + c] = g.y;
}

// As grad_finalize, and accumulates the affine gradients in the same pass (saves two dispatches):
// gradWeight += Σ g·x̂, gradBias += Σ g.
@compute @workgroup_size(64)
fn grad_finalize_affine(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.C) { return; }
  let g = gradSums(c);
  sumsOut[c] = g.x;
  sumsOut[p.C + c] = g.y;
  gradWeight[c] = gradWeight[c] + g.y;
  gradBias[c] = gradBias[c] + g.x;
}

// Training-mode input gradient (batch statistics depend on x):
// out += invstd·w·(g − Σg/M − x̂·Σ(g·x̂)/M), with sums = [Σg (0..C), Σg·x̂ (C..2C)].
@compute @workgroup_size(64)
fn grad_x_train(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let M = perChannelCount();
  let a = affine(r.c);
  let k = a.invstd * a.w;
  let ga = sums[r.c] / M;
  let gb = sums[p.C + r.c] / M;
  for (var i = r.base; i < r.end; i++) {
    let xh = xhat(x[i], a);
    out[i] = out[i] + k * (masked(dy[i], xh, a) - ga - xh * gb);
  }
}

@compute @workgroup_size(64)
fn grad_x_train4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let M = perChannelCount();
  let a = affine(r.c);
  let k = a.invstd * a.w;
  let ga = sums[r.c] / M;
  let gb = sums[p.C + r.c] / M;
  for (var i = r.base; i < r.end; i++) {
    let xh = xhat4(x4[i], a);
    out4[i] = out4[i] + k * (masked4(dy4[i], xh, a) - ga - xh * gb);
  }
}

// Evaluation-mode input gradient (statistics are constants): out += g·w·invstd.
@compute @workgroup_size(64)
fn grad_x_eval(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  let k = a.w * a.invstd;
  for (var i = r.base; i < r.end; i++) { out[i] = out[i] + masked(dy[i], xhat(x[i], a), a) * k; }
}

@compute @workgroup_size(64)
fn grad_x_eval4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  let k = a.w * a.invstd;
  for (var i = r.base; i < r.end; i++) { out4[i] = out4[i] + masked4(dy4[i], xhat4(x4[i], a), a) * k; }
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
