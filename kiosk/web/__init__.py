"""The face library page (`kiosk web`), for an admin through the SSH tunnel.

- access.py: the token, and the rules every request passes (loopback Host, same-origin changes);
- app.py: the routes, each doing what its command does through the same functions;
- pages.py: the HTML templates and style sheet;
- pictures.py: pictures found through the store's rows and sent as thumbnails.
"""

from kiosk.web.access import ensure_token

__all__ = ["ensure_token"]
