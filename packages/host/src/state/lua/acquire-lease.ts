import type { LuaScript } from './script.js';

export const acquireLease: LuaScript = {
  name: 'workcellAcquireLease',
  numberOfKeys: 1,
  lua: `--[[
  Takes a lease when it is free (an expired lease is a missing key) or already held by the
  same holder, and (re)sets its time to live.

  Input:
    KEYS[1] the lease (string holding the holder, with a TTL)

    ARGV[1] holder
    ARGV[2] time to live, ms

  Output:
    1 when the holder now holds the lease, 0 when another holder does
]]
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`,
};
