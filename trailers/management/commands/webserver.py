"""`manage.py webserver`: the web server that `serve` starts.

Django's runserver (the one `manage.py runserver` runs here: WhiteNoise's, which leaves static
files to its middleware) with one change: its answers say `Server: Reelscore` instead of naming
the server software and the Python version behind it (`WSGIServer/0.2 CPython/3.11.7`), which
tell a visitor which known vulnerabilities to try.
"""

from __future__ import annotations

from django.core.management import get_commands, load_command_class
from django.core.servers import basehttp

SERVER = "Reelscore"


class RequestHandler(basehttp.WSGIRequestHandler):
    """Django's request handler, naming only Reelscore where the server answers by itself (a request
    line it cannot parse, a URL too long) and in the environ's SERVER_SOFTWARE."""

    server_version = SERVER
    sys_version = ""

    def version_string(self) -> str:
        return SERVER


class WebServer(basehttp.WSGIServer):
    """Django's development server with RequestHandler, and the application's answers named Reelscore."""

    def __init__(self, server_address, handler_class=None, **kwargs):
        super().__init__(server_address, RequestHandler, **kwargs)

    def set_app(self, application):
        super().set_app(_named_reelscore(application))


def _named_reelscore(application):
    # wsgiref writes `Server: <its software and Python's version>` on every answer that has no Server
    # header of its own: give each one.
    def app(environ, start_response):
        def start(status, headers, exc_info=None):
            if not any(name.lower() == "server" for name, _ in headers):
                headers = [*headers, ("Server", SERVER)]
            return start_response(status, headers, exc_info)

        return application(environ, start)

    return app


# Whichever app's runserver `manage.py runserver` would run (INSTALLED_APPS decides).
RunserverCommand = type(load_command_class(get_commands()["runserver"], "runserver"))


class Command(RunserverCommand):
    help = "Django's runserver, saying `Server: Reelscore` instead of the server software and Python version."
    server_cls = WebServer
