/**
 * The decoders' emscripten builds, read from their npm packages and instantiated synchronously, so that
 * `decodeImage` stays synchronous (the packages' own loaders are asynchronous).
 *
 * @module
 */

/**
 * Compiles the wasm at `url` (a file in Deno's npm cache); the error says what cannot be decoded without
 * it, and `hint` what else would do.
 */
export function compilePackageWasm(url: URL, what: string, hint = ""): WebAssembly.Module {
  try {
    return new WebAssembly.Module(Deno.readFileSync(url));
  } catch (error) {
    throw new Error(
      `cannot load ${what}'s WebAssembly from ${url.href} (${(error as Error).message}): ` +
        `decoding needs read access to it${hint}`,
      { cause: error },
    );
  }
}

/**
 * Runs an emscripten module factory on `wasm` with the instance made synchronously, so that the factory
 * has filled the returned module in by the time it returns.
 */
export function instantiateSync<Module>(
  factory: (module: never) => unknown,
  wasm: WebAssembly.Module,
): Module {
  const module = {
    instantiateWasm(imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance) => void) {
      const instance = new WebAssembly.Instance(wasm, imports);
      receive(instance);
      return instance.exports;
    },
  };
  void factory(module as never);
  return module as Module;
}
