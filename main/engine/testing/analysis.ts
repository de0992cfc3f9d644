// Test helper: the representation analysis at a fraction of its default work, for tests that train
// on the cpu backend (TF.js's reference kernels, ~10x slower than wasm for the probe's steps) and
// are not about the analysis's numbers; it still runs every part of it.
export const CHEAP_ANALYSIS = {
  ckaImages: 100,
  linearProbe: { trainImages: 200, testImages: 100, steps: 30 },
} as const;
