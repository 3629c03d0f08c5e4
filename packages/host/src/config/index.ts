export { configSchema, ENV_NAMES, type Config, type ConfigInput } from './schema.js';
export { loadConfig, resolveConfig, WORKCELL_VERSION, type ResolvedConfig } from './load.js';
