"""The suppression list and the consent ledger: every change to them, from every door, goes through
`Lists` (service.py), which checks it (checks.py) and audits it; CSV import and export in csvfile.py."""

from .checks import PERMANENT_REASONS, ListsError
from .service import Lists, OptOut

__all__ = ["PERMANENT_REASONS", "Lists", "ListsError", "OptOut"]
