/**
 * The WebGPU runtime: one {@linkcode Gpu} wraps the adapter and device, allocates and counts buffers,
 * caches pipelines, uploads and reads back, and turns WebGPU's asynchronous errors into exceptions that
 * name the layer and the op.
 *
 * @module
 */

import { type EntryPointInterface, entryPointInterface } from "./_wgsl.ts";

/** Storage buffers are bound at offsets that are multiples of this many bytes on every adapter. */
export const BINDING_ALIGNMENT = 256;

/** Options for {@linkcode Gpu.create}. */
export interface GpuOptions {
  /** Passed to `navigator.gpu.requestAdapter`. */
  powerPreference?: GPUPowerPreference;
}

/** Summary of the adapter a {@linkcode Gpu} runs on. */
export interface AdapterSummary {
  /** The driver's description, e.g. `"llvmpipe (LLVM 15.0.6, 256 bits)"` or a GPU's name. */
  description: string;
  /** The vendor as WebGPU reports it. */
  vendor: string;
  /** The architecture as WebGPU reports it. */
  architecture: string;
  /** True for a software adapter. */
  isFallbackAdapter: boolean;
}

const INSTALL_HINT = "Install a GPU driver with Vulkan, Metal or D3D12 support, or Mesa's software driver " +
  "(Debian/Ubuntu: `apt-get install mesa-vulkan-drivers libegl-mesa0`), then run again.";

/**
 * The GPU every part of the module runs on.
 *
 * @example
 * ```ts
 * import { Gpu } from "@denogpu/resnet";
 * const gpu = await Gpu.create();
 * console.log(gpu.adapter.description);
 * ```
 */
export class Gpu {
  /** The WebGPU device. */
  readonly device: GPUDevice;
  /** What the adapter says of itself. */
  readonly adapter: AdapterSummary;
  /** The device's limits (the adapter's, requested in full). */
  readonly limits: GPUSupportedLimits;
  /** Bytes of every buffer made through {@linkcode Gpu.buffer} and not destroyed. */
  bytesAllocated = 0;
  #pipelines = new Map<string, GPUComputePipeline>();
  #modules = new Map<string, GPUShaderModule>();
  #interfaces = new Map<string, EntryPointInterface>();
  #asyncError: Error | undefined;
  #lost: GPUDeviceLostInfo | undefined;

  private constructor(device: GPUDevice, adapter: AdapterSummary) {
    this.device = device;
    this.adapter = adapter;
    this.limits = device.limits;
    device.addEventListener("uncapturederror", (event) => {
      this.#asyncError ??= new Error(`WebGPU error: ${(event as GPUUncapturedErrorEvent).error.message}`);
    });
    device.lost.then((info) => {
      this.#lost = info;
    });
  }

  /** Requests an adapter and a device with the adapter's full limits; throws a clear error where none exists. */
  static async create(options: GpuOptions = {}): Promise<Gpu> {
    if (typeof navigator === "undefined" || !("gpu" in navigator)) {
      throw new Error(`WebGPU is not available in this runtime (navigator.gpu is missing). ${INSTALL_HINT}`);
    }
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: options.powerPreference });
    if (!adapter) throw new Error(`No WebGPU adapter was found. ${INSTALL_HINT}`);
    const wanted = [
      "maxStorageBufferBindingSize",
      "maxBufferSize",
      "maxComputeWorkgroupStorageSize",
      "maxComputeInvocationsPerWorkgroup",
      "maxComputeWorkgroupSizeX",
      "maxComputeWorkgroupSizeY",
      "maxComputeWorkgroupsPerDimension",
      "maxStorageBuffersPerShaderStage",
    ] as const;
    const requiredLimits: Record<string, number> = {};
    for (const name of wanted) requiredLimits[name] = adapter.limits[name];
    const device = await adapter.requestDevice({ requiredLimits });
    const info = adapter.info;
    return new Gpu(device, {
      // Browsers may leave the description empty (Chromium's SwiftShader: vendor "google", "swiftshader").
      description: info.description || info.device ||
        [info.vendor, info.architecture].filter(Boolean).join(" ") || "unknown adapter",
      vendor: info.vendor,
      architecture: info.architecture,
      isFallbackAdapter: (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
        (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false,
    });
  }

  /** A storage buffer of `byteSize` bytes (rounded up to 4), zero-filled, counted in {@linkcode bytesAllocated}. */
  buffer(label: string, byteSize: number, extraUsage = 0): GPUBuffer {
    const size = Math.max(BINDING_ALIGNMENT, Math.ceil(byteSize / 4) * 4);
    if (size > this.limits.maxBufferSize) {
      throw new Error(
        `${label}: a buffer of ${size} bytes exceeds this adapter's maxBufferSize (${this.limits.maxBufferSize})`,
      );
    }
    const buffer = this.device.createBuffer({
      label,
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage,
    });
    this.bytesAllocated += size;
    return buffer;
  }

  /** A storage buffer holding a copy of `data`. */
  upload(label: string, data: Float32Array | Uint32Array | Int32Array | Uint8Array): GPUBuffer {
    const buffer = this.buffer(label, data.byteLength);
    if (data.byteLength % 4 === 0) this.write(buffer, data);
    else {
      const padded = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
      padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      this.write(buffer, padded);
    }
    return buffer;
  }

  /** Destroys a buffer made by {@linkcode buffer} and stops counting it. */
  release(buffer: GPUBuffer): void {
    this.bytesAllocated -= buffer.size;
    buffer.destroy();
  }

  /** A uniform buffer holding `data`. */
  uniform(label: string, data: Uint32Array): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    const buffer = this.device.createBuffer({
      label,
      size,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.device.queue.writeBuffer(buffer, 0, data as Uint32Array<ArrayBuffer>);
    this.bytesAllocated += size;
    return buffer;
  }

  /** Writes `data` into `buffer` at `byteOffset`. */
  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.device.queue.writeBuffer(
      buffer,
      byteOffset,
      data.buffer as ArrayBuffer,
      data.byteOffset,
      data.byteLength,
    );
  }

  /** Copies `byteLength` bytes (default: to the end) of `buffer` from `byteOffset` back to the CPU (one CPU-GPU sync). */
  async read(buffer: GPUBuffer, byteOffset: number = 0, byteLength?: number): Promise<ArrayBuffer> {
    byteLength ??= buffer.size - byteOffset;
    const staging = this.device.createBuffer({
      label: `read ${buffer.label}`,
      size: Math.ceil(byteLength / 4) * 4,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, byteOffset, staging, 0, staging.size);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const copy = staging.getMappedRange().slice(0, byteLength);
    staging.destroy();
    this.throwIfFailed(`reading ${buffer.label}`);
    return copy;
  }

  /** Reads `count` floats (default: to the end) of `buffer` from float index `start`. */
  async readFloats(buffer: GPUBuffer, start: number = 0, count?: number): Promise<Float32Array> {
    return new Float32Array(await this.read(buffer, start * 4, (count ?? buffer.size / 4 - start) * 4));
  }

  /** A compute pipeline for `code`'s entry point with `constants` as WGSL overrides; made once per key. */
  pipeline(code: string, entryPoint = "main", constants: Record<string, number> = {}): GPUComputePipeline {
    const key = `${entryPoint}|${JSON.stringify(constants)}|${code}`;
    let pipeline = this.#pipelines.get(key);
    if (!pipeline) {
      let module = this.#modules.get(code);
      if (!module) {
        module = this.device.createShaderModule({ code });
        this.#modules.set(code, module);
      }
      pipeline = this.device.createComputePipeline({
        layout: "auto",
        compute: { module, entryPoint, constants },
      });
      this.#pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /**
   * The bindings and uniform fields `entryPoint` of `code` uses, read from the WGSL once per pair; errors
   * name `label`.
   */
  entryPointInterface(code: string, entryPoint: string, label: string): EntryPointInterface {
    const key = `${entryPoint}|${code}`;
    let found = this.#interfaces.get(key);
    if (!found) {
      found = entryPointInterface(code, entryPoint, label);
      this.#interfaces.set(key, found);
    }
    return found;
  }

  /** Number of distinct pipelines made so far. */
  get pipelineCount(): number {
    return this.#pipelines.size;
  }

  /**
   * Runs `build` inside validation and out-of-memory error scopes and throws an error that begins with
   * `what` (e.g. `"layer1.0.conv1: conv2d forward"`) if WebGPU reported one.
   */
  async checked<T>(what: string, build: () => T): Promise<T> {
    this.throwIfFailed(what);
    this.device.pushErrorScope("out-of-memory");
    this.device.pushErrorScope("validation");
    let result: T | undefined, thrown: unknown;
    try {
      result = build();
    } catch (error) {
      thrown = error;
    }
    const validation = await this.device.popErrorScope();
    const memory = await this.device.popErrorScope();
    const error = validation ?? memory;
    if (error) {
      const kind = error instanceof GPUOutOfMemoryError ? "out of GPU memory" : "WebGPU validation error";
      throw new Error(`${what}: ${kind}: ${error.message.trim()}`);
    }
    if (thrown !== undefined) throw thrown;
    return result as T;
  }

  /**
   * How the device was lost, if it was; waits up to `waitMs` for the news, which can arrive after the
   * failure of a call that the loss made fail.
   */
  async lostInfo(waitMs = 100): Promise<GPUDeviceLostInfo | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), waitMs));
    try {
      return this.#lost ?? await Promise.race([this.device.lost, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Throws if the device was lost or an uncaptured WebGPU error happened since the last check. */
  throwIfFailed(what: string): void {
    if (this.#lost) {
      throw new Error(`${what}: the GPU device was lost (${this.#lost.reason}): ${this.#lost.message}`);
    }
    const error = this.#asyncError;
    if (error) {
      this.#asyncError = undefined;
      throw new Error(`${what}: ${error.message}`);
    }
  }

  /** Waits until the GPU has finished all submitted work (one CPU-GPU sync). */
  async idle(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfFailed("GPU work");
  }
}
