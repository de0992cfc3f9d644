// `--set path=value` overrides on a raw spec (before validation, so the result is validated like
// any spec): `teacher.epochs=1`, `matrix.filters.0.keep="all"`, `student.inputs.count=4096`.
export class OverrideError extends Error {}

export function parseOverride(text: string): { path: string[]; value: unknown } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new OverrideError(`expected path=value, got "${text}"`);
  const path = text.slice(0, eq).trim().split('.');
  if (path.some((p) => p === '')) throw new OverrideError(`empty field name in "${text.slice(0, eq)}"`);
  const raw = text.slice(eq + 1).trim();
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw; // a bare word is a string: backend=wasm, keep=aux
  }
  return { path, value };
}

/** A copy of `spec` with `value` set at `path` (intermediate objects are created; arrays by index). */
export function applyOverride(spec: unknown, path: readonly string[], value: unknown): unknown {
  // Specs are JSON, so a JSON round trip is a faithful deep copy (and needs no host API).
  const root = JSON.parse(JSON.stringify(spec)) as Record<string, unknown>;
  let node: Record<string, unknown> = root;
  path.slice(0, -1).forEach((key, i) => {
    const next = node[key];
    if (next === undefined || next === null) node[key] = /^\d+$/.test(path[i + 1]!) ? [] : {};
    else if (typeof next !== 'object')
      throw new OverrideError(`${path.slice(0, i + 1).join('.')} is not an object`);
    node = node[key] as Record<string, unknown>;
  });
  node[path[path.length - 1]!] = value;
  return root;
}
