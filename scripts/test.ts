// `npm test`: the whole suite on embedded PGlite, then again on the machine's PostgreSQL.
// PostgreSQL unreachable is a failure (CI must prove both engines), unless explicitly skipped.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';

const { values, positionals } = parseArgs({
  options: { engine: { type: 'string' } },
  allowPositionals: true,
});
const engines = values.engine ? [values.engine] : ['pglite', 'postgres'];
const files = positionals.length ? positionals : ['test/**/*.test.ts'];
const postgresUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function postgresReachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

// Every test process (and every `dominion` child it starts) loads about 1,200 modules: Node's compile
// cache and a faster resolver for drizzle-orm (test/helpers/fast-resolve.ts) halve what that costs.
const root = join(import.meta.dirname, '..');
const nodeStart = {
  NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? join(root, '.tmp/compile-cache'),
  NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${join(root, 'test/helpers/fast-resolve.ts')}`].filter(Boolean).join(' '),
};

// Test files run two at a time on the 2-core machine CI has; TEST_CONCURRENCY changes that.
const concurrency = process.env.TEST_CONCURRENCY ?? '2';

let failed = false;
for (const engine of engines) {
  if (engine === 'postgres') {
    const problem = await postgresReachable();
    if (problem) {
      if (process.env.DOMINION_TEST_SKIP_POSTGRES === '1') {
        console.warn(`⚠️  PostgreSQL at ${postgresUrl} unreachable (${problem}); skipped because DOMINION_TEST_SKIP_POSTGRES=1`);
        continue;
      }
      console.error(`❌ PostgreSQL at ${postgresUrl} is unreachable: ${problem}\n   Start it, or set TEST_DATABASE_URL; the suite must pass on both engines.`);
      failed = true;
      continue;
    }
  }
  console.log(`\n▶ test suite on ${engine}`);
  // Everything the suite's apps answer, log and print is recorded, then scanned for secrets.
  const recordDir = join(import.meta.dirname, '../.tmp', `record-${engine}`);
  rmSync(recordDir, { recursive: true, force: true });
  mkdirSync(recordDir, { recursive: true });
  const env = { ...process.env, ...nodeStart, TEST_ENGINE: engine, DOMINION_TEST_RECORD_DIR: recordDir };
  const startedAt = performance.now();
  let run = spawnSync(process.execPath, ['--test', '--test-reporter=spec', `--test-concurrency=${concurrency}`, '--test-timeout=120000', ...files], {
    stdio: 'inherit',
    env,
  });
  // The secrets scan over everything this pass recorded (test/security/secrets-scan.check.ts, about
  // 2 s): after the whole suite only, a part of it would leave the scan's floors unmet.
  // DOMINION_SECRETS_SCAN=0 skips it (to look at a pass's recordings by hand, say).
  if (run.status === 0 && !positionals.length && process.env.DOMINION_SECRETS_SCAN !== '0') {
    run = spawnSync(process.execPath, ['--test', '--test-reporter=spec', 'test/security/secrets-scan.check.ts'], { stdio: 'inherit', env });
  }
  const took = `${Math.round((performance.now() - startedAt) / 1000)} s, ${concurrency} files at a time`;
  if (run.status !== 0) {
    console.error(`❌ test suite failed on ${engine} (${took})`);
    failed = true;
  } else {
    console.log(`✅ test suite passed on ${engine} (${took})`);
  }
}
process.exit(failed ? 1 : 0);
