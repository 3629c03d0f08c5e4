import type { LuaScript } from './script.js';

export const deleteContainer: LuaScript = {
  name: 'workcellDeleteContainer',
  numberOfKeys: 2,
  lua: `--[[
  Deletes a container record together with its warm-pool entry (found through the record's
  image) and its workspace's assignment (found through the record's workspaceId) when that
  assignment still names this container.

  Input:
    KEYS[1] the container record (hash)
    KEYS[2] the set of all container ids

    ARGV[1] container id
    ARGV[2] the warm pool key prefix (the record's image is appended)
    ARGV[3] the assignment key prefix and
    ARGV[4] its suffix (the record's workspace id goes between)

  Output:
    1 when a record was deleted, 0 when there was none
]]
local rcall = redis.call
local fields = rcall('HMGET', KEYS[1], 'image', 'workspaceId')
if fields[1] then
  rcall('ZREM', ARGV[2] .. fields[1], ARGV[1])
end
if fields[2] then
  local assignment = ARGV[3] .. fields[2] .. ARGV[4]
  if rcall('GET', assignment) == ARGV[1] then
    rcall('DEL', assignment)
  end
end
rcall('SREM', KEYS[2], ARGV[1])
return rcall('DEL', KEYS[1])
`,
};
