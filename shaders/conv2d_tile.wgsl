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
// some drivers (llvmpipe), which then runs several times slower.

override WG_X: u32 = 16u; // invocations along columns
override WG_Y: u32 = 4u; // invocations along rows
override TM: u32 = 8u; // rows per invocation: 1, 2, 4 or 8
override VN: u32 = 2u; // vec4s of columns per invocation: 1 or 2
override TILE_ROWS: u32 = TM * WG_Y;
override TILE_COLS: u32 = 4u * VN * WG_X;

var<private> acc: array<vec4f, 16>; // [row i][column vec4 v] at 2 * i + v

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
    setup_row(4u, first_row + 4u * WG_Y);
    setup_row(5u, first_row + 5u * WG_Y);
    setup_row(6u, first_row + 6u * WG_Y);
    setup_row(7u, first_row + 7u * WG_Y);
  }
  setup_col(0u, first_col);
  setup_col(1u, first_col + WG_X);
  setup_col(2u, first_col + 2u * WG_X);
  setup_col(3u, first_col + 3u * WG_X);
  if (VN > 1u) {
    setup_col(4u, first_col + 4u * WG_X);
    setup_col(5u, first_col + 5u * WG_X);
    setup_col(6u, first_col + 6u * WG_X);
    setup_col(7u, first_col + 7u * WG_X);
  }
}

fn col_values(v: u32, tap: Tap) -> vec4f {
  let j = 4u * v;
  return vec4f(col_value(j, tap), col_value(j + 1u, tap), col_value(j + 2u, tap), col_value(j + 3u, tap));
}

fn row_fma(i: u32, step: u32, x0: vec4f, x1: vec4f) {
  let a = vec4f(row_value(i, step));
  acc[2u * i] = fma(a, x0, acc[2u * i]);
  if (VN > 1u) {
    acc[2u * i + 1u] = fma(a, x1, acc[2u * i + 1u]);
  }
}

// One reduction step: acc[i][j] += row_value(i, step) * col_value(j, tap).
fn tile_step(step: u32, tap: Tap) {
  let x0 = col_values(0u, tap);
  var x1 = vec4f(0.0);
  if (VN > 1u) {
    x1 = col_values(1u, tap);
  }
  row_fma(0u, step, x0, x1);
  if (TM > 1u) {
    row_fma(1u, step, x0, x1);
  }
  if (TM > 2u) {
    row_fma(2u, step, x0, x1);
    row_fma(3u, step, x0, x1);
  }
  if (TM > 4u) {
    row_fma(4u, step, x0, x1);
    row_fma(5u, step, x0, x1);
    row_fma(6u, step, x0, x1);
    row_fma(7u, step, x0, x1);
  }
}

fn store_row(i: u32) {
  let a = acc[2u * i];
  store(i, 0u, a.x);
  store(i, 1u, a.y);
  store(i, 2u, a.z);
  store(i, 3u, a.w);
  if (VN > 1u) {
    let b = acc[2u * i + 1u];
    store(i, 4u, b.x);
    store(i, 5u, b.y);
    store(i, 6u, b.z);
    store(i, 7u, b.w);
  }
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
    store_row(4u);
    store_row(5u);
    store_row(6u);
    store_row(7u);
  }
}
