-- Replace reserved tokens with actual ones, adjust month spend, free the concurrency slot.
-- KEYS, 5 per scope: log, amounts, total, leases, spend (as in acquire.lua)
-- ARGV: id, actual_tokens, cost_delta_micros, nscopes
local id = ARGV[1]
local actual = tonumber(ARGV[2])
local cost_delta = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
for i = 0, n - 1 do
  local k = i * 5
  local amounts, total, leases, spend = KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5]
  local old = redis.call('HGET', amounts, id)
  if old then
    redis.call('HSET', amounts, id, actual)
    redis.call('INCRBY', total, actual - tonumber(old))
  end
  redis.call('ZREM', leases, id)
  if cost_delta ~= 0 and redis.call('EXISTS', spend) == 1 then
    redis.call('INCRBY', spend, cost_delta)
  end
end
return 1
