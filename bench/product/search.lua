-- wrk script: every request a search nobody asked before (a random maxPrice far above any
-- price makes a new cache key without changing the matches), so each one reaches the
-- database.
local words = {"wireless", "steel", "cotton", "compact", "classic", "lamp", "kettle", "speaker", "jacket", "novel",
               "camera", "chair", "premium", "travel", "garden", "leather", "smart", "organic", "mini", "pro"}
local n = 0
function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end
function request()
  n = n + 1
  local w = words[(n % #words) + 1]
  local max = 1000000000 + math.random(0, 98999999999)
  return wrk.format("GET", "/api/products/search?q=" .. w .. "&maxPrice=" .. max)
end
