import { errorResponseSchema, secretListSchema, secretViewSchema } from '@workcell/protocol';
import { z } from 'zod';
import { putSecretBody } from '../../secrets/input.js';
import { op, idParam, wsParams } from './operation.js';

const secretName = z.string().describe('the secret name: a letter, then letters, digits or _');

const wsSecretParams = z.object({ wid: idParam('workspace'), name: secretName });

const secretParams = z.object({ name: secretName });

const SECRETS_501 = {
  description: 'secrets are not enabled (no WORKCELL_SECRETS_KEY)',
  schema: errorResponseSchema,
};

/** Secrets of a workspace and of the tenant; never their values. */
export const secretOps = {
  listWorkspaceSecrets: op({
    id: 'listWorkspaceSecrets',
    method: 'GET',
    path: '/v1/workspaces/:wid/secrets',
    summary: "The secrets a workspace sees (its own and the tenant's); never their values",
    tag: 'secrets',
    auth: 'bearer',
    params: wsParams,
    responses: { 200: { description: 'the secrets', schema: secretListSchema }, 501: SECRETS_501 },
  }),
  getWorkspaceSecret: op({
    id: 'getWorkspaceSecret',
    method: 'GET',
    path: '/v1/workspaces/:wid/secrets/:name',
    summary: 'One secret a workspace sees; never its value',
    tag: 'secrets',
    auth: 'bearer',
    params: wsSecretParams,
    responses: { 200: { description: 'the secret', schema: secretViewSchema }, 501: SECRETS_501 },
  }),
  putWorkspaceSecret: op({
    id: 'putWorkspaceSecret',
    method: 'PUT',
    path: '/v1/workspaces/:wid/secrets/:name',
    summary: 'Create or replace a workspace secret (a new value applies to the next request)',
    tag: 'secrets',
    auth: 'bearer',
    params: wsSecretParams,
    body: putSecretBody,
    responses: {
      200: { description: 'replaced', schema: secretViewSchema },
      201: { description: 'created', schema: secretViewSchema },
      501: SECRETS_501,
    },
  }),
  deleteWorkspaceSecret: op({
    id: 'deleteWorkspaceSecret',
    method: 'DELETE',
    path: '/v1/workspaces/:wid/secrets/:name',
    summary: 'Remove a workspace secret',
    tag: 'secrets',
    auth: 'bearer',
    params: wsSecretParams,
    responses: { 204: { description: 'removed' }, 501: SECRETS_501 },
  }),
  listTenantSecrets: op({
    id: 'listTenantSecrets',
    method: 'GET',
    path: '/v1/secrets',
    summary: "The tenant's secrets (every workspace sees them); never their values",
    tag: 'secrets',
    auth: 'bearer',
    responses: { 200: { description: 'the secrets', schema: secretListSchema }, 501: SECRETS_501 },
  }),
  getTenantSecret: op({
    id: 'getTenantSecret',
    method: 'GET',
    path: '/v1/secrets/:name',
    summary: 'One tenant secret; never its value',
    tag: 'secrets',
    auth: 'bearer',
    params: secretParams,
    responses: { 200: { description: 'the secret', schema: secretViewSchema }, 501: SECRETS_501 },
  }),
  putTenantSecret: op({
    id: 'putTenantSecret',
    method: 'PUT',
    path: '/v1/secrets/:name',
    summary: 'Create or replace a tenant secret, for every workspace without one of that name',
    tag: 'secrets',
    auth: 'bearer',
    params: secretParams,
    body: putSecretBody,
    responses: {
      200: { description: 'replaced', schema: secretViewSchema },
      201: { description: 'created', schema: secretViewSchema },
      501: SECRETS_501,
    },
  }),
  deleteTenantSecret: op({
    id: 'deleteTenantSecret',
    method: 'DELETE',
    path: '/v1/secrets/:name',
    summary: 'Remove a tenant secret',
    tag: 'secrets',
    auth: 'bearer',
    params: secretParams,
    responses: { 204: { description: 'removed' }, 501: SECRETS_501 },
  }),
} as const;
