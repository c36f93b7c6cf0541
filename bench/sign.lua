-- wrk script: POST /v1/stores/demo/objects/sign with a bearer token and the
-- JSON body in the file BODY_FILE (a batch of keys), as a page of thumbnails
-- asking for its URLs would. TOKEN and BODY_FILE come from the environment.
local f = assert(io.open(os.getenv("BODY_FILE"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
