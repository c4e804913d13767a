-- Reserve one unit of credit: check and decrement in one atomic step.
-- KEYS[1] = balance key of the user. ARGV[1] = amount.
-- Returns {status, balance}: status 1 = reserved, 0 = insufficient, -1 = balance not loaded.
local balance = redis.call('GET', KEYS[1])
if not balance then
  return {-1, 0}
end
balance = tonumber(balance)
local amount = tonumber(ARGV[1])
if balance < amount then
  return {0, balance}
end
return {1, redis.call('DECRBY', KEYS[1], amount)}
