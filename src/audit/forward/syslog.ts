import { connect, type TLSSocket } from 'node:tls';
import type { ForwardedRecord, ForwardTarget } from './target.js';

const BOM = '\uFEFF';

/** Printable ASCII without space, `=`, `]` and `"`: what RFC 5424 allows in header fields and SD names. */
function headerSafe(text: string, max: number): string {
  const safe = text.replace(/[^\x21-\x7e]|[=\]"]/g, '_').slice(0, max);
  return safe.length > 0 ? safe : '-';
}

/** A structured-data parameter value: `"`, `\` and `]` escaped (RFC 5424 §6.3.3). */
function sdValue(text: string): string {
  return text.replace(/["\\\]]/g, (c) => `\\${c}`);
}

/**
 * One record as an RFC 5424 message: facility `facility`, severity notice for a refusal and
 * informational otherwise; APP-NAME custodian, MSGID the record type, the chain position in
 * structured data (SD-ID custodian@32473, the documentation enterprise number), and the record's
 * JSON as the UTF-8 message.
 */
export function rfc5424(record: ForwardedRecord, facility: number): string {
  const severity = record.decision === 'deny' ? 5 : 6;
  const sd = `[custodian@32473 instance="${sdValue(record.instance)}" seq="${record.seq}" hash="${record.hash}"]`;
  return `<${facility * 8 + severity}>1 ${record.time} ${headerSafe(record.instance, 255)} custodian - ${headerSafe(record.type, 32)} ${sd} ${BOM}${record.recordText}`;
}

/** RFC 5425 framing over TLS: the message's length in octets, a space, the message. */
export function frame(message: string): string {
  return `${Buffer.byteLength(message, 'utf8')} ${message}`;
}

export interface SyslogOptions {
  readonly host: string;
  readonly port: number;
  readonly ca: string | undefined;
  readonly serverName: string;
  readonly facility: number;
  readonly timeoutMs?: number;
}

/**
 * Syslog over TLS to the company's log platform (等保 log-audit systems ingest RFC 5424). The
 * protocol has no acknowledgement, so a batch counts as delivered only when the collector, having
 * read to the end of our stream, closes its side: one connection per batch, ended by us, closed
 * by it. A collector that restarts mid-batch never closes cleanly, and the batch is sent again.
 */
export class SyslogTlsTarget implements ForwardTarget {
  readonly name = 'syslog';
  readonly #options: SyslogOptions;

  constructor(options: SyslogOptions) {
    this.#options = options;
  }

  deliver(records: readonly ForwardedRecord[]): Promise<void> {
    const o = this.#options;
    const payload = records.map((r) => frame(rfc5424(r, o.facility))).join('');
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const socket: TLSSocket = connect({ host: o.host, port: o.port, ca: o.ca, servername: o.serverName, minVersion: 'TLSv1.2' });
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new Error('syslog collector did not confirm the batch in time')), o.timeoutMs ?? 30_000);
      socket.once('secureConnect', () => socket.end(payload));
      // Our end went out after the last frame; the collector's end means it read them all.
      socket.once('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        fail(err);
      });
      socket.once('close', () => {
        clearTimeout(timer);
        fail(new Error('syslog collector closed the connection before confirming the batch'));
      });
      socket.resume();
    });
  }

  async close(): Promise<void> {}
}
