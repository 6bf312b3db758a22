"""pyHanko's long-term verdict on every signature of a PDF (ETSI EN 319 102-1 5.6.3, PAdES
B-LTA), the way the end-to-end tests ask for it.

pyHanko 0.38 removed `sign validate --ltv-profile pades-lta`; its AdES API is what replaced
it, and what `sign adesverify` runs. This script runs it twice per signature:

- now: `ades_lta_validation` with revocation data required for every certificate and fetched
  from nowhere (LOCAL_ONLY): what it needs must be in the document's DSS, which is what B-LT
  means, and the document timestamps over it are what B-LTA means;
- in the future (--future, an ISO time after every certificate expired):
  `simulate_future_ades_lta_validation`, pyHanko's check that the signature stays verifiable
  then, given the archive timestamps are renewed before their authority's certificate ends.

Usage: lta_check.py FILE.pdf --trust CERT [--trust CERT ...] [--future ISO-TIME]

Prints one JSON object per signature:
{"field", "now": {"indication", "detail"}, "future": {...} or null,
 "document_timestamps": N, "dss": bool}
and exits 1 when any check did not pass.
"""

import argparse
import asyncio
import json
import sys
from datetime import datetime

from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY
from pyhanko.sign.validation.ades import (
    ades_lta_validation,
    simulate_future_ades_lta_validation,
)
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import (
    REQUIRE_REVINFO,
    CertRevTrustPolicy,
    FreshnessReqType,
)
from pyhanko_certvalidator.registry import SimpleTrustManager


def spec(trust):
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=trust),
        revinfo_policy=CertRevTrustPolicy(
            REQUIRE_REVINFO,
            freshness=None,
            freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION,
        ),
    )
    return PdfSignatureValidationSpec(
        signature_validation_spec=SignatureValidationSpec(
            cert_validation_policy=policy,
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY,
            ),
        ),
        diff_policy=DEFAULT_DIFF_POLICY,
    )


def verdict(result):
    passed = isinstance(result.ades_subindic, AdESPassed)
    return {
        "indication": "PASSED" if passed else str(result.ades_subindic),
        "detail": result.failure_msg,
    }


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--trust", action="append", default=[])
    parser.add_argument("--future")
    args = parser.parse_args()
    trust = [load_cert_from_pemder(path) for path in args.trust]
    pdf_spec = spec(trust)
    ok = True
    with open(args.file, "rb") as handle:
        reader = PdfFileReader(handle)
        timestamps = len(reader.embedded_timestamp_signatures)
        dss = "/DSS" in reader.root
        for signature in reader.embedded_regular_signatures:
            now = verdict(
                await ades_lta_validation(
                    signature, pdf_spec, timing_info=ValidationTimingInfo.now()
                )
            )
            future = None
            if args.future:
                future = verdict(
                    await simulate_future_ades_lta_validation(
                        signature,
                        pdf_spec,
                        future_validation_time=datetime.fromisoformat(args.future),
                    )
                )
            ok &= now["indication"] == "PASSED"
            ok &= future is None or future["indication"] == "PASSED"
            print(
                json.dumps(
                    {
                        "field": signature.field_name,
                        "now": now,
                        "future": future,
                        "document_timestamps": timestamps,
                        "dss": dss,
                    }
                )
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
