-- A batch of limit operations, run atomically in order (one round trip for many requests).
-- ARGV[1] = number of operations; then each operation:
--   'a' (acquire): id, tokens, cost_micros, window_ms, lease_ms, spend_ttl_s, nscopes,
--                  then 4 per scope: rpm, tpm, concurrency, budget_micros (-1 = unlimited)
--   's' (settle):  id, actual_tokens, cost_delta_micros, nscopes
-- KEYS, consumed in order, 5 per scope of each operation: log (zset id->ms), amounts (hash
--   id->tokens), total (tokens in window), leases (zset id->expiry ms), spend (month, micros)
-- Returns one result per operation:
--   acquire: {1, rem_req_1, rem_tok_1, ...} | {0, scope_index, reason, retry_ms}
--            | {-2, scope_index} (that scope's month spend must be seeded first)
--   settle:  {1}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function expire(log, amounts, total, window)
  while true do
    local old = redis.call('ZRANGEBYSCORE', log, '-inf', now - window, 'LIMIT', 0, 500)
    if #old == 0 then return end
    local values = redis.call('HMGET', amounts, unpack(old))
    local freed = 0
    for j = 1, #old do freed = freed + (tonumber(values[j]) or 0) end
    redis.call('ZREM', log, unpack(old))
    redis.call('HDEL', amounts, unpack(old))
    redis.call('DECRBY', total, freed)
  end
end

local function tokens_retry(log, amounts, held, tokens, limit, window)
  local needed = held + tokens - limit
  local entries = redis.call('ZRANGE', log, 0, 999, 'WITHSCORES')
  for j = 1, #entries, 2 do
    needed = needed - (tonumber(redis.call('HGET', amounts, entries[j])) or 0)
    if needed <= 0 then return tonumber(entries[j + 1]) + window - now end
  end
  return window
end

local function acquire(k0, a0)
  local id, tokens, cost = ARGV[a0], tonumber(ARGV[a0 + 1]), tonumber(ARGV[a0 + 2])
  local window, lease = tonumber(ARGV[a0 + 3]), tonumber(ARGV[a0 + 4])
  local spend_ttl, n = tonumber(ARGV[a0 + 5]), tonumber(ARGV[a0 + 6])
  local out = {1}
  for i = 0, n - 1 do
    local k = k0 + i * 5
    local log, amounts, total, leases, spend = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
    local a = a0 + 7 + i * 4
    local rpm, tpm = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
    local conc, budget = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
    expire(log, amounts, total, window)
    local count = redis.call('ZCARD', log)
    local held = tonumber(redis.call('GET', total) or '0')
    if rpm >= 0 and count + 1 > rpm then
      local first = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
      local retry = window
      if #first > 0 then retry = tonumber(first[2]) + window - now end
      return {0, i, 'requests', retry}
    end
    if tpm >= 0 and tokens > tpm then return {0, i, 'too_large', -1} end
    if tpm >= 0 and held + tokens > tpm then
      return {0, i, 'tokens', tokens_retry(log, amounts, held, tokens, tpm, window)}
    end
    if conc >= 0 then
      redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
      if redis.call('ZCARD', leases) >= conc then return {0, i, 'concurrency', 1000} end
    end
    if budget >= 0 then
      local spent = redis.call('GET', spend)
      if not spent then return {-2, i} end
      if tonumber(spent) + cost > budget then return {0, i, 'budget', -1} end
    end
    out[#out + 1] = rpm - count - 1
    out[#out + 1] = tpm - held - tokens
  end
  for i = 0, n - 1 do
    local k = k0 + i * 5
    local log, amounts, total, leases, spend = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
    redis.call('ZADD', log, now, id)
    redis.call('HSET', amounts, id, tokens)
    redis.call('INCRBY', total, tokens)
    for _, key in ipairs({log, amounts, total}) do redis.call('PEXPIRE', key, window * 2) end
    if tonumber(ARGV[a0 + 7 + i * 4 + 2]) >= 0 then
      redis.call('ZADD', leases, now + lease, id)
      redis.call('PEXPIRE', leases, lease * 2)
    end
    if redis.call('EXISTS', spend) == 1 then
      redis.call('INCRBY', spend, cost)
      redis.call('EXPIRE', spend, spend_ttl)
    end
  end
  return out
end

local function settle(k0, a0)
  local id, actual = ARGV[a0], tonumber(ARGV[a0 + 1])
  local cost_delta, n = tonumber(ARGV[a0 + 2]), tonumber(ARGV[a0 + 3])
  for i = 0, n - 1 do
    local k = k0 + i * 5
    local amounts, total, leases, spend = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4]
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
  return {1}
end

local results = {}
local k, a = 1, 2
for _ = 1, tonumber(ARGV[1]) do
  local op, n = ARGV[a], nil
  if op == 'a' then
    n = tonumber(ARGV[a + 7])
    results[#results + 1] = acquire(k, a + 1)
    a = a + 8 + n * 4
  else
    n = tonumber(ARGV[a + 4])
    results[#results + 1] = settle(k, a + 1)
    a = a + 5
  end
  k = k + n * 5
end
return results
