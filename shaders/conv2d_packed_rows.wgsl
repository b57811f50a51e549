// Packed rows of the direct convolution GEMMs (composed after conv2d_tile.wgsl and conv2d_geometry.wgsl).
//
// PACKED (grouped convolutions, register tilings only): a tile's rows run over the rows of every group
// (output channels; input channels in backward-data) and each invocation's TM rows are made contiguous,
// so that they lie in one group and share its column operands; the group is then the invocation's own.
// Otherwise every row of a tile is in the tile's group, and a group's last tile may be mostly padding.
override PACKED: bool = false;
var<private> tile_first_row: u32;

// The row that the tiling's row `row` (first_row + i * WG_Y) of this invocation stands for when PACKED.
fn packed_row(row: u32) -> u32 {
  let local = row - tile_first_row;
  return tile_first_row + (local % WG_Y) * TM + local / WG_Y;
}

// When PACKED, sets row i of the op's `channel` and `row_valid` (row `row` of the tiling, over `total` rows
// of `per_group` each) and the invocation's `group`, and returns true; otherwise leaves them to the op.
fn setup_packed_row(i: u32, row: u32, total: u32, per_group: u32) -> bool {
  if (!PACKED) {
    return false;
  }
  let r = packed_row(row);
  group = min(r, total - 1u) / per_group;
  row_valid[i] = r < total;
  channel[i] = min(r, total - 1u);
  return true;
}
