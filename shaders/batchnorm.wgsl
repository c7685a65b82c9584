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

const WG: u32 = 64u;

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

// Channel c's normalisation constants. Forward, the ReLU mask and backward all evaluate
// (x − mean)·invstd·w + bias in this one order, so the mask matches the forward output exactly.
struct Affine { mean: f32, invstd: f32, w: f32, b: f32 };

fn affine(c: u32) -> Affine { return Affine(statsIn[c], statsIn[p.C + c], weight[c], bias[c]); }

fn norm(v: f32, a: Affine) -> f32 { return (v - a.mean) * a.invstd * a.w + a.b; }

// out = (x − mean)·invstd·weight + bias.
@compute @workgroup_size(64)
fn apply(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  for (var i = r.base; i < r.end; i++) { out[i] = norm(x[i], a); }
}

// apply followed by ReLU in the same pass.
@compute @workgroup_size(64)
fn apply_relu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  for (var i = r.base; i < r.end; i++) { out[i] = max(norm(x[i], a), 0.0); }
}

// Backward sums, step 1: per run, partials = (Σ dy, Σ dy·x̂).
@compute @workgroup_size(64)
fn grad_partial(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let mean = statsIn[r.c];
  let invstd = statsIn[p.C + r.c];
  var sa = 0.0;
  var sb = 0.0;
  for (var i = r.base; i < r.end; i++) {
    let g = dy[i];
    sa += g;
    sb += g * (x[i] - mean) * invstd;
  }
  partials[2u * u] = sa;
  partials[2u * u + 1u] = sb;
}

// As grad_partial, with dy masked by the fused ReLU: the gradient is dy where normalized(x) > 0.
@compute @workgroup_size(64)
fn grad_partial_relu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  var sa = 0.0;
  var sb = 0.0;
  for (var i = r.base; i < r.end; i++) {
    let xh = (x[i] - a.mean) * a.invstd;
    let g = select(0.0, dy[i], xh * a.w + a.b > 0.0);
    sa += g;
    sb += g * xh;
  }
  partials[2u * u] = sa;
  partials[2u * u + 1u] = sb;
}

// Step 2: sumsOut = [Σ dy (0..C), Σ dy·x̂ (C..2C)], channel c's runs summed in (n, j) order.
@compute @workgroup_size(64)
fn grad_finalize(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.C) { return; }
  var sa = 0.0;
  var sb = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let u0 = (n * p.C + c) * p.J;
    for (var j = 0u; j < p.J; j++) {
      sa += partialsIn[2u * (u0 + j)];
      sb += partialsIn[2u * (u0 + j) + 1u];
    }
  }
  sumsOut[c] = sa;
  sumsOut[p.C + c] = sb;
}

// Training-mode input gradient (batch statistics depend on x):
// out += invstd·w·(g − Σg/M − x̂·Σ(g·x̂)/M), with sums = [Σg (0..C), Σg·x̂ (C..2C)].
@compute @workgroup_size(64)
fn grad_x_train(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let M = perChannelCount();
  let mean = statsIn[r.c];
  let invstd = statsIn[p.C + r.c];
  let k = invstd * weight[r.c];
  let ga = sums[r.c] / M;
  let gb = sums[p.C + r.c] / M;
  for (var i = r.base; i < r.end; i++) {
    let xh = (x[i] - mean) * invstd;
    out[i] = out[i] + k * (dy[i] - ga - xh * gb);
  }
}

@compute @workgroup_size(64)
fn grad_x_train_relu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let M = perChannelCount();
  let a = affine(r.c);
  let k = a.invstd * a.w;
  let ga = sums[r.c] / M;
  let gb = sums[p.C + r.c] / M;
  for (var i = r.base; i < r.end; i++) {
    let xh = (x[i] - a.mean) * a.invstd;
    let g = select(0.0, dy[i], xh * a.w + a.b > 0.0);
    out[i] = out[i] + k * (g - ga - xh * gb);
  }
}

// Evaluation-mode input gradient (statistics are constants): out += dy·w·invstd.
@compute @workgroup_size(64)
fn grad_x_eval(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let k = weight[r.c] * statsIn[p.C + r.c];
  for (var i = r.base; i < r.end; i++) { out[i] = out[i] + dy[i] * k; }
}

@compute @workgroup_size(64)
fn grad_x_eval_relu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  let k = a.w * a.invstd;
  for (var i = r.base; i < r.end; i++) { out[i] = out[i] + select(0.0, dy[i], norm(x[i], a) > 0.0) * k; }
}

// vec4 forms of the per-run entry points above (same arithmetic, component-wise), for H·W % 4 == 0.
fn norm4(v: vec4f, a: Affine) -> vec4f { return (v - a.mean) * a.invstd * a.w + a.b; }

@compute @workgroup_size(64)
fn apply4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  for (var i = r.base; i < r.end; i++) { out4[i] = norm4(x4[i], a); }
}

@compute @workgroup_size(64)
fn apply_relu4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  for (var i = r.base; i < r.end; i++) { out4[i] = max(norm4(x4[i], a), vec4f(0.0)); }
}

@compute @workgroup_size(64)
fn grad_partial4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let mean = statsIn[r.c];
  let invstd = statsIn[p.C + r.c];
  var sa = vec4f(0.0);
  var sb = vec4f(0.0);
  for (var i = r.base; i < r.end; i++) {
    let g = dy4[i];
    sa += g;
    sb += g * (x4[i] - mean) * invstd;
  }
  partials[2u * u] = hsum(sa);
  partials[2u * u + 1u] = hsum(sb);
}

@compute @workgroup_size(64)
fn grad_partial_relu4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  var sa = vec4f(0.0);
  var sb = vec4f(0.0);
  for (var i = r.base; i < r.end; i++) {
    let xh = (x4[i] - a.mean) * a.invstd;
    let g = select(vec4f(0.0), dy4[i], xh * a.w + a.b > vec4f(0.0));
    sa += g;
    sb += g * xh;
  }
  partials[2u * u] = hsum(sa);
  partials[2u * u + 1u] = hsum(sb);
}

@compute @workgroup_size(64)
fn grad_x_train4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let M = perChannelCount();
  let mean = statsIn[r.c];
  let invstd = statsIn[p.C + r.c];
  let k = invstd * weight[r.c];
  let ga = sums[r.c] / M;
  let gb = sums[p.C + r.c] / M;
  for (var i = r.base; i < r.end; i++) {
    let xh = (x4[i] - mean) * invstd;
    out4[i] = out4[i] + k * (dy4[i] - ga - xh * gb);
  }
}

@compute @workgroup_size(64)
fn grad_x_train_relu4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let M = perChannelCount();
  let a = affine(r.c);
  let k = a.invstd * a.w;
  let ga = sums[r.c] / M;
  let gb = sums[p.C + r.c] / M;
  for (var i = r.base; i < r.end; i++) {
    let xh = (x4[i] - a.mean) * a.invstd;
    let g = select(vec4f(0.0), dy4[i], xh * a.w + a.b > vec4f(0.0));
    out4[i] = out4[i] + k * (g - ga - xh * gb);
  }
}

@compute @workgroup_size(64)
fn grad_x_eval4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let k = weight[r.c] * statsIn[p.C + r.c];
  for (var i = r.base; i < r.end; i++) { out4[i] = out4[i] + dy4[i] * k; }
}

@compute @workgroup_size(64)
fn grad_x_eval_relu4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let u = unit(gid, nwg);
  if (u >= p.units) { return; }
  let r = run(u);
  let a = affine(r.c);
  let k = a.w * a.invstd;
  for (var i = r.base; i < r.end; i++) { out4[i] = out4[i] + select(vec4f(0.0), dy4[i], norm4(x4[i], a) > vec4f(0.0)) * k; }
}

// Affine gradients from the sums: out (= gradOf(weight)) += Σ dy·x̂; out (= gradOf(bias)) += Σ dy.
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
