// A tiny seeded PRNG for the statistics (bootstrap resampling): mulberry32 over a splitmix32-mixed
// seed. app/ runs in every process and the browser, so it cannot use main/engine/rng.ts; this one is
// not for training, only for reproducible resampling: the same seed gives the same stream everywhere.

/** Returns a function giving uniform numbers in [0, 1) with 32 bits of resolution. */
export function seededUniform(seed: number): () => number {
  // splitmix32 finaliser, so that nearby seeds (0, 1, 2, ...) start far apart
  let s = (Math.trunc(seed) + 0x9e3779b9) >>> 0;
  s = Math.imul(s ^ (s >>> 16), 0x85ebca6b) >>> 0;
  s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35) >>> 0;
  s = (s ^ (s >>> 16)) >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
