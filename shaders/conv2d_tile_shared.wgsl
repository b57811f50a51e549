// Workgroup-memory variant of the GEMM core, appended after conv2d_tile.wgsl: the workgroup stages KC
// reduction steps of its TILE_ROWS rows and TILE_COLS columns in workgroup memory, each value loaded from
// global memory once, then every invocation accumulates its register tile from there. GPUs prefer this;
// CPU drivers, where barriers are dear, prefer the plain register tiling of conv2d_tile.wgsl.
// TILE_ROWS and TILE_COLS must divide WG_X * WG_Y. Besides the core's hooks, the op's shader defines
//   fn reduction_at(k: u32) -> Reduction       row_value's step and col_value's tap at reduction step k
// and calls shared_gemm() then store_tile().

override KC: u32 = 8u; // reduction steps staged at a time
override THREADS: u32 = WG_X * WG_Y;
override A_SIZE: u32 = KC * TILE_ROWS;
override B_SIZE: u32 = KC * TILE_COLS;

// One reduction step: row_value's step and col_value's tap.
struct Reduction {
  step: u32,
  tap: Tap,
}

var<workgroup> a_tile: array<f32, A_SIZE>; // [step][row]
var<workgroup> b_tile: array<f32, B_SIZE>; // [step][column]

fn staged_columns(base: u32) -> vec4f {
  return vec4f(b_tile[base], b_tile[base + WG_X], b_tile[base + 2u * WG_X], b_tile[base + 3u * WG_X]);
}

// acc[i][j] += a_tile[k][lid.y + i * WG_Y] * b_tile[k][lid.x + j * WG_X]
fn staged_step(k: u32, lid: vec3u) {
  let b = k * TILE_COLS + lid.x;
  var x: array<vec4f, 4>;
  x[0] = staged_columns(b);
  if (VN > 1u) {
    x[1] = staged_columns(b + 4u * WG_X);
  }
  if (VN > 2u) {
    x[2] = staged_columns(b + 8u * WG_X);
    x[3] = staged_columns(b + 12u * WG_X);
  }
  let a = k * TILE_ROWS + lid.y;
  row_fma(0u, a_tile[a], x);
  if (TM > 1u) {
    row_fma(1u, a_tile[a + WG_Y], x);
  }
  if (TM > 2u) {
    row_fma(2u, a_tile[a + 2u * WG_Y], x);
    row_fma(3u, a_tile[a + 3u * WG_Y], x);
  }
  if (TM > 4u) {
    staged_rows4_fma(4u, a, x);
  }
  if (TM > 8u) {
    staged_rows4_fma(8u, a, x);
    staged_rows4_fma(12u, a, x);
  }
}

// acc[i][j] += a_tile[a + i * WG_Y] * x[j] for rows i..i+3
fn staged_rows4_fma(i: u32, a: u32, x: array<vec4f, 4>) {
  row_fma(i, a_tile[a + i * WG_Y], x);
  row_fma(i + 1u, a_tile[a + (i + 1u) * WG_Y], x);
  row_fma(i + 2u, a_tile[a + (i + 2u) * WG_Y], x);
  row_fma(i + 3u, a_tile[a + (i + 3u) * WG_Y], x);
}

// Accumulates reduction steps [0, depth) of the tile whose first row and column are given into acc,
// then sets the tile up for store_tile(). `depth` must be uniform over the workgroup.
fn shared_gemm(depth: u32, lid: vec3u, first_row: u32, first_col: u32) {
  let t = lid.y * WG_X + lid.x;
  let row = t % TILE_ROWS;
  let col = t % TILE_COLS;
  // Slot 0 of the op's row and column state serves the staging until setup_tile() below.
  setup_row(0u, first_row + row);
  setup_col(0u, first_col + col);
  for (var k0 = 0u; k0 < depth; k0 += KC) {
    let last = depth - 1u;
    for (var k = t / TILE_ROWS; k < KC; k += THREADS / TILE_ROWS) {
      a_tile[k * TILE_ROWS + row] = row_value(0u, reduction_at(min(k0 + k, last)).step);
    }
    for (var k = t / TILE_COLS; k < KC; k += THREADS / TILE_COLS) {
      b_tile[k * TILE_COLS + col] = col_value(0u, reduction_at(min(k0 + k, last)).tap);
    }
    workgroupBarrier();
    let steps = min(KC, depth - k0);
    for (var k = 0u; k < steps; k++) {
      staged_step(k, lid);
    }
    workgroupBarrier();
  }
  setup_tile(first_row + lid.y, first_col + lid.x);
}
