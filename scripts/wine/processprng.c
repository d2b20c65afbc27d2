/* bcryptprimitives.dll for a Wine prefix that lacks it (Wine 8.0).
 *
 * Rust's standard library on Windows draws its random seeds from
 * ProcessPrng in bcryptprimitives.dll, which Windows 10 and 11 have and
 * Wine 8.0 does not: without it every Rust .exe exits with status 53 under
 * that Wine. This is the one function, on top of RtlGenRandom
 * (advapi32's SystemFunction036), for CI's private prefix only; nothing of
 * it ships. Built by scripts/wine-check.sh with
 *   x86_64-w64-mingw32-gcc -shared -o bcryptprimitives.dll processprng.c -ladvapi32
 */
#include <windows.h>

BOOLEAN NTAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
