import type { LuaScript } from './script.js';

export const claimWarm: LuaScript = {
  name: 'workcellClaimWarm',
  numberOfKeys: 2,
  lua: `--[[
  Claims the oldest warm container of an image: pops ids from the pool until one whose record
  is still 'warm' (dropping stale ids whose record is gone or no longer warm), marks it
  assigned to the workspace and records the workspace's assignment.

  Input:
    KEYS[1] the warm pool of the image (sorted set of container ids)
    KEYS[2] the workspace's assignment (string)

    ARGV[1] the container record key prefix (the popped id is appended)
    ARGV[2] workspace id
    ARGV[3] tenant
    ARGV[4] now, epoch ms

  Output:
    the claimed record as a flat HGETALL array, or nil when no warm container is left
]]
local rcall = redis.call
while true do
  local popped = rcall('ZPOPMIN', KEYS[1])
  if #popped == 0 then
    return false
  end
  local recordKey = ARGV[1] .. popped[1]
  if rcall('HGET', recordKey, 'state') == 'warm' then
    rcall('HSET', recordKey, 'state', 'assigned', 'workspaceId', ARGV[2], 'tenant', ARGV[3],
      'stateChangedAt', ARGV[4])
    rcall('SET', KEYS[2], popped[1])
    return rcall('HGETALL', recordKey)
  end
end
`,
};
