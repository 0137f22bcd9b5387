"""The errors a user can act on. Each message is one line naming the file, setting or person.

Code below the command line raises these (or a subclass) and never prints or exits; the command
line turns any KioskError into `kiosk: <message>` on stderr and exit status 2.
"""


class KioskError(Exception):
    """Something the person at the keyboard can fix; the message says what and where."""


class ConfigError(KioskError, ValueError):
    """A configuration file or value that cannot be used; the message names the key."""


class StoreError(KioskError):
    """A data directory or database that cannot be used as the kiosk's store."""


class NotFound(KioskError):
    """A person, event, face or file the command names does not exist."""


class Refused(KioskError):
    """A request that cannot be carried out as asked (a name taken, a face already enrolled,
    a file that is not a kiosk backup); the message says why."""
