import type { LuaScript } from './script.js';

export const clearAssignment: LuaScript = {
  name: 'workcellClearAssignment',
  numberOfKeys: 1,
  lua: `--[[
  Clears a workspace's assignment only if it still names the given container.

  Input:
    KEYS[1] the workspace's assignment (string)

    ARGV[1] container id

  Output:
    1 when cleared, 0 when the assignment is absent or names another container
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`,
};
