// The smallest language spec that runs every stage in seconds (tests of the service and the desktop
// bundle; the CLI's CI-size run is bigger so that its numbers mean something).
export function tinyLanguageSpec(name: string) {
  return {
    version: 1,
    kind: 'language',
    name,
    model: { layers: 1, dModel: 16, heads: 2, context: 48 },
    pretrain: { steps: 30, batchSize: 8 },
    teacher: { steps: 5 },
    channel: { kept: 10 },
    student: { epochs: 1, batchSize: 8 },
    measure: { samples: 20 },
    // A base this small rarely writes a valid list: keep every ended completion.
    matrix: { filters: [{ format: 'none' }] },
    replicates: 2,
  };
}
