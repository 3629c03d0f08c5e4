import type { LuaScript } from './script.js';

export const renewLease: LuaScript = {
  name: 'workcellRenewLease',
  numberOfKeys: 1,
  lua: `--[[
  Extends a lease only if the holder still holds it.

  Input:
    KEYS[1] the lease (string holding the holder, with a TTL)

    ARGV[1] holder
    ARGV[2] new time to live, ms

  Output:
    1 when extended, 0 when the lease is free or held by another holder
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`,
};
