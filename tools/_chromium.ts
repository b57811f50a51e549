/**
 * Headless Chromium as the browser test and the browser bench drive it: Debian's browser (`CHROMIUM`
 * overrides the path) on SwiftShader's WebGPU, and a page evaluation with a time limit.
 *
 * @module
 */

/** The browser; `CHROMIUM` overrides Debian's path. */
export const CHROMIUM: string = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";
/** SwiftShader's WebGPU (`--disable-gpu`), no sandbox (CI runs as root), no calls home. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--enable-unsafe-webgpu",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
];
/** Page conditions are polled on a timer: animation frames stall while SwiftShader's GPU process is busy. */
export const POLL_MS = 250;

/** `work` (a page evaluation), or an error once it has taken more than `limitMs`. */
export async function within<T>(work: Promise<T>, limitMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the page took more than ${limitMs / 1000} s`)), limitMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
