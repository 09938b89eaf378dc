#!/usr/bin/env python3
"""Deterministic benchmark inputs for scripts/bench.sh (stdlib only).

usage: gen-bench-input.py OUTDIR [--leaves N]

Writes
  OUTDIR/small.yaml  a Kubernetes Secret with 5 keys (3 under data, base64; 2 under stringData)
  OUTDIR/large.yaml  ~0.5 MB YAML with N (default 10,000) leaf values: nested maps and lists of
                     strings, ints and bools
Same arguments -> byte-identical files.
"""
import argparse
import base64
import os
import random
import sys

SMALL = """\
apiVersion: v1
kind: Secret
metadata:
  name: bench-secret
  namespace: default
  labels:
    app.kubernetes.io/name: bench
type: Opaque
data:
  username: {u}
  password: {p}
  tls.key: {k}
stringData:
  DATABASE_URL: postgres://bench:s3cr3t@db.internal:5432/bench?sslmode=require
  API_TOKEN: tok_4f9a2c7e1b8d6035aa1e
"""

ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def small_yaml():
    b = lambda s: base64.b64encode(s.encode()).decode()
    return SMALL.format(u=b("admin"), p=b("correct horse battery staple"), k=b("-----BEGIN KEY-----\n" + "A" * 64 + "\n-----END KEY-----\n"))


class Large:
    """Emits block YAML directly (no PyYAML needed), counting leaves."""

    def __init__(self, rng, leaves):
        self.rng, self.left, self.out = rng, leaves, []

    def scalar(self):
        self.left -= 1
        r = self.rng.random()
        if r < 0.6:  # plain-safe strings: start with a letter, no ': ' or '#'
            n = self.rng.randint(12, 70)
            return "v" + "".join(self.rng.choice(ALNUM) for _ in range(n))
        if r < 0.85:
            return str(self.rng.randint(-10**6, 10**9))
        return self.rng.choice(["true", "false"])

    def mapping(self, indent, depth):
        pad = " " * indent
        for i in range(self.rng.randint(3, 8)):
            if self.left <= 0:
                return
            key = f"k{depth}_{i}_" + "".join(self.rng.choice(ALNUM) for _ in range(6))
            r = self.rng.random()
            if depth < 4 and r < 0.25:
                self.out.append(f"{pad}{key}:")
                self.mapping(indent + 2, depth + 1)
            elif depth < 4 and r < 0.40:
                self.out.append(f"{pad}{key}:")
                self.sequence(indent + 2, depth + 1)
            else:
                self.out.append(f"{pad}{key}: {self.scalar()}")

    def sequence(self, indent, depth):
        pad = " " * indent
        for _ in range(self.rng.randint(2, 6)):
            if self.left <= 0:
                return
            if self.rng.random() < 0.3 and depth < 4:
                # a map as list item: "- k: v" then its other keys indented by 2
                start = len(self.out)
                self.mapping(indent + 2, depth + 1)
                if len(self.out) == start:
                    return
                first = self.out[start]
                self.out[start] = pad + "- " + first.lstrip(" ")
            else:
                self.out.append(f"{pad}- {self.scalar()}")

    def document(self):
        self.out.append("# deterministic benchmark input (scripts/gen-bench-input.py)")
        g = 0
        while self.left > 0:
            self.out.append(f"group{g:04d}:")
            self.mapping(2, 1)
            g += 1
        return "\n".join(self.out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--leaves", type=int, default=10_000)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    with open(os.path.join(a.outdir, "small.yaml"), "w", newline="\n") as f:
        f.write(small_yaml())
    large = Large(random.Random(20240611), a.leaves)
    text = large.document()
    assert large.left == 0, large.left
    with open(os.path.join(a.outdir, "large.yaml"), "w", newline="\n") as f:
        f.write(text)
    print(f"small.yaml: 5 secret keys; large.yaml: {a.leaves} leaves, {len(text.encode())} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
