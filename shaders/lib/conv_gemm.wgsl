// The register-block implicit GEMM of the general conv kernels (shared piece): conv2d_forward's main (M = out
// channels, K = in channels × taps) and conv2d_backward_input's main (M = in channels, K = out channels × taps).
// Each invocation sums a TM × 4 block: TM channels m0 .. m0 + TM − 1 (4, 8 or 16) × the 4 positions of `inb`, in
// the order taps (kh, kw) outer, K channels inner, and hands each channel's vec4 to the write hook.
// The piece declares the kernel's overrides (WG, TM, KH, KW, SH, SW). The includer declares `weight`
// (array<XT>, XT = f32 or f16: every load widens to f32, an identity for f32), the read hook
// `ld(i: i32, ok: bool) -> f32` (the operand at index i, 0 where !ok; `//#expand conv_gemm_ld(A)` writes it for an
// operand array A of XT) and the write hook `store(m, a: vec4f, base: vec4u,
// inb: vec4<bool>, plane: u32)` (channel m's 4 sums at base + m·plane, where inb); the entry that expands
// conv_gemm declares `inb` and the variables its arguments name. Arguments:
//   M0, M          the block's first channel; the channel count (weight rows past it are clamped, never stored)
//   WROW, KSTEP    weight index step per channel m; per K channel
//   KH0, SH, KW0, SW   the taps visited: kh = KH0, KH0 + SH, … < KH (kw likewise)
//   ROW, COL       blocks (hooks) run per tap row kh and column kw; ROW defines `rowok`, COL defines `ok`
//                  (vec4<bool>: the tap is inside the operand for each position) and `var idx` (vec4i: the
//                  operand index of K channel 0)
//   NK, PLANE      the K channel count; the operand index step per K channel
//   OUT, OPLANE    the write hook's base and plane
override WG: u32 = 64u; // invocations per workgroup, along positions
override TM: u32 = 4u; // 4, 8 or 16 channels (M) per invocation
override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 1u;
override SW: u32 = 1u;

// The read hook over operand array A: A[i], or 0 where the tap falls in the padding (or outside the operand).
//#block conv_gemm_ld(A)
fn ld(i: i32, ok: bool) -> f32 {
  return select(0.0, f32({{A}}[u32(max(i, 0))]), ok);
}
//#end

//#block conv_gemm(M0, M, WROW, KSTEP, KH0, SH, KW0, SW, ROW, COL, NK, PLANE, OUT, OPLANE)
  let w0 = min({{M0}}, {{M}} - 1u) * {{WROW}};
  let w1 = min({{M0}} + 1u, {{M}} - 1u) * {{WROW}};
  let w2 = min({{M0}} + 2u, {{M}} - 1u) * {{WROW}};
  let w3 = min({{M0}} + 3u, {{M}} - 1u) * {{WROW}};
  let w4 = min({{M0}} + 4u, {{M}} - 1u) * {{WROW}};
  let w5 = min({{M0}} + 5u, {{M}} - 1u) * {{WROW}};
  let w6 = min({{M0}} + 6u, {{M}} - 1u) * {{WROW}};
  let w7 = min({{M0}} + 7u, {{M}} - 1u) * {{WROW}};
  let w8 = min({{M0}} + 8u, {{M}} - 1u) * {{WROW}};
  let w9 = min({{M0}} + 9u, {{M}} - 1u) * {{WROW}};
  let w10 = min({{M0}} + 10u, {{M}} - 1u) * {{WROW}};
  let w11 = min({{M0}} + 11u, {{M}} - 1u) * {{WROW}};
  let w12 = min({{M0}} + 12u, {{M}} - 1u) * {{WROW}};
  let w13 = min({{M0}} + 13u, {{M}} - 1u) * {{WROW}};
  let w14 = min({{M0}} + 14u, {{M}} - 1u) * {{WROW}};
  let w15 = min({{M0}} + 15u, {{M}} - 1u) * {{WROW}};
  var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
  var a4 = vec4f(0.0); var a5 = vec4f(0.0); var a6 = vec4f(0.0); var a7 = vec4f(0.0);
  var a8 = vec4f(0.0); var a9 = vec4f(0.0); var a10 = vec4f(0.0); var a11 = vec4f(0.0);
  var a12 = vec4f(0.0); var a13 = vec4f(0.0); var a14 = vec4f(0.0); var a15 = vec4f(0.0);
  // Taps outer, K channels inner: the validity masks and base indices are computed once per tap, not per K step.
  for (var kh = {{KH0}}; kh < KH; kh += {{SH}}) {
//#expand {{ROW}}()
    for (var kw = {{KW0}}; kw < KW; kw += {{SW}}) {
//#expand {{COL}}()
      var k = kh * KW + kw;
      for (var j = 0u; j < {{NK}}; j++) {
        let v = vec4f(ld(idx.x, ok.x), ld(idx.y, ok.y), ld(idx.z, ok.z), ld(idx.w, ok.w));
        idx += vec4i(i32({{PLANE}}));
        a0 += vec4f(f32(weight[w0 + k])) * v;
        a1 += vec4f(f32(weight[w1 + k])) * v;
        a2 += vec4f(f32(weight[w2 + k])) * v;
        a3 += vec4f(f32(weight[w3 + k])) * v;
        if (TM > 4u) {
          a4 += vec4f(f32(weight[w4 + k])) * v;
          a5 += vec4f(f32(weight[w5 + k])) * v;
          a6 += vec4f(f32(weight[w6 + k])) * v;
          a7 += vec4f(f32(weight[w7 + k])) * v;
        }
        if (TM > 8u) {
          a8 += vec4f(f32(weight[w8 + k])) * v;
          a9 += vec4f(f32(weight[w9 + k])) * v;
          a10 += vec4f(f32(weight[w10 + k])) * v;
          a11 += vec4f(f32(weight[w11 + k])) * v;
          a12 += vec4f(f32(weight[w12 + k])) * v;
          a13 += vec4f(f32(weight[w13 + k])) * v;
          a14 += vec4f(f32(weight[w14 + k])) * v;
          a15 += vec4f(f32(weight[w15 + k])) * v;
        }
        k += {{KSTEP}};
      }
    }
  }
  let base = {{OUT}};
  store({{M0}}, a0, base, inb, {{OPLANE}});
  store({{M0}} + 1u, a1, base, inb, {{OPLANE}});
  store({{M0}} + 2u, a2, base, inb, {{OPLANE}});
  store({{M0}} + 3u, a3, base, inb, {{OPLANE}});
  if (TM > 4u) {
    store({{M0}} + 4u, a4, base, inb, {{OPLANE}});
    store({{M0}} + 5u, a5, base, inb, {{OPLANE}});
    store({{M0}} + 6u, a6, base, inb, {{OPLANE}});
    store({{M0}} + 7u, a7, base, inb, {{OPLANE}});
  }
  if (TM > 8u) {
    store({{M0}} + 8u, a8, base, inb, {{OPLANE}});
    store({{M0}} + 9u, a9, base, inb, {{OPLANE}});
    store({{M0}} + 10u, a10, base, inb, {{OPLANE}});
    store({{M0}} + 11u, a11, base, inb, {{OPLANE}});
    store({{M0}} + 12u, a12, base, inb, {{OPLANE}});
    store({{M0}} + 13u, a13, base, inb, {{OPLANE}});
    store({{M0}} + 14u, a14, base, inb, {{OPLANE}});
    store({{M0}} + 15u, a15, base, inb, {{OPLANE}});
  }
//#end
