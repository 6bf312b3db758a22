"""Documents another party signed before they reach GSign, made by pyHanko (not by GSign's
engine), so the inputs are what other tools write.

Usage: signed_elsewhere.py INPUT.pdf OUT_DIR

Writes into OUT_DIR:
- other-party.pem: the other party's self-signed certificate (trust it to validate);
- signed-once.pdf: one approval signature (field "OtherParty1");
- signed-twice.pdf: two approval signatures ("OtherParty1", "OtherParty2");
- certified-no-changes.pdf: a certification signature with DocMDP P=1;
- certified-form-filling.pdf: a certification signature with DocMDP P=2.
"""

import datetime
import os
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.fields import MDPPerm


def other_party(out_dir):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Other Party"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Elsewhere LLC"),
        ]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_path = os.path.join(out_dir, "other-party.key")
    cert_path = os.path.join(out_dir, "other-party.pem")
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return signers.SimpleSigner.load(key_path, cert_path)


def sign(signer, source, target, field, certify=False, perms=None):
    with open(source, "rb") as inf:
        writer = IncrementalPdfFileWriter(inf)
        # A visible field in the lower left, as a person signing in a desktop viewer makes.
        index = int(field[-1]) - 1
        fields.append_signature_field(
            writer,
            fields.SigFieldSpec(
                sig_field_name=field,
                on_page=0,
                box=(40 + 170 * index, 40, 190 + 170 * index, 90),
            ),
        )
        meta = signers.PdfSignatureMetadata(
            field_name=field,
            certify=certify,
            docmdp_permissions=perms or MDPPerm.FILL_FORMS,
        )
        with open(target, "wb") as out:
            signers.sign_pdf(writer, meta, signer=signer, output=out)


def main():
    source, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    signer = other_party(out_dir)
    path = lambda name: os.path.join(out_dir, name)
    sign(signer, source, path("signed-once.pdf"), "OtherParty1")
    # pyHanko rewrites the XMP metadata's dates at every signature: a second later, the second
    # signature's revision always changes that stream, as it does for people signing days apart.
    time.sleep(1.1)
    sign(signer, path("signed-once.pdf"), path("signed-twice.pdf"), "OtherParty2")
    sign(
        signer,
        source,
        path("certified-no-changes.pdf"),
        "OtherParty1",
        certify=True,
        perms=MDPPerm.NO_CHANGES,
    )
    sign(
        signer,
        source,
        path("certified-form-filling.pdf"),
        "OtherParty1",
        certify=True,
        perms=MDPPerm.FILL_FORMS,
    )


if __name__ == "__main__":
    main()
