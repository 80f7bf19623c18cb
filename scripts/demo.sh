#!/bin/sh
# demo.sh: the README's first command. Installs the build dependencies,
# builds libactor and the taskboard example, and runs the demo on the
# embedded SQLite default (a fresh database file under build-demo/).
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build-demo -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DACTOR_BUILD_BENCH=OFF >/dev/null
cmake --build build-demo -j"$(nproc)" --target taskboard
rm -f build-demo/taskboard.db build-demo/taskboard.db-wal build-demo/taskboard.db-shm
exec build-demo/examples/taskboard/taskboard "sqlite:build-demo/taskboard.db"
