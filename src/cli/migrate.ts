// `dominion migrate`: applies pending database migrations (idempotent; safe from many processes).
import type { Command } from 'commander';
import { loadConfig } from '../config.ts';

export function migrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (embedded database or DATABASE_URL)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const { openDatabaseFor } = await import('../runtime.ts');
      const config = loadConfig();
      const database = await openDatabaseFor(config);
      try {
        const before = await database.pendingMigrations();
        await database.migrate();
        const result = { engine: database.engine, applied: before, pending: await database.pendingMigrations() };
        console.log(opts.json ? JSON.stringify(result) : `✅ ${database.engine}: ${before} migration(s) applied, database up to date`);
      } finally {
        await database.close();
      }
    });
}
