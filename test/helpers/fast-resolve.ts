// Preloaded into every test process by `npm test` (NODE_OPTIONS=--import): resolves drizzle-orm's
// modules without Node re-reading its package.json for each of them. drizzle-orm's package.json is
// 180 kB (447 export entries) and Node 24 parses it again for every import inside the package to
// learn the module format, which cost 2.5 s of CPU per process (half of loading the whole app).
// The answers are the ones Node gives: relative `.js` imports inside the package (type: module)
// are plain URL joins, and a bare `drizzle-orm/...` specifier resolves the same from any importer
// (there is one copy, at the top of node_modules); only Node's own resolver is asked for those.
import { registerHooks, type ResolveFnOutput } from 'node:module';

const PACKAGE = '/node_modules/drizzle-orm/';
const resolved = new Map<string, ResolveFnOutput>();

registerHooks({
  resolve(specifier, context, nextResolve) {
    const parent = context.parentURL;
    if (parent?.includes(PACKAGE) && (specifier.startsWith('./') || specifier.startsWith('../')) && specifier.endsWith('.js')) {
      return { url: new URL(specifier, parent).href, format: 'module', shortCircuit: true };
    }
    if (specifier === 'drizzle-orm' || specifier.startsWith('drizzle-orm/')) {
      const key = `${specifier}\0${context.conditions?.join(',') ?? ''}`;
      let answer = resolved.get(key);
      if (!answer) {
        answer = nextResolve(specifier, context);
        resolved.set(key, answer);
      }
      return { ...answer, shortCircuit: true };
    }
    return nextResolve(specifier, context);
  },
});
