/**
 * The documentation of the published API: every function and class that an entry point exports carries a
 * JSDoc `@example` (which `deno task check` type-checks with `deno check --doc`).
 */

import assert from "node:assert/strict";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = new URL("../", import.meta.url);
const ENTRY_POINTS = ["mod.ts", "ops.ts", "io.ts", "data.ts", "train.ts"];

/** The parts of `deno doc --json`'s output this test reads. */
interface DocOutput {
  nodes: Record<string, {
    symbols?: Array<{
      name: string;
      declarations?: Array<{
        kind: string;
        location: { filename: string };
        jsDoc?: { tags?: Array<{ kind: string }> };
      }>;
    }>;
  }>;
}

Deno.test("every exported function and class has an @example", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", ...ENTRY_POINTS],
    cwd: fileURLToPath(ROOT),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const doc: DocOutput = JSON.parse(new TextDecoder().decode(stdout));
  const missing: string[] = [];
  for (const [url, node] of Object.entries(doc.nodes)) {
    const entry = url.split("/").pop();
    for (const symbol of node.symbols ?? []) {
      for (const declaration of symbol.declarations ?? []) {
        if (declaration.kind !== "function" && declaration.kind !== "class") continue;
        const tags = declaration.jsDoc?.tags ?? [];
        if (tags.some((tag) => tag.kind === "example")) continue;
        const file = relative(fileURLToPath(ROOT), fileURLToPath(declaration.location.filename));
        missing.push(`${entry}: ${symbol.name} (${file})`);
      }
    }
  }
  assert.ok(Object.keys(doc.nodes).length >= ENTRY_POINTS.length, "deno doc documented no entry point");
  assert.deepEqual(missing, []);
});
