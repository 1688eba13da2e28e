"""Local stand-ins for the LINE Messaging API, Salesforce REST API and Twilio API.

For tests, ``make demo`` and benchmarks only: production code never imports this package, and
this package imports nothing from the rest of ``connector``. See docs/sandbox.md.
"""

from .line import SandboxChannel
from .line import sign as line_signature
from .salesforce_store import SalesforceUser
from .sandbox import Sandbox

__all__ = ["Sandbox", "SandboxChannel", "SalesforceUser", "line_signature"]
