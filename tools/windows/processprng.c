/* bcryptprimitives.dll with one export, ProcessPrng, for Wine 8.0 (which has no such DLL).
 * Rust >= 1.78 std imports it for random numbers (pydantic_core), so the extension fails to load.
 * It fills the buffer from RtlGenRandom (advapi32's SystemFunction036), as Windows 8 and later do.
 * Built by tools/windows-lane with x86_64-w64-mingw32-gcc; placed next to python.exe. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
    while (size > 0) {
        ULONG chunk = size > 0x10000000 ? 0x10000000 : (ULONG)size;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        size -= chunk;
    }
    return TRUE;
}
