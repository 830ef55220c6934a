"""SSH public-key oracle keys (`POST /api/auth/ssh`) and fingerprints."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def ssh_wire_blob(public_key: rsa.RSAPublicKey) -> bytes:
    line = public_key.public_bytes(serialization.Encoding.OpenSSH,
                                   serialization.PublicFormat.OpenSSH)
    return base64.b64decode(line.split()[1])


def legacy_fingerprint(public_key: rsa.RSAPublicKey) -> str:
    """OpenSSH legacy MD5 fingerprint: lowercase hex pairs joined by ':' (47 chars)."""
    digest = hashlib.md5(ssh_wire_blob(public_key)).hexdigest()
    return ":".join(digest[i:i + 2] for i in range(0, 32, 2))


def sign_data(key: rsa.RSAPrivateKey, data: str) -> str:
    """RSASSA-PKCS1-v1_5 with SHA-256 over `data`, base64 (std, padded)."""
    sig = key.sign(data.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(sig).decode("ascii")


class KeyRing:
    """Fingerprint -> private key, filled by the gateway's minted keys or by tests."""

    def __init__(self):
        self._keys: dict[str, rsa.RSAPrivateKey] = {}

    def add(self, key: rsa.RSAPrivateKey) -> str:
        fp = legacy_fingerprint(key.public_key())
        self._keys[fp] = key
        return fp

    def add_pem(self, pem: str) -> str:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("not an RSA key")
        return self.add(key)

    def remove(self, fp: str) -> None:
        self._keys.pop(fp, None)

    def get(self, fp: str):
        return self._keys.get(fp)

    @staticmethod
    def mint() -> rsa.RSAPrivateKey:
        """The gateway's ephemeral RSA-4096 key for one login."""
        return rsa.generate_private_key(public_exponent=65537, key_size=4096)
