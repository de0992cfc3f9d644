// Test helper: a process that writes a run into a store the way the job runner does (an
// experiment marked running, metric batches committed in transactions) until it is killed.
import { expandMatrix } from '../../../app/matrix.ts';
import { mustValidate } from '../../../app/spec/validate.ts';
import { RunStore } from '../store.ts';

const store = new RunStore(process.argv[2]!);
const spec = mustValidate({ version: 1, name: 'killed mid-run', replicates: 2 });
const id = store.createExperiment(spec, expandMatrix(spec));
store.startExperiment(id);
const cellId = store.cellId(id, 0);
store.startCell(cellId, 'cpu', { test: '1' });
let step = 0;
for (;;) {
  const rows = Array.from({ length: 500 }, (_, i) => ({
    condition: 'teacher' as const,
    replicate: i % 2,
    step: step + Math.floor(i / 2),
    name: 'loss' as const,
    value: Math.sin(step + i),
  }));
  store.addMetrics(cellId, rows);
  step += 250;
  process.stdout.write(`${step}\n`);
}
