import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConvTuning, saveConvTuning, tuningFile } from "../../src/train/tuning.ts";
import { conv2dGeometry, tuneConvolutions } from "../../src/ops/conv2d.ts";
import { TILING_CANDIDATES } from "../../src/ops/_conv_strategy.ts";
import { testGpu } from "../_gpu.ts";

Deno.test("a convolution tuning saved to a file loads back equal; bad files are refused, naming them", async () => {
  const gpu = await testGpu();
  const dir = await Deno.makeTempDir();
  const geometry = conv2dGeometry([2, 8, 6, 6], {
    outChannels: 8,
    kernelSize: [3, 3],
    stride: [1, 1],
    padding: [1, 1],
    dilation: [1, 1],
    groups: 1,
  });
  const tuning = await tuneConvolutions(gpu, {
    candidates: [TILING_CANDIDATES[4]],
    geometry,
    minMilliseconds: 1,
  });
  const path = join(dir, "tuning.json");
  await saveConvTuning(path, tuning);
  assert.deepEqual(await loadConvTuning(path), tuning);
  // An existing file is read, not measured again.
  assert.deepEqual(await tuningFile(gpu, path), tuning);

  const bad = async (name: string, text: string) => {
    await Deno.writeTextFile(join(dir, name), text);
    return join(dir, name);
  };
  await assert.rejects(
    () => loadConvTuning(join(dir, "missing.json")),
    /missing\.json: cannot read the convolution tuning/,
  );
  const notJson = await bad("not-json.json", "{");
  await assert.rejects(() => loadConvTuning(notJson), /not-json\.json: not a convolution tuning: not JSON/);
  const noResults = await bad("no-results.json", JSON.stringify({ ...tuning, results: undefined }));
  await assert.rejects(
    () => loadConvTuning(noResults),
    /no-results\.json: not a convolution tuning: results is not an object/,
  );
  const { dispatchMs: _, ...olderTuning } = tuning;
  const older = await bad("older.json", JSON.stringify(olderTuning));
  await assert.rejects(
    () => loadConvTuning(older),
    /older\.json: not a convolution tuning: dispatchMs is missing \(written by an older version: delete the file/,
  );
  const badTiling = await bad(
    "bad-tiling.json",
    JSON.stringify({
      ...tuning,
      results: { ...tuning.results, backwardData: [{ tiling: { rows: 0 }, gflops: 1 }] },
    }),
  );
  await assert.rejects(
    () => loadConvTuning(badTiling),
    /bad-tiling\.json: not a convolution tuning: results\.backwardData\[0\] is not a tiling/,
  );
});
