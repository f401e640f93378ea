// `npm run test:resilience`: the minutes-long proofs, on embedded PGlite and then on PostgreSQL:
// hostile input with many more requests per route than the normal suite sends, `npm start`
// SIGKILLed 3 times during 500 concurrent transfers (both engines), and (PostgreSQL) a worker
// SIGKILLed 10 times during 10,000 notifications.
import { spawnSync } from 'node:child_process';

const engines = process.env.TEST_ENGINE ? [process.env.TEST_ENGINE] : ['pglite', 'postgres'];
const runs = process.env.HOSTILE_RUNS ?? '200';
const started = Date.now();
let failed = false;
for (const engine of engines) {
  console.log(`\n▶ resilience on ${engine} (HOSTILE_RUNS=${runs})`);
  const files = [
    'test/security/hostile-input.test.ts',
    'test/bank/start-kill.resilience.ts',
    ...(engine === 'postgres' ? ['test/notifications/worker-kills.resilience.ts'] : ['test/db/embedded-full-disk.resilience.ts']),
  ];
  const run = spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-timeout=3600000', '--test-concurrency=1', ...files], {
    stdio: 'inherit',
    env: { ...process.env, TEST_ENGINE: engine, HOSTILE_RUNS: runs },
  });
  if (run.status !== 0) failed = true;
}
console.log(`resilience: ${failed ? 'FAILED' : 'passed'} in ${Math.round((Date.now() - started) / 1000)} s`);
process.exit(failed ? 1 : 0);
