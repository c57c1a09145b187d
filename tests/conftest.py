"""Settings every test process needs before any module of the core is imported.

Powertools reads its metrics namespace once, when ``fleetgate.observability`` is first imported; in
Lambda the template's environment is there before that, so give the test process the same value.
"""

import os

os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "fleetgate")
