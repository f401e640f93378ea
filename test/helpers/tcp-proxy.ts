// A TCP proxy a test controls, in front of the machine's PostgreSQL: `cut()` resets every open
// connection and refuses new ones (a database restarting or a network gone), `restore()` lets
// connections through again. The machine's server is never stopped.
import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Connections accepted and passed on so far. */
  readonly connections: number;
  /** Connections refused while cut. */
  readonly refused: number;
  cut(): void;
  restore(): void;
  /**
   * Resets a connection the moment its client sends a simple query matching `pattern` (the
   * query never reaches the server), e.g. /^begin/i: a connection lost right after it was
   * checked out of a pool. undefined stops it.
   */
  resetOnQuery(pattern: RegExp | undefined): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let down = false;
  let connections = 0;
  let refused = 0;
  let resetPattern: RegExp | undefined;
  const server = createServer((client) => {
    client.on('error', () => undefined);
    if (down) {
      refused++;
      client.resetAndDestroy();
      return;
    }
    connections++;
    const upstream = connect(target.port, target.host);
    upstream.on('error', () => undefined);
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.on('close', () => open.delete(socket));
    }
    client.on('data', (chunk: Buffer) => {
      // A simple Query message: 'Q', a 4-byte length, the SQL text.
      if (resetPattern && chunk[0] === 0x51 && resetPattern.test(chunk.subarray(5).toString('utf8'))) {
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    get connections() {
      return connections;
    },
    get refused() {
      return refused;
    },
    cut() {
      down = true;
      for (const socket of open) socket.resetAndDestroy();
    },
    restore() {
      down = false;
    },
    resetOnQuery(pattern) {
      resetPattern = pattern;
    },
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
