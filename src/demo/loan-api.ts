import Fastify, { type FastifyInstance } from 'fastify';
import { customer, loan, loansOf, repaymentsOf } from './dataset.js';

export interface LoanApiOptions {
  /** Number of customers (ids 1…N). */
  readonly customers?: number;
  /** Cap on records one export request may stream. */
  readonly maxExport?: number;
}

/**
 * The bundled demo loan API: a stand-in for a lending company's existing system. It has no
 * protection of its own — which is the point: Custodian sits in front of it unchanged.
 */
export function buildLoanApi(options: LoanApiOptions = {}): FastifyInstance {
  const total = options.customers ?? 1000;
  const maxExport = options.maxExport ?? 2_000_000;
  const app = Fastify({ logger: false }) as unknown as FastifyInstance;
  const deletedDocuments = new Set<string>();

  const customerId = (raw: string): number | undefined => {
    const id = Number(raw);
    return Number.isInteger(id) && id >= 1 && id <= total ? id : undefined;
  };

  app.get<{ Querystring: { page?: string; pageSize?: string } }>('/api/customers', async (request) => {
    const pageSize = Math.min(Math.max(Number(request.query.pageSize ?? 20) || 20, 1), 100);
    const page = Math.max(Number(request.query.page ?? 1) || 1, 1);
    const first = (page - 1) * pageSize + 1;
    const items = [];
    for (let id = first; id < first + pageSize && id <= total; id++) items.push(customer(id));
    return { page, pageSize, total, items };
  });

  app.get<{ Params: { id: string } }>('/api/customers/:id', async (request, reply) => {
    const id = customerId(request.params.id);
    if (id === undefined) return reply.code(404).send({ error: 'customer not found' });
    return customer(id);
  });

  app.get<{ Params: { id: string } }>('/api/customers/:id/loans', async (request, reply) => {
    const id = customerId(request.params.id);
    if (id === undefined) return reply.code(404).send({ error: 'customer not found' });
    return { customerId: id, items: loansOf(id) };
  });

  app.get<{ Params: { id: string } }>('/api/loans/:id/repayments', async (request, reply) => {
    const l = loan(Number(request.params.id));
    if (!l || customerId(String(l.customerId)) === undefined) return reply.code(404).send({ error: 'loan not found' });
    return { loanId: l.id, customerId: l.customerId, items: repaymentsOf(l) };
  });

  app.delete<{ Params: { id: string; docId: string } }>('/api/customers/:id/documents/:docId', async (request, reply) => {
    const id = customerId(request.params.id);
    if (id === undefined) return reply.code(404).send({ error: 'customer not found' });
    const key = `${id}/${request.params.docId}`;
    if (deletedDocuments.has(key)) return reply.code(404).send({ error: 'document not found' });
    deletedDocuments.add(key);
    return { customerId: id, documentId: request.params.docId, deleted: true, deletedAt: new Date().toISOString() };
  });

  // Streams N customer records as one JSON array without building it in memory.
  app.get<{ Querystring: { count?: string } }>('/api/exports/customers', (request, reply) => {
    const count = Math.min(Math.max(Math.floor(Number(request.query.count ?? 100)) || 0, 0), maxExport);
    reply.type('application/json; charset=utf-8');
    const raw = reply.raw;
    reply.hijack();
    raw.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    let id = 1;
    const writeMore = () => {
      while (id <= count) {
        // Export ids run past the customer count; they are still deterministic records.
        const chunk = (id === 1 ? '[' : ',') + JSON.stringify(customer(id));
        id++;
        if (!raw.write(chunk)) {
          raw.once('drain', writeMore);
          return;
        }
      }
      raw.end(count === 0 ? '[]' : ']');
    };
    raw.on('close', () => {
      id = count + 1;
    });
    writeMore();
  });

  return app;
}
