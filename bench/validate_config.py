#!/usr/bin/env python3
"""Writes a 10,000-identity configuration for timing `brokerctl validate` (issue 13):
static identities bound to their own git hosts, and aws/user roots each with a chain of
aws/assume-role identities through `via`.  Usage: validate_config.py HOME [N]"""
import os
import sys

home = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
os.makedirs(home + "/config/credential-broker", mode=0o700, exist_ok=True)
token = home + "/token"
with open(os.open(token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
    f.write("static-token")
parts = ["[agent]\n\trate-limits = false\n"]
statics = n // 2
for i in range(statics):
    parts.append(f'[identity "id{i}"]\n\tkind = static\n\tusername = u{i}\n\tsecret = file:{token}\n'
                 f'[git "https://host{i}.example"]\n\tidentity = id{i}\n')
i = statics
while i < n:
    root = f"aws{i}"
    parts.append(f'[identity "{root}"]\n\tkind = aws/user\n\taccess-key-id = AKIAIOSFODNN7EXAMPLE\n'
                 f'\tsecret-access-key = file:{token}\n')
    previous = root
    for depth in range(1, 5):
        i += 1
        if i >= n:
            break
        name = f"role{i}"
        parts.append(f'[identity "{name}"]\n\tkind = aws/assume-role\n\tvia = identity:{previous}\n'
                     f'\trole-arn = arn:aws:iam::123456789012:role/r{i}\n')
        previous = name
    i += 1
path = home + "/config/credential-broker/config"
with open(path, "w") as f:
    f.write("".join(parts))
print(path)
