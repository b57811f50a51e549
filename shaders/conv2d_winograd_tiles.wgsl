// The tiles of the Winograd F(2x2, 3x3) and F(4x4, 3x3) transforms, prepended to
// conv2d_winograd_input.wgsl and conv2d_winograd_output.wgsl. Tile (n, ty, tx) stands for the TILE x TILE
// output pixels from (TILE * ty, TILE * tx) of image n; tiles are numbered over the run's images, and one
// dispatch handles COLS of them from TILE_OFFSET on. Grid: one invocation per (channel, column), spread
// over x and y; neighbours take neighbouring columns.

override WG: u32 = 64u;
override CHANNELS: u32;
override HEIGHT: u32;
override WIDTH: u32;
override BATCH: u32;
override TILE_OFFSET: u32;
override COLS: u32;
override TILE: u32 = 2u;
override TILES_H: u32 = (HEIGHT + TILE - 1u) / TILE;
override TILES_W: u32 = (WIDTH + TILE - 1u) / TILE;
override TILES: u32 = BATCH * TILES_H * TILES_W;

// Image, first row and first column of the output pixels of `tile`.
fn tile_origin(tile: u32) -> vec3u {
  let r = tile % (TILES_H * TILES_W);
  return vec3u(tile / (TILES_H * TILES_W), TILE * (r / TILES_W), TILE * (r % TILES_W));
}
