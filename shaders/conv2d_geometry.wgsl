// Geometry of one convolution as override constants, shared by the direct convolution kernels (prepended
// to conv2d_forward.wgsl, conv2d_backward_data.wgsl and conv2d_backward_weight.wgsl): each layer shape
// compiles to a kernel with constant loop bounds and divisors. CHECK_BOUNDS is false when no load of the
// kernel can fall outside the tensor it reads (each kernel says which), so the tests are left out.
// Only the live window of kernel taps is looped over: taps TAP0_H .. TAP0_H + TAPS_H - 1 (likewise along
// x), outside which no tap of any output pixel lands inside the image (on small images, a 3x3 padding-1
// kernel may only ever use its centre). Weights are still indexed with the full K_H x K_W kernel.

override BATCH: u32;
override C_IN: u32;
override IN_H: u32;
override IN_W: u32;
override C_OUT: u32;
override OUT_H: u32;
override OUT_W: u32;
override K_H: u32;
override K_W: u32;
override STRIDE_H: i32;
override STRIDE_W: i32;
override PAD_H: i32;
override PAD_W: i32;
override DIL_H: i32;
override DIL_W: i32;
override GROUPS: u32;
override CHECK_BOUNDS: bool = true;
override TAP0_H: u32 = 0u;
override TAPS_H: u32 = K_H;
override TAP0_W: u32 = 0u;
override TAPS_W: u32 = K_W;

override CG_IN: u32 = C_IN / GROUPS;
override CG_OUT: u32 = C_OUT / GROUPS;
override IN_HW: u32 = IN_H * IN_W;
override OUT_HW: u32 = OUT_H * OUT_W;
override KHW: u32 = K_H * K_W;
override LIVE_TAPS: u32 = TAPS_H * TAPS_W;

