/** No alignment: the backbone alone (the official names without a suffix, `lightgcn`). */
import { defineAlignment, everySection } from '../descriptor.js';

export const NO_ALIGNMENT = defineAlignment({
  name: 'none',
  suffix: '',
  keys: {},
  defaults: { byBackbone: {}, generic: everySection({}) },
  text: [],
  create: () => null,
});
