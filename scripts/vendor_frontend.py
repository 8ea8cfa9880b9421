"""Vendor the browser assets GraphiQL needs from the npm registry, at pinned versions, with licences.

Run from the repository root: `python scripts/vendor_frontend.py` (needs `npm`). Each package is fetched
with `npm pack` (which checks the tarball against the registry's integrity), compared with the integrity
pinned here, and only the files the pages load plus the licence are copied into frontend/vendor/.
frontend/vendor/manifest.json records what came from where, with the SHA-256 of every file; a test
checks the files against it, so an edited or half-updated vendor directory fails CI.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "frontend" / "vendor"

# graphiql 3.x is the last line that ships a browser (UMD) bundle usable without a build step; it expects
# React and ReactDOM 18 as globals (their UMD builds). graphiql's bundle inlines its own dependencies
# (graphql, @graphiql/react, codemirror 5, graphql-ws, markdown-it, ...).
PACKAGES = {
    "graphiql": ("3.9.0",
                 "sha512-rJYFlHdBbug9+YbFSwRVvgfPjCayC7wHecZkx/qB4XLuQPFQZw/yB9pmHFtOJV6RiNBBHro3u1GdocKa3YcGRA==",
                 ["graphiql.min.js", "graphiql.min.css", "LICENSE"]),
    "react": ("18.3.1",
              "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
              ["umd/react.production.min.js", "LICENSE"]),
    "react-dom": ("18.3.1",
                  "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
                  ["umd/react-dom.production.min.js", "LICENSE"]),
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    manifest = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (version, integrity, files) in PACKAGES.items():
            out = subprocess.run(["npm", "pack", f"{name}@{version}", "--json", "--pack-destination", tmp],
                                 check=True, capture_output=True, text=True).stdout
            packed = json.loads(out)[0]
            if packed["integrity"] != integrity:
                raise SystemExit(f"{name}@{version}: registry integrity {packed['integrity']} is not the pinned one")
            target = VENDOR / name / version
            target.mkdir(parents=True, exist_ok=True)
            with tarfile.open(Path(tmp) / packed["filename"]) as tar:
                for file in files:
                    member = tar.extractfile(f"package/{file}")
                    assert member is not None, file
                    (target / Path(file).name).write_bytes(member.read())
            manifest.append({"package": name, "version": version, "integrity": integrity,
                             "files": {Path(f).name: sha256(target / Path(f).name) for f in files}})
    (VENDOR / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
