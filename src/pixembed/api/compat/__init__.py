"""Drop-in routes for hosted embedding APIs, each in that service's request, response and error shapes."""

from pixembed.api.compat import apiclaw, coreviz, msightflow, roboflow, sambastudio

ROUTERS = (coreviz.router, roboflow.router, apiclaw.router, sambastudio.router)

__all__ = ["ROUTERS", "msightflow"]
