import { WorkcellError } from '@workcell/protocol';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { putSecretBody, secretInput } from '../../secrets/input.js';
import { SECRET_NAME } from '../../secrets/names.js';
import type { SecretStore } from '../../secrets/secret-store.js';
import type { ApiServices } from '../context.js';
import { parseBody } from '../validate.js';

function checkName(name: string): string {
  if (!SECRET_NAME.test(name))
    throw new WorkcellError(
      'validation_failed',
      'path.name: a secret name is a letter followed by up to 63 letters, digits or _',
    );
  return name;
}

/**
 * Secrets of a workspace (`/v1/workspaces/:wid/secrets`) and of the tenant (`/v1/secrets`,
 * applying to every workspace of the tenant that has no secret of the same name). A value goes
 * in with PUT and never comes out: GET answers names, hosts, placeholders and times.
 */
export function registerSecretRoutes(
  app: FastifyInstance,
  s: ApiServices,
  secrets: SecretStore,
): void {
  const workspace = async (tenant: string, wid: string): Promise<string> =>
    (await s.catalog.getWorkspace(tenant, wid)).id;
  const created = (reply: FastifyReply, isNew: boolean): void => {
    reply.code(isNew ? 201 : 200);
  };

  app.get<{ Params: { wid: string } }>('/v1/workspaces/:wid/secrets', async (request) => {
    const { tenant } = request.principal;
    const wid = await workspace(tenant, request.params.wid);
    return { secrets: await secrets.list(tenant, wid), nextCursor: null };
  });

  app.get<{ Params: { wid: string; name: string } }>(
    '/v1/workspaces/:wid/secrets/:name',
    async (request) => {
      const { tenant } = request.principal;
      const wid = await workspace(tenant, request.params.wid);
      return secrets.get(tenant, wid, checkName(request.params.name));
    },
  );

  app.put<{ Params: { wid: string; name: string } }>(
    '/v1/workspaces/:wid/secrets/:name',
    async (request, reply) => {
      const { tenant } = request.principal;
      const wid = await workspace(tenant, request.params.wid);
      const name = checkName(request.params.name);
      const input = secretInput(parseBody(putSecretBody, request.body));
      const { view, created: isNew } = await secrets.put(tenant, wid, name, input);
      created(reply, isNew);
      return view;
    },
  );

  app.delete<{ Params: { wid: string; name: string } }>(
    '/v1/workspaces/:wid/secrets/:name',
    async (request, reply) => {
      const { tenant } = request.principal;
      const wid = await workspace(tenant, request.params.wid);
      await secrets.delete(tenant, wid, checkName(request.params.name));
      return reply.code(204).send();
    },
  );

  app.get('/v1/secrets', async (request) => ({
    secrets: await secrets.list(request.principal.tenant, null),
    nextCursor: null,
  }));

  app.get<{ Params: { name: string } }>('/v1/secrets/:name', async (request) =>
    secrets.get(request.principal.tenant, null, checkName(request.params.name)),
  );

  app.put<{ Params: { name: string } }>('/v1/secrets/:name', async (request, reply) => {
    const name = checkName(request.params.name);
    const input = secretInput(parseBody(putSecretBody, request.body));
    const { view, created: isNew } = await secrets.put(request.principal.tenant, null, name, input);
    created(reply, isNew);
    return view;
  });

  app.delete<{ Params: { name: string } }>('/v1/secrets/:name', async (request, reply) => {
    await secrets.delete(request.principal.tenant, null, checkName(request.params.name));
    return reply.code(204).send();
  });
}
