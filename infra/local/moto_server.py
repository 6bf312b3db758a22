"""moto_server as the local stack runs it: moto's own server with one change.

moto keeps every model object it ever created in a list per class, for its dashboard
(`/moto-api/data.json`), until a reset: every S3 object version with its bytes, every SQS
message, every DynamoDB item. Deleting an object, a queue or a bucket frees none of it, so a
stack that runs the test suite again and again only grows (after four runs: 950 MB), and each
read of data.json walks and reads all of it, slower each time, until requests time out. The
only part of data.json anyone reads is SES's (the mails it accepted: the tests, web/e2e and
infra/local/mail), so only SES's objects are kept for it here; the services' own state is
untouched and freed when deleted.
"""

import sys

from moto.core.common_models import BaseModel


def _new_tracking_only_ses(cls, *args, **kwargs):
    instance = super(BaseModel, cls).__new__(cls)
    if cls.__module__.startswith("moto.ses."):
        cls.instances_tracked.append(instance)
    return instance


BaseModel.__new__ = staticmethod(_new_tracking_only_ses)

from moto.server import main  # noqa: E402 (after the change above, which it must see)

sys.exit(main())
