#!/usr/bin/env python3
"""Independent computation of the FetchML manifest test vector (docs/manifest.md).

Builds the manifest text of a fixed tree from its spec (path, mode, content) with nothing but
Python's hashlib, following docs/architecture/decisions.md "Manifest", and prints the text and
the commit id. tests/unit/store_Manifest.cpp builds the same tree on disk, scans it with
Manifest::scan() and asserts these exact values.

Usage: python3 docs/manifest_vector.py
"""
import hashlib

# The files that end up in the manifest: (path, executable, content bytes).
FILES = [
    (".fetchmlignore", False, b"# build output\n*.pyc\n/build/\nlogs/\n"),
    ("README.md", False, b"hello fetchml\n"),
    ("a.txt", False, b"a\n"),
    ("a/b", False, b"b\n"),
    ("data/a b.txt", False, b"spaces in name\n"),
    ("data/donn\u00e9es.csv", False, "x,y\n1,2\n".encode("utf-8")),
    ("data/empty", False, b""),
    ("src/build/keep.txt", False, b"kept\n"),
    ("src/logs", False, b"a file, not a directory\n"),
    ("src/model.py", False, b"x = 1\n"),
    ("train.py", True, b"#!/bin/sh\necho train\n"),
]
# Also created by the test but absent from the manifest: .git/HEAD, build/out.o,
# src/model.pyc, logs/run.txt (ignored), a symlink "link" to README.md (skipped).


def manifest_text(files):
    lines = [b"fetchml-manifest 1\n"]
    for path, executable, content in sorted(files, key=lambda f: f[0].encode("utf-8")):
        mode = b"100755" if executable else b"100644"
        digest = hashlib.sha256(content).hexdigest().encode()
        lines.append(b"%s %d %s %s\n" % (mode, len(content), digest, path.encode("utf-8")))
    return b"".join(lines)


def main():
    text = manifest_text(FILES)
    print(text.decode("utf-8"), end="")
    print("commit id:", hashlib.sha256(text).hexdigest())


if __name__ == "__main__":
    main()
