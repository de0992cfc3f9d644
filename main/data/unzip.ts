// Extracts chosen entries of a zip (EMNIST's gzip.zip) with yauzl. Each lands under a temporary name
// and is renamed only once whole and its CRC-32 matches the zip's (yauzl reads the CRC, we check it).
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import yauzl from 'yauzl';

/** Writes each wanted entry (zip entry name -> destination path); an entry missing from the zip throws. */
export async function extractEntries(zipPath: string, wanted: ReadonlyMap<string, string>): Promise<void> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(zipPath, { strictFileNames: false });
  } catch (error) {
    throw new Error(`${zipPath}: not a readable zip (${(error as Error).message})`, { cause: error });
  }
  const left = new Set(wanted.keys());
  try {
    for await (const entry of zip.eachEntry()) {
      const dest = wanted.get(entry.fileName);
      if (dest === undefined) continue;
      await extractOne(zip, entry, dest, zipPath);
      left.delete(entry.fileName);
      if (left.size === 0) break;
    }
  } finally {
    zip.close();
  }
  if (left.size > 0) throw new Error(`${zipPath}: no entry ${[...left].join(', ')} in the zip`);
}

async function extractOne(zip: yauzl.ZipFile, entry: yauzl.Entry, dest: string, zipPath: string) {
  const tmp = `${dest}.${process.pid}.tmp`;
  let crc = 0;
  const check = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      crc = crc32(chunk, crc);
      done(null, chunk);
    },
  });
  try {
    await pipeline(await zip.openReadStreamPromise(entry), check, createWriteStream(tmp));
    if (crc >>> 0 !== entry.crc32 >>> 0)
      throw new Error(
        `CRC-32 of ${entry.fileName} is ${crc.toString(16)}, the zip says ${entry.crc32.toString(16)}`,
      );
    await rename(tmp, dest);
  } catch (error) {
    await rm(tmp, { force: true });
    throw new Error(`${zipPath}: cannot extract ${entry.fileName}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
