#!/usr/bin/env python3
"""A second implementation of GSign's sealed-envelope wire format `gsign-sealed/1`
(docs/sealed-envelopes.md), using only the `cryptography` package, for the interoperability
tests: it opens envelopes the service sealed, and seals envelopes the service opens.

    sealed.py keygen DIR                      RSA keys: receiver.pem, sender.pem (+ .pub.pem)
    sealed.py open ENVELOPE RECEIVER SENDER_PUB   verify, decrypt; prints {"plaintext_base64"}
    sealed.py seal PLAINTEXT RECEIVER_PUB SENDER RECEIVER_KEY_ID SENDER_KEY_ID [EXPIRES_AT]
                                              prints the envelope JSON
"""

import base64
import json
import os
import struct
import sys
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = "gsign-sealed/1"


def signed_bytes(env, binary):
    metadata = json.dumps(env.get("metadata") or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    fields = [
        env["id"].encode(),
        env["algorithm"].encode(),
        env["key_algorithm"].encode(),
        env["signature_algorithm"].encode(),
        env["receiver_public_key_id"].encode(),
        env["sender_private_key_id"].encode(),
        binary["encrypted_data"],
        binary["iv"],
        binary["auth_tag"],
        binary["encrypted_key"],
        metadata.encode(),
        (env.get("expires_at") or "").encode(),
    ]
    out = FORMAT.encode() + b"\n"
    for field in fields:
        out += struct.pack(">I", len(field)) + field
    return out


def pss():
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def oaep():
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


def load_private(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def load_public(path):
    with open(path, "rb") as f:
        return serialization.load_pem_public_key(f.read())


def keygen(directory):
    for name, bits in (("receiver", 3072), ("sender", 2048)):
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        with open(os.path.join(directory, f"{name}.pem"), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        with open(os.path.join(directory, f"{name}.pub.pem"), "wb") as f:
            f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))


def open_envelope(envelope_path, receiver_path, sender_pub_path):
    with open(envelope_path) as f:
        env = json.load(f)
    assert env["format"] == FORMAT, env["format"]
    assert (env["algorithm"], env["key_algorithm"], env["signature_algorithm"]) == (
        "AES-256-GCM", "RSA-OAEP-256", "RSA-PSS-SHA256")
    binary = {k: base64.b64decode(env[k], validate=True)
              for k in ("encrypted_data", "iv", "auth_tag", "encrypted_key", "signature")}
    load_public(sender_pub_path).verify(binary["signature"], signed_bytes(env, binary), pss(), hashes.SHA256())
    key = load_private(receiver_path).decrypt(binary["encrypted_key"], oaep())
    aad = f"{FORMAT}:{env['id']}".encode()
    plaintext = AESGCM(key).decrypt(binary["iv"], binary["encrypted_data"] + binary["auth_tag"], aad)
    print(json.dumps({"plaintext_base64": base64.b64encode(plaintext).decode()}))


def seal(plaintext_path, receiver_pub_path, sender_path, receiver_key_id, sender_key_id, expires_at=None):
    with open(plaintext_path, "rb") as f:
        plaintext = f.read()
    envelope_id = str(uuid.uuid4())
    key = AESGCM.generate_key(bit_length=256)
    iv = os.urandom(12)
    sealed = AESGCM(key).encrypt(iv, plaintext, f"{FORMAT}:{envelope_id}".encode())
    ciphertext, tag = sealed[:-16], sealed[-16:]
    wrapped = load_public(receiver_pub_path).encrypt(key, oaep())
    env = {
        "format": FORMAT,
        "id": envelope_id,
        "algorithm": "AES-256-GCM",
        "key_algorithm": "RSA-OAEP-256",
        "signature_algorithm": "RSA-PSS-SHA256",
        "receiver_public_key_id": receiver_key_id,
        "sender_private_key_id": sender_key_id,
        "encrypted_data": base64.b64encode(ciphertext).decode(),
        "iv": base64.b64encode(iv).decode(),
        "auth_tag": base64.b64encode(tag).decode(),
        "encrypted_key": base64.b64encode(wrapped).decode(),
        "metadata": {"origin": "python", "язык": "монгол"},
        "expires_at": expires_at,
    }
    binary = {"encrypted_data": ciphertext, "iv": iv, "auth_tag": tag, "encrypted_key": wrapped}
    env["signature"] = base64.b64encode(
        load_private(sender_path).sign(signed_bytes(env, binary), pss(), hashes.SHA256())).decode()
    print(json.dumps(env, ensure_ascii=False))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"keygen": keygen, "open": open_envelope, "seal": seal}[command](*args)
