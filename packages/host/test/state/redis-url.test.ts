import { describe, expect, it } from 'vitest';
import { parseRedisUrl, withoutPassword } from '../../src/state/redis-url.js';

describe('WORKCELL_REDIS_URL', () => {
  it('reads redis:// as one server', () => {
    expect(parseRedisUrl('redis://:pw@127.0.0.1:6379/2')).toEqual({
      kind: 'single',
      url: 'redis://:pw@127.0.0.1:6379/2',
    });
  });

  it('reads redis+cluster:// as seed nodes of a cluster, with credentials and TLS', () => {
    expect(parseRedisUrl('redis+cluster://10.0.0.1:7001,10.0.0.2:7002, redis-3:7003')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7001 },
        { host: '10.0.0.2', port: 7002 },
        { host: 'redis-3', port: 7003 },
      ],
      tls: false,
    });
    expect(parseRedisUrl('rediss+cluster://app:s%40cret@[::1]:7001')).toEqual({
      kind: 'cluster',
      nodes: [{ host: '::1', port: 7001 }],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
  });

  it.each([
    ['http://127.0.0.1:6379', /scheme http: is not/],
    ['redis+cluster://127.0.0.1', /is not host:port/],
    ['redis+cluster://127.0.0.1:7001,', /is not host:port/],
    ['redis+cluster://127.0.0.1:99999', /is not host:port/],
    ['redis+cluster://127.0.0.1:7001/0', /no database number/],
    ['not a url', /must be a URL/],
  ])('refuses %s', (raw, message) => {
    expect(() => parseRedisUrl(raw)).toThrow(message);
  });

  it('hides the password of either form', () => {
    expect(withoutPassword('redis://:secret@h:1')).toBe('redis://:***@h:1');
    expect(withoutPassword('redis+cluster://u:secret@h:1,h:2')).toBe(
      'redis+cluster://u:***@h:1,h:2',
    );
    expect(withoutPassword('redis+cluster://h:1,h:2')).toBe('redis+cluster://h:1,h:2');
  });
});
