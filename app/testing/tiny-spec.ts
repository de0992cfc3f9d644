// Test helper: the smallest classifier experiment that trains every phase for real (400 MNIST digits,
// 16 hidden units, 2 replicates, a loss row every step), for tests that need a job running beside
// what they check. `epochs` stretches a phase (a job that must outlast a measurement).
export function tinyClassifierSpec(name: string, epochs: { teacher?: number; student?: number } = {}) {
  return {
    version: 1,
    name,
    dataset: { name: 'mnist', trainSize: 400, testLimit: 200 },
    model: { hidden: [16] },
    teacher: { epochs: epochs.teacher ?? 2, batchSize: 100 },
    student: { epochs: epochs.student ?? 2, batchSize: 100, inputs: { kind: 'uniform', count: 400 } },
    replicates: 2,
    lossEvery: 1,
  };
}
