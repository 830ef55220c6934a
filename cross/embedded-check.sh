#!/usr/bin/env bash
# Compiles the agent modules in Embedded Swift mode for the host triple (x86_64), module by
# module, in dependency order. It is the fast guard that no host-only construct (Foundation,
# untyped throws, `any P` of non-class protocols, Codable, reflection...) creeps into code that
# must run on the boards. The real board builds (cross/build.sh) do the same for ARM.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${EMBEDDED_CHECK_OUT:-.build-embedded-check}
mkdir -p "$out"
flags=(-enable-experimental-feature Embedded -wmo -parse-as-library -Osize
       -target x86_64-unknown-linux-gnu -I "$out"
       -I Sources/CShims/include -I Sources/CMbedTLS -I Sources/CLibSSH)
modules=("$@")
[ ${#modules[@]} -gt 0 ] || modules=(TetherWire TetherAgent TetherPlatform TetherSSH)
for m in "${modules[@]}"; do
    srcs=(Sources/"$m"/*.swift)
    [ -e "${srcs[0]}" ] || continue
    swiftc "${flags[@]}" -module-name "$m" -emit-module -emit-module-path "$out/$m.swiftmodule" \
        -c "${srcs[@]}" -o "$out/$m.o"
    echo "embedded ok: $m"
done
