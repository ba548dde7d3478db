"""Write a copy of Wine's ucrtbase.dll whose five complex-number stubs do their job.

Wine 8.0 ships `crealf`, `cimagf`, `cimag`, `creall` and `cimagl` as stubs that abort the process
when called; numpy >= 2.2.2 and scipy.linalg call them. Each body is one to three instructions in
the MSVC x64 ABI: an 8-byte `_Fcomplex` arrives by value in RCX, a 16-byte `_Dcomplex` or
`_Lcomplex` (long double is double on MSVC) by pointer in RCX, and the result goes back in XMM0.
Wine's own `creal` (`movsd xmm0, [rcx]; ret`) confirms the pointer convention.

The "Wine builtin DLL" marker in the DOS stub is blanked so that Wine loads the copy as a native
DLL (with WINEDLLOVERRIDES="ucrtbase=n,b") instead of substituting its builtin one.

usage: patch_ucrtbase.py WINE_UCRTBASE_DLL OUT_DLL
"""

from __future__ import annotations

import sys

import pefile

BODIES = {
    b"crealf": bytes.fromhex("660f6ec1" "c3"),              # movd xmm0, ecx; ret
    b"cimagf": bytes.fromhex("48c1e920" "660f6ec1" "c3"),   # shr rcx, 32; movd xmm0, ecx; ret
    b"cimag": bytes.fromhex("f20f104108" "c3"),             # movsd xmm0, [rcx+8]; ret
    b"creall": bytes.fromhex("f20f1001" "c3"),              # movsd xmm0, [rcx]; ret
    b"cimagl": bytes.fromhex("f20f104108" "c3"),            # movsd xmm0, [rcx+8]; ret
}
MARKER = b"Wine builtin DLL"
STUB_SIZE = 24  # each winebuild stub: sub rsp; lea rcx; lea rdx; call; nop — bodies must fit


def patch(src: str, dst: str) -> None:
    pe = pefile.PE(src)
    data = bytearray(pe.__data__)
    found = {}
    for sym in pe.DIRECTORY_ENTRY_EXPORT.symbols:
        if sym.name in BODIES:
            found[sym.name] = pe.get_offset_from_rva(sym.address)
    missing = sorted(n.decode() for n in set(BODIES) - set(found))
    if missing:
        raise SystemExit(f"patch_ucrtbase: {src} exports none of {missing}")
    for name, offset in found.items():
        stub = bytes(data[offset:offset + 4])
        if stub != bytes.fromhex("4883ec28"):  # sub rsp, 0x28: still a stub, not a real body
            raise SystemExit(f"patch_ucrtbase: {name.decode()} is no longer a stub here; drop the patch")
        body = BODIES[name]
        assert len(body) <= STUB_SIZE
        data[offset:offset + len(body)] = body
    at = data.find(MARKER, 0, 0x200)
    if at < 0:
        raise SystemExit(f"patch_ucrtbase: no builtin marker in {src}")
    data[at:at + len(MARKER)] = b"\0" * len(MARKER)
    with open(dst, "wb") as out:
        out.write(data)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    patch(sys.argv[1], sys.argv[2])
