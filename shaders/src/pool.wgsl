// 2-D pooling over x [N, C, H, W] → out [N, C, OH, OW], square windows of size K, stride S, padding P.
// Each invocation handles one ROW (of outputs for the forward passes, of inputs for the gathering backward
// passes), so the index arithmetic (divisions) is paid once per row rather than per value: on a CPU
// adapter per-invocation and per-division costs dominate these light kernels.
// Backward either scatters (max pooling with disjoint windows: each input has at most one window, so
// writes never collide) or gathers per input from every window that covers it; both are deterministic.
struct Params { planes: u32, H: u32, W: u32, OH: u32, OW: u32, K: u32, S: u32, P: u32 };
//#bindings p: uniform Params, x: read array<f32>, dy: read array<f32>, argmaxIn: read array<u32>
//#bindings out: read_write array<f32>, argmax: read_write array<u32>
// vec4 view of x for max_forward_2x2.
//#bindings x4: read array<vec4f>

const WG: u32 = 64u;
//#include "lib/ids.wgsl"

// In-bounds input range [start, end) along one axis of the window of output position o.
fn window(o: u32, n: u32) -> vec2u {
  let a = i32(o * p.S) - i32(p.P);
  return vec2u(u32(max(a, 0)), u32(min(a + i32(p.K), i32(n))));
}

// Output row `row` (plane · OH + oh): where its plane's input starts, and the in-bounds input rows of its windows.
struct OutRow { base: u32, rh: vec2u };

fn outRow(row: u32) -> OutRow {
  let plane = row / p.OH;
  return OutRow(plane * p.H * p.W, window(row - plane * p.OH, p.H));
}

// Max over each window of output row (plane, oh); argmax holds the in-plane index ih·W + iw of the first
// maximum in row-major window order (PyTorch's CPU tie rule): later values replace it only when strictly
// greater. One invocation per output row.
@compute @workgroup_size(64)
fn max_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = flatId(gid, nwg);
  if (row >= p.planes * p.OH) { return; }
  let o = outRow(row);
  let obase = row * p.OW;
  for (var ow = 0u; ow < p.OW; ow++) {
    let rw = window(ow, p.W);
    // Padding is −inf, so the best starts at the first in-bounds value (every window has one: 2P ≤ K).
    var idx = o.rh.x * p.W + rw.x;
    var best = x[o.base + idx];
    for (var ih = o.rh.x; ih < o.rh.y; ih++) {
      for (var iw = rw.x; iw < rw.y; iw++) {
        let v = x[o.base + ih * p.W + iw];
        if (v > best) { best = v; idx = ih * p.W + iw; }
      }
    }
    out[obase + ow] = best;
    argmax[obase + ow] = idx;
  }
}

// First maximum of a 2×2 window in row-major order (top-left, top-right, bottom-left, bottom-right)
// whose top-left input has in-plane index i; as max_forward, later values win only when strictly greater.
struct Best { v: f32, idx: u32 };

fn max2x2(tl: f32, tr: f32, bl: f32, br: f32, i: u32) -> Best {
  var best = tl;
  var idx = i;
  if (tr > best) { best = tr; idx = i + 1u; }
  if (bl > best) { best = bl; idx = i + p.W; }
  if (br > best) { best = br; idx = i + p.W + 1u; }
  return Best(best, idx);
}

// max_forward for K = S = 2, P = 0 and W % 4 == 0 (the VGG pool): one invocation per output row reads the
// two input rows as vec4s, each giving two outputs.
@compute @workgroup_size(64)
fn max_forward_2x2(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = flatId(gid, nwg);
  if (row >= p.planes * p.OH) { return; }
  let plane = row / p.OH;
  let oh = row - plane * p.OH;
  let top = (plane * p.H + 2u * oh) * p.W; // flat offset of the window's first input row
  let W4 = p.W / 4u;
  let t4 = top / 4u;
  let obase = row * p.OW;
  for (var q = 0u; q < W4; q++) {
    let a = x4[t4 + q];
    let b = x4[t4 + W4 + q];
    let r = 2u * oh * p.W + 4u * q; // in-plane index of a.x
    let m0 = max2x2(a.x, a.y, b.x, b.y, r);
    let m1 = max2x2(a.z, a.w, b.z, b.w, r + 2u);
    out[obase + 2u * q] = m0.v;
    argmax[obase + 2u * q] = m0.idx;
    out[obase + 2u * q + 1u] = m1.v;
    argmax[obase + 2u * q + 1u] = m1.idx;
  }
}

// Disjoint windows (S ≥ K): out (= gradOf(x)) += dy at each window's argmax, nothing elsewhere. One
// invocation per output row; no input is the argmax of two windows, so writes never collide.
@compute @workgroup_size(64)
fn max_backward_disjoint(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = flatId(gid, nwg);
  if (row >= p.planes * p.OH) { return; }
  let plane = row / p.OH;
  let base = plane * p.H * p.W;
  let obase = row * p.OW;
  for (var ow = 0u; ow < p.OW; ow++) {
    let i = base + argmaxIn[obase + ow];
    out[i] = out[i] + dy[obase + ow];
  }
}

// Range of output positions (along one axis) whose window covers input position ip: o·S − P ≤ ip < o·S − P + K.
fn covering(ip: u32, n: u32) -> vec2u {
  let a = i32(ip) + i32(p.P);
  let lo = max(a - i32(p.K) + i32(p.S), 0) / i32(p.S); // ceil((a − K + 1) / S), clamped at 0
  let hi = min(a / i32(p.S) + 1, i32(n));
  return vec2u(u32(lo), u32(max(hi, lo)));
}

// One invocation per input row: for each input (r: its in-plane index), STEP runs for every window that covers it
// (o: the window's flat output index) to sum g, then out (= gradOf(x)) += GRAD.
//#block gather(NAME, STEP, GRAD)
@compute @workgroup_size(64)
fn {{NAME}}(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = flatId(gid, nwg);
  if (row >= p.planes * p.H) { return; }
  let plane = row / p.H;
  let ih = row - plane * p.H;
  let rh = covering(ih, p.OH);
  let obase = plane * p.OH * p.OW;
  for (var iw = 0u; iw < p.W; iw++) {
    let r = ih * p.W + iw;
    let rw = covering(iw, p.OW);
    var g = 0.0;
    for (var oh = rh.x; oh < rh.y; oh++) {
      for (var ow = rw.x; ow < rw.y; ow++) { let o = obase + oh * p.OW + ow; {{STEP}} }
    }
    let i = row * p.W + iw;
    out[i] = out[i] + {{GRAD}};
  }
}
//#end

// Overlapping windows: the dy of the windows whose argmax is this input, gathered.
//#expand gather(max_backward, if (argmaxIn[o] == r) { g += dy[o]; }, g)

// Average over the K×K window including padding (count_include_pad = true: the divisor is always K²).
// One invocation per output row.
@compute @workgroup_size(64)
fn avg_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = flatId(gid, nwg);
  if (row >= p.planes * p.OH) { return; }
  let o = outRow(row);
  for (var ow = 0u; ow < p.OW; ow++) {
    let rw = window(ow, p.W);
    var s = 0.0;
    for (var ih = o.rh.x; ih < o.rh.y; ih++) {
      for (var iw = rw.x; iw < rw.y; iw++) { s += x[o.base + ih * p.W + iw]; }
    }
    out[row * p.OW + ow] = s / f32(p.K * p.K);
  }
}

// Average pooling's: Σ dy / K² over the windows covering each input.
//#expand gather(avg_backward, g += dy[o];, g / f32(p.K * p.K))

// Global average: one invocation per plane sums its H·W values in order (out is [planes]).
@compute @workgroup_size(64)
fn global_avg_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = flatId(gid, nwg);
  if (i >= p.planes) { return; }
  let hw = p.H * p.W;
  let base = i * hw;
  var s = 0.0;
  for (var k = 0u; k < hw; k++) { s += x[base + k]; }
  out[i] = s / f32(hw);
}

// out (= gradOf(x)) += dy[plane] / (H·W). One invocation per plane.
@compute @workgroup_size(64)
fn global_avg_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let plane = flatId(gid, nwg);
  if (plane >= p.planes) { return; }
  let hw = p.H * p.W;
  let g = dy[plane] / f32(hw);
  for (var i = plane * hw; i < (plane + 1u) * hw; i++) { out[i] = out[i] + g; }
}
