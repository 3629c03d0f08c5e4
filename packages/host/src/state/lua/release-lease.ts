import type { LuaScript } from './script.js';

export const releaseLease: LuaScript = {
  name: 'workcellReleaseLease',
  numberOfKeys: 1,
  lua: `--[[
  Releases a lease only if the holder still holds it.

  Input:
    KEYS[1] the lease (string holding the holder, with a TTL)

    ARGV[1] holder

  Output:
    1 when released, 0 when the lease is free or held by another holder
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`,
};
