"""Device UID as ShellHub computes it.

ShellHub hashes `models.DeviceAuth` with `structhash.Dump(auth, 1)` (github.com/cnf/structhash,
pinned at e1b16c1ebc08, same output format in later commits) and takes the hex SHA-256 of the
dump. The dump format of that library, reproduced here for the Go values we need:

* struct  -> `{` + `Name:value` pairs joined by `,`, sorted by Go field name, + `}`
  (field names are Go names, not JSON names; fields tagged `hash:"-"` are skipped)
* string  -> `"` + raw bytes + `"` (no escaping at all)
* int     -> decimal; bool -> `t`/`f`
* slice   -> `[` + values joined by `,` + `]`
* map     -> `[` + `key:value` pairs sorted by the formatted key, joined by `,` + `]`
* nil pointer to struct -> `<invalid Value>` (Go's reflect.Value.String of the zero Value)
* no trailing newline.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class GoStruct:
    """A Go struct value: field name -> value (already filtered by hash tags)."""
    fields: dict


class _NilStructPtr:
    """A nil pointer whose element type is a struct."""


NIL_STRUCT_PTR = _NilStructPtr()


def dump(value) -> bytes:
    """structhash.Dump(value, 1) for the subset of Go values modelled here."""
    return _write(value).encode("utf-8")


def _write(value) -> str:
    if value is NIL_STRUCT_PTR:
        return "<invalid Value>"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, list):
        return "[" + ",".join(_write(v) for v in value) + "]"
    if isinstance(value, GoStruct):
        items = sorted(value.fields.items(), key=lambda kv: kv[0])
        return "{" + ",".join(k + ":" + _write(v) for k, v in items) + "}"
    if isinstance(value, dict):
        items = sorted((_write(k), v) for k, v in value.items())
        return "[" + ",".join(k + ":" + _write(v) for k, v in items) + "]"
    raise TypeError(f"cannot dump {type(value).__name__}")


def device_auth_struct(mac: str, public_key: str, tenant_id: str) -> GoStruct:
    """models.DeviceAuth as the server builds it for hashing (Hostname is `hash:"-"`)."""
    return GoStruct({
        "Identity": GoStruct({"MAC": mac}),
        "PublicKey": public_key,
        "TenantID": tenant_id,
    })


def device_uid(mac: str, public_key: str, tenant_id: str) -> str:
    """hex(SHA-256(structhash.Dump(DeviceAuth{...}, 1))) — 64 lowercase hex chars."""
    return hashlib.sha256(dump(device_auth_struct(mac, public_key, tenant_id))).hexdigest()
