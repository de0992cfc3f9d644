// `npm install` builds the addon here and never fails the install: without a compiler (or with a
// failing build) it records why in build/not-built.txt, which the loader reports, and the engine
// keeps its wasm kernels. A machine without a BLAS builds a stub that says so (binding.gyp).
'use strict';
const { spawnSync } = require('node:child_process');
const { mkdirSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const build = join(__dirname, 'build');

/** npm's own node-gyp (npm sets npm_config_node_gyp for install scripts), else one from node_modules. */
function nodeGyp() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  try {
    return require.resolve('node-gyp/bin/node-gyp.js', { paths: [join(__dirname, '..', '..')] });
  } catch {
    return null;
  }
}

/** The line of node-gyp's output that says why, e.g. "gyp ERR! stack Error: not found: make". */
function why(output) {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const telling =
    lines.find(
      (l) =>
        /fatal error|error:|cannot find|not found|No such file/i.test(l) &&
        !/^gyp ERR! (cwd|node -v|node-gyp -v|command|System)/.test(l),
    ) ??
    lines.filter((l) => l.startsWith('gyp ERR!')).at(-1) ??
    lines.at(-1) ??
    'node-gyp failed without output';
  return telling.slice(0, 300);
}

function notBuilt(reason) {
  mkdirSync(build, { recursive: true });
  writeFileSync(join(build, 'not-built.txt'), `${reason}\n`);
  console.warn(`sublab-blas: not built (${reason}); training on the CPU uses the wasm kernels.`);
}

const gyp = nodeGyp();
if (process.platform === 'win32') {
  notBuilt('there is no BLAS build on Windows');
} else if (!gyp) {
  notBuilt('node-gyp was not found');
} else {
  const result = spawnSync(process.execPath, [gyp, 'rebuild'], {
    cwd: __dirname,
    encoding: 'utf8',
    timeout: 300_000,
  });
  if (result.status !== 0)
    notBuilt(why(`${result.stdout ?? ''}\n${result.stderr ?? ''}\n${result.error ?? ''}`));
}
