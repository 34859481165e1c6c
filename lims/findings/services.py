"""The findings operations other packages call (API, certificates, demo, tests).

The code lives in reading.py (lookups, gate, readiness, guards), workflow.py (create, edit,
submit, review, amend), quantities.py (sampling plan, net weight) and snapshot.py (what the
signatures bind); this module only names the public part in one place.
"""

from lims.findings.quantities import net_weight_of, set_net_weight, set_sampling
from lims.findings.reading import gate, get_finding, readiness, signatures
from lims.findings.snapshot import finding_sha256, finding_snapshot
from lims.findings.workflow import (
    add_technique,
    approve,
    create_finding,
    reopen,
    return_finding,
    submit,
)

__all__ = ["add_technique", "approve", "create_finding", "finding_sha256",
           "finding_snapshot", "gate", "get_finding", "net_weight_of", "readiness", "reopen",
           "return_finding", "set_net_weight", "set_sampling", "signatures", "submit"]
