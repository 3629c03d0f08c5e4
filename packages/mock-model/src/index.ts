export { startMockModel, type MockModel, type MockModelOptions } from './server.js';
export type { ReceivedRequest } from './route.js';
export type { BedrockVerification } from './bedrock/signature.js';
export { DIRECTIVE_PREFIX, DONE_TEXT, NO_MATCH_TEXT, WORKSPACE_DIR } from './directives.js';
