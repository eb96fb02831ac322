/**
 * Wait until `condition` holds (it is polled), or fail after `timeoutMs`: tests wait for the
 * state they need — a record written, a row stored — never for a fixed time, so they hold on a
 * busy machine.
 */
export async function waitFor<T>(condition: () => Promise<T | undefined | false> | T | undefined | false, what: string, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
