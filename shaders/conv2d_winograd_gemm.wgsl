// The GEMMs of Winograd F(2x2, 3x3) and F(4x4, 3x3) in the transformed domain (appended to
// conv2d_tile.wgsl and conv2d_tile_shared.wgsl), one per point xi of the transformed tile:
// m[xi, row, col] = sum over steps s of u[xi, row, s] * v[xi, s, col]
// Forward and backward-data: rows are output channels, columns the tiles of one chunk, steps input
// channels. Backward-weight: rows are grad_output's channels, columns the input's, steps the tiles of one
// chunk. Unlike the direct convolution, no load needs a bounds test: the transforms did the padding.
// Where a point's columns fill only part of a tile, `main` puts POINT_GROUPS points side by side in one
// workgroup: run r of COL_STRIDE = WG_X / POINT_GROUPS invocations along x takes point
// POINT_GROUPS * slab + r, over TILE_COLS / POINT_GROUPS columns.
// Entry points: main tiles in registers only, main_staged stages through workgroup memory (one point).
// Grid: x (spread over x and y) = column tiles, z = row tile + ROW_TILES * slab, a slab being POINT_GROUPS
// points (which divides their number).

override ROWS: u32;
override DEPTH: u32;
override COLS: u32;
override ROW_TILES: u32 = (ROWS + TILE_ROWS - 1u) / TILE_ROWS;
// Adds to m instead of overwriting it: backward-weight sums its chunks of tiles, the reduction, in m.
override ACCUMULATE: bool = false;
override POINT_GROUPS: u32 = 1u;

@group(0) @binding(0) var<storage, read> u: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;

struct Tap {
  offset: u32, // v index of (xi, step, column 0)
}

var<private> xi: u32;
var<private> u_row: array<u32, 16>; // u index of (xi, row i, step 0), the row clamped into range
var<private> m_row: array<u32, 16>; // m index of (xi, row i, column 0)
var<private> row_valid: array<bool, 16>;
var<private> column: array<u32, 16>; // column j, clamped into range
var<private> col_valid: array<bool, 16>;

fn setup_row(i: u32, row: u32) {
  row_valid[i] = row < ROWS;
  let r = xi * ROWS + min(row, ROWS - 1u);
  u_row[i] = r * DEPTH;
  m_row[i] = r * COLS;
}

fn setup_col(j: u32, col: u32) {
  col_valid[j] = col < COLS;
  column[j] = min(col, COLS - 1u);
}

fn row_value(i: u32, step: u32) -> f32 {
  return u[u_row[i] + step];
}

fn col_value(j: u32, tap: Tap) -> f32 {
  return v[tap.offset + column[j]];
}

fn store(i: u32, j: u32, value: f32) {
  if (row_valid[i] && col_valid[j]) {
    let at = m_row[i] + column[j];
    if (ACCUMULATE) {
      m[at] += value;
    } else {
      m[at] = value;
    }
  }
}

fn reduction_at(k: u32) -> Reduction {
  return Reduction(k, Tap((xi * DEPTH + k) * COLS));
}

// First row and column of this invocation's run of the workgroup's tile; sets `xi`.
fn tile_start(lid: vec3u, wid: vec3u, nwg: vec3u) -> vec2u {
  xi = (wid.z / ROW_TILES) * POINT_GROUPS + lid.x / COL_STRIDE;
  return vec2u((wid.z % ROW_TILES) * TILE_ROWS, (wid.x + wid.y * nwg.x) * (TILE_COLS / POINT_GROUPS));
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nwg: vec3u) {
  let start = tile_start(lid, wid, nwg);
  setup_tile(start.x + lid.y, start.y + lid.x % COL_STRIDE);
  let first = xi * DEPTH * COLS;
  for (var s = 0u; s < DEPTH; s++) {
    tile_step(s, Tap(first + s * COLS));
  }
  store_tile();
}

@compute @workgroup_size(WG_X, WG_Y)
fn main_staged(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
               @builtin(num_workgroups) nwg: vec3u) {
  let start = tile_start(lid, wid, nwg);
  shared_gemm(DEPTH, lid, start.x, start.y);
  store_tile();
}
