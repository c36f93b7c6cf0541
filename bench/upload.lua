-- wrk script: POST /v1/stores/demo/uploads with a bearer token, as a
-- frontend requesting an upload slot would. TOKEN comes from the environment.
-- wrk prints "Non-2xx or 3xx responses" when any request fails; the bench
-- script treats that as an error.
wrk.method = "POST"
wrk.body = '{"filename":"bench.bin","content_type":"application/octet-stream","size":1048576}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
