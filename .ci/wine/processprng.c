/* A stand-in for Windows' bcryptprimitives.dll, for the Windows tests under Wine 8 only.
 *
 * Rust's std (1.78 and later) imports ProcessPrng from bcryptprimitives.dll; Wine 8 has no such
 * DLL (Wine 9 has), so every Rust .exe fails to load there. This DLL exports ProcessPrng and
 * forwards to RtlGenRandom (SystemFunction036 in advapi32), the system's own generator. .ci/cross
 * builds it with mingw and copies it into the private Wine prefix of the test run; it is never
 * shipped, and the product itself is not changed. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
