// Reader for the IDX format (MNIST, Fashion-MNIST): magic 0x0000 | type | ndims, then ndims big-endian
// uint32 sizes, then the data. Only unsigned bytes (type 0x08) occur in these datasets. Gzip is
// detected by its magic bytes, so `.gz` and plain files both work whatever their names say.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

export class DatasetFileError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
    this.name = 'DatasetFileError';
  }
}

export function parseIdx(bytes: Uint8Array, file = '<buffer>'): IdxArray {
  let buf = bytes;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (error) {
      throw new DatasetFileError(file, `corrupt or truncated gzip stream (${(error as Error).message})`);
    }
  }
  if (buf.length < 4) throw new DatasetFileError(file, `too short for an IDX header (${buf.length} bytes)`);
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw new DatasetFileError(file, 'not an IDX file (the magic number must start with two zero bytes)');
  }
  const type = buf[2]!;
  const ndims = buf[3]!;
  if (type !== 0x08) {
    throw new DatasetFileError(
      file,
      `unsupported IDX element type 0x${type.toString(16)} (expected 0x08, unsigned byte)`,
    );
  }
  if (ndims < 1 || ndims > 4)
    throw new DatasetFileError(file, `unsupported IDX rank ${ndims} (expected 1 to 4)`);
  const headerBytes = 4 + 4 * ndims;
  if (buf.length < headerBytes)
    throw new DatasetFileError(file, `truncated IDX header (${buf.length} of ${headerBytes} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    if (d === 0) throw new DatasetFileError(file, `dimension ${i} is zero`);
    dims.push(d);
  }
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = buf.length - headerBytes;
  if (actual < expected) {
    throw new DatasetFileError(
      file,
      `truncated: header promises ${dims.join('x')} = ${expected} values, file holds ${actual}`,
    );
  }
  if (actual > expected) {
    throw new DatasetFileError(
      file,
      `${actual - expected} unexpected trailing bytes after ${dims.join('x')} values`,
    );
  }
  // A plain Uint8Array view (not a Buffer), whatever the source was.
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + headerBytes, expected) };
}

export function readIdxFile(path: string): IdxArray {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new DatasetFileError(
      path,
      `cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  return parseIdx(bytes, path);
}

export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
