#!/usr/bin/env node
// The CLI is TypeScript; tsx compiles it on the fly, so a checkout runs without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../main/cli/sublab.ts');
