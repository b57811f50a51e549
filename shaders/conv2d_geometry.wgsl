// Geometry of one convolution as override constants, shared by the direct convolution kernels (prepended
// to conv2d_forward.wgsl, conv2d_backward_data.wgsl and conv2d_backward_weight.wgsl): each layer shape
// compiles to a kernel with constant loop bounds and divisors. CHECK_BOUNDS is false when no load of the
// kernel can fall outside the tensor it reads (each kernel says which), so the tests are left out.

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

override CG_IN: u32 = C_IN / GROUPS;
override CG_OUT: u32 = C_OUT / GROUPS;
override IN_HW: u32 = IN_H * IN_W;
override OUT_HW: u32 = OUT_H * OUT_W;
override KHW: u32 = K_H * K_W;
