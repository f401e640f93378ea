// The bench's bank: customers who get SMS alerts at any hour, and the bank events that notify them,
// committed the way the bank commits them (recordEvent in the change's transaction).
import type { AppContext } from '../src/context.ts';
import { recordEvent } from '../src/events/events.ts';
import { setNotificationSettings } from '../src/notifications/preferences.ts';
import { checkNewUser, insertUser } from '../src/users/users.ts';

export interface BenchCustomer {
  id: string;
  username: string;
  password: string;
  phone: string;
}

const PASSWORD = 'bench password 123';

/** `count` customers with their own numbers, quiet hours off (the bench runs at any hour). */
export async function createCustomers(ctx: Pick<AppContext, 'db' | 'config' | 'clock'>, count: number, prefix = 'bench'): Promise<BenchCustomer[]> {
  // One password hash for all: a hash per customer would dominate the set-up.
  const template = await checkNewUser(ctx.config, { username: `${prefix}0`, password: PASSWORD, phone: '+14155550000', email: `${prefix}0@example.com` });
  const customers: BenchCustomer[] = [];
  for (let i = 0; i < count; i++) {
    const phone = `+1415555${String(1000 + i).padStart(4, '0')}`;
    const user = await ctx.db.transaction((tx) => insertUser(tx, { ...template, username: `${prefix}${i}`, email: `${prefix}${i}@example.com`, phoneNumber: phone }, { isActive: true, now: ctx.clock.now() }));
    await setNotificationSettings(ctx.db, user.id, { quietHours: { startMinute: 0, endMinute: 0 } });
    customers.push({ id: user.id, username: `${prefix}${i}`, password: PASSWORD, phone });
  }
  return customers;
}

/** Commits `count` card-payment events (each one transaction, one 'transaction' SMS), `parallel` at a time. */
export async function commitTransactionEvents(
  ctx: Pick<AppContext, 'db' | 'jobs' | 'config' | 'clock'>, customers: readonly BenchCustomer[], count: number, parallel = 8, tag = 'e2e',
): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    for (let i = next++; i < count; i = next++) {
      const customer = customers[i % customers.length]!;
      await ctx.db.transaction((tx) => recordEvent(ctx, tx, {
        userId: customer.id, type: 'transaction.posted', payload: { bench: tag, n: i },
        notify: [{ type: 'transaction', values: {
          amount: { minorUnits: -1250n - BigInt(i % 100), currency: 'USD' }, merchant: 'Coffee Shop', account_last4: '4321',
          balance: { minorUnits: 100_000n, currency: 'USD' },
        } }],
      }));
    }
  }));
}
