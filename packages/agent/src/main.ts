import { AGENT_READY_ENV, CONTAINER_PATHS, EGRESS_BRIDGE_PORT } from '@workcell/protocol';
import { pino } from 'pino';
import { startEgressBridge } from './bridge.js';
import { ReadyAgents, readReadySettings } from './ready.js';
import { AgentRunner } from './runner.js';
import { readAgentSettings } from './sdk-env.js';
import { startAgentServer } from './server.js';

/** The workspace agent: the one process the container runs. */
async function main(): Promise<void> {
  const logger = pino({ name: 'workspace-agent', base: { pid: process.pid } });
  const settings = readAgentSettings(process.env);
  const bridge = await startEgressBridge({
    port: settings.bridgePort || EGRESS_BRIDGE_PORT,
    socketPath: CONTAINER_PATHS.egressSocket,
    logger,
  });
  const gates: { runner: AgentRunner | null } = { runner: null };
  const ready = new ReadyAgents(
    settings,
    readReadySettings(process.env, AGENT_READY_ENV, logger),
    logger.child({ component: 'ready' }),
    { current: () => gates.runner?.current() ?? null },
  );
  const runner = new AgentRunner(settings, logger, ready);
  gates.runner = runner;
  // Before the socket answers: the CLI's start (the longest step of a container's first run)
  // overlaps the server's start, the host's health check and what it does before the run.
  ready.preparePool();
  const server = await startAgentServer({
    socketPath: CONTAINER_PATHS.agentSocket,
    runner,
    ready,
    version: settings.version,
    logger,
    maxBodyBytes: settings.maxBodyBytes,
  });
  logger.info(
    { socket: CONTAINER_PATHS.agentSocket, bridgePort: bridge.port, provider: settings.provider },
    'agent ready',
  );

  const stop = (signal: string): void => {
    logger.info({ signal }, 'stopping');
    ready.close();
    server.close();
    void bridge.close().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  console.error(
    JSON.stringify({
      level: 'fatal',
      msg: 'agent failed to start',
      err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err),
    }),
  );
  process.exit(1);
});
