// Builds the optional native kernel addon. A failed build is not fatal: the library falls back
// to the TypeScript kernels (and says so once at run time), so `npm install` still succeeds.
import { spawnSync } from 'node:child_process';

if (process.env.IRLLREC_SKIP_NATIVE === '1') {
  console.warn('irllrec: IRLLREC_SKIP_NATIVE=1, not building the native kernels');
  process.exit(0);
}
const gyp = process.env.npm_config_node_gyp;
const cmd = gyp ? process.execPath : 'node-gyp';
const args = gyp ? [gyp, 'rebuild'] : ['rebuild'];
const r = spawnSync(cmd, args, { stdio: 'inherit', shell: !gyp });
if (r.status !== 0) {
  console.warn('irllrec: the native kernel addon could not be built; the TypeScript kernels will be used (much slower).');
}
process.exit(0);
