import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The machine's PostgreSQL (CI's too): the server of DATABASE_URL, or 127.0.0.1:5432 as postgres. */
export function serverUrl(database = 'postgres'): string {
  const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  base.pathname = `/${database}`;
  return base.toString();
}

/** An empty database on the machine's PostgreSQL, named `${prefix}_<random>`, dropped when the test ends. */
export async function freshDatabase(t: { teardown(fn: () => Promise<void> | void): void }, prefix: string): Promise<string> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: serverUrl() });
    await client.connect();
    await client.query(sql).finally(() => client.end());
  };
  await admin(`CREATE DATABASE ${name}`);
  t.teardown(() => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  return name;
}

/**
 * A fresh loan database on the machine's PostgreSQL for one test file: customers (with ID
 * numbers, mobiles, names, free-text remarks) and loans; dropped when the test ends.
 */
export async function createLoanDatabase(t: { teardown(fn: () => Promise<void> | void): void }, customers: readonly { id: number; name: string; idNumber: string; mobile: string; city: string; remarks: string }[]) {
  const name = await freshDatabase(t, 'custodian_pgw');
  const db = new pg.Client({ connectionString: serverUrl(name) });
  await db.connect();
  await db.query(`CREATE TABLE customers (id int PRIMARY KEY, name text, id_number text, mobile text, city text, remarks text);
                  CREATE TABLE loans (id int PRIMARY KEY, customer_id int, amount numeric, status text)`);
  for (const c of customers) {
    await db.query('INSERT INTO customers VALUES ($1, $2, $3, $4, $5, $6)', [c.id, c.name, c.idNumber, c.mobile, c.city, c.remarks]);
    await db.query('INSERT INTO loans VALUES ($1, $2, $3, $4)', [c.id, c.id, 1000 * c.id, c.id % 3 === 0 ? 'overdue' : 'active']);
  }
  return { name, url: serverUrl(name), db };
}
