// Entry point of the `dominion` command: wiring only. Each command lives in src/cli/.
import { Command, CommanderError } from 'commander';
import { loadConfig } from './config.ts';
import { appErrorIn } from './errors.ts';
import { EXIT, exitCodeOf } from './cli/exit-codes.ts';
import { migrateCommand } from './cli/migrate.ts';
import { notificationsCommand } from './cli/notifications.ts';
import { testTwilioSmsCommand } from './cli/test-twilio-sms.ts';
import { twilioSimCommand } from './cli/twilio-sim.ts';
import { usersCommands } from './cli/users.ts';

const program = new Command('dominion')
  .description('DominionTrust Bank backend: SMS two-factor login and notifications through Twilio')
  .option('--verbose', 'show stack traces of unexpected errors')
  .showHelpAfterError()
  .exitOverride();

// Commands import their heavy modules (database drivers, SDK) when they run, so `--help` is quick.
const serve = async (options: { server: boolean; worker: boolean }) => (await import('./cli/serve.ts')).serve(loadConfig(), options);

program.command('start').description('run server and worker in one process (simulator too in simulator mode); the default of npm start')
  .action(() => serve({ server: true, worker: true }));
program.command('serve').description('run the HTTP server only')
  .action(() => serve({ server: true, worker: false }));
program.command('worker').description('run a background worker only (run many against one PostgreSQL)')
  .action(() => serve({ server: false, worker: true }));
migrateCommand(program);
twilioSimCommand(program);
testTwilioSmsCommand(program);
usersCommands(program);
notificationsCommand(program, async (filter) => {
  const { performCommand } = await import('./cli/server-client.ts');
  const { templatesInForce } = await import('./notifications/templates/store.ts');
  return performCommand(loadConfig(), { path: '/notifications/templates', body: filter, timeoutMs: 30_000 }, async (ctx) => (await templatesInForce(ctx, filter)));
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const appError = appErrorIn(error); // also one Drizzle wrapped, such as a full disk met by a query
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (appError) {
    console.error(`❌ ${appError.userMessage}`);
    process.exitCode = exitCodeOf(appError.code);
  } else {
    console.error(`❌ Unexpected error: ${(error as Error).message}`);
    if (program.opts<{ verbose?: boolean }>().verbose) console.error(error);
    else console.error('   Run again with --verbose for details.');
    process.exitCode = EXIT.failure;
  }
}
