import { healthSchema, readinessSchema } from '@workcell/protocol';
import { z } from 'zod';
import { op } from './operation.js';

/** Health, readiness, metrics, the console and this document. */
export const operationsOps = {
  health: op({
    id: 'health',
    method: 'GET',
    path: '/health',
    summary: 'Dependencies and pool counts; 503 when a dependency is down',
    tag: 'operations',
    auth: 'none',
    responses: {
      200: { description: 'healthy', schema: healthSchema },
      503: { description: 'degraded', schema: healthSchema },
    },
  }),
  healthz: op({
    id: 'healthz',
    method: 'GET',
    path: '/healthz',
    summary: 'The process is alive',
    tag: 'operations',
    auth: 'none',
    responses: { 200: { description: 'alive', schema: z.object({ status: z.literal('ok') }) } },
  }),
  readyz: op({
    id: 'readyz',
    method: 'GET',
    path: '/readyz',
    summary: 'Ready for work: dependencies up, the workspace image present, not shutting down',
    tag: 'operations',
    auth: 'none',
    responses: {
      200: { description: 'ready', schema: readinessSchema },
      503: { description: 'not ready', schema: readinessSchema },
    },
  }),
  metrics: op({
    id: 'metrics',
    method: 'GET',
    path: '/metrics',
    summary: 'Prometheus metrics',
    tag: 'operations',
    auth: 'none',
    responses: {
      200: { description: 'Prometheus text exposition', contentType: 'text/plain; version=0.0.4' },
    },
  }),
  console: op({
    id: 'console',
    method: 'GET',
    path: '/',
    summary: 'The web console (sign in with an API token)',
    tag: 'operations',
    auth: 'none',
    responses: {
      200: { description: 'the console page', contentType: 'text/html' },
      304: { description: 'not modified' },
    },
  }),
  consoleAsset: op({
    id: 'consoleAsset',
    method: 'GET',
    path: '/assets/*',
    summary: "The web console's script and stylesheet",
    tag: 'operations',
    auth: 'none',
    params: z.object({ '*': z.string().describe('the file name') }),
    responses: {
      200: { description: 'the file', contentType: 'application/octet-stream' },
      304: { description: 'not modified' },
    },
  }),
  openapi: op({
    id: 'openapi',
    method: 'GET',
    path: '/openapi.json',
    summary: 'This document',
    tag: 'operations',
    auth: 'none',
    responses: { 200: { description: 'the OpenAPI document', contentType: 'application/json' } },
  }),
} as const;
