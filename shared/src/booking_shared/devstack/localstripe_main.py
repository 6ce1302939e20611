"""Runs localstripe on 127.0.0.1 with its disk store turned off.

localstripe's own `start()` binds [::] and pickles its whole store to the fixed path
/tmp/localstripe.pickle after every write: slow, and shared with every other localstripe on
the machine (tests and `make up` would see each other's objects). Usage: python -m
booking_shared.devstack.localstripe_main PORT
"""

import sys


def main() -> None:
    import localstripe.resources as resources

    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None
    from aiohttp import web
    from localstripe.server import app

    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
