// Test-only preload (node --import, after tsx): WebAssembly memories cannot grow past
// $SUBLAB_TEST_WASM_HEAP_CAP bytes, so a trainer's wasm heap runs out at test size the way it runs
// out at 4 GiB: Emscripten's resize fails, malloc fails and the backend aborts.
export {}; // a module, not a script: its names stay its own
const cap = Number(process.env.SUBLAB_TEST_WASM_HEAP_CAP);
if (!(cap > 0)) throw new Error('cap-wasm-heap.ts needs SUBLAB_TEST_WASM_HEAP_CAP (bytes)');
// Node's types leave WebAssembly out of ES2023 without the DOM library: the little used here, typed.
interface GrowableMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
const memory = (globalThis as unknown as { WebAssembly: { Memory: { prototype: GrowableMemory } } })
  .WebAssembly.Memory.prototype;
const grow = memory.grow;
memory.grow = function (this: GrowableMemory, pages: number): number {
  if (this.buffer.byteLength + pages * 65536 > cap) throw new RangeError(`test cap of ${cap} bytes`);
  return grow.call(this, pages);
};
