// One download in its own process, for the test of two processes fetching one file at once:
// `node --import tsx fetch-once.ts '{"file":…,"urls":[…],"dest":…}'`. Prints "ready", waits for a
// line on stdin so that both processes start their download together, then prints one JSON line:
// the result and whether it waited for another process's lock, or the error.
import { createInterface } from 'node:readline';
import { fetchVerified } from '../download.ts';
import type { RemoteFile } from '../registry.ts';

const { file, urls, dest } = JSON.parse(process.argv[2]!) as {
  file: RemoteFile;
  urls: string[];
  dest: string;
};
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
await new Promise((resolve) => lines.once('line', resolve));
lines.close();
let waited = false;
try {
  const result = await fetchVerified(file, urls, dest, { onWait: () => (waited = true) });
  process.stdout.write(`${JSON.stringify({ downloaded: result.downloaded, waited })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ error: (error as Error).message })}\n`);
  process.exitCode = 1;
}
