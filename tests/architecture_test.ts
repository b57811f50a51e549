/**
 * The layering of `src/`: every import points down the list of layers, and no files import each other in a
 * circle. The core (everything below the application) uses no `Deno.*` and no `node:` module, so it can run
 * in a browser.
 */

import assert from "node:assert/strict";

/** Layers from the bottom; a folder may import its own files and those of folders of a lower rank. */
const RANK: Record<string, number> = {
  "src/gpu": 0,
  "src/io": 0,
  "src/ops": 1,
  "src/optim": 2,
  "src/nn": 2,
  "src/data": 2,
  "src/models": 3,
  "src/compile": 4,
  "src/train": 5,
  "cli": 6,
};
const CORE = ["src/gpu", "src/ops", "src/optim", "src/nn", "src/models", "src/compile"];

const ROOT = new URL("../", import.meta.url);

async function sources(folder: string): Promise<string[]> {
  const files: string[] = [];
  try {
    for await (const entry of Deno.readDir(new URL(folder, ROOT))) {
      const path = `${folder}/${entry.name}`;
      if (entry.isDirectory) files.push(...await sources(path));
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return files;
}

const SPECIFIER = /(?:^|\n)\s*(?:import|export)\b[^"';]*?from\s*"([^"]+)"|import\(\s*"([^"]+)"\s*\)/g;

function normalise(path: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== ".") parts.push(part);
  }
  return parts.join("/");
}

/** Each source file's relative `.ts` imports, as paths from the root. */
async function importGraph(): Promise<Map<string, string[]>> {
  const files = [...await sources("src"), ...await sources("cli"), "cli.ts"];
  const graph = new Map<string, string[]>();
  for (const file of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(new URL(file, ROOT));
    } catch {
      continue;
    }
    const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : ".";
    const imports = [...text.matchAll(SPECIFIER)]
      .map((m) => m[1] ?? m[2])
      .filter((s) => s.startsWith(".") && s.endsWith(".ts"))
      .map((s) => normalise(`${dir}/${s}`));
    graph.set(file, imports);
  }
  return graph;
}

const layerOf = (file: string) =>
  file === "cli.ts" ? "cli" : Object.keys(RANK).find((layer) => file.startsWith(`${layer}/`));

Deno.test("every import points down a layer or stays in its folder", async () => {
  const wrong: string[] = [];
  for (const [file, imports] of await importGraph()) {
    const from = layerOf(file);
    for (const target of imports) {
      const to = layerOf(target);
      if (from === undefined || to === undefined) {
        wrong.push(`${file} -> ${target}: outside the layers`);
      } else if (from !== to && RANK[to] >= RANK[from]) {
        wrong.push(`${file} (${from}) -> ${target} (${to})`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("no files import each other in a circle", async () => {
  const graph = await importGraph();
  const circles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (file: string) => {
    state.set(file, "open");
    path.push(file);
    for (const target of graph.get(file) ?? []) {
      if (state.get(target) === "open") {
        circles.push([...path.slice(path.indexOf(target)), target].join(" -> "));
      } else if (!state.has(target)) visit(target);
    }
    path.pop();
    state.set(file, "done");
  };
  for (const file of [...graph.keys()].sort()) if (!state.has(file)) visit(file);
  assert.deepEqual(circles, []);
});

Deno.test("the core uses no Deno namespace and no node: module", async () => {
  const wrong: string[] = [];
  for (const folder of CORE) {
    for (const file of await sources(folder)) {
      const code = (await Deno.readTextFile(new URL(file, ROOT)))
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/\/\/.*$/gm, "");
      if (/\bDeno\.|"node:/.test(code)) wrong.push(file);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("the browser entry point and everything it imports use no Deno namespace and no node: module", async () => {
  const seen = new Set<string>(), wrong: string[] = [];
  const visit = async (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = await Deno.readTextFile(new URL(file, ROOT));
    const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
    if (/\bDeno\.|"node:/.test(code)) wrong.push(file);
    const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : ".";
    for (const m of text.matchAll(SPECIFIER)) {
      const specifier = m[1] ?? m[2];
      if (specifier.startsWith(".") && specifier.endsWith(".ts")) {
        await visit(normalise(`${dir}/${specifier}`));
      }
    }
  };
  await visit("web.ts");
  assert.ok(seen.size > 40, `web.ts reaches ${seen.size} files`);
  assert.deepEqual(wrong, []);
});
