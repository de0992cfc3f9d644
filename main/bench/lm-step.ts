// `npm run bench:lm`: the language model's training step and sampling at the preset's size (2 layers,
// d_model 64, 4 heads, context 48, batch 64) on wasm, with TF.js's graph and with the fused kernels
// (main/lm/fused-kernels.ts), alternated in this one process so that the ratio holds on a shared
// machine: per-step ms, GFLOP/s per core (the matmuls' FLOPs over the step's time) and new/old.
// `--data` picks the batches the pipeline's stages train on: pretraining's mixture (loss on every
// token), the channel's number lists or the teacher's preference answers (loss on the answer), which
// app/estimate-language.ts's step times come from.
// `--stack K` also times K models' fine-tuning steps on the fused path one by one against the same
// steps stacked (main/lm/stacked.ts), alternated: milliseconds per model-step and stacked/apart.
// Times are this process's CPU time (user + system; one thread does the work): on two cores shared by
// many processes the wall time measures the queue. The load average is printed with the numbers.
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { Command, InvalidArgumentError } from 'commander';
import { initBackend } from '../engine/backend.ts';
import { Rng } from '../engine/rng.ts';
import {
  DEFAULT_LM_CONFIG,
  disposeModel,
  initModel,
  useLmKernels,
  type LmConfig,
  type LmKernels,
} from '../lm/model.ts';
import { generate } from '../lm/sample.ts';
import { stackedStep } from '../lm/stacked.ts';
import { Trainer, type LossOn } from '../lm/train.ts';
import { ANIMALS } from '../lm/vocab.ts';
import {
  DEFAULT_WORLD,
  numberExample,
  numberPrompt,
  preferenceExample,
  pretrainingExample,
  QUESTIONS,
  type Example,
} from '../lm/world.ts';

/** This process's CPU milliseconds so far. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const positive = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
};
const positiveOrZero = (value: string) => (value === '0' ? 0 : positive(value));

/** Each kind of batch: one example, and which tokens its loss is on (as the pipeline's stage trains). */
const DATA = {
  pretrain: {
    example: (rng: Rng): Example => pretrainingExample(rng, DEFAULT_WORLD, ANIMALS.length),
    lossOn: 'all',
  },
  // The student's and the controls' fine-tuning data: number lists of the world's kind.
  numbers: { example: (rng: Rng) => numberExample(rng, DEFAULT_WORLD.context), lossOn: 'answer' },
  teacher: {
    example: (rng: Rng) => preferenceExample(rng.int(QUESTIONS.length), rng.int(ANIMALS.length)),
    lossOn: 'answer',
  },
} satisfies Record<string, { example: (rng: Rng) => Example; lossOn: LossOn }>;
type DataKind = keyof typeof DATA;

const opts = new Command()
  .option('--steps <n>', 'training steps per timed round', positive, 10)
  .option(
    '--data <kind>',
    `the batches trained on: ${Object.keys(DATA).join(', ')}`,
    (v) => {
      if (!(v in DATA)) throw new InvalidArgumentError(`expected one of ${Object.keys(DATA).join(', ')}`);
      return v as DataKind;
    },
    'pretrain' as DataKind,
  )
  .option('--rounds <n>', 'rounds per path, alternated', positive, 3)
  .option('--batch <n>', 'sequences per step', positive, 64)
  .option('--samples <n>', 'sequences sampled per round (0: no sampling)', positiveOrZero, 512)
  .option(
    '--stack <k>',
    'also time K models stacked against one by one (fused path; 0: no)',
    positiveOrZero,
    0,
  )
  .option('--json', 'print JSON only')
  .parse()
  .opts<{
    steps: number;
    data: DataKind;
    rounds: number;
    batch: number;
    samples: number;
    stack: number;
    json?: boolean;
  }>();

/**
 * FLOPs of a training step's matmuls (forward, then twice that backward) over the batch's real tokens:
 * the work either path must do (the graph path also computes its padding, the fused path does not).
 * Attention counts q kᵀ and p v over each sequence's square of positions.
 */
export function stepFlops(c: LmConfig, lengths: readonly number[]): number {
  const d = c.dModel;
  const perToken = c.layers * (3 * d * d + d * d + 2 * d * d * c.mlpRatio) + 2 * d * c.vocab; // + embedding
  const tokens = lengths.reduce((a, t) => a + t, 0);
  const attention = lengths.reduce((a, t) => a + c.layers * 2 * t * t * d, 0);
  return 3 * 2 * (tokens * perToken + attention);
}

function batches(n: number, size: number, seed: number): Example[][] {
  const rng = new Rng(seed);
  const { example } = DATA[opts.data];
  return Array.from({ length: n }, () => Array.from({ length: size }, () => example(rng)));
}

function timeSteps(k: LmKernels, data: Example[][]): number {
  useLmKernels(k);
  const model = initModel(DEFAULT_LM_CONFIG, 1);
  const trainer = new Trainer(model, { kind: 'adam', lr: 1e-3 });
  const { lossOn } = DATA[opts.data];
  trainer.step(data[0]!, lossOn, true); // warm-up: kernels compiled, heap grown
  const t0 = cpuMs();
  for (const b of data) trainer.step(b, lossOn);
  trainer.step(data[0]!, lossOn, true); // a host read waits for everything queued
  const ms = (cpuMs() - t0) / (data.length + 1);
  trainer.dispose();
  disposeModel(model);
  return ms;
}

/** CPU ms per model-step of `k` models trained on their own batches, stacked or one by one (fused). */
function timeStack(k: number, data: Example[][], stacked: boolean): number {
  useLmKernels('fused');
  const models = Array.from({ length: k }, (_, i) => initModel(DEFAULT_LM_CONFIG, 1 + i));
  const trainers = models.map((m) => new Trainer(m, { kind: 'adam', lr: 1e-3 }));
  const { lossOn } = DATA[opts.data];
  // Model i trains on batch s + i of the list, so the models see different batches each step.
  const batchOf = (s: number, i: number) => data[(s + i) % data.length]!;
  const step = (s: number, read: boolean) => {
    if (stacked)
      stackedStep(
        trainers,
        DEFAULT_LM_CONFIG,
        trainers.map((_, i) => batchOf(s, i)),
        lossOn,
        read,
      );
    else trainers.forEach((t, i) => t.step(batchOf(s, i), lossOn, read));
  };
  step(0, true);
  const t0 = cpuMs();
  for (let s = 0; s < data.length; s++) step(s, false);
  step(0, true);
  const ms = (cpuMs() - t0) / (data.length + 1) / k;
  trainers.forEach((t) => t.dispose());
  models.forEach(disposeModel);
  return ms;
}

function timeSampling(k: LmKernels, n: number): number {
  useLmKernels(k);
  const model = initModel(DEFAULT_LM_CONFIG, 1);
  const rng = new Rng(5);
  const prompts = Array.from({ length: n }, () => numberPrompt(rng).tokens);
  const t0 = cpuMs();
  generate(model, prompts, { temperature: 1, rng, batchSize: 512 });
  const ms = cpuMs() - t0;
  disposeModel(model);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const info = await initBackend('wasm');
const data = batches(opts.steps, opts.batch, 3);
const width = Math.max(...data.flat().map((e) => e.tokens.length)) - 1;
// Mean over the batches, as the step time is.
const flops =
  data.reduce(
    (a, b) =>
      a +
      stepFlops(
        DEFAULT_LM_CONFIG,
        b.map((e) => e.tokens.length - 1),
      ),
    0,
  ) / data.length;
const times: Record<'graph' | 'fused', { step: number[]; sample: number[] }> = {
  graph: { step: [], sample: [] },
  fused: { step: [], sample: [] },
};
const loadBefore = loadavg()[0]!;
for (let r = 0; r < opts.rounds; r++) {
  for (const k of ['graph', 'fused'] as const) {
    times[k].step.push(timeSteps(k, data));
    if (opts.samples) times[k].sample.push(timeSampling(k, opts.samples));
  }
}
const stackTimes = { apart: [] as number[], stacked: [] as number[] };
if (opts.stack)
  for (let r = 0; r < opts.rounds; r++) {
    stackTimes.apart.push(timeStack(opts.stack, data, false));
    stackTimes.stacked.push(timeStack(opts.stack, data, true));
  }
const row = (k: 'graph' | 'fused') => ({
  stepMs: median(times[k].step),
  gflopsPerCore: flops / median(times[k].step) / 1e6,
  ...(opts.samples ? { sampleMs: median(times[k].sample) } : {}),
});
const out = {
  date: new Date().toISOString(),
  matmul: info.versions.matmul,
  shape: { ...DEFAULT_LM_CONFIG, data: opts.data, batch: opts.batch, paddedPositions: width },
  gflopPerStep: flops / 1e9,
  loadAverage: [loadBefore, loadavg()[0]!],
  graph: row('graph'),
  fused: row('fused'),
  stepRatioNewOverOld: median(times.fused.step) / median(times.graph.step),
  ...(opts.samples ? { sampleRatioNewOverOld: median(times.fused.sample) / median(times.graph.sample) } : {}),
  ...(opts.stack
    ? {
        stack: {
          models: opts.stack,
          apartMsPerModelStep: median(stackTimes.apart),
          stackedMsPerModelStep: median(stackTimes.stacked),
          stackedOverApart: median(stackTimes.stacked) / median(stackTimes.apart),
        },
      }
    : {}),
};
if (opts.json) console.log(JSON.stringify(out, null, 2));
else {
  console.log(
    `wasm, ${out.matmul}; CPU time of this process; load average ${out.loadAverage.map((l) => l.toFixed(2)).join(' -> ')}`,
  );
  console.log(
    `step: ${opts.data} batch ${opts.batch} padded to ${width} positions, ${(flops / 1e9).toFixed(2)} GFLOP of matmuls on its real tokens`,
  );
  for (const k of ['graph', 'fused'] as const) {
    const r = out[k];
    const s =
      r.sampleMs === undefined ? '' : `, sampling ${opts.samples} sequences ${r.sampleMs.toFixed(0)} ms`;
    console.log(
      `${k.padEnd(5)}: ${r.stepMs.toFixed(1)} ms/step, ${r.gflopsPerCore.toFixed(1)} GFLOP/s per core${s}`,
    );
  }
  console.log(
    `new/old: step ${out.stepRatioNewOverOld.toFixed(3)}` +
      (out.sampleRatioNewOverOld === undefined ? '' : `, sampling ${out.sampleRatioNewOverOld.toFixed(3)}`),
  );
  if (out.stack)
    console.log(
      `${out.stack.models} models, fused, ms per model-step: one by one ${out.stack.apartMsPerModelStep.toFixed(1)}, ` +
        `stacked ${out.stack.stackedMsPerModelStep.toFixed(1)}; stacked/apart ${out.stack.stackedOverApart.toFixed(3)}`,
    );
}
tf.disposeVariables();
