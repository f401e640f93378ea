// The routes of the OpenAPI document the app serves (/docs/json), for tests that attack every
// route: who may call each, its body, path and query schemas, and a minimal valid body (so an
// attack reaches the check it aims at, past the parsing).
import type { FastifyInstance } from 'fastify';

export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  nullable?: boolean;
  default?: unknown;
  anyOf?: JsonSchema[];
  additionalProperties?: boolean | JsonSchema;
}

export interface Parameter { name: string; in: 'path' | 'query' | 'header'; schema: JsonSchema }

export interface Operation {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** OpenAPI path, e.g. /api/cards/{id}. */
  path: string;
  auth: 'none' | 'session' | 'staff';
  body: JsonSchema | undefined;
  parameters: Parameter[];
}

interface Document {
  paths: Record<string, Record<string, { security?: unknown; description?: string; parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: JsonSchema }> } }>>;
}

/** Every operation of the served OpenAPI document. */
export async function operations(app: FastifyInstance): Promise<Operation[]> {
  const doc = (await app.inject({ url: '/docs/json' })).json<Document>();
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({
    method: method.toUpperCase() as Operation['method'],
    path,
    auth: !op.security ? 'none' as const : op.description?.includes('Needs a staff session.') ? 'staff' as const : 'session' as const,
    body: op.requestBody?.content['application/json']?.schema,
    parameters: op.parameters ?? [],
  })));
}

/** Values that pass the routes' later checks too, by field name (a currency is a real one, a code has 6 digits). */
const BY_NAME: Record<string, unknown> = {
  currency: 'USD', amountMinor: 100, code: '123456', phone: '+14155550123', phoneNumber: '+14155550123',
  email: 'someone@example.com', dateOfBirth: '1980-01-02', password: 'a long enough password', newPassword: 'another long enough password',
  currentPassword: 'a long enough password', body: 'DominionTrust: {amount}', reason: 'lost', decision: 'approved',
  fullName: 'Test Person', address: '1 Main Street, Springfield', documentNumber: 'P1234567', username: 'someone',
};

/** A minimal value the schema accepts: its required properties (or its first one). */
export function validExample(schema: JsonSchema, name = ''): unknown {
  if (name in BY_NAME) return BY_NAME[name];
  if (schema.enum) return schema.enum[0];
  if (schema.anyOf) return validExample(schema.anyOf[0]!, name);
  switch (schema.type) {
    case 'object': {
      // A body of optional fields usually needs one of them.
      const keys = schema.required?.length ? schema.required : Object.keys(schema.properties ?? {}).slice(0, 1);
      return Object.fromEntries(keys.map((key) => [key, validExample(schema.properties?.[key] ?? {}, key)]));
    }
    case 'integer':
    case 'number':
      return Math.max(schema.minimum ?? 1, 1);
    case 'boolean':
      return true;
    case 'array':
      return [];
    default:
      if (schema.pattern === '^[A-Z]{3}$') return 'USD';
      return 'x'.repeat(Math.max(schema.minLength ?? 1, 1));
  }
}
