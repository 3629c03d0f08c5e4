import { describe, expect, it } from 'vitest';
import { DockerRuntime } from '../../src/containers/docker-runtime.js';
import type { ContainerSpec } from '../../src/containers/runtime.js';

const spec: ContainerSpec = {
  slotId: 'cslot01',
  image: 'workcell/workspace:test',
  labels: { 'workcell.managed': 'true' },
  mounts: {
    socketDir: '/data/sock',
    egressDir: '/data/egress',
    workspace: '/data/ws',
    claudeConfig: '/data/claude',
  },
  env: { WORKCELL_MODEL_PROVIDER: 'anthropic' },
  limits: { memoryMb: 512, cpus: 1.5, pids: 128, nofile: 2048 },
  runtime: 'runsc',
};

describe('the container spec the Docker runtime builds', () => {
  const options = DockerRuntime.createOptions(spec);
  const host = options.HostConfig ?? {};

  it('is hardened: no capabilities, read-only root, no new privileges, unprivileged, no network, user 1000', () => {
    expect(host.CapDrop).toEqual(['ALL']);
    expect(host.CapAdd).toBeUndefined();
    expect(host.ReadonlyRootfs).toBe(true);
    expect(host.SecurityOpt).toEqual(['no-new-privileges:true']);
    expect(host.Privileged).toBe(false);
    expect(host.NetworkMode).toBe('none');
    expect(options.NetworkDisabled).toBe(true);
    expect(options.User).toBe('1000:1000');
    expect(host.IpcMode).toBe('private');
    expect(host.PortBindings).toBeUndefined();
    expect(host.Devices).toBeUndefined();
  });

  it('caps memory (no swap), CPU, processes and open files, and runs the configured OCI runtime', () => {
    expect(host.Memory).toBe(512 * 1024 * 1024);
    expect(host.Ulimits).toEqual([{ Name: 'nofile', Soft: 2048, Hard: 2048 }]);
    expect(host.MemorySwap).toBe(host.Memory);
    expect(host.NanoCpus).toBe(1.5e9);
    expect(host.PidsLimit).toBe(128);
    expect(host.Runtime).toBe('runsc');
    expect(host.RestartPolicy).toEqual({ Name: 'no' });
  });

  it("mounts only the slot: its sockets (the egress socket's read-only), workspace and session directory", () => {
    expect(host.Binds).toEqual([
      '/data/sock:/run/workcell:rw',
      '/data/egress:/run/workcell-egress:ro',
      '/data/ws:/workspace:rw',
      '/data/claude:/var/lib/workcell/claude:rw',
    ]);
    expect(host.Binds?.some((b) => b.includes('docker.sock'))).toBe(false);
    expect(options.Env).toEqual(['WORKCELL_MODEL_PROVIDER=anthropic']);
  });
});
