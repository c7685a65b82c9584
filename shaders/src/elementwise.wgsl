// Element-wise ops over n floats, as vec4s: every binding is a whole number of vec4s (the runtime binds
// tensor buffers rounded up to 16 bytes), so a tail past n is computed into the buffer's padding and never read.
// Each invocation handles RUN consecutive vec4s: on CPU-backed adapters contiguous runs per invocation
// stream well, and on GPUs neighbouring invocations still touch neighbouring cache lines.
override WG: u32 = 64u;
override RUN: u32 = 4u;

struct Params { n4: u32, alpha: f32 };
//#bindings p: uniform Params, a: read array<vec4f>, b: read array<vec4f>, out: read_write array<vec4f>
// A second gradient written by the same pass (add_relu_backward: both inputs of the add).
//#bindings out2: read_write array<vec4f>

//#include "lib/ids.wgsl"

fn first(gid: vec3u, nwg: vec3u) -> u32 { return flatId(gid, nwg) * RUN; }
fn last(start: u32) -> u32 { return min(start + RUN, p.n4); }

// Entry NAME runs STEP for each vec4 index i of the invocation's run.
//#block map(NAME, STEP)
@compute @workgroup_size(WG)
fn {{NAME}}(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let s = first(gid, nwg);
  for (var i = s; i < last(s); i++) { {{STEP}} }
}
//#end

// out = a + b
//#expand map(add, out[i] = a[i] + b[i];)

// out = a * b
//#expand map(mul, out[i] = a[i] * b[i];)

// out += alpha * a  (gradient accumulation: beta = 1)
//#expand map(axpy, out[i] = out[i] + p.alpha * a[i];)

// out += a * b  (gradient of a product)
//#expand map(mul_acc, out[i] = out[i] + a[i] * b[i];)

// out = max(a, 0)
//#expand map(relu, out[i] = max(a[i], vec4f(0.0));)

// out += a where b > 0: relu's backward, with a = dy and b = y (the relu output)
//#expand map(relu_backward, out[i] = out[i] + select(vec4f(0.0), a[i], b[i] > vec4f(0.0));)

// out = max(a + b, 0): a residual connection's add and ReLU in one pass (relu(add(a, b)), same values)
//#expand map(add_relu, out[i] = max(a[i] + b[i], vec4f(0.0));)

// out += m and out2 += m with m = a where b > 0: add_relu's backward into both inputs' gradients at once, with
// a = dy and b = y (the output), as relu_backward followed by two axpys with alpha 1 would add
//#expand map(add_relu_backward, let m = select(vec4f(0.0), a[i], b[i] > vec4f(0.0)); out[i] = out[i] + m; out2[i] = out2[i] + m;)

// out = alpha * a
//#expand map(scale, out[i] = p.alpha * a[i];)
