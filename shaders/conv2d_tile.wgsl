// Register-tiled GEMM core shared by the convolution kernels: the op's own shader is appended to this text.
// An invocation owns TM rows x 4 * VN columns of the GEMM output, rows strided by WG_Y and columns by WG_X
// so that neighbouring invocations touch neighbouring columns. The op's shader defines:
//   struct Tap                                  what a column load needs at one reduction step
//   fn setup_row(i: u32, row: u32)              remember row i (global row index `row`)
//   fn setup_col(j: u32, col: u32)              remember column j (global column index `col`)
//   fn row_value(i: u32, step: u32) -> f32      row i's operand at reduction offset `step`
//   fn col_value(j: u32, tap: Tap) -> f32       column j's operand for `tap`
//   fn store(i: u32, j: u32, value: f32)        write (or skip) output element (i, j)
// Rows and columns are only ever indexed with constants (helpers are called once per index, beyond-tile
// calls guarded by TM and VN) because a private array indexed dynamically is not kept in registers by
// some drivers (llvmpipe), which then runs several times slower. Each reduction step loads TM + 4 * VN
// values for 4 * TM * VN multiply-adds, so large tiles pay off where loads are dear (CPU drivers) and
// small ones where registers are (GPUs).

override WG_X: u32 = 16u; // invocations along columns
override WG_Y: u32 = 4u; // invocations along rows
override TM: u32 = 8u; // rows per invocation: 1, 2, 4, 8 or 16
override VN: u32 = 2u; // vec4s of columns per invocation: 1, 2 or 4
// Columns between an invocation's neighbouring ones: WG_X, or a fraction of it where the op splits its
// workgroup into side-by-side tiles (Winograd's points).
override COL_STRIDE: u32 = WG_X;
override TILE_ROWS: u32 = TM * WG_Y;
override TILE_COLS: u32 = 4u * VN * WG_X;

var<private> acc: array<vec4f, 64>; // [row i][column vec4 v] at 4 * i + v

// The ladders below run an operation on rows (or columns) 0, 1, 2..3, 4..7 and 8..15 as TM (or VN) asks,
// each index a constant once the helpers are inlined.

fn setup_rows4(i: u32, first_row: u32) {
  setup_row(i, first_row + i * WG_Y);
  setup_row(i + 1u, first_row + (i + 1u) * WG_Y);
  setup_row(i + 2u, first_row + (i + 2u) * WG_Y);
  setup_row(i + 3u, first_row + (i + 3u) * WG_Y);
}

fn setup_cols4(j: u32, first_col: u32) {
  setup_col(j, first_col + j * COL_STRIDE);
  setup_col(j + 1u, first_col + (j + 1u) * COL_STRIDE);
  setup_col(j + 2u, first_col + (j + 2u) * COL_STRIDE);
  setup_col(j + 3u, first_col + (j + 3u) * COL_STRIDE);
}

fn setup_tile(first_row: u32, first_col: u32) {
  setup_row(0u, first_row);
  if (TM > 1u) {
    setup_row(1u, first_row + WG_Y);
  }
  if (TM > 2u) {
    setup_row(2u, first_row + 2u * WG_Y);
    setup_row(3u, first_row + 3u * WG_Y);
  }
  if (TM > 4u) {
    setup_rows4(4u, first_row);
  }
  if (TM > 8u) {
    setup_rows4(8u, first_row);
    setup_rows4(12u, first_row);
  }
  setup_cols4(0u, first_col);
  if (VN > 1u) {
    setup_cols4(4u, first_col);
  }
  if (VN > 2u) {
    setup_cols4(8u, first_col);
    setup_cols4(12u, first_col);
  }
}

fn col_values(v: u32, tap: Tap) -> vec4f {
  let j = 4u * v;
  return vec4f(col_value(j, tap), col_value(j + 1u, tap), col_value(j + 2u, tap), col_value(j + 3u, tap));
}

// acc[i][j] += row_i * x[j]
fn row_fma(i: u32, row_i: f32, x: array<vec4f, 4>) {
  let a = vec4f(row_i);
  acc[4u * i] = fma(a, x[0], acc[4u * i]);
  if (VN > 1u) {
    acc[4u * i + 1u] = fma(a, x[1], acc[4u * i + 1u]);
  }
  if (VN > 2u) {
    acc[4u * i + 2u] = fma(a, x[2], acc[4u * i + 2u]);
    acc[4u * i + 3u] = fma(a, x[3], acc[4u * i + 3u]);
  }
}

// acc[i][j] += row_value(i, step) * x[j] for rows i..i+3
fn rows4_fma(i: u32, step: u32, x: array<vec4f, 4>) {
  row_fma(i, row_value(i, step), x);
  row_fma(i + 1u, row_value(i + 1u, step), x);
  row_fma(i + 2u, row_value(i + 2u, step), x);
  row_fma(i + 3u, row_value(i + 3u, step), x);
}

// One reduction step: acc[i][j] += row_value(i, step) * col_value(j, tap).
fn tile_step(step: u32, tap: Tap) {
  var x: array<vec4f, 4>;
  x[0] = col_values(0u, tap);
  if (VN > 1u) {
    x[1] = col_values(1u, tap);
  }
  if (VN > 2u) {
    x[2] = col_values(2u, tap);
    x[3] = col_values(3u, tap);
  }
  row_fma(0u, row_value(0u, step), x);
  if (TM > 1u) {
    row_fma(1u, row_value(1u, step), x);
  }
  if (TM > 2u) {
    row_fma(2u, row_value(2u, step), x);
    row_fma(3u, row_value(3u, step), x);
  }
  if (TM > 4u) {
    rows4_fma(4u, step, x);
  }
  if (TM > 8u) {
    rows4_fma(8u, step, x);
    rows4_fma(12u, step, x);
  }
}

fn store_vec(i: u32, v: u32) {
  let a = acc[4u * i + v];
  store(i, 4u * v, a.x);
  store(i, 4u * v + 1u, a.y);
  store(i, 4u * v + 2u, a.z);
  store(i, 4u * v + 3u, a.w);
}

fn store_row(i: u32) {
  store_vec(i, 0u);
  if (VN > 1u) {
    store_vec(i, 1u);
  }
  if (VN > 2u) {
    store_vec(i, 2u);
    store_vec(i, 3u);
  }
}

fn store_rows4(i: u32) {
  store_row(i);
  store_row(i + 1u);
  store_row(i + 2u);
  store_row(i + 3u);
}

fn store_tile() {
  store_row(0u);
  if (TM > 1u) {
    store_row(1u);
  }
  if (TM > 2u) {
    store_row(2u);
    store_row(3u);
  }
  if (TM > 4u) {
    store_rows4(4u);
  }
  if (TM > 8u) {
    store_rows4(8u);
    store_rows4(12u);
  }
}
