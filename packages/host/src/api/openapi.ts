import { z } from 'zod';
import { NAMED_SCHEMAS, OPERATIONS, type Operation } from './contract.js';

type Json = Record<string, unknown>;

/** `/v1/workspaces/:wid/files/*` -> `/v1/workspaces/{wid}/files/{path}` */
export function openApiPath(fastifyPath: string): string {
  return fastifyPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*$/, '{path}');
}

/** A JSON Schema without the keys that only make sense at a document's root. */
function clean(schema: Json): Json {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

function inline(schema: z.ZodType, io: 'input' | 'output'): Json {
  return clean(z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json);
}

function parameters(op: Operation): Json[] {
  const out: Json[] = [];
  const add = (where: 'path' | 'query', object: z.ZodObject | undefined): void => {
    if (!object) return;
    const json = inline(object, 'input') as {
      properties?: Record<string, Json>;
      required?: string[];
    };
    for (const [name, schema] of Object.entries(json.properties ?? {})) {
      const { description, ...rest } = schema;
      out.push({
        name: name === '*' ? 'path' : name,
        in: where,
        required: where === 'path' || (json.required ?? []).includes(name),
        ...(typeof description === 'string' ? { description } : {}),
        schema: rest,
      });
    }
  };
  add('path', op.params);
  add('query', op.query);
  if (op.id === 'runEvents') {
    out.push({
      name: 'Last-Event-ID',
      in: 'header',
      required: false,
      description: 'resume after this sequence number',
      schema: { type: 'string' },
    });
  }
  return out;
}

/**
 * The OpenAPI 3.1 document of the whole API, generated from the operation table and its zod
 * schemas (JSON Schema 2020-12, which OpenAPI 3.1 uses as is). Named response shapes go to
 * `components.schemas`; the rest are inlined.
 */
export function buildOpenApiDocument(info: {
  version: string;
  operations?: readonly Operation[];
}): Json {
  const operations = info.operations ?? OPERATIONS;
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(NAMED_SCHEMAS)) registry.add(schema, { id });
  // Anonymous response shapes join the registry too, so references to named ones resolve.
  for (const op of operations) {
    for (const [status, response] of Object.entries(op.responses)) {
      if (response.schema && !registry.has(response.schema))
        registry.add(response.schema, { id: `${op.id}${status}` });
    }
  }
  const converted = z.toJSONSchema(registry, {
    io: 'output',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, Json> };
  const schemas: Record<string, Json> = {};
  for (const [id, schema] of Object.entries(converted.schemas)) schemas[id] = clean(schema);
  const ref = (schema: z.ZodType): Json => ({
    $ref: `#/components/schemas/${registry.get(schema)?.id ?? ''}`,
  });

  const paths: Record<string, Record<string, Json>> = {};
  for (const op of operations) {
    const responses: Record<string, Json> = {};
    for (const [status, response] of Object.entries(op.responses)) {
      const content = response.schema
        ? { 'application/json': { schema: ref(response.schema) } }
        : response.contentType
          ? { [response.contentType]: { schema: { type: 'string' } } }
          : undefined;
      responses[status] = { description: response.description, ...(content ? { content } : {}) };
    }
    const error = (description: string): Json => ({
      description,
      content: { 'application/json': { schema: ref(NAMED_SCHEMAS.Error as z.ZodType) } },
    });
    if (op.auth !== 'none') {
      responses['401'] ??= error('`unauthorized`: no valid token');
      responses['429'] ??= error(
        "`rate_limited`: over the tenant's requests per minute; see `Retry-After`",
      );
    }
    if (op.params || op.auth === 'admin')
      responses['404'] ??= error('`not_found`: no such resource for this tenant');
    if (op.body || op.query || op.params)
      responses['400'] ??= error('`validation_failed` or `invalid_json`');
    if ('newWork' in op && op.newWork)
      responses['503'] ??= error(
        '`dependency_unavailable`: a store of the host (Redis, the object store) is down; new work waits until it is back, see `Retry-After`',
      );
    responses.default = error('any other error, with its code');

    const security =
      op.auth === 'none'
        ? []
        : op.auth === 'bearer-or-query'
          ? [{ bearer: [] }, { ticket: [] }, { accessToken: [] }]
          : [{ bearer: [] }];
    const body = op.body
      ? { required: true, content: { 'application/json': { schema: inline(op.body, 'input') } } }
      : op.rawBody
        ? {
            required: true,
            description: op.rawBody.description,
            content: {
              [op.rawBody.contentType]: {
                schema: { type: 'string', contentMediaType: op.rawBody.contentType },
              },
            },
          }
        : undefined;
    const params = parameters(op);
    (paths[openApiPath(op.path)] ??= {})[op.method.toLowerCase()] = {
      operationId: op.id,
      summary: op.summary,
      ...(op.description ? { description: op.description } : {}),
      tags: [op.tag],
      security,
      ...(params.length > 0 ? { parameters: params } : {}),
      ...(body ? { requestBody: body } : {}),
      responses,
    };
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Workcell',
      version: info.version,
      description:
        'Runs the Claude Agent SDK for each workspace inside a hardened container of its own.',
    },
    tags: [...new Set(operations.map((o) => o.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'an API token (`WORKCELL_API_TOKENS`)',
        },
        ticket: {
          type: 'apiKey',
          in: 'query',
          name: 'ticket',
          description:
            'a single-use ticket from `POST /v1/tickets`: how browsers open an EventSource or a WebSocket',
        },
        accessToken: {
          type: 'apiKey',
          in: 'query',
          name: 'access_token',
          description:
            'the API token itself, kept for older clients; it puts a long-lived credential in a URL (use `ticket`)',
        },
      },
    },
  };
}
