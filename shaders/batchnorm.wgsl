// BatchNorm2d over x [N, C, H, W]; per-channel statistics reduce over the M = N·H·W values of a channel.
// Reductions run one workgroup of 256 per channel: each invocation sums a strided slice in a fixed order,
// then a tree in workgroup memory combines them, so results are deterministic (no float atomics).
// stats [2C] holds mean (0..C) then invstd (C..2C); it is what forward saves for backward.
struct Params { N: u32, C: u32, HW: u32, total: u32, momentum: f32, eps: f32 };
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

const WG: u32 = 256u;
var<workgroup> red: array<f32, 256>;

// Offset of the k-th value (k < M) of channel c.
fn at(c: u32, k: u32) -> u32 {
  let n = k / p.HW;
  return (n * p.C + c) * p.HW + (k - n * p.HW);
}

// Sums v over the workgroup; every invocation gets the total. Must be called in uniform control flow.
fn wgSum(v: f32, t: u32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (t < s) { red[t] = red[t] + red[t + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

// Two-pass mean and biased variance of channel c (sound for large means, unlike E[x²] − E[x]²).
fn channelMoments(c: u32, t: u32) -> vec2f {
  let M = p.N * p.HW;
  var s = 0.0;
  for (var k = t; k < M; k += WG) { s += x[at(c, k)]; }
  let mean = wgSum(s, t) / f32(M);
  var q = 0.0;
  for (var k = t; k < M; k += WG) { let d = x[at(c, k)] - mean; q += d * d; }
  let variance = wgSum(q, t) / f32(M);
  return vec2f(mean, variance);
}

// Training statistics: stats = [mean, 1/sqrt(var + eps)]. One workgroup per channel.
@compute @workgroup_size(256)
fn batch_stats(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let c = wid.x;
  let m = channelMoments(c, t);
  if (t == 0u) {
    stats[c] = m.x;
    stats[p.C + c] = inverseSqrt(m.y + p.eps);
  }
}

// As batch_stats, and updates the running statistics in place as PyTorch does (running_var gets the
// unbiased variance M/(M−1)·var).
@compute @workgroup_size(256)
fn batch_stats_running(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let c = wid.x;
  let m = channelMoments(c, t);
  if (t == 0u) {
    stats[c] = m.x;
    stats[p.C + c] = inverseSqrt(m.y + p.eps);
    let M = f32(p.N * p.HW);
    runningMean[c] = (1.0 - p.momentum) * runningMean[c] + p.momentum * m.x;
    runningVar[c] = (1.0 - p.momentum) * runningVar[c] + p.momentum * m.y * M / (M - 1.0);
  }
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

fn normalized(i: u32) -> f32 {
  let c = (i / p.HW) % p.C;
  return (x[i] - statsIn[c]) * statsIn[p.C + c] * weight[c] + bias[c];
}

// out = (x − mean)·invstd·weight + bias, element-wise over total = N·C·H·W.
@compute @workgroup_size(256)
fn apply(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < p.total) { out[i] = normalized(i); }
}

// apply followed by ReLU in the same pass.
@compute @workgroup_size(256)
fn apply_relu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < p.total) { out[i] = max(normalized(i), 0.0); }
}

// Per-channel sums for backward: sumsOut = [Σ dy (0..C), Σ dy·x̂ (C..2C)]. One workgroup per channel.
@compute @workgroup_size(256)
fn grad_sums(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let c = wid.x;
  let M = p.N * p.HW;
  let mean = statsIn[c];
  let invstd = statsIn[p.C + c];
  var a = 0.0;
  var b = 0.0;
  for (var k = t; k < M; k += WG) {
    let i = at(c, k);
    let g = dy[i];
    a += g;
    b += g * (x[i] - mean) * invstd;
  }
  let sa = wgSum(a, t);
  let sb = wgSum(b, t);
  if (t == 0u) {
    sumsOut[c] = sa;
    sumsOut[p.C + c] = sb;
  }
}

// As grad_sums, with dy masked by the fused ReLU: the gradient is dy where normalized(x) > 0.
@compute @workgroup_size(256)
fn grad_sums_relu(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let c = wid.x;
  let M = p.N * p.HW;
  let mean = statsIn[c];
  let invstd = statsIn[p.C + c];
  var a = 0.0;
  var b = 0.0;
  for (var k = t; k < M; k += WG) {
    let i = at(c, k);
    let xh = (x[i] - mean) * invstd;
    let g = select(0.0, dy[i], xh * weight[c] + bias[c] > 0.0);
    a += g;
    b += g * xh;
  }
  let sa = wgSum(a, t);
  let sb = wgSum(b, t);
  if (t == 0u) {
    sumsOut[c] = sa;
    sumsOut[p.C + c] = sb;
  }
}

// Training-mode input gradient (batch statistics depend on x):
// out += invstd·w·(g − Σg/M − x̂·Σ(g·x̂)/M), with sums = [Σg (0..C), Σg·x̂ (C..2C)].
fn trainDx(i: u32, g: f32) {
  let c = (i / p.HW) % p.C;
  let M = f32(p.N * p.HW);
  let invstd = statsIn[p.C + c];
  let xh = (x[i] - statsIn[c]) * invstd;
  out[i] = out[i] + invstd * weight[c] * (g - sums[c] / M - xh * sums[p.C + c] / M);
}

@compute @workgroup_size(256)
fn grad_x_train(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < p.total) { trainDx(i, dy[i]); }
}

@compute @workgroup_size(256)
fn grad_x_train_relu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < p.total) { trainDx(i, select(0.0, dy[i], normalized(i) > 0.0)); }
}

// Evaluation-mode input gradient (statistics are constants): out += dy·w·invstd.
@compute @workgroup_size(256)
fn grad_x_eval(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < p.total) {
    let c = (i / p.HW) % p.C;
    out[i] = out[i] + dy[i] * weight[c] * statsIn[p.C + c];
  }
}

@compute @workgroup_size(256)
fn grad_x_eval_relu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < p.total) {
    let c = (i / p.HW) % p.C;
    out[i] = out[i] + select(0.0, dy[i], normalized(i) > 0.0) * weight[c] * statsIn[p.C + c];
  }
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
