/* A stand-in for Windows' bcryptprimitives.dll, for running makguard.exe under Wine 8 only.
 *
 * Rust's standard library (1.78 and later) imports ProcessPrng from bcryptprimitives.dll,
 * which Wine 8 does not ship, so the loader refuses makguard.exe (exit status 53). This DLL
 * exports ProcessPrng and fills the buffer from RtlGenRandom (advapi32's SystemFunction036),
 * which Wine does provide. It is never shipped with makguard: real Windows has the DLL. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
