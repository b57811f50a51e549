/**
 * What a WGSL compute shader asks of its caller, read from its text: the bindings of group 0 by name,
 * the fields of its uniform struct, and which of them one entry point uses. WebGPU's `layout: "auto"`
 * keeps only the bindings an entry point statically uses (in its body or any function it calls), so that
 * is what a bind group must hold; {@linkcode entryPointInterface} computes the same set.
 *
 * @module
 */

/** A module-scope `@group(0) @binding(N) var<...> name: Type;` declaration. */
export interface BindingDeclaration {
  /** The variable's WGSL name. */
  name: string;
  /** Its `@binding` number. */
  binding: number;
  /** `"uniform"` or `"storage"`. */
  space: "uniform" | "storage";
  /** Its declared type, e.g. `array<f32>` or `Params`. */
  type: string;
}

/** A scalar field of a uniform struct. */
export interface UniformField {
  /** The field's WGSL name. */
  name: string;
  /** Its scalar type. */
  type: "u32" | "i32" | "f32";
}

/** The bindings and uniform fields one entry point of a shader uses. */
export interface EntryPointInterface {
  /** Storage buffers the entry point uses, in binding order. */
  storage: BindingDeclaration[];
  /** The uniform buffer it uses, if any, and the fields of its struct in declaration order. */
  uniform?: { declaration: BindingDeclaration; fields: UniformField[] };
}

const BINDING =
  /@group\(\s*0\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var\s*<\s*(uniform|storage)[^>]*>\s*(\w+)\s*:\s*([^;]+);/g;
const FUNCTION = /\bfn\s+(\w+)\s*\(/g;
const IDENTIFIER = /(\.?)\b([A-Za-z_]\w*)\b/g;
const LOCAL = /\b(?:let|var|const)\s+(\w+)|(\w+)\s*:/g;

function withoutComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, " ").replace(/\/\/[^\n]*/g, "");
}

/** The text between the brace at `open` and its partner. */
function braced(code: string, open: number): string {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    if (code[i] === "{") depth++;
    else if (code[i] === "}" && --depth === 0) return code.slice(open + 1, i);
  }
  throw new Error(`unbalanced braces after offset ${open}`);
}

interface FunctionBody {
  /** Identifiers the function declares (its parameters included), which shadow module-scope names. */
  locals: Set<string>;
  /** Identifiers the body refers to, member names after `.` left out. */
  references: Set<string>;
}

function functionBodies(code: string): Map<string, FunctionBody> {
  const bodies = new Map<string, FunctionBody>();
  for (const match of code.matchAll(FUNCTION)) {
    const open = code.indexOf("{", match.index);
    const signature = code.slice(match.index + match[0].length, open);
    const body = braced(code, open);
    const locals = new Set<string>();
    for (const local of (signature + body).matchAll(LOCAL)) locals.add(local[1] ?? local[2]);
    const references = new Set<string>();
    for (const id of body.matchAll(IDENTIFIER)) if (!id[1]) references.add(id[2]);
    bodies.set(match[1], { locals, references });
  }
  return bodies;
}

function uniformFields(code: string, struct: string, label: string): UniformField[] {
  const match = new RegExp(`\\bstruct\\s+${struct}\\s*\\{`).exec(code);
  if (!match) throw new Error(`${label}: the shader declares no struct ${struct} for its uniforms`);
  const body = braced(code, match.index + match[0].length - 1);
  return body.split(",").map((field) => field.trim()).filter((field) => field !== "").map((field) => {
    const [name, type] = field.split(":").map((part) => part.trim());
    if (type !== "u32" && type !== "i32" && type !== "f32") {
      throw new Error(
        `${label}: uniform field ${struct}.${name} has type ${type}; only u32, i32 and f32 are packed`,
      );
    }
    return { name, type };
  });
}

/**
 * The bindings `entryPoint` of `code` uses, as WebGPU's automatic layout sees them; throws (naming `label`)
 * if the entry point does not exist or uses two variables at one binding.
 */
export function entryPointInterface(code: string, entryPoint: string, label: string): EntryPointInterface {
  const text = withoutComments(code);
  const declarations = new Map<string, BindingDeclaration>();
  for (const match of text.matchAll(BINDING)) {
    const [, binding, space, name, type] = match;
    declarations.set(name, {
      name,
      binding: Number(binding),
      space: space as "uniform" | "storage",
      type: type.trim(),
    });
  }
  const bodies = functionBodies(text);
  if (!bodies.has(entryPoint)) throw new Error(`${label}: the shader has no entry point ${entryPoint}`);
  const used = new Map<number, BindingDeclaration>();
  const visited = new Set<string>();
  const visit = (name: string) => {
    const body = bodies.get(name)!;
    visited.add(name);
    for (const reference of body.references) {
      if (body.locals.has(reference)) continue;
      if (bodies.has(reference) && !visited.has(reference)) visit(reference);
      const declaration = declarations.get(reference);
      if (!declaration) continue;
      const other = used.get(declaration.binding);
      if (other && other !== declaration) {
        throw new Error(
          `${label}: entry point ${entryPoint} uses both ${other.name} and ${declaration.name} at binding ` +
            `${declaration.binding}`,
        );
      }
      used.set(declaration.binding, declaration);
    }
  };
  visit(entryPoint);
  const ordered = [...used.values()].sort((a, b) => a.binding - b.binding);
  const uniforms = ordered.filter((d) => d.space === "uniform");
  if (uniforms.length > 1) {
    throw new Error(
      `${label}: entry point ${entryPoint} uses ${uniforms.length} uniform buffers; kernels take one`,
    );
  }
  const storage = ordered.filter((d) => d.space === "storage");
  if (uniforms.length === 0) return { storage };
  return {
    storage,
    uniform: { declaration: uniforms[0], fields: uniformFields(text, uniforms[0].type, label) },
  };
}
