"""Helpers shared by the hub's tests."""

from cryptography.hazmat.primitives import serialization

from hub.config import DEFAULT_TENANT

TENANT = DEFAULT_TENANT


def go_rsa_public_pem(key) -> str:
    """PEM of the PKCS#1 RSAPublicKey, 64-char lines, as Go's pem encoder writes it."""
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.PKCS1).decode()


def auth_body(public_key: str, mac="aa:bb:cc:dd:ee:ff", hostname=None, tenant=TENANT, **extra):
    body = {"info": {"id": "debian", "pretty_name": "Debian GNU/Linux 12 (bookworm)",
                     "version": "v0.27.0", "arch": "amd64", "platform": "native"},
            "identity": {"mac": mac}, "public_key": public_key, "tenant_id": tenant}
    if hostname is not None:
        body["hostname"] = hostname
    body.update(extra)
    return body
