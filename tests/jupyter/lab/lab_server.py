"""Serves the JupyterLab 4 application built by build.cjs with Debian's jupyter-server
(1.23) and jupyterlab-server (2.16), as JupyterLab's own examples/app/main.py does:
LabServerApp serves the page (templates/index.html), the bundle, the settings schemas,
the themes, settings, workspaces and translations; jupyter-server serves contents,
kernels, kernelspecs and sessions.

JupyterLab 4 pairs with jupyter-server 2, which added two APIs the Lab front end calls
at start-up and 1.23 lacks, and the `jupyterlab` Python package (not in Debian) adds two
more to the server; the four are served here, each as the smallest true answer:

- GET /api/me (identity): the front end's user manager reads who is logged in (the
  user's name and colour for the top bar and collaboration). Without it the request
  fails with 404 and `serviceManager.user.identity` stays undefined (measured). Served
  with the reply jupyter-server 2 gives a token-authenticated user: an anonymous
  identity, no permissions.
- /api/events/subscribe (event bus web socket): jupyter-server 1.23 has no event bus,
  so it publishes no events. Without it the front end retries the socket with back-off,
  logging a failed connection each time (five to six in the first 20 s, measured). Served as a
  socket that accepts the subscription and sends nothing, which is the truth.
- GET /lab/api/update and /lab/api/news (the `jupyterlab` package's announcements): with
  "Fetch official Jupyter news" set to Never (a reader who answered No), the front end
  asks at start-up whether a newer JupyterLab exists; LabServerApp answers with the Lab
  page itself and the front end throws an uncaught "not valid JSON" error (measured).
  Served as JupyterLab's own `NeverCheckForUpdate` answers: no update notification, no
  news.

Usage: python3 lab_server.py --LabNN.app_dir=BUILD_DIR [--LabNN.state_dir=DIR] [ServerApp options]
"""

import json
import os

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.zmqhandlers import WebSocketMixin
from jupyterlab_server import LabServerApp
from tornado import web, websocket
from traitlets import Unicode

HERE = os.path.dirname(os.path.abspath(__file__))


class IdentityHandler(APIHandler):
    """GET /api/me: the identity jupyter-server 2 reports for a token-authenticated user."""

    @web.authenticated
    def get(self):
        user = self.current_user
        name = user if isinstance(user, str) and user else "anonymous"
        self.finish(
            json.dumps(
                {
                    "identity": {
                        "username": name,
                        "name": "Anonymous",
                        "display_name": "Anonymous",
                        "initials": "A",
                        "avatar_url": None,
                        "color": None,
                    },
                    "permissions": {},
                }
            )
        )


class EventsSocketHandler(WebSocketMixin, websocket.WebSocketHandler, JupyterHandler):
    """/api/events/subscribe: accepts the subscription; this server emits no events."""

    def pre_get(self):
        user = self.current_user
        if user is None:
            raise web.HTTPError(403)

    async def get(self, *args, **kwargs):
        self.pre_get()
        return await super().get(*args, **kwargs)

    def on_message(self, message):
        pass


class NoUpdateHandler(APIHandler):
    """GET /lab/api/update: what JupyterLab answers with `NeverCheckForUpdate`."""

    @web.authenticated
    def get(self):
        self.finish(json.dumps({"notification": None}))


class NoNewsHandler(APIHandler):
    """GET /lab/api/news: no announcements (this server never fetches any)."""

    @web.authenticated
    def get(self):
        self.finish(json.dumps({"news": []}))


class LabNN(LabServerApp):
    """JupyterLab 4.6 for the Neural Notebooks browser suite."""

    name = __name__
    extension_url = "/lab"
    default_url = "/lab"
    load_other_extensions = False
    app_name = "JupyterLab"
    app_dir = Unicode("", help="The folder build.cjs wrote the application into.").tag(config=True)
    state_dir = Unicode(
        "", help="Folder for the user settings and workspaces (default: beside app_dir)."
    ).tag(config=True)

    def _link_dirs(self):
        build = os.path.abspath(self.app_dir)
        if not os.path.isfile(os.path.join(build, "bundle.js")):
            raise SystemExit(f"no JupyterLab build in {build}: run `deno task build:lab`")
        with open(os.path.join(HERE, "package.json"), encoding="utf-8") as fid:
            self.app_version = json.load(fid)["version"]
        self.static_dir = build
        self.schemas_dir = os.path.join(build, "schemas")
        self.themes_dir = os.path.join(build, "themes")
        self.templates_dir = os.path.join(HERE, "templates")
        state = self.state_dir or os.path.join(build, "..", "state")
        self.app_settings_dir = os.path.join(state, "application_settings")
        self.user_settings_dir = os.path.join(state, "user_settings")
        self.workspaces_dir = os.path.join(state, "workspaces")

    def initialize_templates(self):
        self._link_dirs()
        super().initialize_templates()

    def initialize_settings(self):
        super().initialize_settings()
        settings = self.serverapp.web_app.settings
        settings["terminals_available"] = False
        # The test drives the application through window.jupyterapp.
        settings.setdefault("page_config_data", {})["exposeAppInBrowser"] = True

    def initialize_handlers(self):
        super().initialize_handlers()
        # Before LabServerApp's handlers, whose /lab/(.*) would answer with the Lab page.
        self.handlers[0:0] = [
            ("/api/me", IdentityHandler),
            ("/api/events/subscribe", EventsSocketHandler),
            ("/lab/api/update", NoUpdateHandler),
            ("/lab/api/news", NoNewsHandler),
        ]


def _jupyter_server_extension_points():
    return [{"module": __name__, "app": LabNN}]


if __name__ == "__main__":
    LabNN.launch_instance()
