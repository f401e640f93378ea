// Validates simulator responses against Twilio's own OpenAPI document (twilio_api_v2010.json).
// The document marks no field required, which would let a missing field pass, so the schemas are
// tightened the way Twilio really answers: every documented property is present (null when
// empty) and none is added. The document types Twilio's relative paths ("/2010-04-01/...") as
// `uri`; its own examples use relative paths, so `uri` is read as `uri-reference`.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: from ESM its plugin is the module's `default` property.
const addFormats = addFormatsModule.default;

/** Where Twilio's OpenAPI document lives; override with TWILIO_OAI_PATH. */
export const OAI_PATH =
  process.env.TWILIO_OAI_PATH ?? fileURLToPath(new URL('../fixtures/twilio-oai/twilio_api_v2010.json', import.meta.url));

type Schema = Record<string, unknown>;

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: Schema }> }> }>>;
  components: { schemas: Record<string, Schema> };
}

const DOC_ID = 'twilio-oai';

const CAPABILITIES: Schema = {
  type: 'object',
  nullable: true,
  required: ['voice', 'sms', 'mms', 'fax'],
  additionalProperties: false,
  properties: { voice: { type: 'boolean' }, sms: { type: 'boolean' }, mms: { type: 'boolean' }, fax: { type: 'boolean' } },
};

function isObject(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A deep copy of an OpenAPI schema, tightened as described at the top of this file. */
export function tighten(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tighten);
  if (!isObject(value)) return value;
  if (value.format === 'phone-number-capabilities') return { ...CAPABILITIES, nullable: value.nullable === true };
  const out: Schema = {};
  for (const [key, child] of Object.entries(value)) {
    if (key === 'example' || key === 'examples' || key === 'description') continue;
    if (key === 'properties' && isObject(child)) {
      out.properties = Object.fromEntries(Object.entries(child).map(([name, s]) => [name, tighten(s)]));
      continue;
    }
    out[key] = tighten(child);
  }
  if (typeof out.$ref === 'string') out.$ref = out.$ref.replace(/^#\//, `${DOC_ID}#/`);
  if (out.format === 'uri') out.format = 'uri-reference';
  if (out.format === 'uri-map') {
    delete out.format;
    out.additionalProperties = { type: 'string', format: 'uri-reference' };
  }
  if (out.type === 'object' && isObject(out.properties)) {
    out.required = Object.keys(out.properties);
    out.additionalProperties = false;
  }
  return out;
}

export function loadOpenApi(): OpenApiDocument {
  return JSON.parse(readFileSync(OAI_PATH, 'utf8')) as OpenApiDocument;
}

/** Twilio's error body: exactly code, message, more_info and status. */
export const TWILIO_ERROR_SCHEMA: Schema = {
  type: 'object',
  required: ['code', 'message', 'more_info', 'status'],
  additionalProperties: false,
  properties: {
    code: { type: 'integer' },
    message: { type: 'string', minLength: 1 },
    more_info: { type: 'string', pattern: '^https://www\\.twilio\\.com/docs/errors/\\d+$' },
    status: { type: 'integer', minimum: 400, maximum: 599 },
  },
};

export class OpenApiValidator {
  readonly document: OpenApiDocument;
  readonly #ajv: Ajv;

  constructor(document: OpenApiDocument = loadOpenApi()) {
    this.document = document;
    // strict: false because the document carries x-twilio and other vendor keywords.
    this.#ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(this.#ajv);
    this.#ajv.addFormat('date-time-rfc-2822', /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    this.#ajv.addFormat('phone-number', /^\+[1-9]\d{1,14}$/);
    this.#ajv.addFormat('currency', /^[A-Z]{3}$/);
    this.#ajv.addFormat('http-method', /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)$/);
    this.#ajv.addFormat('iso-country-code', /^[A-Z]{2}$/);
    for (const loose of ['endpoint', 'ice-server', 'twiml']) this.#ajv.addFormat(loose, true);
    this.#ajv.addSchema({ $id: DOC_ID, components: { schemas: tighten(document.components.schemas) } });
  }

  /** The (tightened) JSON schema the document gives for one response, or throws if it has none. */
  responseSchema(path: string, method: string, status: number): Schema {
    const schema = this.document.paths[path]?.[method]?.responses?.[String(status)]?.content?.['application/json']?.schema;
    if (!schema) throw new Error(`Twilio's OpenAPI document has no ${method.toUpperCase()} ${path} ${status} JSON response`);
    return tighten(schema) as Schema;
  }

  compile(schema: Schema): ValidateFunction {
    return this.#ajv.compile(schema);
  }

  /** Validation errors as readable lines; empty when the body is valid. */
  errorsFor(validate: ValidateFunction, body: unknown): string[] {
    if (validate(body)) return [];
    return (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath || '(root)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  }
}
