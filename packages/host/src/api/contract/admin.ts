import { adminContainerSchema } from '@workcell/protocol';
import { z } from 'zod';
import { op } from './operation.js';

/** Operator views (admin tokens only). */
export const adminOps = {
  adminContainers: op({
    id: 'adminContainers',
    method: 'GET',
    path: '/v1/admin/containers',
    summary:
      'Every managed container: state store records joined with the engine (admin tokens only; others get 404)',
    tag: 'admin',
    auth: 'admin',
    responses: {
      200: {
        description: 'the containers',
        schema: z.object({ containers: z.array(adminContainerSchema) }),
      },
    },
  }),
} as const;
