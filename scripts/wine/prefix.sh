# Shared by wine-check.sh and dist-check.sh: a private Wine prefix in a
# temporary folder, with the one DLL Wine 8.0 lacks (see processprng.c).
# Source it after setting $tmp; it exports WINEPREFIX and WINEDEBUG.
# wine_stop stops this prefix's wineserver only.
export WINEPREFIX=$tmp/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
wineboot -i >/dev/null 2>&1 || true
x86_64-w64-mingw32-gcc -shared -O2 -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
    "$(dirname "${BASH_SOURCE[0]}")/processprng.c" -ladvapi32
wine_stop() { wineserver -k 2>/dev/null || true; }
