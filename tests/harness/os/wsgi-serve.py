#!/usr/bin/env python3
"""Run an OpenStack WSGI application module under gunicorn.

usage: wsgi-serve.py NAME PORT WORKERS MODULE:ATTR [ACCESS_LOG [THREADS]]

Why not plain `gunicorn --bind ... keystone.wsgi.api:application`: the
OpenStack WSGI entry points call oslo.config with the process's sys.argv, so
gunicorn's own command-line options make them exit with
"gunicorn: error: unrecognized arguments: --bind ...".  Here gunicorn is
configured programmatically and sys.argv is reduced to the program name before
the application is imported (in the workers, after fork).
Also disables gunicorn>=25's control socket (one fixed path per user, which
several gunicorn masters would fight over).
"""
import importlib
import sys

from gunicorn.app.base import BaseApplication


class App(BaseApplication):
    def __init__(self, target, options):
        self.target = target
        self.options = options
        super().__init__()

    def load_config(self):
        for k, v in self.options.items():
            self.cfg.set(k, v)

    def load(self):
        mod, attr = self.target.split(":")
        return getattr(importlib.import_module(mod), attr)


if __name__ == "__main__":
    name, port, workers, target = sys.argv[1:5]
    access = sys.argv[5] if len(sys.argv) > 5 else None
    threads = int(sys.argv[6]) if len(sys.argv) > 6 else 4
    sys.argv = [name]          # what oslo.config will parse: nothing
    opts = {
        # 0.0.0.0: reachable as iha-cloud from the host (127.0.0.1) and from the
        # Pacemaker lab namespaces (host veth address .254)
        "bind": f"0.0.0.0:{port}",
        "workers": int(workers),
        "threads": threads,
        "timeout": 120,
        "graceful_timeout": 5,
        "proc_name": name,
        "accesslog": access,
        "control_socket_disable": True,
    }
    App(target, opts).run()
