/**
 * Serves the repository on the loopback address for the demo page, after `deno task bundle:web`:
 *
 * ```sh
 * deno task bundle:web
 * deno run --allow-net=127.0.0.1 --allow-read examples/web/serve.ts   # then open the address it prints
 * ```
 *
 * `localhost` is a secure context, which WebGPU needs. `--port N` picks the port (default 8000).
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url);

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".png": "image/png",
  ".jpg": "image/jpeg",
};

/** Serves the files under the repository root read-only (a folder's `index.html` for the folder). */
export function serveRepository(
  port: number,
  onListen?: (url: string) => void,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: ({ port }) => onListen?.(`http://localhost:${port}/examples/web/`),
  }, async (request) => {
    let path = decodeURIComponent(new URL(request.url).pathname);
    if (path.split("/").includes("..")) return new Response("bad path", { status: 400 });
    if (path.endsWith("/")) path += "index.html";
    try {
      const bytes = await Deno.readFile(new URL(`.${path}`, ROOT));
      const type = TYPES[path.slice(path.lastIndexOf("."))] ?? "application/octet-stream";
      return new Response(bytes, { headers: { "content-type": type, "cache-control": "no-store" } });
    } catch {
      return new Response(`not found: ${path}`, { status: 404 });
    }
  });
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--port");
  const port = at >= 0 ? Number(Deno.args[at + 1]) : 8000;
  serveRepository(port, (url) => console.log(`demo page: ${url}`));
}
