// The HTTP control of faults.ts, form-encoded like the rest of the simulator, e.g.
//   curl -d mode=rate_limit -d fraction=0.5 -d durationMs=60000 http://127.0.0.1:8001/dev/faults/storm
// Unauthenticated like the inbox: the simulator is a local development tool.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ZodError } from 'zod';
import { refusalSchema, stormSchema, undeliverySchema, type FaultPlan } from './faults.ts';
import type { FormParams } from './rules.ts';

/** Form fields as one value each; an unencoded '+' (curl -d to=+1...) arrives as a space. */
function fields(body: unknown): Record<string, string> {
  const params = (body !== null && typeof body === 'object' ? body : {}) as FormParams;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(params)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) out[name] = first.replace(/^ (?=\d)/, '+');
  }
  return out;
}

function refused(reply: FastifyReply, error: unknown): FastifyReply {
  if (!(error instanceof ZodError)) throw error;
  const message = error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  return reply.code(400).send({ error: 'validation_failed', message });
}

export function registerFaultRoutes(app: FastifyInstance, faults: FaultPlan): void {
  const apply = (path: string, change: (input: Record<string, string>) => void) => {
    app.post(path, async (request, reply) => {
      try {
        change(fields(request.body));
      } catch (error) {
        return refused(reply, error);
      }
      return reply.code(200).send(faults.state());
    });
  };
  app.get('/dev/faults', async () => faults.state());
  apply('/dev/faults/storm', (input) => faults.storm(stormSchema.parse(input)));
  apply('/dev/faults/refuse', (input) => faults.refuse(refusalSchema.parse(input)));
  apply('/dev/faults/undeliver', (input) => faults.undeliver(undeliverySchema.parse(input)));
  apply('/dev/faults/silence', (input) => faults.silence(input.target ?? ''));
  app.delete('/dev/faults/storm', async () => {
    faults.calm();
    return faults.state();
  });
  app.delete('/dev/faults', async () => {
    faults.clear();
    return faults.state();
  });
}
