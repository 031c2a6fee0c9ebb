"""The status app's password (config.json "http_password", user
"http_user" or admin): every page and API asks for it with HTTP Basic.
Loaded only when a password is set.
"""

from httpserver.auth import BasicAuth


def protect(app, cfg):
    users = {cfg.get("http_user", "admin"): cfg["http_password"]}
    BasicAuth(users, realm=cfg.get("hostname") or "board").protect(app)
