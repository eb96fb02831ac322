import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'undici';

/**
 * Headless Chromium driven over the DevTools protocol: open a page, evaluate an expression in it
 * (after layout, so SVG boxes are real), take a screenshot. Only what the report tests need.
 */
export interface Browser {
  open(url: string): Promise<Page>;
  close(): Promise<void>;
}

export interface Page {
  evaluate<T>(expression: string): Promise<T>;
  screenshot(): Promise<Buffer>;
  close(): Promise<void>;
}

export async function launchChromium(binary: string): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'custodian-chromium-'));
  const child: ChildProcess = spawn(binary, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--remote-debugging-port=0', `--user-data-dir=${profile}`, 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`chromium did not start: ${err.slice(-500)}`)), 30_000);
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`chromium exited ${code}: ${err.slice(-500)}`)));
  });
  return {
    async open(url) {
      const res = await fetch(`http://127.0.0.1:${port}/json/new?${url}`, { method: 'PUT' });
      const target = (await res.json()) as { id: string; webSocketDebuggerUrl: string };
      const page = await connect(target.webSocketDebuggerUrl);
      await page.send('Page.enable');
      // Wait until the page itself (not the blank page before it) has loaded: the report has no
      // scripts and no external assets, so that is when it is drawn.
      for (let i = 0; ; i++) {
        const state = await page.send<{ result: { value: string } }>('Runtime.evaluate', { expression: 'location.href + " " + document.readyState', returnByValue: true });
        if (state.result.value === `${url} complete`) break;
        if (i > 400) throw new Error(`${url} did not load: ${state.result.value}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      return {
        async evaluate<T>(expression: string) {
          const r = await page.send<{ result: { value: T }; exceptionDetails?: unknown }>('Runtime.evaluate', { expression, returnByValue: true });
          if (r.exceptionDetails) throw new Error(`page threw: ${JSON.stringify(r.exceptionDetails).slice(0, 300)}`);
          return r.result.value;
        },
        async screenshot() {
          // The whole page, not just the first screen.
          const metrics = await page.send<{ cssContentSize: { width: number; height: number } }>('Page.getLayoutMetrics');
          const { width, height } = metrics.cssContentSize;
          const r = await page.send<{ data: string }>('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip: { x: 0, y: 0, width, height, scale: 1 } });
          return Buffer.from(r.data, 'base64');
        },
        async close() {
          page.close();
          await fetch(`http://127.0.0.1:${port}/json/close/${target.id}`).catch(() => undefined);
        },
      };
    },
    async close() {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

async function connect(url: string) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('error', reject, { once: true });
  });
  let next = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  ws.addEventListener('message', (event) => {
    const msg = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
    if (msg.id === undefined) return;
    const w = waiting.get(msg.id);
    waiting.delete(msg.id);
    if (msg.error) w?.reject(new Error(msg.error.message));
    else w?.resolve(msg.result);
  });
  return {
    send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
      const id = next++;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise<T>((resolve, reject) => waiting.set(id, { resolve: resolve as (v: unknown) => void, reject }));
    },
    close: () => ws.close(),
  };
}
