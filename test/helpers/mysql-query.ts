import mysql from 'mysql2/promise';

/**
 * Runs one SQL statement against a MySQL/MariaDB server with mysql2 (a real client of the
 * protocol) and prints the rows as JSON: a separate process, so a test can run it inside a
 * network namespace (the daemon's "host") with nsenter. It retries the connection until the
 * deadline, for a server that is still initialising.
 *
 * Usage: node mysql-query.js <host> <port> <user> <password> <sql> [deadline-ms]
 */
async function main(): Promise<void> {
  const [host, port, user, password, sql, deadlineMs] = process.argv.slice(2);
  if (!host || !port || !user || password === undefined || !sql) throw new Error('usage: mysql-query <host> <port> <user> <password> <sql> [deadline-ms]');
  const deadline = Date.now() + Number(deadlineMs ?? 60_000);
  for (;;) {
    let connection: mysql.Connection;
    try {
      connection = await mysql.createConnection({ host, port: Number(port), user, password, connectTimeout: 5_000 });
    } catch (err: unknown) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      const [rows] = await connection.query(sql);
      process.stdout.write(`${JSON.stringify(rows)}\n`);
      return;
    } finally {
      await connection.end();
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
