// A spec's identity: SHA-256 over a canonical JSON form of the spec with defaults filled in, so two
// files that differ only in key order, whitespace or spelled-out defaults hash the same.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import type { ExperimentSpec } from './schema.ts';
import type { LanguageSpec } from './language.ts';
import type { LlmSpec } from './llm.ts';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** Fields that do not change what is computed are left out of the hash. */
export function specHash(spec: ExperimentSpec | LanguageSpec | LlmSpec): string {
  const { name: _name, description: _description, tags: _tags, ...science } = spec;
  return bytesToHex(sha256(utf8ToBytes(canonicalJson(science))));
}
