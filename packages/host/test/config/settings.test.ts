import { AGENT_MAX_BODY_ENV, maxRequestBytes } from '@workcell/protocol';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { s3SettingsFrom } from '../../src/storage/create-store.js';
import { agentEnvironment, messageBytes } from '../../src/workcell.js';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

describe('S3 and Bedrock credentials', () => {
  it('gives the object store its own keys and region while Bedrock keeps the default chain', async () => {
    const env = {
      WORKCELL_S3_BUCKET: 'workcell',
      WORKCELL_S3_ENDPOINT: 'http://s3:9000',
      WORKCELL_S3_ACCESS_KEY: 'minio-user',
      WORKCELL_S3_SECRET_KEY: 'minio-secret',
      WORKCELL_S3_REGION: 'eu-west-1',
      AWS_REGION: 'us-west-2',
      WORKCELL_MODEL_PROVIDER: 'bedrock',
    };
    const config = loadConfig(env);
    expect(s3SettingsFrom(config)).toEqual({
      bucket: 'workcell',
      endpoint: 'http://s3:9000',
      prefix: '',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'minio-user', secretAccessKey: 'minio-secret' },
    });
    // Bedrock signs with the AWS SDK's chain (here the environment's keys), never the store's.
    expect(config.bedrockUpstream).toBe('https://bedrock-runtime.us-west-2.amazonaws.com');
    process.env.AWS_ACCESS_KEY_ID = 'bedrock-key';
    process.env.AWS_SECRET_ACCESS_KEY = 'bedrock-secret';
    const bedrock = await fromNodeProviderChain()();
    expect(bedrock.accessKeyId).toBe('bedrock-key');
  });

  it('falls back to AWS_REGION and the default chain for S3 when no store keys are set', () => {
    const config = loadConfig({ WORKCELL_S3_BUCKET: 'workcell', AWS_REGION: 'ap-south-1' });
    expect(s3SettingsFrom(config)).toEqual({
      bucket: 'workcell',
      endpoint: undefined,
      prefix: '',
      region: 'ap-south-1',
    });
    expect(s3SettingsFrom(loadConfig({}))).toBeUndefined();
  });

  it('refuses one store key without the other', () => {
    expect(() => loadConfig({ WORKCELL_S3_ACCESS_KEY: 'minio-user' })).toThrow(
      /WORKCELL_S3_ACCESS_KEY and WORKCELL_S3_SECRET_KEY go together/,
    );
  });
});

describe('the body limit of one message', () => {
  it('is one limit from WORKCELL_MAX_PROMPT_BYTES and WORKCELL_MAX_IMAGE_BYTES, for the API and the agent alike', () => {
    const config = loadConfig({
      WORKCELL_MAX_PROMPT_BYTES: String(10 * 1024 * 1024),
      WORKCELL_MAX_IMAGE_BYTES: String(3 * 1024 * 1024),
    });
    const env = agentEnvironment(config);
    // Text plus the images as base64 (4 characters for every 3 bytes).
    expect(messageBytes(config)).toBe(10 * 1024 * 1024 + 4 * 1024 * 1024);
    expect(Number(env[AGENT_MAX_BODY_ENV])).toBe(maxRequestBytes(messageBytes(config)));
    expect(maxRequestBytes(messageBytes(config))).toBeGreaterThan(14 * 1024 * 1024);
  });
});
