# A Python inventory covering every entry form (tests/test_inventory.py).
web = [
    "web[01:03].example.com",
    ("web-canary.example.com", {"canary": True, "color": "host"}),
]
db = (["db[a:b].example.com", "web02.example.com"], {"color": "db", "ssh_user": "postgres"})
edge = ["10.0.0.[1:2]", "@local", "@docker/cache"]
all = ([], {"color": "all", "ssh_port": 22, "api_token": "s3cret"})
_private = ["not-a-group"]
PORTS = (80, 443)
