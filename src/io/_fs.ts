/** What `path` is, or `undefined` when nothing is there; errors other than "not found" are thrown. */
export async function statOrUndefined(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Whether `path` exists; errors other than "not found" (permissions, I/O) are thrown. */
export async function exists(path: string): Promise<boolean> {
  return (await statOrUndefined(path)) !== undefined;
}
