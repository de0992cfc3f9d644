// How a group's replicates are cut into shards, one trainer process each.

/** Contiguous replicate shards, as even as possible: `workers` of them (fewer if replicates are fewer). */
export function splitReplicates(replicates: number, workers: number): number[][] {
  const k = Math.max(1, Math.min(workers, replicates));
  return Array.from({ length: k }, (_, i) => {
    const start = Math.floor((i * replicates) / k);
    const end = Math.floor(((i + 1) * replicates) / k);
    return Array.from({ length: end - start }, (_, j) => start + j);
  });
}

/**
 * Contiguous shards as even as possible, at least `workers` of them when there are that many
 * replicates, none larger than `maxPerShard` (what one trainer's memory holds: more shards then).
 * More shards than workers come in a multiple of `workers`: they run `workers` at a time, and a
 * trainer's time grows with its replicates, so full waves of smaller shards end sooner than a
 * last wave with idle workers (100 replicates on 2 workers at most 40 each: 4 x 25, not 3 x 34).
 */
export function planShards(replicates: number, workers: number, maxPerShard: number): number[][] {
  if (!Number.isInteger(replicates) || replicates < 1)
    throw new Error(`expected replicates >= 1, got ${replicates}`);
  if (!(maxPerShard >= 1)) throw new Error(`expected at most >= 1 replicate per shard, got ${maxPerShard}`);
  const w = Math.max(1, workers);
  const needed = Math.ceil(replicates / Math.floor(maxPerShard));
  return splitReplicates(replicates, needed <= w ? w : Math.ceil(needed / w) * w);
}
