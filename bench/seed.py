"""Upload N small objects to a Valet store through its API (slot, PUT to the
signed URL, complete), as a client would, and write their keys as JSON.

usage: python3 bench/seed.py GATEWAY_URL STORE TOKEN N KEYS_OUT
"""
import json
import sys
import urllib.request

gw, store, token, n, out = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]


def call(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read()


auth = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
keys = []
for i in range(n):
    data = ("thumbnail %04d\n" % i).encode() * 8
    slot_req = {"filename": "thumb-%04d.jpg" % i, "content_type": "image/jpeg", "size": len(data)}
    _, b = call("POST", "%s/v1/stores/%s/uploads" % (gw, store), json.dumps(slot_req).encode(), auth)
    slot = json.loads(b)
    status, _ = call(slot.get("method", "PUT"), slot["url"], data, slot.get("headers") or {})
    if status // 100 != 2:
        sys.exit("seed: PUT gave %d" % status)
    call("POST", "%s/v1/stores/%s/uploads/%s/complete" % (gw, store, slot["upload_id"]), b"", auth)
    keys.append(slot["key"])
json.dump(keys, open(out, "w"))
