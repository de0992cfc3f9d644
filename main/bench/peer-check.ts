// Whether the bench's PyTorch peer (torch_paper.py) can run: the python it is given must import numpy
// and torch. A fresh machine has neither, and the bench then ended in `ratio: null` beside Python's
// own "No module named 'numpy'"; this says in one line what to install. The bench does not install
// them itself (unlike scripts/ensure-test-deps.sh for the tests): torch is a large, system-wide
// install that needs root, and only the comparison needs it, not our engine's numbers.
import { spawnSync } from 'node:child_process';

export const PEER_INSTALL = 'Debian: sudo apt-get install python3-numpy python3-torch';

/** The last line Python wrote (a traceback ends in the exception), if any. */
function lastLine(text: string): string | undefined {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .at(-1);
}

/** Why `python` cannot run the PyTorch peer, in one line with what to install; null when it can. */
export function torchPeerMissing(python: string): string | null {
  const r = spawnSync(python, ['-c', 'import numpy, torch'], { encoding: 'utf8', timeout: 120_000 });
  if (r.status === 0) return null;
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  const cause =
    code === 'ENOENT'
      ? `${python} not found`
      : (r.error?.message ?? lastLine(r.stderr) ?? `${python} exited ${r.status ?? r.signal}`);
  return `the PyTorch peer cannot run: ${cause}. Install it (${PEER_INSTALL}) or pass --python PATH to a python with numpy and torch`;
}
