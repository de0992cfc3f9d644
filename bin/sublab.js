#!/usr/bin/env node
// The CLI is TypeScript. A checkout runs without a build step: the first command bundles it (and the
// workers it starts) into .cache/cli-KEY/ (bin/bundle.js), which loads in a fraction of tsx's time; where
// that cannot be done, or with SUBLAB_TSX=1, tsx compiles the sources on the fly.
import { pathToFileURL } from 'node:url';
import { cliBundle } from './bundle.js';

const bundle = await cliBundle();
if (bundle) await import(pathToFileURL(bundle).href);
else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../main/cli/sublab.ts');
}
