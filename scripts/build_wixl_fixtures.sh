#!/bin/sh
# Rebuild the fixtures made with Debian's wixl (an independent MSI writer).
# They are committed; this script documents how they were made.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here/fixtures/wixl/src"
wixl -o ../hello.msi hello.wxs
