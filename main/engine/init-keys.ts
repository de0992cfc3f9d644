// Where each layer's random init comes from. A layer's weights are drawn from a stream keyed by
// (replicate seed, layer index, fan_in, fan_out, layer kind, salt), never from one stream walked
// layer after layer: with a shared walk, any two architectures whose first layers match draw the
// same numbers there (a [256, 256, 256] student started with its [256, 256] teacher's first two
// layers). Keyed streams share exactly when the key says so, whatever else the model holds.
import { mixSeed } from '../../app/matrix.ts';
import { Rng, STREAM } from './rng.ts';

/**
 * 'dense': an MLP layer; 'conv': the CNN's 5x5 patch layer; 'cnn-dense': a layer of the CNN's dense
 * head. A CNN's head layer and an MLP's layer of the same index and shape are different layers.
 */
export type LayerKind = 'dense' | 'conv' | 'cnn-dense';

const KIND_CODE: Record<LayerKind, number> = { dense: 1, conv: 2, 'cnn-dense': 3 };

/**
 * Independent families of inits of one replicate. `model`: the teacher's (and a same-init
 * student's); `student`: a student of another shape or family, which declares no sharing with its
 * teacher; `layerInit`: the parts a layer-init relation draws afresh.
 */
export const INIT_SALT = { model: 0, student: 1, layerInit: 2 } as const;
export type InitSalt = (typeof INIT_SALT)[keyof typeof INIT_SALT];

/** The stream of one layer's weights of one replicate. */
export function layerInitRng(
  seed: number,
  layer: number,
  [fanIn, fanOut]: readonly [number, number],
  kind: LayerKind,
  salt: InitSalt,
): Rng {
  let key = mixSeed(seed, 0x1000 + STREAM.init);
  for (const part of [layer, fanIn, fanOut, KIND_CODE[kind], salt]) key = mixSeed(key, part);
  return new Rng(key);
}
